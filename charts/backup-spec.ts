/**
 * The SecureVoteBackup resource, written once: one backup of one instance's
 * votes. `kubectl create` of one takes a backup on demand; the operator
 * creates them on the instance's schedule (spec.backup.schedule). It is not
 * owned by the SecureVote: a backup outlives the instance it was taken of,
 * which is what lets a new SecureVote restore from it. charts/crd.ts turns
 * these schemas into the CRD beside the SecureVote's.
 */
import { Type, type Static } from '@sinclair/typebox';
import { PART_OF } from './rules.ts';
import { DNS1123_SUBDOMAIN } from './spec.ts';

export const SECUREVOTE_BACKUP_API = {
  group: `${PART_OF}.dev`,
  version: 'v1alpha1',
  apiVersion: `${PART_OF}.dev/v1alpha1`,
  kind: 'SecureVoteBackup',
  listKind: 'SecureVoteBackupList',
  plural: 'securevotebackups',
  singular: 'securevotebackup',
  shortName: 'svb',
} as const;

/** Pending → Running → Completed (written and verified) or Failed. */
export const BACKUP_PHASES = ['Pending', 'Running', 'Completed', 'Failed'] as const;

/** How the operator labels the backups it creates on a schedule (for kubectl -l; the operator itself goes by spec.secureVote). */
export const BACKUP_INSTANCE_LABEL = `${PART_OF}.dev/securevote`;
export const BACKUP_METHOD_LABEL = `${PART_OF}.dev/backup-method`;

export const SecureVoteBackupSpecSchema = Type.Object(
  {
    secureVote: Type.String({
      minLength: 1,
      maxLength: 63,
      pattern: DNS1123_SUBDOMAIN,
      description: 'The SecureVote (same namespace) whose votes to back up.',
    }),
  },
  { description: 'Which instance to back up; immutable.', additionalProperties: false },
);
export type SecureVoteBackupSpec = Static<typeof SecureVoteBackupSpecSchema>;

export const BACKUP_SPEC_RULE = {
  rule: 'self == oldSelf',
  message: 'spec is immutable: a backup is of one instance; create another SecureVoteBackup instead',
};

export const SecureVoteBackupStatusSchema = Type.Object(
  {
    phase: Type.Optional(
      Type.Union(
        BACKUP_PHASES.map((p) => Type.Literal(p)),
        { description: 'Pending, Running, Completed (written and verified) or Failed.' },
      ),
    ),
    job: Type.Optional(Type.String({ maxLength: 253, description: 'The Job that takes it.' })),
    claim: Type.Optional(Type.String({ maxLength: 253, description: 'The PersistentVolumeClaim the file is on.' })),
    file: Type.Optional(Type.String({ maxLength: 512, description: 'The dump (pg_dump custom format), relative to the claim.' })),
    size: Type.Optional(Type.Integer({ minimum: 0, description: 'The dump in bytes.' })),
    sha256: Type.Optional(Type.String({ maxLength: 64, description: "The dump's SHA-256; a restore refuses a file that no longer has it." })),
    votes: Type.Optional(Type.Integer({ minimum: 0, description: 'Votes in the backup (its snapshot).' })),
    checksum: Type.Optional(Type.String({ maxLength: 32, description: 'MD5 over every vote row, in key order: what the verification and a restore must find again.' })),
    verified: Type.Optional(Type.Boolean({ description: 'True once the dump was restored into a throwaway database and gave the same votes and checksum.' })),
    startedAt: Type.Optional(Type.String({ format: 'date-time', description: 'When the snapshot was taken.' })),
    completedAt: Type.Optional(Type.String({ format: 'date-time', description: 'When it was verified and kept, or failed.' })),
    message: Type.Optional(Type.String({ maxLength: 4096, description: 'Why it failed, or what it holds.' })),
    observedGeneration: Type.Optional(Type.Integer({ minimum: 0, description: 'The metadata.generation this status is of.' })),
  },
  { description: 'What the backup holds, once taken.', additionalProperties: false },
);
export type SecureVoteBackupStatus = Static<typeof SecureVoteBackupStatusSchema>;
