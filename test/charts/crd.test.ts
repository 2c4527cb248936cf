// The CRD is generated from charts/spec.ts: the checked-in file and the
// imported construct must match a fresh generation, and the schema's
// defaults must be the TypeScript defaults.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { CRD_PATH, secureVoteBackupCrd, secureVoteCrd, secureVoteCrdYaml } from '../../charts/crd.ts';
import { IMPORTED_FILE, importCrd } from '../../charts/import-crd.ts';
import { defaultSpec, SECUREVOTE_API, SPEC_RULES } from '../../charts/spec.ts';

type Schema = Record<string, any>; // a JSON schema node: any, as in the CRD itself

/** Kubernetes' structural defaulting: a parent's default first, then its children's. */
function applyDefaults(schema: Schema, value: unknown): unknown {
  let v = value === undefined && schema['default'] !== undefined ? structuredClone(schema['default']) : value;
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && schema['properties']) {
    const obj = v as Record<string, unknown>;
    for (const [k, s] of Object.entries(schema['properties'] as Record<string, Schema>)) {
      const d = applyDefaults(s, obj[k]);
      if (d !== undefined) obj[k] = d;
    }
  }
  if (Array.isArray(v) && schema['items']) v = v.map((i) => applyDefaults(schema['items'], i));
  return v;
}

function walk(schema: Schema, path: string, visit: (s: Schema, path: string) => void): void {
  visit(schema, path);
  for (const [k, s] of Object.entries((schema['properties'] ?? {}) as Record<string, Schema>)) walk(s, `${path}.${k}`, visit);
  if (schema['items']) walk(schema['items'], `${path}[]`, visit);
  if (typeof schema['additionalProperties'] === 'object') walk(schema['additionalProperties'], `${path}{}`, visit);
}

const checkedIn = readFileSync(CRD_PATH, 'utf8');
const [crd, backupCrd] = parseAllDocuments(checkedIn).map((d) => d.toJS()) as [Schema, Schema];
const version = crd.spec.versions[0];
const root: Schema = version.schema.openAPIV3Schema;

const scratch = mkdtempSync(join(tmpdir(), 'securevote-crd-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('crds/securevote.yaml', () => {
  it('is what `make crds` generates from charts/spec.ts (no drift)', () => {
    expect(checkedIn).toBe(secureVoteCrdYaml());
  });

  it('names the resource: securevote.dev/v1alpha1 SecureVote, short name sv, namespaced, status subresource', () => {
    expect(crd.metadata.name).toBe('securevotes.securevote.dev');
    expect(crd.spec.group).toBe(SECUREVOTE_API.group);
    expect(crd.spec.scope).toBe('Namespaced');
    expect(crd.spec.names).toMatchObject({ kind: 'SecureVote', plural: 'securevotes', shortNames: ['sv'] });
    expect(crd.spec.versions).toHaveLength(1);
    expect(version).toMatchObject({ name: 'v1alpha1', served: true, storage: true, subresources: { status: {} } });
    expect(version.additionalPrinterColumns.map((c: Schema) => c['name'])).toEqual(['Ready', 'Phase', 'URL', 'Version', 'Age']);
  });

  it('also names SecureVoteBackup: short name svb, namespaced, status subresource, phase, verified, votes, size and time in kubectl get', () => {
    expect(backupCrd).toEqual(secureVoteBackupCrd());
    expect(backupCrd.metadata.name).toBe('securevotebackups.securevote.dev');
    expect(backupCrd.spec.names).toMatchObject({ kind: 'SecureVoteBackup', plural: 'securevotebackups', shortNames: ['svb'] });
    const v = backupCrd.spec.versions[0];
    expect(v).toMatchObject({ name: 'v1alpha1', served: true, storage: true, subresources: { status: {} } });
    expect(v.additionalPrinterColumns.map((c: Schema) => c['name'])).toEqual(['SecureVote', 'Phase', 'Verified', 'Votes', 'Size', 'Completed', 'Age']);
    expect(v.schema.openAPIV3Schema.properties.spec.required).toEqual(['secureVote']);
  });

  it('gives the same defaults as the TypeScript definition', () => {
    const fromSchema = applyDefaults(root['properties'].spec, undefined);
    // Images have no schema default (the running operator's release fills them in).
    const withoutImages = JSON.parse(JSON.stringify(defaultSpec())) as Record<string, Record<string, unknown>>;
    for (const c of Object.values(withoutImages)) if (c !== null && typeof c === 'object' && !Array.isArray(c)) delete c['image'];
    expect(fromSchema).toEqual(withoutImages);
  });

  it('describes every field, so `kubectl explain securevote.spec` reads as documentation', () => {
    const missing: string[] = [];
    for (const part of ['spec', 'status']) {
      walk(root['properties'][part], part, (s, p) => {
        if (typeof s['description'] !== 'string' || s['description'].length < 3) missing.push(p);
      });
    }
    expect(missing).toEqual([]);
  });

  it('is structural: additionalProperties only as the value schema of a map, no $id, $schema or const; int-or-string exactly as Kubernetes wants it', () => {
    const bad: string[] = [];
    walk(root, '$', (s, p) => {
      for (const k of ['$id', '$schema', 'const', 'oneOf']) if (k in s) bad.push(`${p}: ${k}`);
      // A map (string keys) is `additionalProperties: <schema>` with no `properties` beside it; `false` is not structural.
      if ('additionalProperties' in s && (typeof s['additionalProperties'] !== 'object' || 'properties' in s || s['maxProperties'] === undefined)) {
        bad.push(`${p}: additionalProperties`);
      }
      if (s['x-kubernetes-int-or-string']) {
        expect(s['anyOf']).toEqual([{ type: 'integer' }, { type: 'string' }]);
        expect(s['type']).toBeUndefined();
      } else if (s['anyOf']) bad.push(`${p}: anyOf`);
      else if (p !== '$.metadata' && s['type'] === undefined) bad.push(`${p}: no type`);
    });
    expect(bad).toEqual([]);
  });

  it('bounds every string and list that a CEL rule reads (the API server checks rule cost)', () => {
    const unbounded: string[] = [];
    walk(root['properties'].spec, 'spec', (s, p) => {
      if (s['type'] === 'string' && s['enum'] === undefined && s['maxLength'] === undefined) unbounded.push(p);
      if (s['type'] === 'array' && s['maxItems'] === undefined) unbounded.push(p);
    });
    expect(unbounded).toEqual([]);
  });

  it('carries every CEL rule of the spec, each message naming its field', () => {
    const rules: { rule: string; message: string }[] = [];
    walk(root, '$', (s) => rules.push(...((s['x-kubernetes-validations'] ?? []) as { rule: string; message: string }[])));
    for (const r of SPEC_RULES) {
      expect(rules).toContainEqual({ rule: r.rule, message: r.message });
      expect(r.message.startsWith(r.path.split('.').slice(0, 2).join('.'))).toBe(true);
    }
    expect(rules.length).toBe(SPEC_RULES.length + 1); // + metadata.name at the root
    expect(secureVoteCrd()).toEqual(crd);
  });
});

describe('imports/ (cdk8s import of the CRD, offline)', () => {
  it('is what `make crds` generates (no drift)', () => {
    const fresh = importCrd(scratch);
    expect(readFileSync(fresh, 'utf8')).toBe(readFileSync(join('imports', IMPORTED_FILE), 'utf8'));
  });
});
