// Every image `make images` builds: each component image at its own tag
// (charts/images.json), the operator at package.json's version, the
// OCI labels, a numeric non-root user, a HEALTHCHECK, small; and each one
// runs with a read-only root filesystem until its own health check passes.
// Skips, with the reason, where no Docker engine can be started.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMAGE_TABLE, type ImageName } from '../../charts/images.ts';
import { healthArgv, inspectContainer, VERSION } from '../fixtures/containers.ts';
import { docker, ensureDockerEngine, ensureImages, type DockerEngine } from '../fixtures/docker-engine.ts';

const NAMES = ['postgres', 'redis', 'backend', 'frontend', 'proxy', 'operator'] as const;
type Name = (typeof NAMES)[number];
/** An image's tag: its own version from the table, the project's for the operator. */
const tagOf = (name: Name): string => (name === 'operator' ? VERSION : IMAGE_TABLE.images[name as ImageName].tag);
// A budget per image (MB), to notice growth: Node ~107 MB and Debian ~73 MB of it.
const MAX_MB: Readonly<Record<Name, number>> = { postgres: 200, redis: 120, backend: 230, frontend: 230, proxy: 120, operator: 320 };

interface ImageInfo {
  Size: number;
  Config: { User: string; Labels: Record<string, string> | null; Healthcheck?: { Test: string[] } };
}

// What each image needs to run alone (no other service): secrets, tmpfs, env.
function runArgs(name: Name, secrets: string): string[] {
  const mount = (key: string) => ['-v', `${join(secrets, key)}:/run/secrets/securevote/${key}:ro`];
  switch (name) {
    case 'postgres':
      return [...mount('database-password'), '--tmpfs', '/var/run/postgresql:uid=999,gid=999', '--tmpfs', '/tmp',
        '-e', 'POSTGRES_USER=securevote', '-e', 'POSTGRES_DB=securevote', '-e', 'POSTGRES_PASSWORD_FILE=/run/secrets/securevote/database-password'];
    case 'redis':
      return mount('redis-password');
    case 'backend':
      // No database here: /health (the image's check) answers 503, so the
      // test asks the process-only /livez (below).
      return [...mount('database-password'), ...mount('redis-password'), ...mount('cookie-secret'),
        '-e', 'PGPASSWORD_FILE=/run/secrets/securevote/database-password', '-e', 'REDIS_PASSWORD_FILE=/run/secrets/securevote/redis-password',
        '-e', 'COOKIE_SECRET_FILE=/run/secrets/securevote/cookie-secret'];
    case 'proxy':
      // No upstream here: the health check's /health gets nginx's own 503, so
      // the test asks nginx's own /nginx-health instead (below).
      return ['--tmpfs', '/tmp/nginx:uid=10001,gid=10001'];
    default:
      return [];
  }
}

const engineResult = await ensureDockerEngine();
if (!engineResult.ok) {
  describe('images', () => {
    it.skip(`skipped: ${engineResult.reason}`, () => {});
  });
} else {
  const engine: DockerEngine = engineResult.engine;
  const secrets = mkdtempSync(join(tmpdir(), 'securevote-img-'));
  const started: string[] = [];
  describe('the images make images builds', () => {
    beforeAll(async () => {
      for (const tag of new Set(NAMES.map(tagOf))) await ensureImages(NAMES.filter((n) => tagOf(n) === tag), tag);
      for (const key of ['database-password', 'redis-password', 'cookie-secret']) {
        writeFileSync(join(secrets, key), randomBytes(18).toString('base64url'));
        chmodSync(join(secrets, key), 0o444);
      }
    }, 1_500_000);
    afterAll(async () => {
      if (started.length > 0) await docker(['rm', '-f', '-v', ...started]).catch(() => undefined);
      rmSync(secrets, { recursive: true, force: true });
      await engine.release();
    }, 60_000);

    for (const name of NAMES) {
      it(`securevote/${name}:${tagOf(name)}: labels, non-root numeric user, health check, size; runs read-only until healthy`, async () => {
        const ref = `securevote/${name}:${tagOf(name)}`;
        const [img] = JSON.parse(await docker(['image', 'inspect', ref])) as ImageInfo[];
        if (img === undefined) throw new Error(`${ref} missing`);
        expect(img.Config.Labels).toMatchObject({
          'org.opencontainers.image.title': `securevote-${name}`,
          'org.opencontainers.image.version': tagOf(name),
        });
        for (const k of ['revision', 'created', 'source', 'licenses', 'description']) {
          expect(img.Config.Labels?.[`org.opencontainers.image.${k}`], k).toMatch(/\S/);
        }
        expect(img.Config.User).toMatch(/^[1-9][0-9]*:[0-9]+$/);
        expect(img.Config.Healthcheck?.Test?.length ?? 0).toBeGreaterThan(1);
        console.log(`${ref}: ${(img.Size / 1e6).toFixed(0)} MB`);
        expect(img.Size / 1e6).toBeLessThan(MAX_MB[name]);

        const id = await docker(['run', '-d', '--read-only', '--label', `securevote.test.owner=${process.pid}`, ...runArgs(name, secrets), ref]);
        started.push(id);
        const argv = name === 'proxy'
          ? ['bash', '-c', "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /nginx-health HTTP/1.0\\r\\n\\r\\n' >&3 && IFS= read -r l <&3 && [[ $l == *' 200 '* ]]"]
          : name === 'backend'
            ? ['node', '-e', "fetch('http://127.0.0.1:5000/livez').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
            : healthArgv(img.Config.Healthcheck?.Test ?? []);
        let ok = false;
        for (let i = 0; i < 60 && !ok; i++) {
          const state = await inspectContainer(id);
          if (!state.State.Running) throw new Error(`${ref} exited ${state.State.ExitCode}: ${await docker(['logs', '--tail', '20', id]).catch(() => '')}`);
          ok = await docker(['exec', id, ...argv]).then(() => true, () => false);
          if (!ok) await new Promise((r) => setTimeout(r, 500));
        }
        expect(ok, `${ref} healthy with a read-only root`).toBe(true);
      }, 120_000);
    }
  });
}
