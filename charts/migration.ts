/**
 * The one-shot schema migration: a Job running `node app/backend/migrate.ts`
 * with the backend's image, once the database is ready. `backoffLimit: 5`
 * is the seed's `on-failure:5` (the backend's bounded restart policy).
 *
 * A Job's pod template is immutable, so its name carries a hash of what the
 * template is made of: a new image (an upgrade) gets a new Job, which
 * migrates again, and the operator prunes the old one.
 */
import { createHash } from 'node:crypto';
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { databaseEnv } from './backend.ts';
import { objectLabels, podLabels } from './labels.ts';
import type { StackContext } from './names.ts';
import { containerSecurityContext, finishPodTemplate, emptyDir, podSecurityContext, secretFiles, setResources, uidOf } from './pod.ts';
import { RESTART, SECRET_KEYS, SECRETS_DIR } from './rules.ts';
import { addWaits } from './workload.ts';

export function migrationHash(ctx: StackContext): string {
  const inputs = {
    image: ctx.spec.backend.image,
    resources: ctx.spec.backend.resources,
    logLevel: ctx.spec.logLevel,
    secret: ctx.secretName,
    version: ctx.identity.version,
    managedBy: ctx.identity.managedBy,
  };
  return createHash('sha256').update(JSON.stringify(inputs)).digest('hex').slice(0, 8);
}

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
      metadata: { name: ctx.names.migration(migrationHash(ctx)), labels: objectLabels(ctx.identity, 'migration') },
      backoffLimit: RESTART.migration.backoffLimit,
      restartPolicy: kplus.RestartPolicy.NEVER,
      select: false,
      podMetadata: { labels: podLabels(ctx.identity, 'migration') },
      securityContext: podSecurityContext(uid),
      automountServiceAccountToken: false,
      containers: [
        {
          name: 'migrate',
          image: ctx.spec.backend.image,
          imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
          command: ['node', 'app/backend/migrate.ts'],
          envVariables: databaseEnv(ctx),
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
    setResources(pod, ctx.spec.backend.resources, waits);
    finishPodTemplate(pod);
  }
}
