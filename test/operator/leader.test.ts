// The election logic against an in-memory Lease store that behaves like the
// API server's optimistic concurrency (resourceVersion must match on update).
// The real two-process election runs in controller.test.ts on a real API server.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { type Lease, LeaderElector, type LeaseStore, microTime } from '../../operator/leader.ts';
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
