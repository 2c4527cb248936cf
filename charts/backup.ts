/**
 * Backups of the votes of record, and restores from them. The stack carries
 * the scripts (charts/backup.sh, charts/restore.sh) in a ConfigMap, and,
 * when it starts from a backup, the database pod's `restore` init container.
 * The operator renders one BackupJob per SecureVoteBackup: the database
 * image running backup.sh, hardened as every other pod, with a network edge
 * to the database only (rules.ts NETWORK_EDGES).
 */
import { readFileSync } from 'node:fs';
import { App, ApiObject, Chart, Duration, JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { objectLabels, podLabels, type InstanceIdentity } from './labels.ts';
import type { RestoreSource, StackContext } from './names.ts';
import { containerSecurityContext, emptyDir, finishPodTemplate, podSecurityContext, secretFiles, setResources, uidOf } from './pod.ts';
import { postgresClientEnv } from './backend.ts';
import { BACKUP, SECRET_KEYS, SECRETS_DIR } from './rules.ts';
import type { SecureVoteSpec } from './spec.ts';
import { childNames } from './names.ts';

/**
 * "COUNT MD5" over every vote row: every column (row_to_json, whatever the
 * schema's version), in key order, timestamps in UTC (the scripts set
 * PGTZ). The backup records it from its own snapshot; the verification and
 * the restore compute it again on the restored data and must find the same.
 */
export const VOTES_SUM_SQL =
  "SELECT count(*) || ' ' || md5(coalesce(string_agg(row_to_json(v)::text, E'\\n' ORDER BY v.voter_id), '')) FROM votes v;";

/** Where the scripts ConfigMap is mounted. */
export const SCRIPTS_DIR = '/etc/securevote/scripts';

/** The scripts, read beside this module (the operator's bundle copies them beside itself). */
export function backupScripts(): { 'backup.sh': string; 'restore.sh': string } {
  const read = (f: string) => readFileSync(new URL(`./${f}`, import.meta.url), 'utf8');
  return { 'backup.sh': read('backup.sh'), 'restore.sh': read('restore.sh') };
}

/** The scripts ConfigMap of an instance (in the stack: backups can be asked for at any time). */
export class BackupScripts extends Construct {
  readonly configMap: kplus.ConfigMap;

  constructor(scope: Construct, id: string, props: { readonly context: StackContext }) {
    super(scope, id);
    const ctx = props.context;
    this.configMap = new kplus.ConfigMap(this, 'scripts', {
      metadata: { name: ctx.names.backupScripts, labels: objectLabels(ctx.identity, 'backup') },
      data: backupScripts(),
    });
  }
}

const scriptsVolume = (scope: Construct, ctx: StackContext) =>
  kplus.Volume.fromConfigMap(scope, 'scripts-volume', kplus.ConfigMap.fromConfigMapName(scope, 'scripts-ref', ctx.names.backupScripts), {
    name: 'scripts',
    defaultMode: 0o555,
  });

const backupVolume = (scope: Construct, claim: string, readOnly: boolean) =>
  kplus.Volume.fromPersistentVolumeClaim(scope, 'backups-volume', kplus.PersistentVolumeClaim.fromClaimName(scope, 'backups-ref', claim), {
    name: 'backups',
    readOnly,
  });

/**
 * The database pod's first container when it starts from a backup: restore.sh
 * on the data volume, as the database's user, with the database's own
 * resources (a restore is PostgreSQL's work). The main container starts only
 * once it succeeds, and the backends wait for the database's readiness.
 */
export function addRestoreContainer(
  scope: Construct,
  statefulSet: kplus.StatefulSet,
  ctx: StackContext,
  source: RestoreSource,
  /** The database container's own entrypoint environment (user, database, password file, PGDATA). */
  entrypointEnv: Record<string, kplus.EnvValue>,
  volumes: { readonly data: string; readonly dataPath: string; readonly tmp: string; readonly secrets: string },
): void {
  const uid = uidOf('database');
  statefulSet.addInitContainer({
    name: 'restore',
    image: ctx.spec.database.image,
    imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
    command: ['bash', `${SCRIPTS_DIR}/restore.sh`],
    envVariables: {
      ...entrypointEnv,
      BACKUP_FILE: kplus.EnvValue.fromValue(`${BACKUP.mountPath}/${source.file}`),
      BACKUP_SHA256: kplus.EnvValue.fromValue(source.sha256),
      BACKUP_VOTES: kplus.EnvValue.fromValue(String(source.votes)),
      BACKUP_CHECKSUM: kplus.EnvValue.fromValue(source.checksum),
      VOTES_SUM_SQL: kplus.EnvValue.fromValue(VOTES_SUM_SQL),
    },
    securityContext: containerSecurityContext(uid),
    volumeMounts: [
      { path: SCRIPTS_DIR, volume: scriptsVolume(scope, ctx), readOnly: true },
      { path: BACKUP.mountPath, volume: backupVolume(scope, source.claim, true), readOnly: true },
    ],
  });
  // The data volume comes from the claim template (a JSON patch in database.ts), so its mount does
  // too; /tmp (the restoring server's socket and log) and the password are the pod's own volumes.
  const obj = ApiObject.of(statefulSet);
  obj.addJsonPatch(JsonPatch.add('/spec/template/spec/initContainers/0/volumeMounts/-', { name: volumes.data, mountPath: volumes.dataPath }));
  obj.addJsonPatch(JsonPatch.add('/spec/template/spec/initContainers/0/volumeMounts/-', { name: volumes.tmp, mountPath: '/tmp' }));
  obj.addJsonPatch(JsonPatch.add('/spec/template/spec/initContainers/0/volumeMounts/-', { name: volumes.secrets, mountPath: SECRETS_DIR, readOnly: true }));
}

export interface BackupJobOptions {
  /** The instance backed up, its defaulted spec and namespace. */
  readonly instance: string;
  readonly namespace: string;
  readonly spec: SecureVoteSpec;
  readonly identity: InstanceIdentity;
  /** The SecureVoteBackup: the Job and the file are named for it. */
  readonly backup: string;
  /** The claim to write to. */
  readonly claim: string;
  /** Verified backups of the instance the volume keeps (spec.backup.retain). */
  readonly keep: number;
}

/** The Job's name for a backup (the SecureVoteBackup's, which is unique in the namespace). */
export const backupJobName = (backup: string) => `${backup}-backup`.slice(0, 63).replace(/-+$/, '');

/** One backup's Job, as a construct. */
export class BackupJob extends Construct {
  readonly job: kplus.Job;

  constructor(scope: Construct, id: string, o: BackupJobOptions) {
    super(scope, id);
    const names = childNames(o.instance);
    const ctx: StackContext = { identity: o.identity, spec: o.spec, secretName: o.spec.existingSecret ?? names.credentials, names };
    const uid = uidOf('database');
    this.job = new kplus.Job(this, 'job', {
      metadata: { name: backupJobName(o.backup), labels: objectLabels(o.identity, 'backup') },
      // A failed backup is a failed backup: reported, and the next one starts clean.
      backoffLimit: 0,
      activeDeadline: Duration.seconds(BACKUP.deadlineSeconds),
      restartPolicy: kplus.RestartPolicy.NEVER,
      select: false,
      podMetadata: { labels: podLabels(o.identity, 'backup', o.spec.database.image) },
      securityContext: podSecurityContext(uid),
      automountServiceAccountToken: false,
      containers: [
        {
          name: 'backup',
          image: o.spec.database.image,
          imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
          command: ['bash', `${SCRIPTS_DIR}/backup.sh`],
          envVariables: {
            SECUREVOTE: kplus.EnvValue.fromValue(o.instance),
            BACKUP_NAME: kplus.EnvValue.fromValue(o.backup),
            BACKUP_DIR: kplus.EnvValue.fromValue(BACKUP.mountPath),
            KEEP: kplus.EnvValue.fromValue(String(o.keep)),
            ...postgresClientEnv(ctx),
            SCRATCH: kplus.EnvValue.fromValue('/tmp'),
            VOTES_SUM_SQL: kplus.EnvValue.fromValue(VOTES_SUM_SQL),
          },
          securityContext: containerSecurityContext(uid),
          volumeMounts: [
            { path: SCRIPTS_DIR, volume: scriptsVolume(this, ctx), readOnly: true },
            { path: BACKUP.mountPath, volume: backupVolume(this, o.claim, false) },
            { path: SECRETS_DIR, volume: secretFiles(this, 'secrets', ctx.secretName, [SECRET_KEYS.databasePassword]), readOnly: true },
            { path: '/tmp', volume: emptyDir(this, 'tmp', 'tmp', BACKUP.scratchMi) },
          ],
        },
      ],
    });
    const pod = { workload: this.job, path: '/spec/template' };
    setResources(pod, BACKUP.resources, 0, { ephemeral: BACKUP.ephemeralStorage });
    finishPodTemplate(pod);
  }
}

/** One backup's Job as a plain object, in-process (the operator's entrance). */
export function renderBackupJob(o: BackupJobOptions): Record<string, unknown> {
  const app = new App();
  const chart = new Chart(app, 'backup', { namespace: o.namespace, disableResourceNameHashes: true });
  new BackupJob(chart, 'backup', o);
  const [job] = chart.toJson() as Record<string, unknown>[];
  return job!;
}
