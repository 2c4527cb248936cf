// `make bench-chaos`: the seed's success metrics on a three-node kind cluster
// built here, the HA sample applied as it ships: five minutes of the seed's
// load (30 voters, each vote a new voter) through the proxy while, every
// 30 s, a random non-database pod is killed: its main process SIGKILLed and
// the pod replaced (test/kind/chaos.ts). Reports availability (goal: above 99%), each kill's
// recovery (goal: under 30 s), each component's peak CPU (goal: under 80%
// of its limit) and memory (goal: under its limit) from metrics-server, and
// acknowledged votes missing from PostgreSQL (goal: none). Writes
// .work/bench-chaos.json; exits 1 when a goal is missed.
//
//   node bench/chaos.ts [--minutes 5] [--every-s 30]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { kindReadiness, startKind } from '../test/fixtures/containers-kind.ts';
import { REPO } from '../test/fixtures/docker-engine.ts';
import { availability, runChaos } from '../test/kind/chaos.ts';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : def;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
};
const minutes = arg('minutes', 5);
const everyS = arg('every-s', 30);

const { pre, engine } = await kindReadiness();
if (!pre.ok) {
  console.error(`bench-chaos: ${pre.reason}; ${pre.command}`);
  process.exit(2);
}
const ha = parse(readFileSync(join(REPO, 'samples/securevote-ha.yaml'), 'utf8')) as Record<string, unknown> & { metadata: Record<string, unknown> };
const stack = await startKind(pre, undefined, { suffix: 'chaos', nodes: 3, entry: 'node-port', secureVote: { ...ha, metadata: { ...ha.metadata, name: 'securevote' } } });
try {
  // metrics-server's first samples come a scrape or two after its start.
  for (let i = 0; i < 60 && !(await stack.kubectl(['get', '--raw', `/apis/metrics.k8s.io/v1beta1/namespaces/${stack.namespace}/pods`]).catch(() => '')); i++) {
    await new Promise((r) => setTimeout(r, 2_000));
  }
  const load1 = loadavg()[0];
  const r = await runChaos({ ...stack, instance: 'securevote' }, { durationMs: minutes * 60_000, everyMs: everyS * 1_000 });
  const recovered = r.kills.map((k) => k.recoveredMs);
  const goals = {
    availabilityAbove99: availability(r.load) > 99,
    everyKillUnder30s: recovered.every((ms) => ms !== null && ms < 30_000),
    cpuUnder80PercentOfLimit: Object.values(r.peaks).every((p) => p.cpuPercentOfLimit < 80),
    memoryUnderLimit: Object.values(r.peaks).every((p) => p.memoryPercentOfLimit < 100),
    noVoteLost: r.stored.missing === 0 && r.stored.wrongOption === 0 && r.stored.acknowledgedTwice === 0,
  };
  const report = {
    command: `node bench/chaos.ts --minutes ${minutes} --every-s ${everyS}`,
    loadAverageAtStart: load1,
    attempted: r.load.attempted, acknowledged: r.load.succeeded, failures: r.load.failures, retries: r.load.retries,
    availabilityPercent: Number(availability(r.load).toFixed(3)),
    p99Ms: r.load.latency.p99,
    kills: r.kills, peaks: r.peaks, metricSamples: r.samples, stored: r.stored, goals,
  };
  mkdirSync(join(REPO, '.work'), { recursive: true });
  writeFileSync(join(REPO, '.work/bench-chaos.json'), `${JSON.stringify(report, null, 2)}\n`);
  console.log(JSON.stringify(report, null, 2));
  process.exitCode = Object.values(goals).every(Boolean) ? 0 : 1;
} finally {
  await stack.stop();
  await engine?.release();
}
