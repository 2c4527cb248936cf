// The database pod deleted under the seed's load. What a voter and an
// operator see during the outage: the page and the results still answer
// through the proxy (readiness says "this pod can serve its own part", so no
// proxy, frontend or backend leaves its Service), a vote gets a JSON 503 with
// Retry-After (never a 502 or a timeout), and votes flow again within 30 s of
// the new database pod being Ready. No acknowledged vote is lost.
import { expect, it } from 'vitest';
import { describeScenario, figures, podsOf, probe, underLoad, waitReady, type Probe, type Stack } from './stack.ts';

/** When the database pod that replaced `oldUid` first reported Ready (ms since the epoch). */
async function databaseReadyAt(s: Stack, oldUid: string, timeoutMs: number): Promise<number> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const out = await s.kubectl(['-n', s.namespace, 'get', 'pods', '-l', 'app.kubernetes.io/instance=securevote,app.kubernetes.io/component=database', '-o',
      'jsonpath={range .items[*]}{.metadata.uid} {.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].lastTransitionTime}{"\\n"}{end}']);
    for (const line of out.split('\n')) {
      const [uid, ready, since] = line.split(' ');
      if (uid && uid !== oldUid && ready === 'True' && since) return Date.parse(since);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`no new database pod Ready within ${timeoutMs} ms`);
}

describeScenario('the database pod deleted under load', (stack) => {
  it('keeps the page and results up, answers votes 503 with Retry-After, and takes votes again within 30 s of the database being Ready', async () => {
    const s = stack();
    await waitReady(s);
    const [old] = await podsOf(s, 'database');
    if (!old) throw new Error('no database pod');
    const probes: Probe[] = [];
    let deletedAt = 0;
    let readyAt = 0;
    const r = await underLoad(s, async () => {
      let probing = true;
      const prober = (async () => {
        while (probing) {
          probes.push(await probe(s.url));
          await new Promise((res) => setTimeout(res, 250));
        }
      })();
      try {
        // A voter's page polls the results: by the outage the cache holds a count.
        while (!probes.some((p) => p.results === 200)) await new Promise((res) => setTimeout(res, 250));
        deletedAt = Date.now();
        await s.kubectl(['-n', s.namespace, 'delete', 'pod', old.name, '--wait=false']);
        readyAt = await databaseReadyAt(s, old.uid, 300_000);
        // Votes must flow again within 30 s of that: probe at least that long.
        const until = readyAt + 30_000;
        while (Date.now() < until && !probes.some((p) => p.at > readyAt && p.vote === 201)) await new Promise((res) => setTimeout(res, 500));
      } finally {
        probing = false;
        await prober;
      }
      await waitReady(s);
    });
    console.log(figures('database pod deleted', r.load));
    const during = probes.filter((p) => p.at >= deletedAt && p.at <= readyAt);
    const refused = during.filter((p) => p.vote !== 201);
    // The outage was real, and every refused vote said so properly.
    expect(refused.length, 'votes refused during the outage').toBeGreaterThan(0);
    expect(new Set(refused.map((p) => p.vote)), 'statuses of refused votes').toEqual(new Set([503]));
    expect(refused.every((p) => p.retryAfter !== null), 'every 503 carries Retry-After').toBe(true);
    // The page and the results never went dark.
    expect(during.filter((p) => p.page !== 200).map((p) => p.page), 'page statuses other than 200').toEqual([]);
    expect(during.filter((p) => p.results !== 200).map((p) => p.results), 'results statuses other than 200').toEqual([]);
    const firstVote = probes.find((p) => p.at > readyAt && p.vote === 201);
    expect(firstVote, 'a vote acknowledged after the database came back').toBeDefined();
    expect((firstVote?.at ?? Infinity) - readyAt, 'ms from database Ready to the first acknowledged vote').toBeLessThan(30_000);
    // The load saw only the designed refusal, and lost nothing it was told was stored.
    expect(Object.keys(r.load.failures).filter((k) => k !== '503'), 'failures other than 503').toEqual([]);
    expect(r.stored).toEqual({ missing: 0, wrongOption: 0, acknowledgedTwice: 0 });
  }, 900_000);
});
