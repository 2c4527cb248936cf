// The write fence and the request deadlines, on the operator's real API
// client (RawKubeApi, KubeClient, the Event recorder) against a local HTTP
// server that records what reaches it and can hold a request forever.
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KObject } from '../../operator/context.ts';
import { ErrorClass, classify } from '../../operator/errors.ts';
import { KubeEventRecorder } from '../../operator/events.ts';
import { NotLeaderError, WriteFence } from '../../operator/fence.ts';
import { KubeClient, makeRawKubeApi } from '../../operator/kube.ts';
import { FakeTimers } from './fake-timers.ts';

let server: Server;
let url: string;
const seen: string[] = [];
/** Requests whose path contains this are held without an answer. */
let holdPath = '';

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push(`${req.method} ${req.url}`);
    if (holdPath && req.url?.includes(holdPath)) return; // never answers
    const json = (code: number, body: unknown): void => {
      res.writeHead(code, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.url === '/api/v1') {
      return json(200, {
        kind: 'APIResourceList',
        groupVersion: 'v1',
        resources: [
          { name: 'configmaps', namespaced: true, kind: 'ConfigMap', verbs: ['create', 'get', 'list', 'patch', 'delete'] },
          { name: 'events', namespaced: true, kind: 'Event', verbs: ['create'] },
        ],
      });
    }
    req.resume();
    req.on('end', () => json(200, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'ns' } }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

function client(fence: WriteFence, timeoutMs = 2000): { kube: KubeClient; raw: ReturnType<typeof makeRawKubeApi> } {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: url, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  const raw = makeRawKubeApi(kc, { timeoutMs, fence });
  return { kube: new KubeClient(raw, 'test'), raw };
}

const cm = (name: string): KObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'ns' }, data: {} });

describe('WriteFence', () => {
  it('admits writes only within an open term, closes by the clock even if its timer is late, and aborts the term signal', () => {
    const clock = new FakeTimers(1_000);
    const fence = new WriteFence(clock);
    expect(() => fence.admit()).toThrow(NotLeaderError);
    fence.openUntil(7_000);
    const signal = fence.admit();
    expect(signal.aborted).toBe(false);
    fence.openUntil(8_000); // a renewal extends the same term
    expect(fence.admit()).toBe(signal);
    clock.t = 8_000; // the timer hasn't fired (a blocked event loop): the clock still rules
    expect(() => fence.admit()).toThrow(/not the leader/);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBeInstanceOf(NotLeaderError);
  });

  it('a refused write is a transient error: back off, report no Degraded status', () => {
    expect(classify(new NotLeaderError('x')).errorClass).toBe(ErrorClass.Transient);
  });
});

describe('RawKubeApi with a fence and deadlines', () => {
  it('a write outside a term never reaches the server; reads still do', async () => {
    const fence = new WriteFence();
    const { kube } = client(fence);
    seen.length = 0;
    await expect(kube.apply(cm('a'))).rejects.toThrow(NotLeaderError);
    await expect(kube.create(cm('a'))).rejects.toThrow(NotLeaderError);
    await expect(kube.delete({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'ns', name: 'a' })).rejects.toThrow(NotLeaderError);
    await expect(kube.applyStatus({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'ns', name: 'a' }, {})).rejects.toThrow(NotLeaderError);
    expect(await kube.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'ns', name: 'a' })).toBeDefined();
    expect(seen.filter((s) => !s.startsWith('GET'))).toEqual([]);
  });

  it('Events are fenced too (best effort: logged, not thrown)', async () => {
    const fence = new WriteFence();
    const { raw } = client(fence);
    seen.length = 0;
    const warnings: string[] = [];
    const log = pino({ level: 'warn' }, { write: (l: string) => void warnings.push(l) });
    await new KubeEventRecorder(raw, log, 'test', 'me').publish(cm('a'), 'Warning', 'Pending', 'm');
    expect(seen.filter((s) => s.startsWith('POST'))).toEqual([]);
    expect(warnings.join('')).toMatch(/not the leader/);
  });

  it('a write in flight when the term ends is aborted then', async () => {
    const fence = new WriteFence();
    fence.openUntil(Date.now() + 300);
    const { kube } = client(fence, 4000);
    holdPath = '/configmaps/held';
    const t0 = Date.now();
    await expect(kube.apply(cm('held'))).rejects.toThrow(/not the leader/);
    expect(Date.now() - t0).toBeLessThan(2000);
    holdPath = '';
  });

  it('a request the server never answers fails at its deadline, not undici\'s 300 s', async () => {
    const fence = new WriteFence();
    fence.openUntil(Date.now() + 60_000);
    const { kube } = client(fence, 300);
    holdPath = '/configmaps/slow';
    const t0 = Date.now();
    const err = await kube.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'ns', name: 'slow' }).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(classify(err).errorClass).toBe(ErrorClass.Transient);
    holdPath = '';
    fence.close('test over');
  });
});
