// One-shot schema migration: `node app/backend/migrate.ts` (the Kubernetes
// migration Job; its backoffLimit is the seed's on-failure:5). Needs only the
// PG* variables. Waits for the database up to MIGRATE_TIMEOUT_MS (60 s), then
// exits 0 when the schema is up to date, 1 otherwise.
import { ConfigError, loadDatabaseConfig } from './config.ts';
import { createPool, retryWithBackoff } from './db.ts';
import { createLogger } from './log.ts';
import { migrate } from './migrations.ts';

const log = createLogger(process.env.LOG_LEVEL || 'info', 'migrate');
let code = 0;
try {
  const db = loadDatabaseConfig(process.env);
  const pool = createPool({ ...db, poolMax: 1 }, log);
  try {
    const deadlineMs = Number(process.env.MIGRATE_TIMEOUT_MS || 60_000);
    const applied = await retryWithBackoff('migrate', () => migrate(pool, log), log, { deadlineMs });
    log.info({ applied }, 'migrations done');
  } finally {
    await pool.end();
  }
} catch (err) {
  code = 1;
  if (err instanceof ConfigError) log.fatal({ reason: err.message }, 'invalid configuration');
  else log.fatal({ err }, 'migration failed');
}
process.exitCode = code;
