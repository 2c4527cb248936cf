// Rollouts under the seed's load: a new image and new resources for the
// backend, then the frontend, then the proxy, while 30 voters vote through the
// proxy's NodePort. Each rollout replaces every pod of its component and no
// vote fails: readiness turns false first, a preStop pause lets the endpoints
// update, the drain finishes what was routed, and nginx retries a vote that
// never reached a backend.
import { expect, it } from 'vitest';
import { RESOURCES, type Component } from '../../../charts/rules.ts';
import { checkStoredOk, describeScenario, figures, podsOf, patchSpec, underLoad, waitReady } from './stack.ts';
import { NEXT_SUFFIX } from './stack-spec.ts';

const ROLLED: readonly Component[] = ['backend', 'frontend', 'proxy'];

describeScenario('rolling out new images and resources under load', (stack) => {
  it('rolls the backend, the frontend and the proxy to a new image and memory request, one after another, with no failed vote', async () => {
    const s = stack();
    await waitReady(s);
    const database = await podsOf(s, 'database');
    const r = await underLoad(s, async () => {
      const replaced: Record<string, boolean> = {};
      for (const c of ROLLED) {
        const before = await podsOf(s, c);
        const image = before[0]?.image ?? '';
        // A new tag of the same content, and a memory request one MiB higher.
        const mi = Number.parseInt(RESOURCES[c].requests.memory, 10) + 1;
        await patchSpec(s, { [c]: { image: `${image.replace(NEXT_SUFFIX, '')}${NEXT_SUFFIX}`, resources: { requests: { memory: `${mi}Mi` } } } });
        await waitReady(s, 600_000);
        const after = await podsOf(s, c);
        replaced[c] = after.every((p) => p.image.endsWith(NEXT_SUFFIX) && !before.some((b) => b.uid === p.uid));
      }
      return replaced;
    });
    console.log(figures('rollout backend, frontend, proxy', r.load));
    expect(r.value).toEqual({ backend: true, frontend: true, proxy: true });
    expect(r.load.failures).toEqual({});
    expect(r.stored).toEqual(checkStoredOk);
    // Nothing the rollouts didn't name was touched.
    expect((await podsOf(s, 'database')).map((p) => p.uid)).toEqual(database.map((p) => p.uid));
  }, 1_800_000);
});
