/**
 * The one-shot schema migration: a Job running `node app/backend/migrate.ts`
 * with the backend's image, once the database is ready. `backoffLimit: 5`
 * is the seed's `on-failure:5` (the backend's bounded restart policy).
 *
 * The Job's identity (its name's hash) is what can change the schema: the
 * backend image, and nothing else. A new image (an upgrade) gets a new Job,
 * which migrates again, and the operator prunes the old one; a change of the
 * backend's resources or replicas does not re-run it (the operator creates
 * the Job once and never re-applies it). Its own resources are fixed and
 * small: it runs once, and is only created when the database is Ready.
 */
import { createHash } from 'node:crypto';
import { ApiObject, JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { databaseEnv } from './backend.ts';
import { objectLabels, podLabels } from './labels.ts';
import type { StackContext } from './names.ts';
import { containerSecurityContext, finishPodTemplate, emptyDir, podSecurityContext, secretFiles, setResources, uidOf } from './pod.ts';
import { mebibytes } from './quantity.ts';
import { MEMORY_FIT, RESOURCES, RESTART, SECRET_KEYS, SECRETS_DIR, type ResourceRule } from './rules.ts';
import { addWaits } from './workload.ts';

/** The migration Job's identity: the backend image (what can change the schema). */
export function migrationHash(backendImage: string): string {
  return createHash('sha256').update(JSON.stringify({ image: backendImage })).digest('hex').slice(0, 8);
}

/** The Job's own resources: small requests (it holds them only while it runs), the backend's seed limits. */
export const MIGRATION_RESOURCES: ResourceRule = {
  requests: { cpu: '50m', memory: '128Mi' },
  limits: RESOURCES.backend.limits,
};

export interface MigrationProps {
  readonly context: StackContext;
}

export class Migration extends Construct {
  readonly job: kplus.Job;

  constructor(scope: Construct, id: string, props: MigrationProps) {
    super(scope, id);
    const ctx = props.context;
    // The backend's image and user: the migration is the backend's code.
    const uid = uidOf('backend');
    this.job = new kplus.Job(this, 'job', {
      metadata: { name: ctx.names.migration(migrationHash(ctx.spec.backend.image)), labels: objectLabels(ctx.identity, 'migration') },
      backoffLimit: RESTART.migration.backoffLimit,
      restartPolicy: kplus.RestartPolicy.NEVER,
      select: false,
      podMetadata: { labels: podLabels(ctx.identity, 'migration', ctx.spec.backend.image) },
      securityContext: podSecurityContext(uid),
      automountServiceAccountToken: false,
      containers: [
        {
          name: 'migrate',
          image: ctx.spec.backend.image,
          imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
          command: ['node', 'app/backend/migrate.ts'],
          envVariables: {
            ...databaseEnv(ctx),
            NODE_OPTIONS: kplus.EnvValue.fromValue(`--max-old-space-size=${Math.floor(mebibytes(MIGRATION_RESOURCES.limits.memory) * MEMORY_FIT.nodeHeap)}`),
          },
          securityContext: containerSecurityContext(uid),
          volumeMounts: [
            { path: SECRETS_DIR, volume: secretFiles(this, 'secrets', ctx.secretName, [SECRET_KEYS.databasePassword]), readOnly: true },
            { path: '/tmp', volume: emptyDir(this, 'tmp', 'tmp', 64) },
          ],
        },
      ],
    });
    const waits = addWaits(this.job, ctx, 'migration', ctx.spec.backend.image, uid);
    const pod = { workload: this.job, path: '/spec/template' };
    setResources(pod, MIGRATION_RESOURCES, waits);
    finishPodTemplate(pod);
    // A failed migration's last log lines become its termination message:
    // the operator quotes it in the MigrationFailed condition.
    ApiObject.of(this.job).addJsonPatch(JsonPatch.add('/spec/template/spec/containers/0/terminationMessagePolicy', 'FallbackToLogsOnError'));
  }
}
