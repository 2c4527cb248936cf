// Scaling under the seed's load: the backend 1 → 3 → 1 while 30 voters vote
// through the proxy. No vote fails, every acknowledged vote is stored once,
// and scaling the backend touches the backend only: PostgreSQL keeps its pod
// (its connection budget is sized for the most backends the spec allows).
import { expect, it } from 'vitest';
import { checkStoredOk, describeScenario, figures, podsOf, patchSpec, underLoad, waitReady } from './stack.ts';

describeScenario('scaling the backend under load', (stack) => {
  it('scales the backend 1 → 3 → 1 with no failed vote while the database keeps its pod', async () => {
    const s = stack();
    await waitReady(s);
    const before = await podsOf(s, 'database');
    const r = await underLoad(s, async () => {
      await patchSpec(s, { backend: { replicas: 3 } });
      await waitReady(s);
      const up = (await podsOf(s, 'backend')).length;
      await patchSpec(s, { backend: { replicas: 1 } });
      await waitReady(s);
      return up;
    });
    console.log(figures('scale backend 1 → 3 → 1', r.load));
    expect(r.value).toBe(3);
    expect((await podsOf(s, 'backend')).length).toBe(1);
    expect(r.load.failures).toEqual({});
    expect(r.stored).toEqual(checkStoredOk);
    const after = await podsOf(s, 'database');
    expect(after.map((p) => ({ uid: p.uid, restarts: p.restarts }))).toEqual(before.map((p) => ({ uid: p.uid, restarts: p.restarts })));
  }, 900_000);
});
