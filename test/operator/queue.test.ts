import { describe, expect, it } from 'vitest';
import { WorkQueue } from '../../operator/queue.ts';
import { FakeTimers } from './fake-timers.ts';

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

/** A queue whose every run waits on a gate the test opens; tracks the most runs at once. */
function gatedQueue(concurrency: number) {
  let active = 0;
  let most = 0;
  const gates: Array<ReturnType<typeof deferred>> = [];
  const q = new WorkQueue(
    async () => {
      active++;
      most = Math.max(most, active);
      const d = deferred();
      gates.push(d);
      await d.promise;
      active--;
    },
    { timers: new FakeTimers(), concurrency },
  );
  return { q, gates, maxActive: () => most };
}

describe('WorkQueue', () => {
  it('dedupes a key added many times before it runs', async () => {
    const runs: string[] = [];
    const q = new WorkQueue(async (k) => void runs.push(k), { timers: new FakeTimers() });
    q.add('ns/a');
    q.add('ns/a');
    q.add('ns/b');
    q.add('ns/a');
    await q.whenIdle();
    expect(runs.sort()).toEqual(['ns/a', 'ns/b']);
  });

  it('never runs one key twice at once, and reruns it once if added while running', async () => {
    const { q, gates, maxActive } = gatedQueue(4);
    q.add('ns/a');
    await tick();
    expect(q.isRunning('ns/a')).toBe(true);
    q.add('ns/a');
    q.add('ns/a');
    await tick();
    expect(gates).toHaveLength(1);
    gates[0]!.resolve();
    await tick();
    expect(gates).toHaveLength(2); // the dirty key ran again, once
    gates[1]!.resolve();
    await q.whenIdle();
    expect(gates).toHaveLength(2);
    expect(maxActive()).toBe(1);
  });

  it('caps concurrency across keys', async () => {
    const { q, gates, maxActive } = gatedQueue(2);
    for (const k of ['a', 'b', 'c', 'd', 'e']) q.add(`ns/${k}`);
    await tick();
    expect(q.runningCount()).toBe(2);
    expect(q.depth()).toBe(3);
    while (gates.some((g) => g)) {
      const g = gates.shift();
      g?.resolve();
      await tick();
    }
    await q.whenIdle();
    expect(maxActive()).toBe(2);
  });

  it('one slow key does not block the others', async () => {
    const slow = deferred();
    const done: string[] = [];
    const q = new WorkQueue(
      async (k) => {
        if (k === 'ns/slow') await slow.promise;
        done.push(k);
      },
      { timers: new FakeTimers(), concurrency: 2 },
    );
    q.add('ns/slow');
    for (const k of ['a', 'b', 'c']) q.add(`ns/${k}`);
    await tick();
    expect(done).toEqual(['ns/a', 'ns/b', 'ns/c']);
    slow.resolve();
    await q.whenIdle();
    expect(done).toContain('ns/slow');
  });

  it('backs off exponentially per key, capped, with bounded jitter', () => {
    const q = new WorkQueue(async () => {}, {
      timers: new FakeTimers(),
      baseDelayMs: 100,
      maxDelayMs: 5_000,
      jitter: 0.5,
      random: () => 0,
    });
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => q.backoff(n))).toEqual([100, 200, 400, 800, 1600, 3200, 5000, 5000]);
    const high = new WorkQueue(async () => {}, {
      timers: new FakeTimers(),
      baseDelayMs: 100,
      maxDelayMs: 5_000,
      jitter: 0.5,
      random: () => 0.999999,
    });
    expect(high.backoff(1)).toBe(150);
    expect(high.backoff(6)).toBe(4800);
    expect(high.backoff(7)).toBe(5000); // jitter never passes the cap
    expect(high.backoff(10_000)).toBe(5000);
  });

  it('addRateLimited counts failures per key; forget resets only that key', async () => {
    const timers = new FakeTimers();
    const runs: string[] = [];
    const q = new WorkQueue(async (k) => void runs.push(k), {
      timers,
      baseDelayMs: 100,
      maxDelayMs: 10_000,
      jitter: 0,
    });
    expect(q.addRateLimited('ns/a')).toBe(100);
    // A second failure while the first requeue waits: the earlier time wins.
    expect(q.addRateLimited('ns/a')).toBe(200);
    expect(q.addRateLimited('ns/b')).toBe(100);
    timers.advance(99);
    await tick();
    expect(runs).toEqual([]);
    timers.advance(1);
    await tick();
    expect(runs.sort()).toEqual(['ns/a', 'ns/b']);
    expect(q.failuresOf('ns/a')).toBe(2);
    q.forget('ns/a');
    expect(q.failuresOf('ns/a')).toBe(0);
    expect(q.failuresOf('ns/b')).toBe(1);
    expect(q.addRateLimited('ns/a')).toBe(100);
  });

  it('delays a requeue; an immediate add replaces the pending timer', async () => {
    const timers = new FakeTimers();
    const runs: string[] = [];
    const q = new WorkQueue(async (k) => void runs.push(k), { timers });
    q.addAfter('ns/a', 1_000);
    q.addAfter('ns/a', 5_000); // later: ignored
    expect(timers.count()).toBe(1);
    expect(q.delayedCount()).toBe(1);
    timers.advance(999);
    await tick();
    expect(runs).toEqual([]);
    timers.advance(1);
    await tick();
    expect(runs).toEqual(['ns/a']);

    q.addAfter('ns/b', 1_000);
    q.addAfter('ns/b', 10); // earlier: replaces
    expect(timers.count()).toBe(1);
    timers.advance(10);
    await tick();
    expect(runs).toEqual(['ns/a', 'ns/b']);

    q.addAfter('ns/c', 1_000);
    q.add('ns/c');
    expect(timers.count()).toBe(0);
    await q.whenIdle();
    expect(runs).toEqual(['ns/a', 'ns/b', 'ns/c']);
    timers.advance(5_000);
    await tick();
    expect(runs).toEqual(['ns/a', 'ns/b', 'ns/c']);
  });

  it('a handler that throws is retried with backoff and the queue keeps going', async () => {
    const timers = new FakeTimers();
    let calls = 0;
    const q = new WorkQueue(
      async () => {
        calls++;
        if (calls === 1) throw new Error('boom');
      },
      { timers, baseDelayMs: 50, jitter: 0 },
    );
    q.add('ns/a');
    await tick();
    expect(calls).toBe(1);
    expect(q.failuresOf('ns/a')).toBe(1);
    timers.advance(50);
    await tick();
    expect(calls).toBe(2);
  });

  it('shutdown waits for running keys and drops waiting and delayed ones', async () => {
    const timers = new FakeTimers();
    const gate = deferred();
    const runs: string[] = [];
    const q = new WorkQueue(
      async (k) => {
        runs.push(k);
        if (k === 'ns/a') await gate.promise;
      },
      { timers, concurrency: 1 },
    );
    q.add('ns/a');
    q.add('ns/b');
    q.addAfter('ns/c', 100);
    await tick();
    let finished = false;
    const stopped = q.shutdown().then(() => (finished = true));
    await tick();
    expect(finished).toBe(false);
    expect(timers.count()).toBe(0);
    gate.resolve();
    await stopped;
    q.add('ns/d');
    timers.advance(1_000);
    await tick();
    expect(runs).toEqual(['ns/a']);
  });

  it('refuses nonsense options, naming them', () => {
    expect(() => new WorkQueue(async () => {}, { concurrency: 0 })).toThrow('concurrency must be >= 1, got 0');
    expect(() => new WorkQueue(async () => {}, { jitter: 2 })).toThrow('jitter must be within 0..1, got 2');
  });
});
