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

/** The CustomResourceDefinition object. */
export function secureVoteCrd(): Json {
  const a = SECUREVOTE_API;
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
          additionalPrinterColumns: [
            { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status', description: 'The Ready condition.' },
            { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Pending, Progressing, Ready or Degraded.' },
            { name: 'URL', type: 'string', jsonPath: '.status.url', description: 'Where the vote page answers.' },
            { name: 'Version', type: 'string', jsonPath: '.status.operatorVersion', description: 'The operator version that last reconciled it.' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description:
                'A SecureVote: the five-service vote app (PostgreSQL, Redis, API, page, nginx) hardened by the phase-3 production rules, reconciled by the SecureVote operator.',
              properties: {
                apiVersion: { type: 'string', description: 'APIVersion of this object: securevote.dev/v1alpha1.' },
                kind: { type: 'string', description: 'Kind of this object: SecureVote.' },
                metadata: { type: 'object' },
                spec: { ...toStructural(plain(SecureVoteSpecSchema), 'spec'), default: {} },
                status: toStructural(plain(SecureVoteStatusSchema), 'status'),
              },
              'x-kubernetes-validations': [
                {
                  rule: `self.metadata.name.size() <= ${INSTANCE_NAME_MAX_LENGTH} && self.metadata.name.matches('${INSTANCE_NAME_PATTERN}')`,
                  message: `metadata.name must be a DNS-1035 label (lowercase letters, digits, dashes, starting with a letter) of at most ${INSTANCE_NAME_MAX_LENGTH} characters: the children's names derive from it`,
                },
              ],
            },
          },
        },
      ],
    },
  };
}

/** The CRD as the YAML file checked in at crds/securevote.yaml. */
export function secureVoteCrdYaml(): string {
  return `# Generated by \`make crds\` (charts/crd.ts) from charts/spec.ts. Do not edit.\n${stringify(secureVoteCrd(), { lineWidth: 0 })}`;
}

if (process.argv[1] === import.meta.filename) {
  writeFileSync(CRD_PATH, secureVoteCrdYaml());
  console.log(`wrote ${CRD_PATH}`);
}
