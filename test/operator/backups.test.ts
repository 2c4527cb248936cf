// Backups and restores as the API server and the operator see them, on a real
// control plane (kwok nodes: a backup Job is created and its pod scheduled,
// never run; the kind scenario backup-restore.test.ts runs them), with the
// operator as its own ServiceAccount (the install chart's RBAC) under
// OwnerReferencesPermissionEnforcement.
//
// Bad input: what a CRD rule can say, the API server refuses, naming the
// field; what it can't, the operator reports as Degraded, naming the field,
// and deletes nothing.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ControlPlane, startControlPlane } from '../fixtures/controlplane.ts';
import type { KObject } from '../../operator/context.ts';
import { Api, condition, createNamespace, createVolumes, installCrd, startOperatorAsInstalled, svYaml, waitReady } from './cluster.ts';
import { type OperatorProcess, waitFor } from './helpers.ts';

let cp: ControlPlane;
let dir: string;
let api: Api;
let op: OperatorProcess;
const NS = 'backups';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sv-op-backups-'));
  cp = await startControlPlane({ controllers: true, scheduler: true, kwokNodes: 1 });
  await installCrd(cp);
  await createVolumes(cp, 8);
  await createNamespace(cp, NS);
  api = new Api(cp);
  op = await startOperatorAsInstalled(cp, dir, 'op-backups');
}, 120_000);

afterAll(async () => {
  await op?.stop();
  await cp?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const BACKUP_API = 'securevote.dev/v1alpha1';
const backupYaml = (name: string, spec: object) => JSON.stringify({ apiVersion: BACKUP_API, kind: 'SecureVoteBackup', metadata: { name }, spec });

/** kubectl's refusal, as a user sees it. */
async function refused(args: string[], input: string): Promise<string> {
  try {
    await cp.kubectl(args, { input });
  } catch (err) {
    return String((err as { stderr?: string }).stderr ?? err);
  }
  throw new Error(`kubectl ${args.join(' ')} was accepted`);
}

const degraded = (ns: string, name: string, pattern: RegExp) =>
  waitFor(`${name} Degraded matching ${pattern}`, async () => {
    const c = condition(await api.sv(ns, name), 'Degraded');
    return c?.status === 'True' && pattern.test(c.message) ? c : undefined;
  }, 60_000);

describe('the API server refuses what the CRDs can say is wrong', () => {
  it('a schedule that is not five cron fields', async () => {
    const out = await refused(['apply', '-n', NS, '-f', '-'], svYaml('bad-schedule', { backup: { schedule: 'every day' } }));
    expect(out).toMatch(/spec\.backup\.schedule/);
  });

  it('spec.restore added to a running instance, with the reason', async () => {
    await cp.kubectl(['apply', '-n', NS, '-f', '-'], { input: svYaml('running', {}) });
    await waitReady(api, NS, 'running');
    const out = await refused(['apply', '-n', NS, '-f', '-'], svYaml('running', { restore: { backup: 'any' } }));
    expect(out).toContain('spec.restore can only be set when the SecureVote is created');
  });

  it('a backup naming no instance, and a change of what a backup is of', async () => {
    expect(await refused(['apply', '-n', NS, '-f', '-'], backupYaml('nothing', {}))).toMatch(/spec\.secureVote: Required value/);
    await cp.kubectl(['apply', '-n', NS, '-f', '-'], { input: backupYaml('of-running', { secureVote: 'running' }) });
    expect(await refused(['apply', '-n', NS, '-f', '-'], backupYaml('of-running', { secureVote: 'other' }))).toContain('spec is immutable');
  });
});

describe('the operator', () => {
  it('starts an on-demand backup: its Job, the voters\' key and the volume, owned so that they go with the backup and the volume outlives the instance', async () => {
    const job = await waitFor('the backup Job', () => api.get('batch/v1', 'Job', NS, 'of-running-backup'), 60_000);
    const b = await waitFor('the backup Running', async () => {
      const o = await api.get(BACKUP_API, 'SecureVoteBackup', NS, 'of-running');
      return (o?.status as { phase?: string } | undefined)?.phase === 'Running' ? o : undefined;
    }, 60_000);
    expect(b.status).toMatchObject({ phase: 'Running', job: 'of-running-backup', claim: 'running-backups' });
    const owner = [{ apiVersion: BACKUP_API, kind: 'SecureVoteBackup', name: 'of-running', uid: b.metadata.uid, controller: true, blockOwnerDeletion: true }];
    expect(job.metadata.ownerReferences).toEqual(owner);
    const key = await api.get('v1', 'Secret', NS, 'of-running-voter-key');
    expect(key?.metadata.ownerReferences).toEqual(owner);
    // Only the voters' key: the database password stays the instance's.
    const credentials = await api.get('v1', 'Secret', NS, 'running-credentials');
    expect(key?.data).toEqual({ 'cookie-secret': (credentials?.data as Record<string, string>)['cookie-secret'] });
    const claim = await api.get('v1', 'PersistentVolumeClaim', NS, 'running-backups');
    expect(claim?.metadata.ownerReferences ?? []).toEqual([]);
    // The Job: the database image, the scripts, the claim, hardened.
    const pod = (job.spec as { template: { spec: { containers: Array<{ image: string; command: string[]; securityContext: object }>; volumes: Array<{ name: string; persistentVolumeClaim?: { claimName: string } }> } } }).template.spec;
    expect(pod.containers[0]?.command).toEqual(['bash', '/etc/securevote/scripts/backup.sh']);
    expect(pod.containers[0]?.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    expect(pod.volumes.find((v) => v.name === 'backups')?.persistentVolumeClaim?.claimName).toBe('running-backups');
    // Status says where backups go.
    expect((await api.sv(NS, 'running'))?.status).toMatchObject({ backup: { claim: 'running-backups' } });
  });

  it('refuses a restore from a backup that does not exist, naming the field, and creates nothing', async () => {
    await cp.kubectl(['apply', '-n', NS, '-f', '-'], { input: svYaml('from-nothing', { restore: { backup: 'no-such-backup' } }) });
    const c = await degraded(NS, 'from-nothing', /spec\.restore\.backup: SecureVoteBackup no-such-backup does not exist/);
    expect(c.reason).toBe('InvalidSpec');
    expect(await api.list('apps/v1', 'StatefulSet', NS, 'securevote.dev/instance=from-nothing')).toEqual([]);
    expect(await api.get('v1', 'Secret', NS, 'from-nothing-credentials')).toBeUndefined();
  });

  it('refuses a restore from a backup not verified yet, then reports an invalid schedule and a missing claim, deleting nothing', async () => {
    await cp.kubectl(['apply', '-n', NS, '-f', '-'], { input: svYaml('from-running', { restore: { backup: 'of-running' } }) });
    await degraded(NS, 'from-running', /spec\.restore\.backup: SecureVoteBackup of-running is Running: the database starts once it is verified/);

    const before = await api.list('apps/v1', 'Deployment', NS, 'securevote.dev/instance=running');
    await cp.kubectl(['apply', '-n', NS, '-f', '-'], { input: svYaml('running', { backup: { schedule: '61 * * * *' } }) });
    await degraded(NS, 'running', /spec\.backup\.schedule: minute: 61 is outside 0-59/);
    await cp.kubectl(['apply', '-n', NS, '-f', '-'], { input: svYaml('running', { backup: { volume: { existingClaim: 'not-there' } } }) });
    await cp.kubectl(['apply', '-n', NS, '-f', '-'], { input: backupYaml('to-nowhere', { secureVote: 'running' }) });
    await degraded(NS, 'running', /spec\.backup\.volume\.existingClaim: PersistentVolumeClaim not-there does not exist in namespace backups/);
    const after = await api.list('apps/v1', 'Deployment', NS, 'securevote.dev/instance=running');
    expect(after.map((d: KObject) => d.metadata.uid)).toEqual(before.map((d: KObject) => d.metadata.uid));
    expect(await api.get(BACKUP_API, 'SecureVoteBackup', NS, 'of-running')).toBeDefined();
  });

  it('met no Forbidden as its own ServiceAccount', () => {
    expect(readFileSync(op.logFile, 'utf8')).not.toMatch(/forbidden/i);
  });
});

