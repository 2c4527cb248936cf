// A rollout must not drop votes: after SIGTERM the backend turns unready at
// once but keeps serving, over new and kept-alive connections alike, for
// DRAIN_LINGER_MS (requests already routed to it); then it refuses new
// connections, ends each kept-alive one after its next answer, and exits 0.
// Real PostgreSQL and Redis.
import { Agent, request as httpRequest } from 'node:http';
import { describe, expect, it } from 'vitest';
import { fileStack, get, voterIdOf } from './backend-fixture.ts';

const LINGER_MS = 2_000;
const stack = fileStack('backend-drain', { DRAIN_LINGER_MS: String(LINGER_MS), DRAIN_TIMEOUT_MS: '5000' });

interface Answer { status: number; connection: string | undefined; cookie: string | undefined; at: number }

/** One POST /api/vote over `agent` (kept-alive connections) or a fresh connection (agent false). */
function post(port: number, agent: Agent | false): Promise<Answer> {
  const body = JSON.stringify({ optionId: 'red' });
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path: '/api/vote', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            connection: res.headers.connection,
            cookie: res.headers['set-cookie']?.find((c) => c.startsWith('sv_voter='))?.split(';')[0],
            at: Date.now(),
          }),
        );
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

describe('SIGTERM drain', () => {
  it('no vote is refused while draining; readiness says 503 at once; exit 0 after the linger', async () => {
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 4 });
    const answers: Answer[] = [];
    const keptAlive: Answer[] = [];
    const errors: string[] = [];
    let sigtermAt = 0;
    let stopAt = Number.POSITIVE_INFINITY;
    // 8 voters in a loop: half over kept-alive connections, half one connection per vote.
    const workers = Array.from({ length: 8 }, async (_, i) => {
      while (Date.now() < stopAt) {
        try {
          const a = await post(stack.backend.port, i % 2 === 0 ? keepAlive : false);
          answers.push(a);
          if (i % 2 === 0) keptAlive.push(a);
        } catch (err) {
          errors.push(String(err));
        }
      }
    });
    await new Promise((r) => setTimeout(r, 500));
    sigtermAt = Date.now();
    // Stop sending well inside the linger: the requests a stale endpoint would still route here.
    stopAt = sigtermAt + LINGER_MS - 600;
    process.kill(stack.backend.pid, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    const ready = await get(stack.backend.url, '/readyz');
    expect(ready.status).toBe(503);
    await Promise.all(workers);
    keepAlive.destroy();

    expect(errors).toEqual([]);
    const after = answers.filter((a) => a.at > sigtermAt + 50);
    expect(answers.filter((a) => a.at <= sigtermAt).length).toBeGreaterThan(0);
    expect(after.length).toBeGreaterThan(0);
    expect(answers.map((a) => a.status).filter((s) => s !== 201)).toEqual([]);
    // While lingering, kept-alive connections stay open (no reconnect to race with the listener's close).
    expect(keptAlive.filter((a) => a.at > sigtermAt + 50).length).toBeGreaterThan(0);
    expect(keptAlive.filter((a) => a.connection === 'close')).toEqual([]);

    // After the linger: a new connection is refused (nginx retries it elsewhere),
    // a kept-alive one is still served once, and closed after its answer.
    const held = new Agent({ keepAlive: true, maxSockets: 1 });
    expect((await post(stack.backend.port, held)).status).toBe(201); // opened during the linger
    await new Promise((r) => setTimeout(r, Math.max(0, sigtermAt + LINGER_MS + 200 - Date.now())));
    await expect(post(stack.backend.port, false)).rejects.toThrow(/ECONNREFUSED/);
    const last = await post(stack.backend.port, held);
    expect(last.status).toBe(201);
    expect(last.connection).toBe('close');
    answers.push(last);
    held.destroy();

    const exit = await stack.backend.srv.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(Date.now() - sigtermAt).toBeGreaterThanOrEqual(LINGER_MS - 100);
    const db = await stack.db();
    const { rows } = await db.query<{ voter_id: string }>('SELECT voter_id FROM votes');
    const stored = new Set(rows.map((r) => r.voter_id));
    const acked = answers.map((a) => voterIdOf(a.cookie!));
    expect(acked.filter((id) => !stored.has(id))).toEqual([]);
  });
});
