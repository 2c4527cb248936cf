// scripts/controlplane-build.sh: what KUBEBUILDER_ASSETS or the cache holds is
// used as is and never rebuilt (no Go needed then), and paths are keyed by version.
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO } from './synth.ts';

const run = promisify(execFile);
const SCRIPT = join(REPO, 'scripts/controlplane-build.sh');
const ALL = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl', 'kwok', 'kube-score'];

const required = (goMod: string, mod: string): string =>
  new RegExp(`^require ${mod.replaceAll('.', '\\.')} (v\\S+)`, 'm').exec(readFileSync(join(REPO, 'test/controlplane', goMod), 'utf8'))?.[1] ?? '';

describe('controlplane-build.sh', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'securevote-build-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  function fakeBinaries(dir: string, names: readonly string[]): void {
    mkdirSync(dir, { recursive: true });
    for (const n of names) {
      writeFileSync(join(dir, n), '#!/bin/sh\n');
      chmodSync(join(dir, n), 0o755);
    }
  }

  it('keys the cache by component and version, from the wrapper modules', async () => {
    const cache = join(scratch, 'empty-cache');
    const env = { ...process.env, SECUREVOTE_CACHE: cache, KUBEBUILDER_ASSETS: '' };
    const path = async (name: string): Promise<string> => (await run('bash', [SCRIPT, '--path', name], { env })).stdout.trim();
    const k8s = required('go.mod', 'k8s.io/kubernetes');
    expect(k8s).toMatch(/^v1\.33\.\d+$/);
    expect(await path('kube-apiserver')).toBe(join(cache, `kubernetes-${k8s}`, 'kube-apiserver'));
    expect(await path('kubelet')).toBe(join(cache, `kubernetes-${k8s}`, 'kubelet'));
    expect(await path('etcd')).toBe(join(cache, `etcd-${required('etcd/go.mod', 'go.etcd.io/etcd/server/v3')}`, 'etcd'));
    expect(await path('kwok')).toBe(join(cache, `kwok-${required('kwok/go.mod', 'sigs.k8s.io/kwok')}`, 'kwok'));
    expect(await path('kube-score')).toBe(join(cache, `kube-score-${required('kube-score/go.mod', 'github.com/zegl/kube-score')}`, 'kube-score'));
  });

  it('builds nothing (and needs no Go) when KUBEBUILDER_ASSETS and the cache hold everything', async () => {
    const assets = join(scratch, 'assets');
    const cache = join(scratch, 'cache');
    fakeBinaries(assets, ['etcd', 'kube-apiserver', 'kubectl']); // what envtest ships
    const k8s = required('go.mod', 'k8s.io/kubernetes');
    fakeBinaries(join(cache, `kubernetes-${k8s}`), ['kube-controller-manager', 'kube-scheduler']);
    fakeBinaries(join(cache, `kwok-${required('kwok/go.mod', 'sigs.k8s.io/kwok')}`), ['kwok']);
    fakeBinaries(join(cache, `kube-score-${required('kube-score/go.mod', 'github.com/zegl/kube-score')}`), ['kube-score']);

    // PATH without Go: any build attempt would have to fetch a toolchain, which is not allowed here.
    const env = { PATH: '/usr/bin:/bin', HOME: scratch, SECUREVOTE_CACHE: cache, KUBEBUILDER_ASSETS: assets, GOPROXY: 'off' };
    const { stdout } = await run('bash', [SCRIPT], { env });
    const lines = stdout.trim().split('\n');
    for (const name of ALL) {
      const line = lines.find((l) => l.startsWith(`==> ${name} `));
      expect(line, name).toMatch(/ cached /);
    }
    expect(lines.find((l) => l.includes('==> etcd '))).toContain(join(assets, 'etcd'));
    expect(stdout).not.toMatch(/building|fetching/);
  });
});
