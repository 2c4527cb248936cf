/**
 * The SecureVote CustomResourceDefinition, generated from the TypeBox spec
 * (charts/spec.ts). `make crds` runs this file to write crds/securevote.yaml,
 * which is checked in; test/charts/crd.test.ts regenerates it and fails on
 * drift.
 *
 * TypeBox speaks JSON Schema; Kubernetes wants a structural schema: no
 * `additionalProperties: false` beside `properties` (unknown fields are
 * pruned instead), `enum` rather than unions of `const`, and quantities as
 * `x-kubernetes-int-or-string` with exactly `anyOf: [integer, string]`.
 */
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import {
  INSTANCE_NAME_MAX_LENGTH,
  INSTANCE_NAME_PATTERN,
  SECUREVOTE_API,
  SecureVoteSpecSchema,
  SecureVoteStatusSchema,
} from './spec.ts';
import { BACKUP_SPEC_RULE, SECUREVOTE_BACKUP_API, SecureVoteBackupSpecSchema, SecureVoteBackupStatusSchema } from './backup-spec.ts';

export const CRD_PATH = 'crds/securevote.yaml';

/** Keys a structural schema may carry, as we use them. Anything else is a bug in the converter. */
const KEPT = new Set([
  'type',
  'description',
  'default',
  'minimum',
  'maximum',
  'minLength',
  'maxLength',
  'pattern',
  'minItems',
  'maxItems',
  'maxProperties',
  'format',
  'enum',
  'required',
  'x-kubernetes-validations',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
]);

type Json = Record<string, unknown>;

/** Convert one TypeBox (JSON Schema) node to a Kubernetes structural schema node. */
export function toStructural(node: Json, path = '$'): Json {
  const out: Json = {};
  const anyOf = node['anyOf'] as Json[] | undefined;
  if (node['x-kubernetes-int-or-string'] === true) {
    const str = anyOf?.find((s) => s['type'] === 'string') ?? {};
    out['x-kubernetes-int-or-string'] = true;
    out['anyOf'] = [{ type: 'integer' }, { type: 'string' }];
    // At this level `pattern`/`maxLength` apply to strings only, as in controller-gen's quantities.
    if (str['pattern'] !== undefined) out['pattern'] = str['pattern'];
    if (str['maxLength'] !== undefined) out['maxLength'] = str['maxLength'];
  } else if (anyOf !== undefined) {
    if (!anyOf.every((s) => s['const'] !== undefined && s['type'] === 'string')) {
      throw new Error(`${path}: only unions of string literals (enums) and int-or-string are supported`);
    }
    out['type'] = 'string';
    out['enum'] = anyOf.map((s) => s['const']);
  }
  for (const [k, v] of Object.entries(node)) {
    if (k === 'properties') {
      out['properties'] = Object.fromEntries(Object.entries(v as Record<string, Json>).map(([p, s]) => [p, toStructural(s, `${path}.${p}`)]));
    } else if (k === 'patternProperties') {
      // TypeBox's Record<string, V>: a map, which a structural schema says with additionalProperties.
      const entries = Object.entries(v as Record<string, Json>);
      if (entries.length !== 1 || entries[0]![0] !== '^(.*)$') throw new Error(`${path}: only string-keyed maps are supported`);
      out['additionalProperties'] = toStructural(entries[0]![1], `${path}{}`);
    } else if (k === 'items') {
      out['items'] = toStructural(v as Json, `${path}[]`);
    } else if (KEPT.has(k)) {
      out[k] = v;
    } else if (!['anyOf', 'x-kubernetes-int-or-string', 'additionalProperties'].includes(k)) {
      throw new Error(`${path}: unsupported schema keyword ${k}`);
    }
  }
  if (out['type'] === 'object' && out['properties'] !== undefined && out['required'] === undefined) delete out['required'];
  if (typeof out['description'] !== 'string' || out['description'] === '') throw new Error(`${path}: every field needs a description`);
  // type and description first, so the YAML reads like `kubectl explain`.
  const { type, description, ...rest } = out;
  return type === undefined ? { description, ...rest } : { type, description, ...rest };
}

/** A plain-JSON copy of a TypeBox schema (its symbol keys dropped). */
function plain(schema: unknown): Json {
  return JSON.parse(JSON.stringify(schema)) as Json;
}

interface CrdInput {
  readonly api: { group: string; version: string; kind: string; listKind: string; plural: string; singular: string; shortName: string };
  readonly description: string;
  readonly spec: Json;
  readonly status: Json;
  readonly printerColumns: readonly Json[];
  readonly validations: readonly Json[];
}

function crdOf(c: CrdInput): Json {
  const a = c.api;
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${a.plural}.${a.group}`,
      labels: { 'app.kubernetes.io/part-of': 'securevote', 'app.kubernetes.io/component': 'crd' },
    },
    spec: {
      group: a.group,
      names: { kind: a.kind, listKind: a.listKind, plural: a.plural, singular: a.singular, shortNames: [a.shortName] },
      scope: 'Namespaced',
      versions: [
        {
          name: a.version,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: c.printerColumns,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: c.description,
              properties: {
                apiVersion: { type: 'string', description: `APIVersion of this object: ${a.group}/${a.version}.` },
                kind: { type: 'string', description: `Kind of this object: ${a.kind}.` },
                metadata: { type: 'object' },
                spec: c.spec,
                status: c.status,
              },
              'x-kubernetes-validations': c.validations,
            },
          },
        },
      ],
    },
  };
}

/** The SecureVote CustomResourceDefinition. */
export function secureVoteCrd(): Json {
  return crdOf({
    api: SECUREVOTE_API,
    description:
      'A SecureVote: the five-service vote app (PostgreSQL, Redis, API, page, nginx) hardened by the phase-3 production rules, reconciled by the SecureVote operator.',
    spec: { ...toStructural(plain(SecureVoteSpecSchema), 'spec'), default: {} },
    status: toStructural(plain(SecureVoteStatusSchema), 'status'),
    printerColumns: [
      { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status', description: 'The Ready condition.' },
      { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Pending, Progressing, Ready or Degraded.' },
      { name: 'URL', type: 'string', jsonPath: '.status.url', description: 'Where the vote page answers.' },
      { name: 'Version', type: 'string', jsonPath: '.status.operatorVersion', description: 'The operator version that last reconciled it.' },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
    validations: [
      {
        rule: `self.metadata.name.size() <= ${INSTANCE_NAME_MAX_LENGTH} && self.metadata.name.matches('${INSTANCE_NAME_PATTERN}')`,
        message: `metadata.name must be a DNS-1035 label (lowercase letters, digits, dashes, starting with a letter) of at most ${INSTANCE_NAME_MAX_LENGTH} characters: the children's names derive from it`,
      },
    ],
  });
}

/** The SecureVoteBackup CustomResourceDefinition. */
export function secureVoteBackupCrd(): Json {
  return crdOf({
    api: SECUREVOTE_BACKUP_API,
    description:
      "A SecureVoteBackup: one verified backup of a SecureVote's votes. Create one to take a backup now; the operator creates them on spec.backup.schedule, and a new SecureVote restores from one with spec.restore.backup.",
    spec: { ...toStructural(plain(SecureVoteBackupSpecSchema), 'spec'), 'x-kubernetes-validations': [BACKUP_SPEC_RULE] },
    status: toStructural(plain(SecureVoteBackupStatusSchema), 'status'),
    printerColumns: [
      { name: 'SecureVote', type: 'string', jsonPath: '.spec.secureVote', description: 'The instance backed up.' },
      { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Pending, Running, Completed or Failed.' },
      { name: 'Verified', type: 'boolean', jsonPath: '.status.verified', description: 'Restored into a throwaway database and checked.' },
      { name: 'Votes', type: 'integer', jsonPath: '.status.votes', description: 'Votes in the backup.' },
      { name: 'Size', type: 'integer', jsonPath: '.status.size', description: 'The dump in bytes.' },
      { name: 'Completed', type: 'date', jsonPath: '.status.completedAt', description: 'When it was verified and kept, or failed.' },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
    validations: [{ rule: 'has(self.spec)', message: 'spec.secureVote is required: the SecureVote to back up' }],
  });
}

/** The CRDs as the YAML file checked in at crds/securevote.yaml: the SecureVote's, then the SecureVoteBackup's. */
export function secureVoteCrdYaml(): string {
  const docs = [secureVoteCrd(), secureVoteBackupCrd()].map((d) => stringify(d, { lineWidth: 0 }));
  return `# Generated by \`make crds\` (charts/crd.ts) from charts/spec.ts and charts/backup-spec.ts. Do not edit.\n${docs.join('---\n')}`;
}

if (process.argv[1] === import.meta.filename) {
  writeFileSync(CRD_PATH, secureVoteCrdYaml());
  console.log(`wrote ${CRD_PATH}`);
}
