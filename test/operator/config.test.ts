// The environment → settings, and the order the write fence relies on.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../operator/config.ts';

describe('loadConfig', () => {
  it('defaults', () => {
    const c = loadConfig({}, 'host-1');
    expect(c.election).toEqual({
      enabled: true,
      namespace: 'securevote-system',
      name: 'securevote-operator',
      identity: 'host-1',
      leaseDurationMs: 8000,
      renewDeadlineMs: 6000,
      retryPeriodMs: 2000,
    });
    expect(c.requestTimeoutMs).toBe(5000);
    expect([c.healthHost, c.healthPort]).toEqual(['0.0.0.0', 8081]);
    expect(c.operator.concurrency).toBe(8);
    expect(c.operator.resyncMs).toBe(300_000);
    expect(c.desiredCacheSize).toBe(2000);
  });

  it('reads the environment', () => {
    const c = loadConfig({ POD_NAME: 'p', POD_NAMESPACE: 'n', LEADER_ELECT: 'false', HEALTH_ADDR: '127.0.0.1:9', CONCURRENCY: '3', RESYNC_SECONDS: '7' });
    expect(c.election).toMatchObject({ enabled: false, identity: 'p', namespace: 'n' });
    expect([c.healthHost, c.healthPort, c.operator.concurrency, c.operator.resyncMs]).toEqual(['127.0.0.1', 9, 3, 7000]);
  });

  it('throws naming the variable and its value', () => {
    expect(() => loadConfig({ CONCURRENCY: '0' })).toThrow('CONCURRENCY must be a positive integer, got "0"');
    expect(() => loadConfig({ HEALTH_ADDR: '8081' })).toThrow('HEALTH_ADDR must be host:port, got "8081"');
    expect(() => loadConfig({ RENEW_DEADLINE_MS: '8000' })).toThrow('RENEW_DEADLINE_MS (8000) must be less than LEASE_DURATION_MS (8000)');
    expect(() => loadConfig({ RETRY_PERIOD_MS: '6000' })).toThrow('RETRY_PERIOD_MS (6000) must be less than RENEW_DEADLINE_MS (6000)');
    expect(() => loadConfig({ REQUEST_TIMEOUT_MS: '6000' })).toThrow('REQUEST_TIMEOUT_MS (6000) must be less than RENEW_DEADLINE_MS (6000)');
    // Without election there is no renew deadline to stay under.
    expect(loadConfig({ LEADER_ELECT: 'false', REQUEST_TIMEOUT_MS: '30000' }).requestTimeoutMs).toBe(30_000);
  });
});
