// Renders app/proxy/nginx.conf.template: a pure function of typed options, so
// local runs (app/local/nginx.ts), images and the Kubernetes ConfigMap
// (charts/) all get the same config from the same code.
import { readFileSync } from 'node:fs';
import { SECURITY_HEADERS } from '../frontend/security-headers.ts';

export const TEMPLATE_PATH = new URL('./nginx.conf.template', import.meta.url);
const TEMPLATE = readFileSync(TEMPLATE_PATH, 'utf8');

export interface Upstream {
  /** DNS name or IPv4 address (e.g. `backend`, `securevote-backend.ns.svc`, `127.0.0.1`). */
  readonly host: string;
  readonly port: number;
}

export interface NginxConfOptions {
  /** Port nginx listens on. @default 8080 */
  readonly listenPort?: number;
  /** Address to bind. @default '0.0.0.0' (local runs and tests pass '127.0.0.1') */
  readonly listenHost?: string;
  /** The frontend (serves `/`): one address (a Service) or several (local replicas). */
  readonly frontend: Upstream | readonly Upstream[];
  /** The backend (serves `/api/` and `/health`): one address (a Service) or several. */
  readonly backend: Upstream | readonly Upstream[];
  /**
   * Without a resolver, a single upstream address (a Kubernetes Service's
   * virtual IP) is listed this many times, `max_fails=0`: a request that
   * never reached a pod (connection refused or timed out, e.g. by a pod going
   * away) is retried on the next copy, a new connection that kube-proxy
   * balances anew, and the only address is never marked down. @default 3
   */
  readonly upstreamCopies?: number;
  /** nginx's `worker_shutdown_timeout` after SIGQUIT (graceful stop). @default 20 */
  readonly shutdownTimeoutSeconds?: number;
  /** Writable file for the master's pid. @default '/tmp/nginx/nginx.pid' */
  readonly pidPath?: string;
  /** Writable directory for nginx's temp files (body, proxy buffers). @default '/tmp/nginx' */
  readonly tempDir?: string;
  /**
   * A DNS resolver (e.g. `kube-dns.kube-system.svc.cluster.local` or `10.96.0.10`).
   * Unset: upstream names are resolved once at start and each upstream keeps
   * a pool of keepalive connections. Set: names are resolved per request
   * (valid 10 s), so nginx starts even before the Services exist and follows
   * address changes, at the price of no upstream keepalive pool.
   * @default undefined
   */
  readonly resolver?: string;
  /**
   * nginx's connection counters (stub_status) on 127.0.0.1 at this port, for
   * a metrics exporter in the same pod; never on another address. @default undefined (none)
   */
  readonly stubStatusPort?: number;
  /** `worker_processes`. @default 1 (the seed gives the proxy half a CPU) */
  readonly workerProcesses?: number | 'auto';
  /** Access log target. @default '/dev/stdout' */
  readonly accessLog?: string | 'off';
  /**
   * Serve files of this directory under `/static/` from nginx itself. Only the
   * benchmark uses it (the nginx ceiling: a static file with no upstream).
   * @default undefined
   */
  readonly staticRoot?: string;
  /**
   * Micro-cache GET /api/results in nginx for this many seconds (0 = off):
   * every poller within the window gets one upstream answer, at the price of
   * results up to that old (a voter may not see their own vote until the next
   * poll). Off by default: the contract is that /api/ reaches the backend.
   * @default 0
   */
  readonly resultsCacheSeconds?: number;
}

/**
 * nginx closes an upstream connection idle this long, before a draining
 * Node server does (app/backend/drain.ts: idleCloseMs 5 s): the side that
 * closes an idle keep-alive connection must be the one that would write on
 * it next, or a vote written as the server closes is lost.
 */
export const UPSTREAM_KEEPALIVE_SECONDS = 4;

const HOST_RE = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/;
// No whitespace, quotes, braces or semicolons: a path can't break out of its directive.
const PATH_RE = /^\/[A-Za-z0-9._\/-]*$/;

function checkPort(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    throw new Error(`renderNginxConf: ${name} must be an integer 1-65535, got ${String(value)}`);
  }
  return value;
}

function checkHost(name: string, value: string): string {
  if (!HOST_RE.test(value)) throw new Error(`renderNginxConf: ${name} is not a host name or IPv4 address: ${JSON.stringify(value)}`);
  return value;
}

function checkPath(name: string, value: string): string {
  if (!PATH_RE.test(value)) throw new Error(`renderNginxConf: ${name} must be an absolute path of [A-Za-z0-9._/-], got ${JSON.stringify(value)}`);
  return value.replace(/\/+$/, '') || '/';
}

function indent(lines: string[], spaces: number): string {
  const pad = ' '.repeat(spaces);
  return lines.map((l) => (l === '' ? '' : pad + l)).join('\n');
}

export function renderNginxConf(opts: NginxConfOptions): string {
  const listenPort = checkPort('listenPort', opts.listenPort ?? 8080);
  const listenHost = checkHost('listenHost', opts.listenHost ?? '0.0.0.0');
  const addresses = (name: string, u: Upstream | readonly Upstream[]): string[] => {
    const list: readonly Upstream[] = Array.isArray(u) ? u : [u as Upstream];
    if (list.length === 0) throw new Error(`renderNginxConf: ${name} needs at least one upstream`);
    const at = (i: number): string => (Array.isArray(u) ? `${name}[${i}]` : name);
    return list.map((x, i) => `${checkHost(`${at(i)}.host`, x.host)}:${checkPort(`${at(i)}.port`, x.port)}`);
  };
  const frontends = addresses('frontend', opts.frontend);
  const backends = addresses('backend', opts.backend);
  const frontend = frontends[0]!;
  const backend = backends[0]!;
  const copies = opts.upstreamCopies ?? 3;
  if (!Number.isInteger(copies) || copies < 1 || copies > 10) {
    throw new Error(`renderNginxConf: upstreamCopies must be an integer 1-10, got ${String(copies)}`);
  }
  const shutdownTimeout = opts.shutdownTimeoutSeconds ?? 20;
  if (!Number.isInteger(shutdownTimeout) || shutdownTimeout < 1 || shutdownTimeout > 600) {
    throw new Error(`renderNginxConf: shutdownTimeoutSeconds must be an integer 1-600, got ${String(shutdownTimeout)}`);
  }
  // One address: copies of it that never get marked down (see upstreamCopies).
  // Several: each once, with nginx's passive check (a refusing peer rests 10 s).
  const servers = (list: string[]): string[] =>
    list.length === 1 ? Array.from({ length: copies }, () => `    server ${list[0]} max_fails=0;`) : list.map((a) => `    server ${a};`);
  const pidPath = checkPath('pidPath', opts.pidPath ?? '/tmp/nginx/nginx.pid');
  const tempDir = checkPath('tempDir', opts.tempDir ?? '/tmp/nginx');
  const workers = opts.workerProcesses ?? 1;
  if (workers !== 'auto' && (!Number.isInteger(workers) || workers < 1 || workers > 64)) {
    throw new Error(`renderNginxConf: workerProcesses must be 'auto' or an integer 1-64, got ${String(workers)}`);
  }
  const accessLog = opts.accessLog ?? '/dev/stdout';
  const accessLogLine = accessLog === 'off' ? 'off' : `${checkPath('accessLog', accessLog)} securevote_json`;

  let resolver = '';
  let upstreams = '';
  let frontendPass: string;
  let backendPass: string;
  if (opts.resolver !== undefined) {
    if (frontends.length > 1 || backends.length > 1) throw new Error('renderNginxConf: several upstream addresses need no resolver');
    resolver = indent([
      `resolver ${checkHost('resolver', opts.resolver)} valid=10s ipv6=off;`,
      'resolver_timeout 5s;',
    ], 4) + '\n';
    // A variable in proxy_pass makes nginx resolve the name per request.
    frontendPass = '$securevote_frontend';
    backendPass = '$securevote_backend';
    upstreams = indent([
      `map $host $securevote_frontend { default "http://${frontend}"; }`,
      `map $host $securevote_backend { default "http://${backend}"; }`,
    ], 4) + '\n';
  } else {
    frontendPass = 'http://securevote_frontend';
    backendPass = 'http://securevote_backend';
    upstreams = indent([
      'upstream securevote_frontend {',
      ...servers(frontends),
      '    keepalive 16;',
      `    keepalive_timeout ${UPSTREAM_KEEPALIVE_SECONDS}s;`,
      '}',
      'upstream securevote_backend {',
      ...servers(backends),
      '    keepalive 32;',
      `    keepalive_timeout ${UPSTREAM_KEEPALIVE_SECONDS}s;`,
      '}',
    ], 4) + '\n';
  }

  const headerLines = Object.entries(SECURITY_HEADERS).map(([k, v]) => `add_header ${k} "${v}" always;`);
  const hideLines = Object.keys(SECURITY_HEADERS).map((k) => `proxy_hide_header ${k};`);
  const staticLocation = opts.staticRoot === undefined ? '' : indent([
    '',
    '# Benchmark only: files served by nginx itself.',
    'location /static/ {',
    `    alias ${checkPath('staticRoot', opts.staticRoot)}/;`,
    '}',
  ], 8) + '\n';

  const cacheSeconds = opts.resultsCacheSeconds ?? 0;
  if (!Number.isInteger(cacheSeconds) || cacheSeconds < 0 || cacheSeconds > 60) {
    throw new Error(`renderNginxConf: resultsCacheSeconds must be an integer 0-60, got ${String(cacheSeconds)}`);
  }
  const resultsCachePath = cacheSeconds === 0 ? '' : indent([
    `proxy_cache_path ${tempDir}/cache levels=1 keys_zone=securevote_results:1m max_size=10m inactive=60s use_temp_path=off;`,
  ], 4) + '\n';
  const resultsLocation = cacheSeconds === 0 ? '' : indent([
    `# Results micro-cache (${cacheSeconds} s): one upstream request per window, concurrent misses collapsed.`,
    'location = /api/results {',
    ...headerLines.map((l) => `    ${l}`),
    '    add_header X-Cache-Status $upstream_cache_status always;',
    '    error_page 502 504 = @backend_unavailable;',
    '    proxy_cache securevote_results;',
    '    proxy_cache_key $request_method$uri;',
    `    proxy_cache_valid 200 ${cacheSeconds}s;`,
    '    proxy_cache_lock on;',
    '    proxy_cache_lock_timeout 5s;',
    '    proxy_cache_use_stale updating;',
    '    # The backend says no-store to browsers; that still holds for them, not for this cache.',
    '    proxy_ignore_headers Cache-Control Expires;',
    `    proxy_pass ${backendPass};`,
    '}',
  ], 8) + '\n';

  const statusServer = opts.stubStatusPort === undefined ? '' : '\n' + indent([
    '# Connection counters for the metrics exporter beside nginx: loopback only.',
    'server {',
    `    listen 127.0.0.1:${checkPort('stubStatusPort', opts.stubStatusPort)};`,
    '    access_log off;',
    '    location = /stub_status {',
    '        stub_status;',
    '    }',
    '    location / {',
    '        return 404;',
    '    }',
    '}',
  ], 4) + '\n';

  const values: Record<string, string> = {
    status_server: statusServer,
    worker_processes: String(workers),
    shutdown_timeout: `${shutdownTimeout}s`,
    pid_path: pidPath,
    temp_dir: tempDir,
    access_log: accessLogLine,
    resolver,
    upstreams,
    listen: `${listenHost}:${listenPort}`,
    security_headers: indent(headerLines, 8),
    security_headers_nested: indent(headerLines, 12),
    hide_upstream_headers: indent(hideLines, 8),
    frontend_pass: frontendPass,
    backend_pass: backendPass,
    static_location: staticLocation,
    results_cache_path: resultsCachePath,
    results_location: resultsLocation,
  };
  return TEMPLATE.replace(/\{\{([a-z_]+)\}\}/g, (_m, key: string) => {
    const v = values[key];
    if (v === undefined) throw new Error(`renderNginxConf: template has unknown placeholder {{${key}}}`);
    return v;
  });
}
