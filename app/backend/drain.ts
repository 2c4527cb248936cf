// Graceful shutdown of an HTTP server, shared by the backend and the frontend
// (the frontend imports it by its relative path; the image's closure copies it).
//
// On Kubernetes the order is: the pod is marked terminating and leaves the
// Service's ready endpoints, the preStop pause (charts/pod.ts) lets kube-proxy
// and nginx's keepalive pools catch up while this process serves as usual,
// then SIGTERM. From there:
//   1. `draining` turns true at once: readiness answers 503 (a load balancer
//      that polls it stops routing here) and every response still to be
//      written says `Connection: close`, so each keep-alive connection ends
//      cleanly after its next answer instead of being cut under a request
//      the client may be sending at that very moment;
//   2. for `lingerMs` the listener still accepts: a request already routed
//      here (a stale endpoint, a reconnect) is served, not refused;
//   3. then the listener closes, idle keep-alive connections are closed (and
//      again every 100 ms as in-flight answers finish), and in-flight requests
//      get up to `timeoutMs`; what is left after that is cut.
// terminationGracePeriodSeconds covers preStop + linger + timeout (rules.ts).
import type { RequestListener, Server, ServerResponse } from 'node:http';

export interface DrainOptions {
  /** How long the listener keeps accepting after SIGTERM. */
  readonly lingerMs: number;
  /** Then, how long in-flight requests may take before their connections are cut. */
  readonly timeoutMs: number;
  readonly log: { info(obj: object, msg: string): void; warn(msg: string): void };
}

export interface Drainer {
  readonly draining: boolean;
  /** The server's request listener, wrapped: answers carry `Connection: close` while draining. */
  wrap(listener: RequestListener): RequestListener;
  /** Starts draining; resolves once the server is closed and every connection gone. Idempotent. */
  drain(): Promise<void>;
}

/** A non-negative integer of milliseconds from the environment, else the default. */
export function envMs(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 600_000) throw new Error(`${name} must be an integer of milliseconds 0-600000`);
  return n;
}

export function createDrainer(server: Server, o: DrainOptions): Drainer {
  const inFlight = new Set<ServerResponse>();
  let draining = false;
  let done: Promise<void> | undefined;

  return {
    get draining() {
      return draining;
    },
    wrap(listener) {
      return (req, res) => {
        if (draining) {
          res.shouldKeepAlive = false;
        } else {
          inFlight.add(res);
          res.once('close', () => inFlight.delete(res));
        }
        listener(req, res);
      };
    },
    drain() {
      done ??= new Promise<void>((resolve) => {
        draining = true;
        // Answers not written yet close their connection after them.
        for (const res of inFlight) if (!res.headersSent) res.shouldKeepAlive = false;
        o.log.info({ lingerMs: o.lingerMs, timeoutMs: o.timeoutMs, inFlight: inFlight.size }, 'draining: not ready, still accepting, answers close their connection');
        setTimeout(() => {
          // server.close() closes the idle connections once; answers finishing later leave theirs idle too.
          const idle = setInterval(() => server.closeIdleConnections(), 100);
          const force = setTimeout(() => {
            o.log.warn('drain timeout; closing remaining connections');
            server.closeAllConnections();
          }, o.timeoutMs);
          server.close(() => {
            clearInterval(idle);
            clearTimeout(force);
            resolve();
          });
        }, o.lingerMs);
      });
      return done;
    },
  };
}
