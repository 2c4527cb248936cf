// Small helpers to run real servers as local processes: free ports, readiness
// polling, and stopping a process by its own pid (never by name).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export const LOCALHOST = '127.0.0.1';

/** A free TCP port on 127.0.0.1 (the kernel picks it; tiny race until the server binds). */
export function freePort(host: string = LOCALHOST): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('freePort: no port assigned'))));
    });
  });
}

/** True while a process with this pid exists and is not a zombie (dead, waiting to be reaped). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc: signal 0 is all we know
  }
}

/** Polls `check` until it returns true; throws after `timeoutMs` naming `what`. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  opts: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  const interval = opts.intervalMs ?? 100;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(interval);
  }
}

/** Waits until `pid` is gone; false when it is still alive after `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

/** Direct and indirect children of `pid` (from /proc; empty where /proc is absent). */
export function descendants(pid: number): number[] {
  const byParent = new Map<number, number[]>();
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return [];
  }
  for (const e of entries) {
    try {
      // Field 4 of /proc/PID/stat is the parent pid; the name (field 2) may hold spaces, so split after ")".
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = byParent.get(ppid) ?? [];
      list.push(Number(e));
      byParent.set(ppid, list);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const c of byParent.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/** Signals pid (and its descendants when `tree`); returns the pids signalled. */
function signal(pid: number, sig: NodeJS.Signals, tree: boolean): number[] {
  // Children are listed before the parent dies (they are re-parented after).
  const targets = tree ? [pid, ...descendants(pid)] : [pid];
  for (const p of targets) {
    try {
      process.kill(p, sig);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
  return targets;
}

async function waitAllExit(pids: number[], timeoutMs: number): Promise<boolean> {
  for (const p of pids) if (!(await waitForExit(p, timeoutMs))) return false;
  return true;
}

export interface StopOptions {
  /** The polite signal (default SIGTERM; PostgreSQL's "fast shutdown" is SIGINT). */
  signal?: NodeJS.Signals;
  /** Grace period before SIGKILL (default 10 s). */
  timeoutMs?: number;
  /** Also signal the process's descendants, e.g. postgres and its backends, nginx and its workers. */
  group?: boolean;
}

/**
 * Stops a process by its pid: the polite signal, then SIGKILL after the grace
 * period. Works for a pid this process did not start (e.g. from a pid file).
 */
export async function stopPid(pid: number, opts: StopOptions = {}): Promise<void> {
  const group = opts.group ?? false;
  if (!isAlive(pid)) return;
  const polite = signal(pid, opts.signal ?? 'SIGTERM', group);
  if (await waitAllExit(polite, opts.timeoutMs ?? 10_000)) return;
  const killed = signal(pid, 'SIGKILL', group);
  if (!(await waitAllExit([...new Set([...polite, ...killed])], 5_000))) throw new Error(`pid ${pid} or a child survived SIGKILL`);
}

/** SIGKILL at once (a crash, for outage tests and the kill tool), then wait until it is gone. */
export async function killPid(pid: number, opts: { group?: boolean } = {}): Promise<void> {
  const killed = signal(pid, 'SIGKILL', opts.group ?? false);
  if (!(await waitAllExit(killed, 5_000))) throw new Error(`pid ${pid} or a child survived SIGKILL`);
}

/** Last `lines` lines of a log file, for error messages ("" when unreadable). */
export function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Command prefix that runs a server as `user` when we are root (it execs: the pid stays the server's). */
export function asUser(user: string, cmd: string[]): string[] {
  if (process.getuid?.() !== 0) return cmd;
  return ['setpriv', `--reuid=${user}`, `--regid=${user}`, '--init-groups', '--', ...cmd];
}

export interface SpawnedServer {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Settles when the process exits (code or signal). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exitedYet(): boolean;
}

// Servers still running when this Node process exits are SIGKILLed (with
// their children), unless started `detached` to outlive us (make up).
const owned = new Set<number>();
process.once('exit', () => {
  for (const pid of owned) signal(pid, 'SIGKILL', true);
});

export interface SpawnOptions {
  cmd: string[];
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Keep running after this Node process exits (make up); default false. */
  detached?: boolean;
}

/**
 * Starts a server with stdout and stderr appended to `logFile`. It stays in
 * our process group (a Ctrl-C reaches it too) unless `detached`, which gives
 * it its own session so it outlives us.
 */
export function spawnServer(opts: SpawnOptions): SpawnedServer {
  const [bin, ...args] = opts.cmd;
  if (!bin) throw new Error('spawnServer: empty command');
  const fd = openSync(opts.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(bin, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', fd, fd],
      detached: opts.detached ?? false,
    });
  } finally {
    closeSync(fd);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${bin} (see ${opts.logFile})`);
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, sig) => {
      done = true;
      owned.delete(pid);
      resolve({ code, signal: sig });
    });
    child.once('error', () => {
      done = true;
      owned.delete(pid);
      resolve({ code: null, signal: null });
    });
  });
  if (opts.detached) child.unref();
  else owned.add(pid);
  return { pid, child, exited, exitedYet: () => done };
}

/**
 * Waits for `ready()`; fails fast with the log's tail when the server exits
 * first or the timeout passes.
 */
export async function waitReady(
  srv: SpawnedServer,
  what: string,
  logFile: string,
  ready: () => Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  try {
    await waitFor(
      what,
      async () => {
        if (srv.exitedYet()) throw new Error(`${what} exited during start-up`);
        return ready();
      },
      { timeoutMs },
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; log ${logFile}:\n${tail(logFile)}`);
  }
}

/** True when `path` exists. */
export function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}
