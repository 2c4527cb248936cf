// The load tool's lean HTTP client against a real node:http server: every
// body framing it may meet, several Set-Cookie headers, keep-alive reuse,
// Connection: close, a server that hangs (timeout) and one that goes away.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection, requestBytes } from './http-client.ts';

let server: Server;
let port: number;
const sockets = new Set<string>();

beforeAll(async () => {
  server = createServer((req, res) => {
    sockets.add(`${req.socket.remotePort}`);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      switch (req.url) {
        case '/length':
          res.writeHead(201, { 'Content-Type': 'application/json', 'Set-Cookie': ['a=1; Path=/', 'sv_voter=v1.x.y; HttpOnly'] });
          res.end(JSON.stringify({ echo: body, ct: req.headers['content-type'], host: req.headers.host }));
          return;
        case '/chunked':
          res.writeHead(200, { 'Content-Type': 'text/plain' });
          res.write('héllo ');
          setTimeout(() => res.end('wörld'), 20);
          return;
        case '/close':
          res.writeHead(409, { Connection: 'close', 'Content-Length': '2' });
          res.end('no');
          return;
        case '/hang':
          return; // never answers
        default:
          res.socket?.destroy();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const req = (path: string, body?: string): Buffer =>
  requestBytes(body === undefined ? 'GET' : 'POST', `127.0.0.1:${port}`, path, { 'Content-Type': 'application/json' }, body);

describe('load tool HTTP client', () => {
  it('reads Content-Length and chunked bodies and every Set-Cookie, on one kept-alive connection', async () => {
    sockets.clear();
    const c = new Connection('127.0.0.1', port, 5_000);
    try {
      const a = await c.exchange(req('/length', '{"optionId":"é"}'));
      expect(a.status).toBe(201);
      expect(JSON.parse(a.body)).toEqual({ echo: '{"optionId":"é"}', ct: 'application/json', host: `127.0.0.1:${port}` });
      expect(a.setCookie).toEqual(['a=1; Path=/', 'sv_voter=v1.x.y; HttpOnly']);
      const b = await c.exchange(req('/chunked'));
      expect(b).toEqual({ status: 200, body: 'héllo wörld', setCookie: [] });
      await c.exchange(req('/length', ''));
      expect(sockets.size).toBe(1);
    } finally {
      c.close();
    }
  });

  it('reconnects after Connection: close; a vanished server or a hang is an error with a code', async () => {
    sockets.clear();
    const c = new Connection('127.0.0.1', port, 300);
    try {
      expect((await c.exchange(req('/close'))).status).toBe(409);
      expect((await c.exchange(req('/length', '{}'))).status).toBe(201);
      expect(sockets.size).toBe(2);
      await expect(c.exchange(req('/destroy'))).rejects.toMatchObject({ code: 'ECONNRESET' });
      await expect(c.exchange(req('/hang'))).rejects.toMatchObject({ code: 'ETIMEDOUT_LOAD' });
      expect((await c.exchange(req('/length', '{}'))).status).toBe(201);
    } finally {
      c.close();
    }
  });
});
