// Three questions, three endpoints:
// - /readyz (Kubernetes readiness): can this pod serve its own part? 200
//   once start-up is over, 503 while draining after SIGTERM. It does NOT ask
//   PostgreSQL: during a database outage every backend would go unready at
//   once, and so would every proxy in front of them, taking down the page,
//   the cached results and the 503 + Retry-After that tells voters to retry.
// - /health (humans, monitors, the seed's check): the dependencies' truth.
//   database ok + cache ok → 200 "healthy"; database ok + cache down → 200
//   "degraded" (votes and results still work from PostgreSQL); database down
//   → 503 "unhealthy"; draining → 503 "draining".
// - /livez (liveness): the process only, so an outage never restarts every backend.
import { Router } from 'express';
import type { AppContext } from './context.ts';
import { query, reasonOf } from './db.ts';

export type CheckState = 'ok' | 'down';

export interface Health {
  status: 'healthy' | 'degraded' | 'unhealthy' | 'draining';
  checks: { database: CheckState; cache: CheckState };
}

async function checkDatabase(ctx: AppContext): Promise<CheckState> {
  if (!ctx.state.schemaReady) return 'down';
  try {
    await query(ctx.pool, 'SELECT 1');
    ctx.database.set(true);
    return 'ok';
  } catch (err) {
    ctx.database.set(false, reasonOf(err));
    return 'down';
  }
}

export async function checkHealth(ctx: AppContext): Promise<{ code: number; body: Health }> {
  const [database, cache] = await Promise.all([checkDatabase(ctx), ctx.cache.ping().then((ok): CheckState => (ok ? 'ok' : 'down'))]);
  ctx.metrics.setUp('cache', cache === 'ok');
  const checks = { database, cache };
  if (ctx.state.draining) return { code: 503, body: { status: 'draining', checks } };
  if (database !== 'ok') return { code: 503, body: { status: 'unhealthy', checks } };
  return { code: 200, body: { status: cache === 'ok' ? 'healthy' : 'degraded', checks } };
}

export function healthRouter(ctx: AppContext): Router {
  const router = Router();
  router.get('/health', async (_req, res) => {
    const { code, body } = await checkHealth(ctx);
    res.status(code).set('Cache-Control', 'no-store').json(body);
  });
  router.get('/readyz', (_req, res) => {
    const status = ctx.state.draining ? 'draining' : ctx.state.started ? 'ready' : 'starting';
    res.status(status === 'ready' ? 200 : 503).set('Cache-Control', 'no-store').json({ status });
  });
  router.get('/livez', (_req, res) => {
    res.set('Cache-Control', 'no-store').json({ status: 'alive' });
  });
  return router;
}
