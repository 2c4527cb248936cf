// The election logic against an in-memory Lease store that behaves like the
// API server's optimistic concurrency (resourceVersion must match on update).
// The real two-process election runs in controller.test.ts on a real API server.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { type Lease, LeaderElector, Leadership, type LeaseStore, type StopReason, type Term, microTime } from '../../operator/leader.ts';
import { FakeTimers } from './fake-timers.ts';

class MemoryLeases implements LeaseStore {
  lease: Lease | undefined;
  private rv = 0;
  down = false;
  async get(): Promise<Lease | undefined> {
    if (this.down) throw new Error('connection refused');
    return this.lease && structuredClone(this.lease);
  }
  async create(l: Lease): Promise<Lease> {
    if (this.down) throw new Error('connection refused');
    if (this.lease) throw Object.assign(new Error('exists'), { code: 409 });
    this.lease = { ...structuredClone(l), metadata: { ...l.metadata, resourceVersion: String(++this.rv) } };
    return this.lease;
  }
  async replace(l: Lease): Promise<Lease> {
    if (this.down) throw new Error('connection refused');
    if (l.metadata.resourceVersion !== this.lease?.metadata.resourceVersion) throw Object.assign(new Error('conflict'), { code: 409 });
    this.lease = { ...structuredClone(l), metadata: { ...l.metadata, resourceVersion: String(++this.rv) } };
    return this.lease;
  }
}

const log = pino({ level: 'silent' });

function candidate(id: string, store: LeaseStore, clock: FakeTimers, events: string[]): LeaderElector {
  return new LeaderElector({
    store,
    namespace: 'ns',
    name: 'op',
    identity: id,
    log,
    timers: clock,
    onStartedLeading: () => void events.push(`${id}:start`),
    onStoppedLeading: () => void events.push(`${id}:stop`),
  });
}

describe('LeaderElector', () => {
  it('one of two candidates leads; the other takes over within the lease duration after the leader dies', async () => {
    const clock = new FakeTimers(1_000_000);
    const store = new MemoryLeases();
    const events: string[] = [];
    const a = candidate('a', store, clock, events);
    const b = candidate('b', store, clock, events);
    a.start();
    await clock.advanceSettling(100);
    b.start();
    await clock.advanceSettling(6_000);
    expect(events).toEqual(['a:start']);
    expect(a.isLeader).toBe(true);
    expect(b.isLeader).toBe(false);
    expect(store.lease?.spec?.holderIdentity).toBe('a');

    // a dies without a word: its timers stop, nothing is released.
    (a as unknown as { running: boolean }).running = false;
    const died = clock.now();
    await clock.advanceSettling(15_000);
    expect(b.isLeader).toBe(true);
    expect(store.lease?.spec?.holderIdentity).toBe('b');
    expect(store.lease?.spec?.leaseTransitions).toBe(1);
    const tookOver = Number(new Date(store.lease?.spec?.acquireTime as string)) - died;
    expect(tookOver).toBeLessThanOrEqual(15_000);
  });

  it('stop() releases the lease so the other candidate takes it at its next try', async () => {
    const clock = new FakeTimers(1_000_000);
    const store = new MemoryLeases();
    const events: string[] = [];
    const a = candidate('a', store, clock, events);
    const b = candidate('b', store, clock, events);
    a.start();
    await clock.advanceSettling(100);
    b.start();
    await clock.advanceSettling(3_000);
    const stopping = a.stop();
    await clock.advanceSettling(100);
    await stopping;
    expect(store.lease?.spec?.holderIdentity).toBeNull();
    await clock.advanceSettling(2_100);
    expect(b.isLeader).toBe(true);
    expect(events).toEqual(['a:start', 'a:stop', 'b:start']);
    // a stopped its work before it handed the lease over.
  });

  it('a leader that cannot renew past the deadline stops leading', async () => {
    const clock = new FakeTimers(1_000_000);
    const store = new MemoryLeases();
    const events: string[] = [];
    const a = candidate('a', store, clock, events);
    a.start();
    await clock.advanceSettling(2_000);
    expect(a.isLeader).toBe(true);
    store.down = true;
    await clock.advanceSettling(9_000);
    expect(a.isLeader).toBe(false);
    expect(events).toEqual(['a:start', 'a:stop']);
    store.down = false;
    await clock.advanceSettling(3_000);
    expect(a.isLeader).toBe(true);
  });

  it('writes MicroTime with six fractional digits', () => {
    expect(microTime(new Date('2026-01-02T03:04:05.678Z'))).toBe('2026-01-02T03:04:05.678000Z');
  });
});

/** One replica's line to the shared store; `hang` makes its calls never answer (a stalled connection). */
class Line implements LeaseStore {
  hang = false;
  calls = 0;
  private readonly store: LeaseStore;
  constructor(store: LeaseStore) {
    this.store = store;
  }
  private pass<T>(f: () => Promise<T>): Promise<T> {
    this.calls++;
    return this.hang ? new Promise<T>(() => {}) : f();
  }
  get(): Promise<Lease | undefined> {
    return this.pass(() => this.store.get());
  }
  create(l: Lease): Promise<Lease> {
    return this.pass(() => this.store.create(l));
  }
  replace(l: Lease): Promise<Lease> {
    return this.pass(() => this.store.replace(l));
  }
}

function elector(id: string, store: LeaseStore, clock: FakeTimers, hooks: { started?: () => void | Promise<void>; stopped?: (r: StopReason) => void | Promise<void> } = {}): LeaderElector {
  return new LeaderElector({
    store,
    namespace: 'ns',
    name: 'op',
    identity: id,
    log,
    timers: clock,
    onStartedLeading: hooks.started ?? (() => {}),
    onStoppedLeading: hooks.stopped ?? (() => {}),
  });
}

describe('LeaderElector: renewal and the write fence', () => {
  it('renews on its own timer while the work started on winning is still filling caches', async () => {
    const clock = new FakeTimers(1_000_000);
    const store = new MemoryLeases();
    // A cache fill that never ends.
    const a = elector('a', store, clock, { started: () => new Promise<void>(() => {}) });
    a.start();
    await clock.advanceSettling(100);
    expect(a.isLeader).toBe(true);
    const renewals: string[] = [];
    for (let i = 0; i < 10; i++) {
      await clock.advanceSettling(2_000);
      renewals.push(store.lease?.spec?.renewTime as string);
    }
    expect(new Set(renewals).size).toBe(10);
    expect(a.isLeader).toBe(true);
    expect(a.fence.isOpen).toBe(true);
  });

  it('when renewals hang, the fence closes before the lease can expire, and before the other replica leads', async () => {
    const clock = new FakeTimers(1_000_000);
    const store = new MemoryLeases();
    const lineA = new Line(store);
    let bStarted: number | undefined;
    const a = elector('a', lineA, clock);
    const b = elector('b', store, clock, { started: () => void (bStarted = clock.now()) });
    let aClosed: number | undefined;
    a.fence.onClose(() => (aClosed ??= clock.now()));
    a.start();
    await clock.advanceSettling(100);
    b.start();
    await clock.advanceSettling(4_000);
    expect(a.isLeader).toBe(true);
    const lastRenewal = Number(new Date(store.lease?.spec?.renewTime as string));
    lineA.hang = true;
    let overlap = false;
    for (let t = 0; t < 20_000; t += 100) {
      await clock.advanceSettling(100);
      if (a.fence.isOpen && b.fence.isOpen) overlap = true;
    }
    expect(overlap).toBe(false);
    expect(aClosed).toBeDefined();
    // Closed no later than the renew deadline (6 s) after the last renewal was sent...
    expect((aClosed as number) - lastRenewal).toBeLessThanOrEqual(6_000);
    // ...which is before the lease could expire (8 s) for anyone.
    expect((aClosed as number) - lastRenewal).toBeLessThan(8_000);
    expect(bStarted).toBeDefined();
    expect(bStarted as number).toBeGreaterThanOrEqual(lastRenewal + 8_000);
    expect(aClosed as number).toBeLessThan(bStarted as number);
    // a's writes are refused from then on.
    expect(() => a.fence.admit()).toThrow(/not the leader/);
    expect(b.isLeader).toBe(true);
  });

  it('a leader that reads another holder in the lease closes its fence at once', async () => {
    const clock = new FakeTimers(1_000_000);
    const store = new MemoryLeases();
    const reasons: StopReason[] = [];
    const a = elector('a', store, clock, { stopped: (r) => void reasons.push(r) });
    a.start();
    await clock.advanceSettling(100);
    expect(a.isLeader).toBe(true);
    // Someone overwrote the lease (a hand edit, or a candidate with a skewed view).
    const l = store.lease as Lease;
    await store.replace({ ...l, spec: { ...l.spec, holderIdentity: 'z' } });
    await clock.advanceSettling(2_000);
    expect(a.isLeader).toBe(false);
    expect(a.fence.isOpen).toBe(false);
    expect(reasons).toEqual(['lost']);
  });

  it('on stop() the work stops while renewals go on, then the fence closes and the lease is released', async () => {
    const clock = new FakeTimers(1_000_000);
    const store = new MemoryLeases();
    const seen: string[] = [];
    let finish: () => void = () => {};
    const a = elector('a', store, clock, {
      stopped: (r) =>
        new Promise<void>((resolve) => {
          seen.push(`stopped:${r}`);
          finish = resolve;
        }),
    });
    a.start();
    await clock.advanceSettling(100);
    const stopping = a.stop();
    // The work takes 10 s to wind down: longer than the renew deadline.
    await clock.advanceSettling(10_000);
    expect(a.fence.isOpen).toBe(true);
    expect(store.lease?.spec?.holderIdentity).toBe('a');
    finish();
    await clock.advanceSettling(100);
    await stopping;
    expect(seen).toEqual(['stopped:released']);
    expect(a.fence.isOpen).toBe(false);
    expect(store.lease?.spec?.holderIdentity).toBeNull();
  });
});

/** A term whose start and stop the test controls. */
class FakeTerm implements Term {
  ready = false;
  log: string[];
  stopGate: Promise<void> = Promise.resolve();
  constructor(log: string[]) {
    this.log = log;
  }
  async start(): Promise<void> {
    this.log.push('term:start');
    this.ready = true;
  }
  async stop(): Promise<void> {
    this.log.push('term:stopping');
    await this.stopGate;
    this.ready = false;
    this.log.push('term:stopped');
  }
}

describe('Leadership', () => {
  function wired(clock: FakeTimers, line: LeaseStore, seen: string[], term: FakeTerm): { el: LeaderElector; leadership: Leadership } {
    let el: LeaderElector | undefined;
    const leadership = new Leadership({
      log,
      timers: clock,
      newTerm: () => term,
      exit: (code) => void seen.push(`exit:${code}`),
    });
    el = new LeaderElector({
      store: line,
      namespace: 'ns',
      name: 'op',
      identity: 'a',
      log,
      timers: clock,
      onStartedLeading: () => leadership.won(),
      onStoppedLeading: (r) => {
        if (r === 'lost') el?.abandon();
        return leadership.stopped(r);
      },
    });
    leadership.campaigning();
    return { el, leadership };
  }

  it('exits non-zero after a lost lease, once the term has stopped, and campaigns no more', async () => {
    const clock = new FakeTimers(1_000_000);
    const store = new MemoryLeases();
    const line = new Line(store);
    const seen: string[] = [];
    const term = new FakeTerm(seen);
    const { el, leadership } = wired(clock, line, seen, term);
    expect(leadership.ready()).toBe(true); // a standby is ready
    el.start();
    await clock.advanceSettling(100);
    expect(leadership.phase).toBe('leading');
    expect(leadership.ready()).toBe(true);
    line.hang = true;
    await clock.advanceSettling(7_000);
    expect(seen).toEqual(['term:start', 'term:stopping', 'term:stopped', 'exit:1']);
    expect(leadership.ready()).toBe(false);
    const calls = line.calls;
    line.hang = false;
    await clock.advanceSettling(10_000);
    expect(line.calls).toBe(calls);
  });

  it('a term that will not stop after a lost lease still exits within the grace period', async () => {
    const clock = new FakeTimers(1_000_000);
    const line = new Line(new MemoryLeases());
    const seen: string[] = [];
    const term = new FakeTerm(seen);
    term.stopGate = new Promise<void>(() => {});
    const { el } = wired(clock, line, seen, term);
    el.start();
    await clock.advanceSettling(100);
    line.hang = true;
    await clock.advanceSettling(6_000);
    expect(seen).toEqual(['term:start', 'term:stopping']);
    await clock.advanceSettling(5_100);
    expect(seen).toEqual(['term:start', 'term:stopping', 'exit:1']);
  });

  it('shutdown: the term stops first, then the lease is released; no exit(1)', async () => {
    const clock = new FakeTimers(1_000_000);
    const store = new MemoryLeases();
    const seen: string[] = [];
    const term = new FakeTerm(seen);
    const { el } = wired(clock, store, seen, term);
    el.start();
    await clock.advanceSettling(100);
    const stopping = el.stop();
    await clock.advanceSettling(100);
    await stopping;
    expect(seen).toEqual(['term:start', 'term:stopping', 'term:stopped']);
    expect(store.lease?.spec?.holderIdentity).toBeNull();
  });
});
