// `make demo` where no container runs: the kwok fallback (demo/kwok.ts).
// DEMO_ENGINE=none stands in for a machine without a Docker engine (this
// one has one; the path after the engine check is the same): the first and
// the last line say the pods are simulated and there is no page, the
// SecureVote is Ready on kwok nodes, the exit is 0, and its control plane
// is stopped.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO } from './synth.ts';

const run = promisify(execFile);

describe('make demo without containers', () => {
  const work = mkdtempSync(join(tmpdir(), 'securevote-demo-kwok-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('falls back to kwok nodes, says so first and last, reaches Ready and exits 0', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, DEMO_ENGINE: 'none', SECUREVOTE_WORK: work };
    delete env.KUBECONFIG;
    const r = await run(process.execPath, [join(REPO, 'demo/main.ts')], { env, cwd: REPO, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 });
    const lines = r.stdout.split('\n').filter((l) => l.startsWith('==> '));
    expect(lines[0]).toMatch(/falling back to a local control plane with kwok nodes; pods are SIMULATED, there is no vote page/);
    expect(lines.at(-1)).toMatch(/kwok fallback: real objects, simulated pods, no page/);
    expect(r.stdout).toMatch(/Ready after \d+(\.\d+)? s/);
    expect(r.stdout).toMatch(/securevote\s+True\s+Ready/);
    // Its control plane was stopped: the API server it printed no longer answers.
    const server = /up in [\d.]+ s at (https:\/\/127\.0\.0\.1:\d+)/.exec(r.stdout)?.[1];
    expect(server).toBeDefined();
    const port = Number(new URL(server ?? 'https://127.0.0.1:1').port);
    const open = await new Promise<boolean>((resolve) => {
      const c = createConnection({ host: '127.0.0.1', port }, () => { c.destroy(); resolve(true); });
      c.on('error', () => resolve(false));
    });
    expect(open).toBe(false);
  }, 360_000);
});
