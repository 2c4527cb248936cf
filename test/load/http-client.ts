// The load tool's HTTP/1.1 client: one keep-alive connection per voter, one
// request at a time on it, the request bytes written in one piece. Node's
// http.request costs about as much CPU per vote as the backend itself, and
// the load tool shares the machine's cores with the stack it measures (wrk
// and pgbench, the ceilings it is compared with, are lean C clients).
// Enough of HTTP for our servers: Content-Length, chunked or until-close
// bodies, Connection: close, several Set-Cookie headers.
import { connect, type Socket } from 'node:net';

export interface Reply {
  status: number;
  body: string;
  setCookie: string[];
  /** Retry-After in seconds, when the server sent one as a number. */
  retryAfter?: number;
}

/** A failure before a whole reply arrived; code `ETIMEDOUT_LOAD` for a timeout. */
export class ExchangeError extends Error {
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.code = code;
  }
}

interface Head {
  status: number;
  setCookie: string[];
  retryAfter: number | undefined;
  length: number | undefined;
  chunked: boolean;
  close: boolean;
  bodyStart: number;
}

const CRLF2 = Buffer.from('\r\n\r\n');

function parseHead(buf: Buffer, end: number): Head {
  const lines = buf.toString('latin1', 0, end).split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (!m) throw new ExchangeError(`bad status line: ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`, 'EPROTO_LOAD');
  const head: Head = { status: Number(m[1]), setCookie: [], retryAfter: undefined, length: undefined, chunked: false, close: lines[0]!.startsWith('HTTP/1.0'), bodyStart: end + 4 };
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'set-cookie') head.setCookie.push(Buffer.from(value, 'latin1').toString('utf8'));
    else if (name === 'content-length') head.length = Number(value);
    else if (name === 'retry-after' && /^\d+$/.test(value)) head.retryAfter = Number(value);
    else if (name === 'transfer-encoding') head.chunked = value.toLowerCase().split(',').some((t) => t.trim() === 'chunked');
    else if (name === 'connection') head.close = value.toLowerCase().split(',').some((t) => t.trim() === 'close');
  }
  if (head.length !== undefined && !(Number.isInteger(head.length) && head.length >= 0)) {
    throw new ExchangeError('bad Content-Length', 'EPROTO_LOAD');
  }
  return head;
}

/** A chunked body once complete (undefined while more is needed). */
function dechunk(buf: Buffer, start: number): Buffer | undefined {
  const parts: Buffer[] = [];
  let at = start;
  for (;;) {
    const eol = buf.indexOf('\r\n', at, 'latin1');
    if (eol < 0) return undefined;
    const size = parseInt(buf.toString('latin1', at, eol).split(';', 1)[0]!, 16);
    if (!Number.isInteger(size) || size < 0) throw new ExchangeError('bad chunk size', 'EPROTO_LOAD');
    if (size === 0) {
      // Trailers (none expected) end with an empty line.
      return buf.indexOf('\r\n\r\n', eol, 'latin1') >= 0 ? Buffer.concat(parts) : undefined;
    }
    if (buf.length < eol + 2 + size + 2) return undefined;
    parts.push(buf.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

/** One keep-alive connection; `exchange` sends a whole request and resolves with the whole reply. */
export class Connection {
  private socket: Socket | undefined;
  private buf: Buffer = Buffer.alloc(0);
  private head: Head | undefined;
  private pending: { resolve(r: Reply): void; reject(e: Error): void } | undefined;
  private readonly host: string;
  private readonly port: number;
  private readonly timeoutMs: number;

  constructor(host: string, port: number, timeoutMs: number) {
    this.host = host;
    this.port = port;
    this.timeoutMs = timeoutMs;
  }

  exchange(request: string | Buffer): Promise<Reply> {
    if (this.pending) return Promise.reject(new Error('Connection: one request at a time'));
    const socket = this.socket ?? this.open();
    return new Promise<Reply>((resolve, reject) => {
      this.pending = { resolve, reject };
      this.buf = Buffer.alloc(0);
      this.head = undefined;
      socket.write(request);
    });
  }

  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }

  private open(): Socket {
    const socket = connect({ host: this.host, port: this.port, noDelay: true });
    // An idle timer, like http.request's `timeout`: no byte for this long fails the request.
    socket.setTimeout(this.timeoutMs, () => this.fail(socket, new ExchangeError('timeout', 'ETIMEDOUT_LOAD')));
    socket.on('data', (chunk: Buffer) => this.onData(socket, chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => this.fail(socket, new ExchangeError(err.message, err.code ?? 'ENETWORK_LOAD')));
    socket.on('close', () => {
      // A body delimited by the end of the connection is complete now.
      if (this.socket === socket && this.pending && this.head && this.head.length === undefined && !this.head.chunked) {
        this.finish(socket, this.buf.subarray(this.head.bodyStart));
      }
      this.fail(socket, new ExchangeError('connection closed before the reply', 'ECONNRESET'));
    });
    this.socket = socket;
    return socket;
  }

  private onData(socket: Socket, chunk: Buffer): void {
    if (socket !== this.socket || !this.pending) return;
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    try {
      if (!this.head) {
        const end = this.buf.indexOf(CRLF2);
        if (end < 0) return;
        this.head = parseHead(this.buf, end);
      }
      const h = this.head;
      if (h.chunked) {
        const body = dechunk(this.buf, h.bodyStart);
        if (body) this.finish(socket, body);
      } else if (h.length !== undefined) {
        if (this.buf.length >= h.bodyStart + h.length) this.finish(socket, this.buf.subarray(h.bodyStart, h.bodyStart + h.length));
      }
    } catch (err) {
      this.fail(socket, err as Error);
    }
  }

  private finish(socket: Socket, body: Buffer): void {
    const p = this.pending!;
    const h = this.head!;
    this.pending = undefined;
    if (h.close || h.length === undefined && !h.chunked) {
      socket.destroy();
      this.socket = undefined;
    }
    p.resolve({ status: h.status, body: body.toString('utf8'), setCookie: h.setCookie, ...(h.retryAfter !== undefined ? { retryAfter: h.retryAfter } : {}) });
  }

  private fail(socket: Socket, err: Error): void {
    if (socket !== this.socket) return;
    socket.destroy();
    this.socket = undefined;
    const p = this.pending;
    this.pending = undefined;
    p?.reject(err);
  }
}

/** The bytes of a request (Host, and Content-Length when there is a body). */
export function requestBytes(method: string, host: string, path: string, headers: Record<string, string>, body?: string): Buffer {
  let head = `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  if (body !== undefined) head += `Content-Length: ${Buffer.byteLength(body)}\r\n`;
  return Buffer.from(`${head}\r\n${body ?? ''}`, 'utf8');
}
