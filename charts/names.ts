/**
 * Children's names, all derived from the instance name so that two
 * SecureVotes in one namespace never clash, and the context every
 * component construct receives from the stack.
 */
import type { InstanceIdentity } from './labels.ts';
import type { Component } from './rules.ts';
import type { SecureVoteSpec } from './spec.ts';

export function childNames(instance: string) {
  return {
    /** The generated Secret's name when spec.existingSecret is unset (the operator creates it). */
    credentials: `${instance}-credentials`,
    /** Each component's workload and its client Service (the database's is headless). */
    service: (c: Component) => `${instance}-${c}`,
    /**
     * The name init containers resolve to wait for a component's readiness:
     * a headless Service, whose DNS lists only ready pods. The database's
     * client Service is already headless.
     */
    ready: (c: Component) => (c === 'database' ? `${instance}-database` : `${instance}-${c}-ready`),
    config: (c: Component) => `${instance}-${c}-config`,
    migration: (hash: string) => `${instance}-migrate-${hash}`,
    pdb: (c: Component) => `${instance}-${c}`,
    policy: (what: string) => `${instance}-${what}`,
    /** The ConfigMap holding charts/backup.sh and charts/restore.sh. */
    backupScripts: `${instance}-backup-scripts`,
    /** The backup volume the operator creates when spec.backup.volume names none (not owned: it outlives the instance). */
    backupClaim: `${instance}-backups`,
  };
}
export type ChildNames = ReturnType<typeof childNames>;

/** What the stack hands each component construct. */
export interface StackContext {
  readonly identity: InstanceIdentity;
  /** The defaulted spec. */
  readonly spec: SecureVoteSpec;
  /** The Secret holding database-password, redis-password and cookie-secret. */
  readonly secretName: string;
  readonly names: ChildNames;
  /** Set when the database starts from a backup (spec.restore, resolved by the operator). */
  readonly restore?: RestoreSource;
}

/** A verified backup to start the database from: where its file is and what it recorded. */
export interface RestoreSource {
  /** The SecureVoteBackup's name. */
  readonly backup: string;
  /** The claim the file is on, and the file relative to it. */
  readonly claim: string;
  readonly file: string;
  readonly sha256: string;
  readonly votes: number;
  readonly checksum: string;
}
