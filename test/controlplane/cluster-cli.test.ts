// `make cluster-up` / `make cluster-down` (scripts/controlplane-cluster.ts): a
// detached cluster that outlives the command, a KUBECONFIG line kubectl can
// use, an idempotent second `up`, and a `down` that leaves nothing behind.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { binaryPath, pidAlive } from '../fixtures/controlplane.ts';
import { REPO } from './synth.ts';

const run = promisify(execFile);
const CLI = join(REPO, 'scripts/controlplane-cluster.ts');

describe('cluster-up / cluster-down', () => {
  const parent = mkdtempSync(join(tmpdir(), 'securevote-cluster-'));
  const dir = join(parent, 'cluster');
  afterAll(async () => {
    // Also when a test failed half-way: the detached processes must not outlive the file.
    await run(process.execPath, [CLI, 'down', dir]).catch(() => undefined);
    rmSync(parent, { recursive: true, force: true });
  });

  it('starts a detached cluster, prints a KUBECONFIG line kubectl can use, and is idempotent', async () => {
    const up = await run(process.execPath, [CLI, 'up', dir, '1']);
    const line = up.stdout.split('\n').find((l) => l.startsWith('KUBECONFIG='));
    expect(line).toBe(`KUBECONFIG=${join(dir, 'kubeconfig')}`);

    const kubeconfig = line?.slice('KUBECONFIG='.length) ?? '';
    const nodes = await run(binaryPath('kubectl'), ['get', 'nodes', '-o', 'name'], { env: { ...process.env, KUBECONFIG: kubeconfig } });
    expect(nodes.stdout.trim()).toBe('node/kwok-node-0');

    const again = await run(process.execPath, [CLI, 'up', dir, '1']);
    expect(again.stdout).toContain('already running');
  });

  it('stops every process by its pid and removes the state', async () => {
    const pids = Object.values(JSON.parse(readFileSync(join(dir, 'pids.json'), 'utf8')) as Record<string, number>);
    expect(pids).toHaveLength(5);
    expect(pids.every(pidAlive)).toBe(true);

    await run(process.execPath, [CLI, 'down', dir]);
    expect(pids.filter(pidAlive)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  });
});
