// One term of work: the queue starts only once every informer has listed,
// and stopping lets the reconcile in flight finish against a full cache
// before the watches stop.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { WriteMemo } from '../../operator/apply.ts';
import { type Context, type KObject, type ObjectRef, defaultConfig } from '../../operator/context.ts';
import { DesiredCache } from '../../operator/desired-cache.ts';
import type { InformerSpec } from '../../operator/informers.ts';
import { Manager, type Reconciler, SV_KIND, type TermCache } from '../../operator/manager.ts';
import { Metrics } from '../../operator/metrics.ts';
import type { WorkQueue } from '../../operator/queue.ts';
import { FakeTimers } from './fake-timers.ts';

const log = pino({ level: 'silent' });

const sv = (name: string): KObject => ({ ...SV_KIND, metadata: { name, namespace: 'ns', uid: `uid-${name}` } });

/** A cache the test fills, syncs and watches being stopped. */
class FakeCache implements TermCache {
  objects = new Map<string, KObject>();
  synced = false;
  stopped = false;
  events: string[];
  specs: readonly InformerSpec[] = [];
  private waiters: Array<() => void> = [];
  constructor(events: string[]) {
    this.events = events;
  }
  start(): void {
    this.events.push('cache:start');
  }
  sync(): void {
    this.synced = true;
    for (const w of this.waiters.splice(0)) w();
  }
  whenSynced(): Promise<void> {
    if (this.synced || this.stopped) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }
  unsynced(): string[] {
    return this.synced ? [] : ['x'];
  }
  async stop(): Promise<void> {
    this.events.push('cache:stop');
    this.stopped = true;
    // What an emptied cache would look like to a reconcile still running.
    this.objects.clear();
    for (const w of this.waiters.splice(0)) w();
  }
  get(ref: ObjectRef): KObject | undefined {
    return this.objects.get(`${ref.namespace}/${ref.name}`);
  }
  list(): KObject[] {
    return [...this.objects.values()];
  }
  listOwned(): KObject[] {
    return [];
  }
  /** An informer event for a SecureVote. */
  emit(obj: KObject): void {
    this.objects.set(`${obj.metadata.namespace}/${obj.metadata.name}`, obj);
    this.specs[0]?.onObject(obj);
  }
}

function base(): Omit<Context, 'cache'> {
  const never = (): Promise<never> => Promise.reject(new Error('no API in this test'));
  return {
    kube: { apply: never, create: never, delete: never, get: never, list: never, applyStatus: never, jsonPatch: never, serves: never },
    events: { publish: async () => {} },
    metrics: new Metrics(),
    log,
    config: { ...defaultConfig, concurrency: 2 },
    desired: new DesiredCache(4),
    writes: new WriteMemo(),
    now: () => new Date(0),
  };
}

const settle = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
};

function managed(events: string[], handle: (ctx: Context, key: string) => Promise<void>, paths: () => Promise<Record<string, string>> = async () => ({}), clock = new FakeTimers(0)): { m: Manager; cache: FakeCache } {
  const cache = new FakeCache(events);
  const m = new Manager({
    base: base(),
    paths,
    informers: (specs) => {
      cache.specs = specs;
      return cache;
    },
    reconciler: (ctx): Reconciler => ({ queue: undefined as WorkQueue | undefined, handle: (key) => handle(ctx, key) }),
    timers: clock,
  });
  return { m, cache };
}

describe('Manager', () => {
  it('reconciles nothing until every informer has listed; keys seen before wait and run after', async () => {
    const events: string[] = [];
    const handled: string[] = [];
    const { m, cache } = managed(events, async (_ctx, key) => void handled.push(key));
    const started = m.start();
    await settle();
    cache.emit(sv('early'));
    await settle();
    expect(handled).toEqual([]);
    expect(m.ready).toBe(false);
    expect(m.waitingFor()).toEqual(['x']);
    cache.sync();
    await started;
    await settle();
    expect(m.ready).toBe(true);
    expect(m.waitingFor()).toEqual([]);
    expect(handled).toEqual(['ns/early']);
    await m.stop();
  });

  it('stop waits for the reconcile in flight, which still reads a full cache; only then do the watches stop', async () => {
    const events: string[] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const seenAfterGate: Array<KObject | undefined> = [];
    const { m, cache } = managed(events, async (ctx, key) => {
      events.push(`reconcile:${key}:start`);
      await gate;
      // After a shutdown began: the cache must still hold what it held.
      seenAfterGate.push(ctx.cache.get({ ...SV_KIND, namespace: 'ns', name: 'a' }));
      events.push(`reconcile:${key}:end`);
    });
    const started = m.start();
    await settle();
    cache.sync();
    await started;
    cache.emit(sv('a'));
    await settle();
    expect(events).toEqual(['cache:start', 'reconcile:ns/a:start']);

    let stopped = false;
    const stopping = m.stop().then(() => (stopped = true));
    await settle();
    // No new key is taken while stopping.
    cache.emit(sv('b'));
    await settle();
    expect(stopped).toBe(false);
    expect(m.ready).toBe(false);
    expect(events).not.toContain('cache:stop');
    release();
    await stopping;
    expect(seenAfterGate[0]?.metadata.name).toBe('a');
    expect(events).toEqual(['cache:start', 'reconcile:ns/a:start', 'reconcile:ns/a:end', 'cache:stop']);
  });

  it('retries discovery (the CRD not installed yet) with a capped backoff, and stop() ends the wait', async () => {
    const events: string[] = [];
    const clock = new FakeTimers(0);
    const tries: number[] = [];
    const { m } = managed(
      events,
      async () => {},
      async () => {
        tries.push(clock.now());
        throw Object.assign(new Error('the server could not find the requested resource'), { code: 404 });
      },
      clock,
    );
    const started = m.start();
    await settle();
    await clock.advanceSettling(100_000);
    const gaps = tries.slice(1).map((t, i) => t - (tries[i] as number));
    expect(gaps.slice(0, 7)).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000]);
    expect(Math.max(...gaps)).toBe(30_000);
    await m.stop();
    await started;
    expect(events).toEqual([]);
  });
});
