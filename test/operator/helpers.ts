// Tools for the operator's integration tests: run the operator as a child
// process (`node operator/main.ts`), a counting HTTP proxy in front of the
// API server (it sees every request the operator sends: method, path,
// Content-Type), and polling.
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { type IncomingMessage, type Server, createServer } from 'node:http';
import { type RequestOptions, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { freePort } from '../fixtures/controlplane.ts';

export const REPO = resolve(import.meta.dirname, '../..');

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 60_000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface OperatorProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly port: number;
  readonly logFile: string;
  logs(): string;
  /** JSON log lines parsed. */
  logLines(): Array<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL: no goodbye. */
  kill(): Promise<void>;
  metrics(): Promise<string>;
  get(path: string): Promise<{ status: number; body: string }>;
}

export async function startOperator(opts: {
  kubeconfigPath: string;
  dir: string;
  name: string;
  env?: Record<string, string>;
  /** The module to run. @default operator/main.ts (the sources; the image runs their bundle) */
  entry?: string;
  /** Node's own options before the module (V8 flags that NODE_OPTIONS refuses). */
  nodeArgs?: readonly string[];
}): Promise<OperatorProcess> {
  const port = await freePort();
  const logFile = join(opts.dir, `${opts.name}.log`);
  const out = createWriteStream(logFile);
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), opts.entry ?? join(REPO, 'operator/main.ts')], {
    cwd: REPO,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      KUBECONFIG: opts.kubeconfigPath,
      HEALTH_ADDR: `127.0.0.1:${port}`,
      POD_NAME: opts.name,
      POD_NAMESPACE: 'securevote-system',
      LOG_LEVEL: 'debug',
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  // If this process ends without stopping it (a timeout kill, a crash), take it along.
  const reap = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', reap);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.once('exit', (code, signal) => {
      process.off('exit', reap);
      res({ code, signal });
    }),
  );
  const get = async (path: string): Promise<{ status: number; body: string }> => {
    const r = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: r.status, body: await r.text() };
  };
  const proc: OperatorProcess = {
    child,
    pid: child.pid as number,
    port,
    logFile,
    logs: () => readFileSync(logFile, 'utf8'),
    logLines: () =>
      readFileSync(logFile, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    metrics: async () => (await get('/metrics')).body,
    get,
  };
  await waitFor(`operator ${opts.name} /healthz`, async () => (await get('/healthz')).status === 200, 30_000).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\n${proc.logs()}`);
  });
  return proc;
}

export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly contentType: string | undefined;
  readonly status: number;
  readonly watch: boolean;
}

export interface CountingProxy {
  readonly port: number;
  readonly kubeconfigPath: string;
  readonly requests: SeenRequest[];
  /** Writes (anything but GET/HEAD), optionally from an index on. */
  writes(from?: number): SeenRequest[];
  close(): Promise<void>;
}

/**
 * Plain HTTP on 127.0.0.1 → the API server over TLS as the given user. The
 * operator, pointed at the proxy's kubeconfig, can't send a request the
 * proxy doesn't see.
 */
export async function startCountingProxy(kc: KubeConfig, dir: string): Promise<CountingProxy> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('no cluster in kubeconfig');
  const target = new URL(cluster.server);
  const tls: RequestOptions = {};
  await kc.applyToHTTPSOptions(tls);
  const requests: SeenRequest[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    // No compression through the proxy: a gzipped watch stream is held in
    // the server's compressor and events would arrive late.
    const { 'accept-encoding': _ae, ...rest } = req.headers;
    const headers = { ...rest, host: target.host };
    const up = httpsRequest(
      {
        ...tls,
        hostname: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...headers, ...((tls.headers as Record<string, string> | undefined) ?? {}) },
      },
      (upRes) => {
        requests.push({
          method: req.method ?? 'GET',
          path: url.pathname,
          query: url.searchParams,
          contentType: req.headers['content-type'],
          status: upRes.statusCode ?? 0,
          watch: url.searchParams.get('watch') === 'true',
        });
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        // Node holds headers back until the first body byte; a watch's first
        // byte may be minutes away, and its client waits for the headers.
        res.flushHeaders();
        upRes.pipe(res);
      },
    );
    up.on('error', (err) => {
      res.writeHead(502, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ message: String(err) }));
    });
    req.pipe(up);
    res.on('close', () => up.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const kubeconfigPath = join(dir, `proxy-${port}.kubeconfig`);
  writeProxyKubeconfig(kubeconfigPath, port);
  return {
    port,
    kubeconfigPath,
    requests,
    writes: (from = 0) => requests.slice(from).filter((r) => r.method !== 'GET' && r.method !== 'HEAD'),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Write a kubeconfig file for a KubeConfig (e.g. a ServiceAccount's). */
export function writeKubeconfig(kc: KubeConfig, path: string): string {
  writeFileSync(path, kc.exportConfig());
  return path;
}

/** A kubeconfig for a plain-http proxy on 127.0.0.1:port (client-node refuses http unless TLS verification is off; there is no TLS to verify). */
export function writeProxyKubeconfig(path: string, port: number): void {
  writeFileSync(
    path,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'proxy', cluster: { server: `http://127.0.0.1:${port}`, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'proxy', user: {} }],
      contexts: [{ name: 'proxy', context: { cluster: 'proxy', user: 'proxy' } }],
      'current-context': 'proxy',
    }),
  );
}
