// SecureVoteStack's props: every validation throws naming the prop, and a
// spec override changes exactly what it should and nothing else.
import { App, Chart } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { SecureVoteStack, type SecureVoteStackProps } from '../../charts/securevote-stack.ts';
import { COMPONENTS } from '../../charts/rules.ts';
import { migrationHash } from '../../charts/migration.ts';
import { DEFAULT_IMAGES, SPEC_RULES, type SecureVoteSpecInput } from '../../charts/spec.ts';
import { NAME, render, type K8s } from './helpers.ts';

function build(props: SecureVoteStackProps): void {
  new SecureVoteStack(new Chart(new App(), 'test'), 'stack', props);
}

const key = (o: K8s) => `${o['kind']}/${o['metadata'].name}`;

/** Leaf paths that differ; arrays of named items are matched by name (`containers[backend]`). */
function diff(a: unknown, b: unknown, path: string, out: string[]): void {
  if (JSON.stringify(a) === JSON.stringify(b)) return;
  const named = (x: unknown) => Array.isArray(x) && x.length > 0 && x.every((i) => i !== null && typeof i === 'object' && typeof i.name === 'string');
  if (named(a) && named(b)) {
    const byName = (x: K8s[]) => new Map(x.map((i) => [i['name'] as string, i]));
    const ma = byName(a as K8s[]);
    const mb = byName(b as K8s[]);
    for (const n of new Set([...ma.keys(), ...mb.keys()])) diff(ma.get(n), mb.get(n), `${path}[${n}]`, out);
    return;
  }
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) diff((a as K8s)[k], (b as K8s)[k], `${path}.${k}`, out);
    return;
  }
  out.push(path);
}

function changes(spec: SecureVoteSpecInput): string[] {
  const before = new Map(render().map((o) => [key(o), o]));
  const after = new Map(render(spec).map((o) => [key(o), o]));
  const out: string[] = [];
  for (const k of new Set([...before.keys(), ...after.keys()])) {
    const a = before.get(k);
    const b = after.get(k);
    if (a === undefined) out.push(`+${k}`);
    else if (b === undefined) out.push(`-${k}`);
    else diff(a, b, k, out);
  }
  return out.map((p) => p.replace(/^(-|\+)Job\/securevote-migrate-[0-9a-f]{8}$/, '$1Job/migrate')).sort();
}

const D = `Deployment/${NAME}`;
const POD = 'spec.template.spec';

describe('a spec override changes exactly what it should', () => {
  it.each<[string, SecureVoteSpecInput, string[]]>([
    ['frontend.replicas', { frontend: { replicas: 3 } }, [`${D}-frontend.spec.replicas`, `+PodDisruptionBudget/${NAME}-frontend`]],
    ['proxy.serviceType', { proxy: { serviceType: 'NodePort' } }, [`Service/${NAME}-proxy.spec.type`]],
    ['options', { options: [{ id: 'tea', label: 'Tea' }] }, [`${D}-backend.${POD}.containers[backend].env[VOTE_OPTIONS].value`]],
    [
      'cache memory limit',
      { cache: { resources: { limits: { memory: '512Mi' } } } },
      [
        `ConfigMap/${NAME}-cache-config.data.redis.conf`,
        `${D}-cache.${POD}.containers[redis].resources.limits.memory`,
        `${D}-cache.spec.template.metadata.annotations.securevote.dev/config-sha256`,
      ],
    ],
    [
      'backend.replicas',
      { backend: { replicas: 2 } },
      // Scaling the backend touches the backend only: PostgreSQL's connection
      // budget is sized for MAX_REPLICAS, so its config and pod never change.
      [`+PodDisruptionBudget/${NAME}-backend`, `${D}-backend.spec.replicas`],
    ],
    [
      'database.storage.retainOnDelete',
      { database: { storage: { retainOnDelete: false } } },
      [`StatefulSet/${NAME}-database.spec.persistentVolumeClaimRetentionPolicy.whenDeleted`],
    ],
    [
      'logLevel (the Job keeps its name: only the backend image can change the schema)',
      { logLevel: 'debug' },
      [
        `${D}-backend.${POD}.containers[backend].env[LOG_LEVEL].value`,
        `${D}-frontend.${POD}.containers[frontend].env[LOG_LEVEL].value`,
        `Job/${NAME}-migrate-${migrationHash(DEFAULT_IMAGES.backend)}.${POD}.containers[migrate].env[LOG_LEVEL].value`,
      ],
    ],
    [
      'backend.resources (neither the Job nor its resources move)',
      { backend: { resources: { limits: { memory: '1Gi' } } } },
      [
        `${D}-backend.${POD}.containers[backend].env[NODE_OPTIONS].value`,
        `${D}-backend.${POD}.containers[backend].resources.limits.memory`,
      ],
    ],
    [
      'backend.image',
      { backend: { image: 'registry.example/backend:1.2.3' } },
      [
        '+Job/migrate',
        '-Job/migrate',
        `${D}-backend.spec.template.metadata.labels.app.kubernetes.io/version`,
        `${D}-backend.${POD}.containers[backend].image`,
        `${D}-backend.${POD}.initContainers[wait-for-cache].image`,
        `${D}-backend.${POD}.initContainers[wait-for-database].image`,
      ],
    ],
    [
      'existingSecret',
      { existingSecret: 'vault-synced' },
      [
        `${D}-backend.${POD}.volumes[secrets].secret.secretName`,
        `Job/${NAME}-migrate-${migrationHash(DEFAULT_IMAGES.backend)}.${POD}.volumes[secrets].secret.secretName`,
        `${D}-cache.${POD}.volumes[secrets].secret.secretName`,
        `StatefulSet/${NAME}-database.${POD}.volumes[secrets].secret.secretName`,
      ],
    ],
  ])('%s', (_name, spec, expected) => {
    expect(changes(spec)).toEqual([...expected].sort());
  });

  it('a defaulted spec renders the same as the empty one (defaults are applied once)', () => {
    const defaulted = new SecureVoteStack(new Chart(new App(), 'x'), 'stack', { name: NAME }).spec;
    expect(changes(defaulted)).toEqual([]);
  });
});

describe('validation throws, naming the prop', () => {
  it.each(['Bad_Name', '1vote', 'vote-', '', 'a'.repeat(31)])('name %j', (name) => {
    expect(() => build({ name })).toThrow(`SecureVoteStackProps.name must be a DNS-1035 label`);
    expect(() => build({ name })).toThrow(JSON.stringify(name));
  });

  it('accepts a 30-character name', () => {
    expect(() => build({ name: 'a'.repeat(30) })).not.toThrow();
  });

  it('namespace', () => {
    expect(() => build({ name: 'ok', namespace: 'Not OK' })).toThrow('SecureVoteStackProps.namespace must be a DNS-1123 label, got "Not OK"');
  });

  it('managedBy and version must be label values', () => {
    expect(() => build({ name: 'ok', managedBy: '' })).toThrow('SecureVoteStackProps.managedBy must be a non-empty label value');
    expect(() => build({ name: 'ok', version: 'v 1' })).toThrow('SecureVoteStackProps.version must be a non-empty label value, got "v 1"');
  });

  it.each(COMPONENTS)('spec: %s limits below requests (cpu and memory)', (c) => {
    for (const k of ['cpu', 'memory'] as const) {
      const rule = SPEC_RULES.find((r) => r.path === `spec.${c}.resources` && r.message.includes(`limits.${k}`))!;
      const spec = { [c]: { resources: { requests: { [k]: '2' }, limits: { [k]: '1' } } } } as SecureVoteSpecInput;
      expect(() => build({ name: 'ok', spec })).toThrow(`SecureVoteStackProps.spec is invalid: ${rule.message}`);
    }
  });

  it.each<[string, unknown, string]>([
    ['database replicas', { database: { replicas: 2 } }, 'spec.database.replicas must be 1'],
    ['duplicate option ids', { options: [{ id: 'a', label: 'A' }, { id: 'a', label: 'B' }] }, 'spec.options: every id must be unique'],
    ['duplicate option labels', { options: [{ id: 'a', label: 'A' }, { id: 'b', label: 'A' }] }, 'spec.options: every label must be unique'],
    ['no options', { options: [] }, 'spec.options: expected array length to be greater or equal to 1'],
    ['replicas', { proxy: { replicas: 0 } }, 'spec.proxy.replicas: expected integer to be greater or equal to 1'],
    ['quantity', { backend: { resources: { limits: { memory: 'lots' } } } }, 'spec.backend.resources.limits.memory: must be a quantity'],
    ['service type', { proxy: { serviceType: 'ExternalName' } }, 'spec.proxy.serviceType'],
    ['secret name', { existingSecret: 'Bad_Name' }, 'spec.existingSecret'],
  ])('spec: %s', (_what, spec, message) => {
    expect(() => build({ name: 'ok', spec: spec as SecureVoteSpecInput })).toThrow(`SecureVoteStackProps.spec is invalid: `);
    expect(() => build({ name: 'ok', spec: spec as SecureVoteSpecInput })).toThrow(message);
  });
});
