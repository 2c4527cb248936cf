// coalesced() (app/backend/coalesced.ts): readers share runs, but a reader never
// gets a run that started before it asked (it could predate a vote the reader
// saw acknowledged).
import { describe, expect, it } from 'vitest';
import { coalesced } from '../../app/backend/coalesced.ts';

function deferred(): { promise: Promise<void>; resolve(): void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('coalesced', () => {
  it('callers during a run share the NEXT run, which starts after the first ends', async () => {
    let started = 0;
    const gates: Array<{ promise: Promise<void>; resolve(): void }> = [];
    const read = coalesced(async () => {
      const run = ++started;
      const gate = deferred();
      gates.push(gate);
      await gate.promise;
      return run;
    });
    const first = read();
    expect(started).toBe(1);
    const joiners = [read(), read(), read()];
    expect(started).toBe(1); // queued, not joined to run 1
    gates[0]!.resolve();
    expect(await first).toBe(1);
    await new Promise((r) => setImmediate(r));
    expect(started).toBe(2);
    const late = read(); // arrives while run 2 is in flight: gets run 3
    gates[1]!.resolve();
    expect(await Promise.all(joiners)).toEqual([2, 2, 2]);
    await new Promise((r) => setImmediate(r));
    gates[2]!.resolve();
    expect(await late).toBe(3);
    expect(started).toBe(3);
  });

  it('a failed run fails its own callers only; the queued run still happens', async () => {
    let n = 0;
    const gate = deferred();
    const read = coalesced(async () => {
      n++;
      if (n === 1) {
        await gate.promise;
        throw new Error('boom');
      }
      return n;
    });
    const first = read();
    const second = read();
    gate.resolve();
    await expect(first).rejects.toThrow('boom');
    expect(await second).toBe(2);
  });
});
