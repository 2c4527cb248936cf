// Every alert of a SecureVote's PrometheusRule, run by Prometheus's own rule
// engine (`promtool test rules`, built from the Prometheus module): each
// fires under its symptom, with the labels a receiver routes on, and stays
// quiet when it should (healthy series, another instance's pods, a blip
// shorter than its `for`). `promtool check rules` parses the rules whole,
// annotation templates included; the unit tests run them without
// annotations, whose rendered text is for humans.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { alertGroups, type AlertName } from '../../charts/alerts.ts';
import { quantityValue } from '../../charts/quantity.ts';
import { BACKUP, RESOURCES } from '../../charts/rules.ts';
import { defaultSpec, parseSpec } from '../../charts/spec.ts';
import { REPO } from '../fixtures/docker-engine.ts';

const run = promisify(execFile);
const NS = 'votes';
const SV = 'sv';
const promtool = (await run(join(REPO, 'scripts/controlplane-build.sh'), ['--path', 'promtool'])).stdout.trim();
const parsed = parseSpec({ backup: { schedule: '0 3 * * 1-5' } });
if (!parsed.ok) throw new Error(parsed.errors.join('; '));
const groups = alertGroups(SV, NS, parsed.spec);

const dir = mkdtempSync(join(tmpdir(), 'securevote-alerts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** One promtool test: input series, then alerts expected (or none) at each time. */
interface Case {
  readonly name: string;
  readonly interval?: string;
  readonly series: Record<string, string>;
  readonly expect: { readonly at: string; readonly alert: AlertName; readonly firing: Record<string, string>[] }[];
}

const up = (component: string): string => `up{namespace="${NS}",securevote="${SV}",component="${component}"}`;
const votes = (status: string): string =>
  `http_request_duration_seconds_count{namespace="${NS}",securevote="${SV}",component="backend",route="/api/vote",method="POST",status="${status}"}`;
const bucket = (le: string): string =>
  `http_request_duration_seconds_bucket{namespace="${NS}",securevote="${SV}",component="backend",route="/api/vote",method="POST",status="201",le="${le}"}`;
const at = (labels: Record<string, string>, severity: 'critical' | 'warning'): Record<string, string> => ({ ...labels, severity });
const mi512 = quantityValue(RESOURCES.backend.limits.memory);

const CASES: Case[] = [
  {
    name: 'vote path: a backend down past 30 s fires, a proxy answering or not; back up, it resolves',
    series: { [up('backend')]: '1x20 0x8 1x20', [up('proxy')]: '1x60' },
    expect: [
      { at: '4m', alert: 'SecureVoteVotePathDown', firing: [] },
      // Down from 5m15s; pending 30 s, then firing.
      { at: '6m', alert: 'SecureVoteVotePathDown', firing: [at({ namespace: NS, securevote: SV, component: 'backend' }, 'critical')] },
      { at: '10m', alert: 'SecureVoteVotePathDown', firing: [] },
    ],
  },
  {
    name: 'vote path: no proxy target at all fires; a 15 s blip does not',
    series: { [up('backend')]: '1x10 0 1x30', [up('proxy')]: '_x60' },
    expect: [
      { at: '3m', alert: 'SecureVoteVotePathDown', firing: [at({ namespace: NS, securevote: SV, component: 'proxy' }, 'critical')] },
    ],
  },
  {
    name: 'vote errors: 5% of votes 5xx fires; 0.5% does not',
    series: { [votes('201')]: '0+100x60', [votes('500')]: '0x20 0+5x40', [votes('503')]: '0+0.5x60' },
    expect: [
      { at: '4m', alert: 'SecureVoteVoteErrors', firing: [] },
      // 5xx above 1% from 5m45s (the 500s begin at 5m30s, with the 503s beside them): pending, not firing,
      // until its 2 minutes of `for` have passed; so not at 7m30s, firing at 8m.
      { at: '7m30s', alert: 'SecureVoteVoteErrors', firing: [] },
      { at: '8m', alert: 'SecureVoteVoteErrors', firing: [at({ namespace: NS, securevote: SV }, 'critical')] },
      { at: '12m', alert: 'SecureVoteVoteErrors', firing: [at({ namespace: NS, securevote: SV }, 'critical')] },
    ],
  },
  {
    name: 'vote latency: a p99 above 0.5 s for 10 minutes fires; fast votes do not',
    series: { [bucket('0.1')]: '0+100x30 3000+0x60', [bucket('0.5')]: '0+100x30 3000+0x60', [bucket('1')]: '0+100x30 3000+100x60', [bucket('+Inf')]: '0+100x30 3000+100x60' },
    expect: [
      { at: '7m', alert: 'SecureVoteVoteSlow', firing: [] },
      // Slow from 7m30s; the 5-minute rate is all slow by 12m30s, then 10 minutes of `for`.
      { at: '24m', alert: 'SecureVoteVoteSlow', firing: [at({ namespace: NS, securevote: SV }, 'warning')] },
    ],
  },
  {
    name: 'database: its pod gone (the series goes stale) fires; back, it resolves',
    series: { [`pg_up{namespace="${NS}",securevote="${SV}",component="database"}`]: '1x10 stale _x12 1x20' },
    expect: [
      { at: '2m', alert: 'SecureVoteDatabaseDown', firing: [] },
      { at: '4m', alert: 'SecureVoteDatabaseDown', firing: [at({ namespace: NS, securevote: SV, component: 'database' }, 'critical')] },
      { at: '8m', alert: 'SecureVoteDatabaseDown', firing: [] },
    ],
  },
  {
    name: 'cache: Redis down (its exporter says 0) fires, as a warning only',
    series: { [`redis_up{namespace="${NS}",securevote="${SV}",component="cache"}`]: '1x10 0x20' },
    expect: [
      { at: '2m', alert: 'SecureVoteCacheDown', firing: [] },
      { at: '5m', alert: 'SecureVoteCacheDown', firing: [at({ namespace: NS, securevote: SV, component: 'cache' }, 'warning')] },
    ],
  },
  {
    name: "restarts: three in 15 minutes fire for this instance's pod, not for another instance's",
    series: {
      [`kube_pod_container_status_restarts_total{namespace="${NS}",pod="${SV}-backend-7d9f8b6c5-x2k4q",container="backend"}`]: '0x10 1x10 2x10 3x30',
      [`kube_pod_container_status_restarts_total{namespace="${NS}",pod="${SV}x-backend-7d9f8b6c5-x2k4q",container="backend"}`]: '0x10 5x50',
      [`kube_pod_container_status_restarts_total{namespace="${NS}",pod="${SV}-database-0",container="postgres"}`]: '0x60',
    },
    expect: [
      { at: '5m', alert: 'SecureVotePodRestarting', firing: [] },
      { at: '9m', alert: 'SecureVotePodRestarting', firing: [at({ namespace: NS, pod: `${SV}-backend-7d9f8b6c5-x2k4q`, container: 'backend' }, 'warning')] },
    ],
  },
  {
    name: 'memory: a main container over 90% of its own limit for 5 minutes fires; its exporter and a container at 50% do not',
    series: {
      [`container_memory_working_set_bytes{namespace="${NS}",pod="${SV}-backend-7d9f8b6c5-x2k4q",container="backend"}`]: `${Math.round(mi512 * 0.95)}x40`,
      [`container_memory_working_set_bytes{namespace="${NS}",pod="${SV}-frontend-5c6d7e8f9-abcde",container="frontend"}`]: `${Math.round(quantityValue(RESOURCES.frontend.limits.memory) * 0.5)}x40`,
      [`container_memory_working_set_bytes{namespace="${NS}",pod="${SV}-proxy-5c6d7e8f9-abcde",container="exporter"}`]: `${Math.round(64 * 2 ** 20)}x40`,
    },
    expect: [
      { at: '4m', alert: 'SecureVoteMemoryNearLimit', firing: [] },
      { at: '6m', alert: 'SecureVoteMemoryNearLimit', firing: [at({ namespace: NS, pod: `${SV}-backend-7d9f8b6c5-x2k4q`, container: 'backend' }, 'warning')] },
    ],
  },
  {
    name: 'degraded: 10 minutes fires; a short failure does not',
    series: {
      [`securevote_status_condition{namespace="${NS}",securevote="${SV}",type="Degraded",status="True"}`]: '0x4 1x4 0x4 1x60',
      [`securevote_status_condition{namespace="${NS}",securevote="${SV}",type="Degraded",status="False"}`]: '1x4 0x4 1x4 0x60',
    },
    expect: [
      { at: '2m', alert: 'SecureVoteDegraded', firing: [] },
      { at: '14m', alert: 'SecureVoteDegraded', firing: [at({ namespace: NS, securevote: SV, type: 'Degraded', status: 'True' }, 'warning')] },
    ],
  },
  {
    name: "backups: none verified for longer than a weekend's gap plus a deadline fires (weekday schedule); a fresh one does not",
    interval: '1h',
    // The last verified backup at t=0 (time() in promtool starts at 0), kept for 80 hours.
    series: { [`securevote_backup_last_success_timestamp_seconds{namespace="${NS}",securevote="${SV}"}`]: '0x80' },
    expect: [
      { at: '72h', alert: 'SecureVoteBackupStale', firing: [] },
      { at: '73h', alert: 'SecureVoteBackupStale', firing: [at({ namespace: NS, securevote: SV }, 'warning')] },
    ],
  },
];

function promtoolTests(cases: readonly Case[]): Record<string, unknown> {
  return {
    rule_files: ['rules.yaml'],
    evaluation_interval: '15s',
    tests: cases.map((c) => ({
      name: c.name,
      interval: c.interval ?? '15s',
      input_series: Object.entries(c.series).map(([series, values]) => ({ series, values })),
      alert_rule_test: c.expect.map((e) => ({ eval_time: e.at, alertname: e.alert, exp_alerts: e.firing.map((l) => ({ exp_labels: l })) })),
    })),
  };
}

describe('the alerting rules, in Prometheus', () => {
  it('promtool is built (make test builds it from the Prometheus module)', () => {
    expect(existsSync(promtool), `${promtool}: run scripts/controlplane-build.sh promtool`).toBe(true);
  });

  it('parse whole, annotation templates included (promtool check rules)', async () => {
    writeFileSync(join(dir, 'full.yaml'), stringify({ groups }));
    const r = await run(promtool, ['check', 'rules', join(dir, 'full.yaml')]);
    expect(r.stdout).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('every alert is tested below, both ways', () => {
    const tested = new Set(CASES.flatMap((c) => c.expect.map((e) => e.alert)));
    expect([...tested].sort()).toEqual(groups.flatMap((g) => g.rules.map((r) => r.alert)).sort());
    for (const name of tested) {
      const runs = CASES.flatMap((c) => c.expect).filter((e) => e.alert === name);
      expect(runs.some((e) => e.firing.length > 0), `${name} never fires`).toBe(true);
      expect(runs.some((e) => e.firing.length === 0), `${name} is never quiet`).toBe(true);
    }
  });

  it('fire under their symptom and stay quiet otherwise (promtool test rules)', async () => {
    const bare = groups.map((g) => ({ ...g, rules: g.rules.map(({ annotations: _annotations, ...r }) => r) }));
    writeFileSync(join(dir, 'rules.yaml'), stringify({ groups: bare }));
    writeFileSync(join(dir, 'tests.yaml'), stringify(promtoolTests(CASES)));
    const r = await run(promtool, ['test', 'rules', join(dir, 'tests.yaml')]).catch((err: { stdout?: string; stderr?: string }) => {
      throw new Error(`promtool test rules failed:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
    });
    expect(r.stdout).toContain('SUCCESS');
  });

  it("the thresholds are this instance's: its memory limits and its schedule", () => {
    const rules = groups.flatMap((g) => g.rules);
    const mem = rules.find((r) => r.alert === 'SecureVoteMemoryNearLimit')!.expr;
    expect(mem).toContain(`/ ${mi512}`);
    const bigger = parseSpec({ backend: { resources: { limits: { memory: '1Gi' } } } });
    if (!bigger.ok) throw new Error('spec');
    expect(alertGroups(SV, NS, bigger.spec)[0]!.rules.find((r) => r.alert === 'SecureVoteMemoryNearLimit')!.expr).toContain(`/ ${2 ** 30}`);
    expect(rules.find((r) => r.alert === 'SecureVoteBackupStale')!.expr).toContain(`> ${3 * 86_400 + BACKUP.deadlineSeconds}`);
    expect(alertGroups(SV, NS, defaultSpec())[0]!.rules.map((r) => r.alert)).not.toContain('SecureVoteBackupStale');
  });
});
