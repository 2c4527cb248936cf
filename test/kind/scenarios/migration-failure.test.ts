// A backend image whose schema migration fails, then a fixed one, under the
// seed's load. The operator holds the new backend back until its migration
// succeeded, so the old backend keeps serving (no failed vote); the
// SecureVote says Degraded and names the migration; the migration is retried
// with a backoff, and the fix alone (a new image, nothing else) ends Ready.
import { expect, it } from 'vitest';
import { checkStoredOk, describeScenario, figures, patchSpec, podsOf, underLoad, waitCondition, waitReady } from './stack.ts';
import { BROKEN_MIGRATION_SUFFIX, NEXT_SUFFIX } from './stack-spec.ts';

describeScenario('a failed schema migration under load', (stack) => {
  it('reports Degraded naming the migration, keeps the old backend serving, and ends Ready once the image is fixed', async () => {
    const s = stack();
    await waitReady(s);
    const before = await podsOf(s, 'backend');
    const image = (before[0]?.image ?? '').replace(NEXT_SUFFIX, '');
    const r = await underLoad(s, async () => {
      await patchSpec(s, { backend: { image: `${image}${BROKEN_MIGRATION_SUFFIX}` } });
      const degraded = await waitCondition(s, 'Degraded', (c) => c.status === 'True', 300_000);
      // The old backend pods still serve: the new template waits for its migration.
      const during = await podsOf(s, 'backend');
      await patchSpec(s, { backend: { image: `${image}${NEXT_SUFFIX}` } });
      await waitReady(s, 600_000);
      return { degraded, during };
    });
    console.log(figures('failed migration, then fixed', r.load));
    expect(r.value.degraded.reason).toBe('MigrationFailed');
    expect(r.value.degraded.message).toMatch(/migration/i);
    expect(r.value.during.map((p) => p.uid)).toEqual(before.map((p) => p.uid));
    expect((await podsOf(s, 'backend')).every((p) => p.image === `${image}${NEXT_SUFFIX}`)).toBe(true);
    expect(r.load.failures).toEqual({});
    expect(r.stored).toEqual(checkStoredOk);
  }, 1_200_000);
});
