// Graceful shutdown of an HTTP server, shared by the backend and the frontend
// (the frontend imports it by its relative path; the image's closure copies it).
//
// On Kubernetes the order is: the pod is marked terminating and leaves the
// Service's ready endpoints, the preStop pause (charts/pod.ts) lets kube-proxy
// and nginx's keepalive pools catch up while this process serves as usual,
// then SIGTERM. From there:
//   1. `draining` turns true at once: readiness answers 503 (a load balancer
//      that polls it stops routing here); everything else is served as usual;
//   2. for `lingerMs` the listener still accepts and kept-alive connections
//      stay open: a request already routed here (a stale endpoint, a pooled
//      connection) is served, not refused. Answers do not say
//      `Connection: close` yet: the client would open a new connection to
//      replace it, and a connection still in the listen queue when the
//      listener closes is reset after its request was sent (a POST nginx
//      must not retry);
//   3. then the listener closes (a new connection is refused, which nginx
//      retries on another server), every answer says `Connection: close`,
//      idle connections close once the client surely closed its end (see
//      closeIdle), in-flight requests get up to `timeoutMs`; what is left
//      after that is cut.
// terminationGracePeriodSeconds covers preStop + linger + timeout (rules.ts).
import type { RequestListener, Server, ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';

const netClose = NetServer.prototype.close;

export interface DrainOptions {
  /** How long the listener keeps accepting after SIGTERM. */
  readonly lingerMs: number;
  /** Then, how long in-flight requests may take before their connections are cut. */
  readonly timeoutMs: number;
  /** An idle kept-alive connection is closed after this long (above nginx's upstream keepalive_timeout). @default 5000 */
  readonly idleCloseMs?: number;
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
  /** Every open connection: has it answered a request yet, is one in progress? */
  const sockets = new Map<Socket, { served: boolean; busy: number; since: number; lastActive: number }>();
  const idleCloseMs = o.idleCloseMs ?? 5_000;
  let draining = false;
  /** The listener is closed: every answer now ends its connection. */
  let closing = false;
  let done: Promise<void> | undefined;

  server.on('connection', (socket: Socket) => {
    const now = Date.now();
    sockets.set(socket, { served: false, busy: 0, since: now, lastActive: now });
    socket.once('close', () => sockets.delete(socket));
  });

  /**
   * Closes the connections no request uses and none is likely to: a
   * kept-alive connection idle for idleCloseMs (longer than nginx's upstream
   * keepalive_timeout, so nginx has closed its end already), an accepted one
   * that sent nothing for `freshMs`. Closing a connection the moment it went
   * idle races with the client writing its next request on it (a POST cut
   * that way is not retried by nginx); Node's closeIdleConnections does just
   * that, and also cuts a connection accepted a moment ago whose request is
   * on the way.
   */
  function closeIdle(freshMs: number): void {
    const now = Date.now();
    for (const [socket, st] of sockets) {
      if (st.busy === 0 && (st.served ? now - st.lastActive > idleCloseMs : now - st.since > freshMs)) socket.destroy();
    }
  }

  return {
    get draining() {
      return draining;
    },
    wrap(listener) {
      return (req, res) => {
        const st = sockets.get(req.socket);
        if (st) st.busy++;
        res.once('close', () => {
          if (st) {
            st.busy--;
            st.served = true;
            st.lastActive = Date.now();
          }
        });
        if (closing) {
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
        o.log.info({ lingerMs: o.lingerMs, timeoutMs: o.timeoutMs, inFlight: inFlight.size }, 'draining: not ready, still accepting');
        setTimeout(() => {
          closing = true;
          // Answers not written yet close their connection after them: the
          // client's next request opens a new one, refused now, which nginx
          // retries on another server (it never reached this one).
          for (const res of inFlight) if (!res.headersSent) res.shouldKeepAlive = false;
          // Stop accepting (net.Server's close: http.Server's would also cut the
          // connections accepted a moment ago, requests possibly on the way).
          const idle = setInterval(() => closeIdle(1_000), 50);
          const force = setTimeout(() => {
            o.log.warn('drain timeout; closing remaining connections');
            for (const socket of sockets.keys()) socket.destroy();
          }, o.timeoutMs);
          netClose.call(server, () => {
            clearInterval(idle);
            clearTimeout(force);
            resolve();
          });
          closeIdle(1_000);
        }, o.lingerMs);
      });
      return done;
    },
  };
}
