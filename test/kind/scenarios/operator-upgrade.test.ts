// Upgrading the operator under the seed's load, from the previous release as
// it landed (built from its commit by scripts/previous-release.sh, installed
// by cluster.setup.ts with a SecureVote it made Ready) to this release, the way
// a user does it: `kubectl apply --server-side` of the new install manifests.
// The stack ends Ready with this release's images and the status names this
// operator's version; no vote fails; every component whose image did not
// change keeps its pods (PostgreSQL its pod UID and restart count).
// Then the user's first scale-up of the backend past what the previous
// release sized PostgreSQL's connections for (its backend replicas of the
// day): the database restarts first, once, and the status says why; votes
// meanwhile get 503 with Retry-After only, none lost; and the next scale
// keeps the database's pod.
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
import { checkStoredOk, describeScenario, figures, patchSpec, podsOf, secureVote, underLoad, waitReady, type PodIdentity, type Stack } from './stack.ts';

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

  it('grows the backend past the previous release\'s connection budget by restarting the database once, saying why, with only 503s and nothing lost', async () => {
    const s = stack();
    await waitReady(s);
    const [db] = await podsOf(s, 'database');
    if (!db) throw new Error('no database pod');
    const r = await underLoad(s, async () => {
      await patchSpec(s, { backend: { replicas: 3 } });
      await waitReady(s);
    });
    console.log(figures('backend 1 → 3 after the upgrade', r.load));
    const [restarted] = await podsOf(s, 'database');
    expect(restarted?.uid, 'the database pod was replaced').not.toBe(db.uid);
    expect((await podsOf(s, 'backend')).filter((p) => p.ready).length).toBe(3);
    const events = await s.kubectl(['-n', s.namespace, 'get', 'events', '--field-selector', 'involvedObject.kind=SecureVote,involvedObject.name=securevote',
      '-o', 'jsonpath={range .items[*]}{.message}{"\\n"}{end}']);
    expect(events).toContain('restarting the database for its new connection budget: the running one serves 1 backend replica, spec.backend asks for up to 3');
    // The database was down for its restart: a vote was refused the designed way or not at all.
    expect(Object.keys(r.load.failures).filter((k) => k !== '503'), 'failures other than 503').toEqual([]);
    expect(r.stored).toEqual(checkStoredOk);

    // Now sized for the most replicas the spec allows: scaling keeps the database's pod.
    const back = await underLoad(s, async () => {
      await patchSpec(s, { backend: { replicas: 1 } });
      await waitReady(s);
    });
    expect((await podsOf(s, 'database')).map((p) => p.uid)).toEqual([restarted?.uid]);
    expect(back.load.failures).toEqual({});
    expect(back.stored).toEqual(checkStoredOk);
  }, 900_000);
});
