// Backups and restores of the one instance's votes, on the shared cluster.
//
// 1. Under the seed's load, with spec.backup.schedule every minute and
//    retention 2: an on-demand backup verifies and records a vote count
//    between the counts before and after it; a second on-demand one and a
//    scheduled run later exactly the newest two are kept (the oldest
//    evicted, whichever way each was taken), both verified, and the volume
//    holds exactly their files. No vote fails, every acknowledged one is
//    stored once.
// 2. 1,000 voters vote; a backup; the SecureVote is deleted with its volume;
//    a new one restores from the backup: every vote row is back (the whole
//    table, voter ids and options), each of the 1,000 gets 409 on a second
//    vote (the voters' key came back too), and new voters vote. The later
//    scenario files run on this restored instance.
// 3. A backup whose file is changed on the volume: a second instance that
//    restores from it is refused with the reason and starts no database, and
//    the backup is failed from then on; under load, the running instance
//    never notices (no vote fails).
import { expect, it } from 'vitest';
import { runLoad } from '../../load/load.ts';
import { VOTER_COOKIE } from '../../../app/backend/voter.ts';
import { checkStored, checkStoredOk, claimNode, describeScenario, figures, patchSpec, secureVote, underLoad, votesOfRecord, waitReady, type Stack } from './stack.ts';
import { SCENARIO_SECUREVOTE } from './stack-spec.ts';

interface BackupStatus { phase?: string; verified?: boolean; votes?: number; size?: number; sha256?: string; file?: string; claim?: string; message?: string; completedAt?: string }
interface Backup { metadata: { name: string; creationTimestamp: string; labels?: Record<string, string> }; spec: { secureVote: string }; status?: BackupStatus }

const SV = 'securevote';

async function backups(s: Stack): Promise<Backup[]> {
  return (JSON.parse(await s.kubectl(['-n', s.namespace, 'get', 'securevotebackups', '-o', 'json'])) as { items: Backup[] }).items;
}

async function createBackup(s: Stack, name: string, of = SV): Promise<void> {
  const doc = { apiVersion: 'securevote.dev/v1alpha1', kind: 'SecureVoteBackup', metadata: { name }, spec: { secureVote: of } };
  await s.kubectl(['-n', s.namespace, 'create', '-f', '-'], { input: JSON.stringify(doc) });
}

/** Polls a backup until it has finished (Completed or Failed). */
async function finished(s: Stack, name: string, timeoutMs = 300_000): Promise<BackupStatus> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const b = (await backups(s)).find((x) => x.metadata.name === name);
    if (b?.status?.phase === 'Completed' || b?.status?.phase === 'Failed') return b.status;
    if (Date.now() > until) throw new Error(`backup ${name} not finished after ${timeoutMs} ms: ${JSON.stringify(b?.status)}`);
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

/** Rows in the votes table (psql in the database pod). */
async function voteCount(s: Stack): Promise<number> {
  return (await votesOfRecord(s)).size;
}

/** The files on a backup claim, read on the node (local-path keeps a claim in a directory named for it). */
async function filesOnClaim(s: Stack, claim: string): Promise<string[]> {
  const out = await s.onNode(`for d in /var/local-path-provisioner/*_${s.namespace}_${claim}; do ls -1 "$d/${SV}"; done`, await claimNode(s, claim));
  return out.split('\n').filter(Boolean).sort();
}

interface Voter { id: string; option: string; cookie: string }

/** `n` new voters vote (through the proxy, `parallel` at a time); each keeps its cookie. */
async function vote(url: string, n: number, parallel = 20): Promise<Voter[]> {
  const voters: Voter[] = [];
  let next = 0;
  const one = async (): Promise<void> => {
    while (next < n) {
      const option = next++ % 2 === 0 ? 'cats' : 'dogs';
      const r = await fetch(`${url}/api/vote`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Idempotency-Key': crypto.randomUUID() },
        body: JSON.stringify({ optionId: option }),
        signal: AbortSignal.timeout(10_000),
      });
      const body = (await r.json()) as { voterId?: string };
      if (r.status !== 201) throw new Error(`vote: ${r.status} ${JSON.stringify(body)}`);
      const cookie = r.headers.getSetCookie().find((c) => c.startsWith(`${VOTER_COOKIE}=`))?.split(';')[0];
      const id = cookie?.split('=')[1]?.split('.')[1];
      if (!cookie || !id) throw new Error('vote: no voter cookie');
      voters.push({ id, option, cookie });
    }
  };
  await Promise.all(Array.from({ length: parallel }, one));
  return voters;
}

/** Each voter votes again with its cookie: the statuses, counted. */
async function voteAgain(url: string, voters: readonly Voter[], parallel = 20): Promise<Record<number, number>> {
  const statuses: Record<number, number> = {};
  let next = 0;
  const one = async (): Promise<void> => {
    while (next < voters.length) {
      const v = voters[next++]!;
      const r = await fetch(`${url}/api/vote`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Cookie: v.cookie, 'Idempotency-Key': crypto.randomUUID() },
        body: JSON.stringify({ optionId: v.option === 'cats' ? 'dogs' : 'cats' }),
        signal: AbortSignal.timeout(10_000),
      });
      await r.arrayBuffer();
      statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: parallel }, one));
  return statuses;
}

describeScenario('backups and restores', (stack) => {
  it('backs up under load, on demand and every minute, keeping the newest two verified, with no failed vote', async () => {
    const s = stack();
    await waitReady(s);
    let onDemand: { before: number; after: number; status: BackupStatus } | undefined;
    // Every backup of the instance seen finished, by name: the newest two by completion are the ones retention keeps.
    const done = new Map<string, string>();
    const scheduled: string[] = [];
    const r = await underLoad(s, async () => {
      await patchSpec(s, { backup: { schedule: '* * * * *', retain: 2 } });
      const before = await voteCount(s);
      await createBackup(s, 'securevote-on-demand');
      const status = await finished(s, 'securevote-on-demand');
      onDemand = { before, after: await voteCount(s), status };
      await createBackup(s, 'securevote-on-demand-later');
      await finished(s, 'securevote-on-demand-later');
      // A scheduled run (with the two on demand, one more than kept); then the schedule off, and every backup finished.
      const until = Date.now() + 300_000;
      const seen = async (): Promise<Backup[]> => {
        const all = (await backups(s)).filter((b) => b.spec.secureVote === SV);
        for (const b of all) {
          if (b.metadata.labels?.['securevote.dev/backup-method'] === 'scheduled' && !scheduled.includes(b.metadata.name)) scheduled.push(b.metadata.name);
          if (b.status?.phase === 'Completed' && b.status.completedAt) done.set(b.metadata.name, b.status.completedAt);
        }
        if (Date.now() > until) throw new Error(`scheduled backups not done in time: ${JSON.stringify(all.map((b) => [b.metadata.name, b.status?.phase]))}`);
        return all;
      };
      const allFinished = (bs: Backup[]): boolean => bs.every((b) => b.status?.phase === 'Completed' || b.status?.phase === 'Failed');
      while (!scheduled.some((n) => done.has(n))) {
        await seen();
        await new Promise((res) => setTimeout(res, 2_000));
      }
      await patchSpec(s, { backup: { schedule: null } });
      while (!allFinished(await seen())) await new Promise((res) => setTimeout(res, 2_000));
      // Retention follows each completion (its reconcile): let it catch up with the last one.
      const settle = Date.now() + 60_000;
      while ((await seen()).length > 2 && Date.now() < settle) await new Promise((res) => setTimeout(res, 1_000));
    }, { maxDurationMs: 600_000, maxVotes: 1_000_000 });
    console.log(figures('backups under load', r.load));
    expect(onDemand?.status).toMatchObject({ phase: 'Completed', verified: true });
    console.log(`on-demand backup: ${onDemand?.status.votes} votes (${onDemand?.before} before, ${onDemand?.after} after), ${onDemand?.status.size} bytes`);
    expect(onDemand!.status.votes).toBeGreaterThanOrEqual(onDemand!.before);
    expect(onDemand!.status.votes).toBeLessThanOrEqual(onDemand!.after);
    expect(onDemand!.after, 'votes came in while the backup ran').toBeGreaterThan(onDemand!.before);
    // Retention: two kept, both verified, none older than one evicted (completion times are to the second:
    // a tie may go either way); the volume holds exactly their files.
    const kept = (await backups(s)).filter((b) => b.spec.secureVote === SV);
    const keptNames = kept.map((b) => b.metadata.name).sort();
    const evicted = [...done.keys()].filter((n) => !keptNames.includes(n));
    expect(keptNames.length, keptNames.join(' ')).toBe(2);
    expect(evicted.length, `finished: ${[...done.keys()].join(' ')}`).toBeGreaterThanOrEqual(1);
    const oldestKept = keptNames.map((n) => done.get(n) ?? '').sort()[0]!;
    for (const n of evicted) expect(done.get(n)! <= oldestKept, `${n} evicted, newer than a kept one`).toBe(true);
    expect(kept.every((b) => b.status?.verified === true && b.status.phase === 'Completed')).toBe(true);
    const claim = kept[0]!.status!.claim!;
    expect(await filesOnClaim(s, claim)).toEqual(keptNames.flatMap((n) => [`${n}.dump`, `${n}.json`]).sort());
    const sv = await secureVote(s);
    const backedUp = sv.status?.conditions?.find((c) => c.type === 'BackedUp');
    expect(backedUp).toMatchObject({ status: 'True', reason: 'BackupVerified' });
    const last = (sv.status as { backup?: { lastSuccessful?: string } }).backup?.lastSuccessful ?? '';
    expect(keptNames).toContain(last);
    expect(done.get(last)! >= done.get(keptNames.find((n) => n !== last)!)!, 'lastSuccessful is the newer kept').toBe(true);
    // Votes never stopped: none failed, every acknowledged one stored once.
    expect(r.load.failures).toEqual({});
    expect(r.stored).toEqual(checkStoredOk);
  }, 900_000);

  it('restores a deleted instance: every vote row back, each voter refused a second vote, new voters voting', async () => {
    const s = stack();
    await waitReady(s);
    const voters = await vote(s.url, 1_000);
    await createBackup(s, 'securevote-before-delete');
    const status = await finished(s, 'securevote-before-delete');
    expect(status).toMatchObject({ phase: 'Completed', verified: true });
    const record = await votesOfRecord(s);
    expect(status.votes).toBe(record.size);
    for (const v of voters) expect(record.get(v.id)).toBe(v.option);

    // Delete it with its volume, and wait until the volume is gone.
    const live = JSON.parse(await s.kubectl(['-n', s.namespace, 'get', `securevote/${SV}`, '-o', 'json'])) as { spec: Record<string, unknown> };
    await patchSpec(s, { database: { storage: { retainOnDelete: false } } });
    await waitReady(s);
    await s.kubectl(['-n', s.namespace, 'delete', `securevote/${SV}`, '--wait=true'], { timeoutMs: 300_000 });
    await s.kubectl(['-n', s.namespace, 'wait', '--for=delete', `pvc/data-${SV}-database-0`, '--timeout=300s'], { timeoutMs: 320_000 });

    // A new one from the backup.
    const spec = { ...live.spec, restore: { backup: 'securevote-before-delete' } };
    await s.kubectl(['-n', s.namespace, 'create', '-f', '-'], { input: JSON.stringify({ apiVersion: 'securevote.dev/v1alpha1', kind: 'SecureVote', metadata: { name: SV }, spec }) });
    await waitReady(s, 600_000);
    const restored = await votesOfRecord(s);
    expect(restored.size).toBe(record.size);
    expect([...restored].filter(([id, option]) => record.get(id) !== option)).toEqual([]);
    expect((await secureVote(s)).status).toMatchObject({ restore: { backup: 'securevote-before-delete', votes: record.size } });

    // The voters are known again: a second vote is a 409.
    expect(await voteAgain(s.url, voters)).toEqual({ 409: voters.length });
    // And new voters vote.
    const fresh = await runLoad({ url: s.url, votes: 300, parallel: 10, progress: false, maxDurationMs: 120_000 });
    console.log(figures('new voters after the restore', fresh));
    expect(fresh.failures).toEqual({});
    expect(await checkStored(s, fresh.acknowledged)).toEqual(checkStoredOk);
  }, 1_200_000);

  it('refuses to restore from a file changed on the volume, naming the reason, and starts no database; the running instance never notices', async () => {
    const s = stack();
    await waitReady(s);
    const r = await underLoad(s, async () => {
      await createBackup(s, 'securevote-to-corrupt');
      const status = await finished(s, 'securevote-to-corrupt');
      expect(status).toMatchObject({ phase: 'Completed', verified: true });
      // Flip one byte in the middle of the dump, on the node's copy of the volume.
      await s.onNode(
        `f=$(ls -d /var/local-path-provisioner/*_${s.namespace}_${status.claim})/${status.file}; ` +
          `n=$(($(stat -c %s "$f") / 2)); b=$(dd if="$f" bs=1 skip=$n count=1 2>/dev/null | od -An -tu1 | tr -d ' '); ` +
          `printf "\\\\$(printf %o $((b ^ 255)))" | dd of="$f" bs=1 seek=$n count=1 conv=notrunc 2>/dev/null`,
        await claimNode(s, status.claim ?? ''),
      );
      // A second instance (the scenario's small CPU requests: the node is full), from that backup.
      const doc = { ...SCENARIO_SECUREVOTE, metadata: { name: 'from-corrupt' }, spec: { ...SCENARIO_SECUREVOTE.spec, restore: { backup: 'securevote-to-corrupt' } } };
      await s.kubectl(['-n', s.namespace, 'create', '-f', '-'], { input: JSON.stringify(doc) });
      try {
        // The restore step refuses the file; the backup is then failed for everyone, and the instance says why.
        const until = Date.now() + 300_000;
        let degraded: { reason?: string; message?: string } | undefined;
        let backup: BackupStatus | undefined;
        while (Date.now() < until) {
          const o = JSON.parse(await s.kubectl(['-n', s.namespace, 'get', 'securevote/from-corrupt', '-o', 'json'])) as { status?: { conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> } };
          degraded = o.status?.conditions?.find((c) => c.type === 'Degraded' && c.status === 'True');
          backup = (await backups(s)).find((b) => b.metadata.name === 'securevote-to-corrupt')?.status;
          if (backup?.phase === 'Failed' && degraded?.reason === 'InvalidSpec') break;
          await new Promise((r) => setTimeout(r, 2_000));
        }
        const why = /restore refused: backup securevote-to-corrupt failed verification: its file's sha256 is [0-9a-f]{64}, the backup recorded [0-9a-f]{64}/;
        expect(backup).toMatchObject({ phase: 'Failed', verified: false, message: expect.stringMatching(why) });
        expect(degraded?.message).toMatch(/^spec\.restore\.backup: SecureVoteBackup securevote-to-corrupt failed: /);
        expect(degraded?.message).toMatch(why);
        // No database ran: the postgres container never started.
        const pods = JSON.parse(await s.kubectl(['-n', s.namespace, 'get', 'pods', '-l', 'app.kubernetes.io/instance=from-corrupt,app.kubernetes.io/component=database', '-o', 'json'])) as {
          items: Array<{ status: { containerStatuses?: Array<{ name: string; state?: { running?: unknown } }> } }>;
        };
        expect(pods.items.flatMap((p) => p.status.containerStatuses ?? []).filter((c) => c.name === 'postgres' && c.state?.running)).toEqual([]);
      } finally {
        await s.kubectl(['-n', s.namespace, 'delete', 'securevote/from-corrupt', '--wait=true'], { timeoutMs: 300_000 });
        // Its pods go with garbage collection: gone before the next scenario counts pods.
        await s.kubectl(['-n', s.namespace, 'wait', '--for=delete', 'pods', '-l', 'app.kubernetes.io/instance=from-corrupt', '--timeout=300s'], { timeoutMs: 320_000 });
        await s.kubectl(['-n', s.namespace, 'delete', 'securevotebackup/securevote-to-corrupt']);
      }
      // The instance itself never noticed.
      await waitReady(s);
    });
    console.log(figures('a second instance refused its restore', r.load));
    expect(r.load.failures).toEqual({});
    expect(r.stored).toEqual(checkStoredOk);
  }, 900_000);
});
