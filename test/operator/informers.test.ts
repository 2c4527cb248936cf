// The informers' sync and restart rules, on client-node's own ListWatch (the
// class the operator runs) over a scripted list and watch: its start()
// resolves even when the list failed, which is what these tests hold us to.
import { type KubernetesObject, ListWatch, type Watch } from '@kubernetes/client-node';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { KObject } from '../../operator/context.ts';
import { type CachingInformer, Informers, type Kind, failureReason, kindKey } from '../../operator/informers.ts';
import { Metrics } from '../../operator/metrics.ts';
import { FakeTimers } from './fake-timers.ts';

const log = pino({ level: 'silent' });
const KIND: Kind = { apiVersion: 'apps/v1', kind: 'Deployment' };
const httpError = (code: number): Error => Object.assign(new Error(`HTTP ${code}`), { code });

/** A watch that opens and stays open (or is refused with `refuse`). */
class ScriptedWatch {
  opened = 0;
  refuse: Error | undefined;
  /** Ends the open watch, as a server closing the stream does. */
  end: (err: unknown) => void = () => {};
  /** Sends a watch event on the open watch. */
  send: (type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: KObject) => void = () => {};
  async watch(_path: string, _q: unknown, cb: (type: string, obj: unknown) => void, done: (err: unknown) => void): Promise<AbortController> {
    this.opened++;
    this.end = done;
    this.send = (type, obj) => cb(type, structuredClone(obj));
    const c = new AbortController();
    if (this.refuse) done(this.refuse);
    return c;
  }
}

interface Rig {
  informers: Informers;
  clock: FakeTimers;
  watch: ScriptedWatch;
  metrics: Metrics;
  /** Clock times at which a list was attempted. */
  lists: number[];
  /** What the next lists do: an error to throw, or the items to return. */
  script: Array<Error | KObject[]>;
}

function rig(trim?: (obj: KObject, kind: string) => void, expand: (obj: KObject) => KObject = (o) => o): Rig {
  const clock = new FakeTimers(0);
  const watch = new ScriptedWatch();
  const metrics = new Metrics();
  const lists: number[] = [];
  const script: Array<Error | KObject[]> = [];
  const informers = new Informers(
    [{ kind: KIND, onObject: () => {}, ...(trim ? { store: { shrink: trim, expand } } : {}) }],
    { [kindKey(KIND)]: '/apis/apps/v1/deployments' },
    () => async () => {
      lists.push(clock.now());
      const next = script.length > 1 ? script.shift() : script[0];
      if (next instanceof Error) throw next;
      return { items: (next ?? []) as KubernetesObject[], metadata: { resourceVersion: '1' } } as never;
    },
    (path, list, labelSelector) => new ListWatch<KubernetesObject>(path, watch as unknown as Watch, list, false, labelSelector) as unknown as CachingInformer,
    { log, metrics, timers: clock },
  );
  return { informers, clock, watch, metrics, lists, script };
}

const dep = (name: string): KObject => ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: 'ns' } });
const settle = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
};
const metricText = async (m: Metrics): Promise<string> => m.registry.metrics();

describe('Informers', () => {
  it('caches what its trim leaves of each object, and no managedFields', async () => {
    const r = rig((o, kind) => {
      expect(kind).toBe('Deployment');
      delete o.spec;
    });
    r.script.push([{ ...dep('a'), spec: { replicas: 1 }, metadata: { name: 'a', namespace: 'ns', managedFields: [{ manager: 'x' }] } }]);
    r.informers.start();
    await settle();
    expect(r.informers.synced).toBe(true);
    expect(r.informers.get({ ...KIND, namespace: 'ns', name: 'a' })).toEqual({ ...KIND, metadata: { name: 'a', namespace: 'ns' } });
    await r.informers.stop();
  });

  it('is synced only after a successful first list, not when start() returns after a failed one', async () => {
    const r = rig();
    r.script.push(httpError(503), [dep('a')]);
    r.informers.start();
    await settle();
    expect(r.lists).toEqual([0]);
    // ListWatch.start() has returned: the list failed, the cache is empty.
    expect(r.informers.synced).toBe(false);
    expect(r.informers.unsynced()).toEqual(['apps/v1/Deployment']);
    expect(r.watch.opened).toBe(0);
    let woke = false;
    void r.informers.whenSynced().then(() => (woke = true));
    await settle();
    expect(woke).toBe(false);
    expect(await metricText(r.metrics)).toMatch(/securevote_operator_informer_synced\{kind="apps\/v1\/Deployment"\} 0/);
    expect(await metricText(r.metrics)).toMatch(/securevote_operator_informer_failures_total\{kind="apps\/v1\/Deployment",reason="server-error"\} 1/);

    await r.clock.advanceSettling(500);
    expect(r.lists).toEqual([0, 500]);
    expect(r.informers.synced).toBe(true);
    expect(woke).toBe(true);
    expect(r.informers.get({ ...KIND, namespace: 'ns', name: 'a' })?.metadata.name).toBe('a');
    expect(await metricText(r.metrics)).toMatch(/securevote_operator_informer_synced\{kind="apps\/v1\/Deployment"\} 1/);
    await r.informers.stop();
  });

  it('a failing list backs off 0.5 s doubling to a 30 s cap, never reset by a failed start', async () => {
    const r = rig();
    // A removed CRD: every list is a 404.
    r.script.push(httpError(404));
    r.informers.start();
    await settle();
    await r.clock.advanceSettling(200_000);
    const gaps = r.lists.slice(1).map((t, i) => t - (r.lists[i] as number));
    expect(gaps.slice(0, 8)).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
    expect(gaps.every((g) => g <= 30_000)).toBe(true);
    expect(gaps.slice(6).every((g) => g === 30_000)).toBe(true);
    expect(r.informers.synced).toBe(false);
    expect(r.informers.failuresOf(KIND)).toBe(r.lists.length);
    expect(await metricText(r.metrics)).toMatch(new RegExp(`informer_failures_total\\{kind="apps/v1/Deployment",reason="not-found"\\} ${r.lists.length}`));

    // The CRD is back: one successful list resets the backoff.
    r.script.length = 0;
    r.script.push([dep('b')]);
    await r.clock.advanceSettling(30_000);
    expect(r.informers.synced).toBe(true);
    expect(r.informers.failuresOf(KIND)).toBe(0);
    await r.informers.stop();
  });

  it('a watch refused after the list (a revoked permission) keeps backing off; the kind stays synced with its cache', async () => {
    const r = rig();
    r.script.push([dep('a')]);
    r.informers.start();
    await settle();
    expect(r.informers.synced).toBe(true);
    expect(r.watch.opened).toBe(1);
    // The watch ends and its reopening is refused from now on.
    r.watch.refuse = httpError(403);
    const opened: number[] = [];
    const origWatch = r.watch.watch.bind(r.watch);
    r.watch.watch = async (...args) => {
      opened.push(r.clock.now());
      return origWatch(...args);
    };
    // ListWatch reopens from its resourceVersion: a watch, no list.
    r.watch.end(null);
    await r.clock.advanceSettling(70_000);
    const gaps = opened.slice(1).map((t, i) => t - (opened[i] as number));
    expect(gaps.slice(0, 4)).toEqual([500, 1000, 2000, 4000]);
    expect(r.informers.failuresOf(KIND)).toBeGreaterThanOrEqual(6);
    expect(r.informers.synced).toBe(true);
    expect(r.informers.get({ ...KIND, namespace: 'ns', name: 'a' })).toBeDefined();
    expect(await metricText(r.metrics)).toMatch(/reason="forbidden"/);
    await r.informers.stop();
  });

  it('stop() ends the restarts and wakes whoever waits for the sync', async () => {
    const r = rig();
    r.script.push(httpError(403));
    r.informers.start();
    await settle();
    const waiting = r.informers.whenSynced();
    await r.informers.stop();
    await waiting;
    expect(r.clock.count()).toBe(0);
    await r.clock.advanceSettling(60_000);
    expect(r.lists).toEqual([0]);
  });

  it('lists an owner\'s objects through its owner index, following adds, owner changes, deletes and a re-list', async () => {
    const owned = (name: string, owner: string | undefined, rv: string, namespace = 'ns'): KObject => ({
      ...dep(name),
      metadata: { name, namespace, resourceVersion: rv, ...(owner ? { ownerReferences: [{ apiVersion: 'v1', kind: 'X', name: owner, uid: owner, controller: true }] } : {}) },
    });
    // The store's expand marks what it expanded: a shallow list skips it.
    const r = rig(() => {}, (o) => ({ ...o, spec: { expanded: true } }));
    r.script.push([owned('a', 'X', '1'), owned('b', 'X', '1'), owned('c', 'Y', '1'), owned('d', undefined, '1'), owned('e', 'X', '1', 'other')]);
    r.informers.start();
    await settle();
    const names = (owner: string, shallow = false): string[] => r.informers.listOwned('apps/v1', 'Deployment', 'ns', owner, { shallow }).map((o) => o.metadata.name).sort();
    expect(names('X')).toEqual(['a', 'b']);
    expect(names('Y')).toEqual(['c']);
    expect(r.informers.listOwned('apps/v1', 'Deployment', 'ns', 'X').every((o) => (o.spec as { expanded?: boolean }).expanded)).toBe(true);
    expect(r.informers.listOwned('apps/v1', 'Deployment', 'ns', 'X', { shallow: true }).some((o) => o.spec)).toBe(false);
    r.watch.send('MODIFIED', owned('b', 'Y', '2'));
    r.watch.send('ADDED', owned('f', 'X', '2'));
    await settle();
    expect(names('X')).toEqual(['a', 'f']);
    expect(names('Y')).toEqual(['b', 'c']);
    r.watch.send('DELETED', owned('a', 'X', '3'));
    await settle();
    expect(names('X')).toEqual(['f']);
    // The watch expires (410); the re-list no longer has c or f.
    r.script.push([owned('b', 'Y', '2'), owned('d', undefined, '1'), owned('e', 'X', '1', 'other')]);
    r.script.shift();
    r.watch.end(Object.assign(new Error('gone'), { statusCode: 410 }));
    await settle();
    expect(r.lists.length).toBe(2);
    expect(names('X')).toEqual([]);
    expect(names('Y')).toEqual(['b']);
    expect(r.informers.listOwned('apps/v1', 'Deployment', 'other', 'X').map((o) => o.metadata.name)).toEqual(['e']);
    await r.informers.stop();
  });

  it('names failure reasons for the metric', () => {
    expect(failureReason(httpError(403))).toBe('forbidden');
    expect(failureReason(httpError(404))).toBe('not-found');
    expect(failureReason(httpError(500))).toBe('server-error');
    expect(failureReason(Object.assign(new Error('t'), { name: 'TimeoutError' }))).toBe('timeout');
    expect(failureReason(new TypeError('fetch failed'))).toBe('network');
  });
});
