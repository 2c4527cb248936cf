// Upgrading the operator under the seed's load, from the previous release as
// it landed (built from its commit by scripts/previous-release.sh, installed
// by cluster.setup.ts with a SecureVote it made Ready) to this release, the way
// a user does it: `kubectl apply --server-side` of the new install manifests.
// The stack ends Ready with this release's images and the status names this
// operator's version; no vote fails; every component whose image did not
// change keeps its pods (PostgreSQL its pod UID and restart count).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import pkg from '../../../package.json' with { type: 'json' };
import { OPERATOR_NAMESPACE } from '../../../charts/operator-install.ts';
import { COMPONENTS, type Component } from '../../../charts/rules.ts';
import { DEFAULT_IMAGES } from '../../../charts/spec.ts';
import { REPO } from '../../fixtures/docker-engine.ts';
import { checkStoredOk, describeScenario, figures, podsOf, secureVote, underLoad, waitReady, type PodIdentity, type Stack } from './stack.ts';

const run = promisify(execFile);

/** Until the SecureVote says this operator reconciled it and it is Ready. */
async function reconciledByThisRelease(s: Stack, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while ((await secureVote(s)).status?.operatorVersion !== pkg.version) {
    if (Date.now() > until) throw new Error(`status.operatorVersion is not ${pkg.version} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 1_000));
  }
  await waitReady(s, timeoutMs);
}

describeScenario('upgrading the operator from the previous release under load', (stack) => {
  it('rolls only what changed, ends Ready on this release\'s images with no failed vote, and keeps the pods of unchanged images', async () => {
    const s = stack();
    await waitReady(s);
    const before = Object.fromEntries(await Promise.all(COMPONENTS.map(async (c) => [c, await podsOf(s, c)] as const))) as Record<Component, PodIdentity[]>;
    const dir = mkdtempSync(join(tmpdir(), 'securevote-upgrade-'));
    let upgradeMs = 0;
    try {
      await run('tsx', [join(REPO, 'charts/operator-install-main.ts')], { env: { ...process.env, OPERATOR_DIST: dir }, timeout: 120_000 });
      const r = await underLoad(s, async () => {
        const t0 = Date.now();
        await s.kubectl(['apply', '--server-side', '--field-manager=securevote-install', '--force-conflicts', '-f', dir]);
        await s.kubectl(['-n', OPERATOR_NAMESPACE, 'rollout', 'status', 'deployment', '--timeout=300s'], { timeoutMs: 320_000 });
        await reconciledByThisRelease(s, 600_000);
        upgradeMs = Date.now() - t0;
      });
      console.log(`${figures('operator upgrade', r.load)}; Ready on this release ${(upgradeMs / 1000).toFixed(1)} s after the apply`);
      expect(r.load.failures).toEqual({});
      expect(r.stored).toEqual(checkStoredOk);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    for (const c of COMPONENTS) {
      const after = await podsOf(s, c);
      expect(after.map((p) => p.image), `${c} runs this release's image`).toEqual(after.map(() => DEFAULT_IMAGES[c]));
      const unchanged = before[c].every((p) => p.image === DEFAULT_IMAGES[c]);
      if (unchanged) {
        expect(after.map((p) => ({ uid: p.uid, restarts: p.restarts })), `${c}'s image did not change: same pods`)
          .toEqual(before[c].map((p) => ({ uid: p.uid, restarts: p.restarts })));
      }
    }
    // This release's images differ from the previous one's somewhere, or the test proved nothing.
    expect(COMPONENTS.some((c) => before[c].some((p) => p.image !== DEFAULT_IMAGES[c]))).toBe(true);
  }, 1_500_000);
});
