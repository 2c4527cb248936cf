// A real local nginx (Debian's, /usr/sbin/nginx) in front of the frontend and
// backend, from the same template as containers and Kubernetes
// (app/proxy/render.ts). Everything it writes lives in its own directory.
import { chmodSync, mkdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { renderNginxConf, type NginxConfOptions, type Upstream } from '../proxy/render.ts';
import { LOCALHOST, exists, freePort, isAlive, killPid, spawnServer, stopPid, waitReady, type SpawnedServer } from './process.ts';

export const NGINX_BIN = process.env.NGINX_BIN ?? '/usr/sbin/nginx';

export interface NginxOptions {
  /** Directory owned by this server: nginx.conf, nginx.pid, tmp/, nginx.log. */
  dir: string;
  /** Port on 127.0.0.1; a free one when omitted. */
  port?: number;
  frontend: NginxConfOptions['frontend'];
  backend: NginxConfOptions['backend'];
  /** Outlive this Node process (make up); stop later with stopNginxDir(dir). Default false. */
  detached?: boolean;
  /** Passed to renderNginxConf (the benchmark uses them). */
  workerProcesses?: NginxConfOptions['workerProcesses'];
  accessLog?: NginxConfOptions['accessLog'];
  staticRoot?: string;
  resultsCacheSeconds?: number;
  /** nginx's stub_status on 127.0.0.1 at this port (a metrics exporter reads it). */
  stubStatusPort?: number;
  timeoutMs?: number;
}

export interface NginxServer {
  readonly port: number;
  readonly url: string;
  readonly pid: number;
  readonly confFile: string;
  readonly logFile: string;
  /** Graceful stop (SIGQUIT: finish in-flight requests), SIGKILL after a timeout. */
  stop(): Promise<void>;
  /** SIGKILL the master (its workers exit with it): a crash. */
  kill(): Promise<void>;
}

async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/nginx-health`, { signal: AbortSignal.timeout(2_000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

/**
 * As root, nginx's workers run as `nobody` and must reach tmp/ (request
 * bodies, proxy buffers, the results cache) under `dir`: every ancestor needs
 * search (o+x) permission. Scratch dirs under the temp dir (mkdtemp makes them
 * 0700) get it, search only, no listing; elsewhere we say what to do.
 */
function letWorkersIn(dir: string): void {
  chmodSync(dir, 0o711);
  const tmp = realpathSync(tmpdir());
  for (let d = dirname(realpathSync(dir)); d !== dirname(d); d = dirname(d)) {
    const mode = statSync(d).mode;
    if ((mode & 0o001) !== 0) continue;
    if (d === tmp || d.startsWith(tmp + sep)) chmodSync(d, mode | 0o001);
    else throw new Error(`nginx: its workers (user nobody) cannot enter ${d}; use a directory they can reach (chmod o+x ${d})`);
  }
}

/** Renders the config into `dir`, starts nginx in the foreground (its pid is ours to stop) and waits for /nginx-health. */
export async function startNginx(opts: NginxOptions): Promise<NginxServer> {
  const dir = resolve(opts.dir);
  const tempDir = join(dir, 'tmp');
  mkdirSync(tempDir, { recursive: true });
  if (process.getuid?.() === 0) letWorkersIn(dir);
  const port = opts.port ?? (await freePort());
  const confFile = join(dir, 'nginx.conf');
  const pidFile = join(dir, 'nginx.pid');
  const logFile = join(dir, 'nginx.log');
  writeFileSync(confFile, renderNginxConf({
    listenHost: LOCALHOST,
    listenPort: port,
    frontend: opts.frontend,
    backend: opts.backend,
    pidPath: pidFile,
    tempDir,
    workerProcesses: opts.workerProcesses,
    accessLog: opts.accessLog,
    staticRoot: opts.staticRoot,
    resultsCacheSeconds: opts.resultsCacheSeconds,
    stubStatusPort: opts.stubStatusPort,
  }));
  // `-e stderr`: errors before the config is read (nginx 1.19.5+) never go to /var/log.
  const srv: SpawnedServer = spawnServer({
    cmd: [NGINX_BIN, '-p', dir, '-c', confFile, '-e', 'stderr', '-g', 'daemon off;'],
    logFile,
    cwd: dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    detached: opts.detached ?? false,
  });
  const url = `http://${LOCALHOST}:${port}`;
  await waitReady(srv, `nginx on ${LOCALHOST}:${port}`, logFile, () => healthy(url), opts.timeoutMs ?? 20_000);
  const running = (): boolean => !srv.exitedYet() && isAlive(srv.pid);
  return {
    port,
    url,
    pid: srv.pid,
    confFile,
    logFile,
    async stop() {
      if (running()) await stopPid(srv.pid, { signal: 'SIGQUIT', timeoutMs: 10_000, group: true });
    },
    async kill() {
      if (running()) await killPid(srv.pid, { group: true });
    },
  };
}

/** Stops the nginx running in `dir` by the pid in its pid file (make down). */
export async function stopNginxDir(dir: string): Promise<void> {
  const pidFile = join(resolve(dir), 'nginx.pid');
  if (!exists(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (Number.isInteger(pid) && pid > 0) await stopPid(pid, { signal: 'SIGQUIT', timeoutMs: 10_000 });
}
