// The charts' output judged by a real kube-apiserver: the CRD becomes
// Established, everything `cdk8s synth` writes passes a server-side dry-run in
// a namespace that enforces Pod Security `restricted` with zero errors and zero
// warnings, the valid samples are accepted, and invalid SecureVotes are refused
// with a message that names the field.
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { type ControlPlane, startControlPlane } from '../fixtures/controlplane.ts';
import { type KubeObject, type Manifest, readManifests, REPO, synthToScratch } from './synth.ts';

const CRD_FILE = join(REPO, 'crds/securevote.yaml');
const SAMPLES = join(REPO, 'samples');
const NAMESPACE = 'securevote-dryrun';
const GROUP = 'securevote.dev';
const RESTRICTED = {
  'pod-security.kubernetes.io/enforce': 'restricted',
  'pod-security.kubernetes.io/warn': 'restricted',
  'pod-security.kubernetes.io/audit': 'restricted',
};

/** kubectl writes every API warning (deprecations, Pod Security, unknown fields...) to stderr as `Warning: ...`. */
function warnings(stderr: string): string[] {
  return stderr.split('\n').filter((l) => /^Warning:/.test(l));
}

function samplesFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => join(dir, f));
}

describe('the charts on a real API server', () => {
  let cp: ControlPlane;
  let out: string;
  let manifests: Manifest[];
  let version: string;

  beforeAll(async () => {
    // Both at once; whichever succeeded is kept, so afterAll cleans it up even if the other failed.
    const [started, synthesized] = await Promise.allSettled([startControlPlane(), synthToScratch()]);
    if (synthesized.status === 'fulfilled') out = synthesized.value;
    if (started.status === 'fulfilled') cp = started.value;
    for (const r of [started, synthesized]) if (r.status === 'rejected') throw r.reason;
    manifests = readManifests(out);
    await cp.kubectl(['apply', '--server-side', '--field-manager=securevote-test', '-f', CRD_FILE]);
    await cp.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/securevotes.securevote.dev']);
    const crd = parseAllDocuments(readFileSync(CRD_FILE, 'utf8'))[0]?.toJS() as { spec: { versions: { name: string; storage: boolean }[] } };
    version = crd.spec.versions.find((v) => v.storage)?.name ?? 'v1alpha1';
  });
  afterAll(async () => {
    await cp?.stop();
    if (out) rmSync(out, { recursive: true, force: true });
  });

  it('establishes the SecureVote CRD with its names accepted', async () => {
    const { stdout } = await cp.kubectl(['get', 'crd', 'securevotes.securevote.dev', '-o', 'json']);
    const crd = JSON.parse(stdout) as { status: { conditions: { type: string; status: string }[] } };
    const cond = Object.fromEntries(crd.status.conditions.map((c) => [c.type, c.status]));
    expect(cond).toMatchObject({ Established: 'True', NamesAccepted: 'True' });
    expect(cond.NonStructuralSchema).toBeUndefined();
  });

  it('synthesizes at least one manifest', () => {
    expect(manifests.flatMap((m) => m.objects).length).toBeGreaterThan(0);
  });

  it('dry-runs everything `cdk8s synth` writes, in a restricted namespace, with zero errors and zero warnings', async () => {
    const objects = manifests.flatMap((m) => m.objects);
    // A dry-run of what goes into a namespace needs the namespace: the output's own Namespace
    // objects are applied for real (their labels are the chart's), any other namespace it uses
    // is created here, labelled restricted. Then every namespace must enforce restricted.
    const own = objects.filter((o) => o.kind === 'Namespace');
    if (own.length) await cp.kubectl(['apply', '--server-side', '--field-manager=securevote', '-f', '-'], { input: own.map((o) => JSON.stringify(o)).join('\n') });
    const used = new Set([NAMESPACE, ...objects.map((o) => o.metadata?.namespace).filter((n): n is string => !!n)]);
    for (const ns of used) {
      if (own.some((o) => o.metadata?.name === ns)) continue;
      await cp.kubectl(['create', 'namespace', ns]);
      await cp.kubectl(['label', 'namespace', ns, ...Object.entries(RESTRICTED).map(([k, v]) => `${k}=${v}`)]);
    }
    for (const ns of used) {
      const { stdout } = await cp.kubectl(['get', 'namespace', ns, '-o', 'jsonpath={.metadata.labels.pod-security\\.kubernetes\\.io/enforce}']);
      expect(stdout, `namespace ${ns} enforces`).toBe('restricted');
    }
    // CRDs the output defines must exist before objects of their kinds can be dry-run.
    for (const m of manifests) {
      const crds = m.objects.filter((o: KubeObject) => o.kind === 'CustomResourceDefinition');
      if (crds.length) await cp.kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=securevote-test', '-f', '-'], { input: crds.map((c) => JSON.stringify(c)).join('\n') });
    }

    // One object at a time, so each error or warning names its object. Objects without a
    // namespace go to the restricted one (for cluster-scoped kinds -n is ignored).
    const problems: string[] = [];
    for (const m of manifests) {
      for (const o of m.objects) {
        const what = `${m.file}: ${o.kind}/${o.metadata?.name}`;
        const res = await cp.kubectl(['apply', '--server-side', '--dry-run=server', '--field-manager=securevote',
          ...(o.metadata?.namespace ? [] : ['-n', NAMESPACE]), '-f', '-'], { input: JSON.stringify(o), check: false });
        if (res.code !== 0) problems.push(`${what}: exit ${res.code}: ${res.stderr.trim()}`);
        for (const w of warnings(res.stderr)) problems.push(`${what}: ${w}`);
      }
    }
    expect(problems).toEqual([]);

    // The same check sees what it must: a root container draws a Pod Security warning.
    const control = await cp.kubectl(['create', 'deployment', 'control', '--image=busybox', '--dry-run=server', '-n', NAMESPACE], { check: false });
    expect(warnings(control.stderr).join('\n')).toContain('would violate PodSecurity "restricted:latest"');
  });

  it('accepts every valid sample (zero warnings)', async () => {
    const files = samplesFiles(SAMPLES).filter((f) => !/invalid/.test(relative(SAMPLES, f)));
    expect(files.length).toBeGreaterThan(0);
    await cp.kubectl(['create', 'namespace', 'samples']);
    const problems: string[] = [];
    for (const f of files) {
      const res = await cp.kubectl(['create', '--dry-run=server', '--validate=strict', '-n', 'samples', '-f', f], { check: false });
      if (res.code !== 0 || warnings(res.stderr).length) problems.push(`${relative(REPO, f)}: ${res.stderr.trim()}`);
    }
    expect(problems).toEqual([]);
  });

  // Each invalid sample says what the API server must answer (`# expect: ...`) and, for a
  // transition rule, which valid sample it updates (`# update-of: ...`, created first for real).
  const invalidSamples = samplesFiles(join(SAMPLES, 'invalid'));
  it.each(invalidSamples.map((f) => ({ file: relative(REPO, f), path: f })))('refuses the invalid sample $file with its expected message', async ({ path }) => {
    const text = readFileSync(path, 'utf8');
    const expected = /^# expect: (.+)$/m.exec(text)?.[1]?.trim();
    const updateOf = /^# update-of: (.+)$/m.exec(text)?.[1]?.trim();
    expect(expected, 'the sample names its expected error in a `# expect:` line').toBeTruthy();
    const ns = `invalid-${invalidSamples.indexOf(path)}`;
    await cp.kubectl(['create', 'namespace', ns]);
    if (updateOf) await cp.kubectl(['create', '-n', ns, '-f', join(REPO, updateOf)]);
    const res = await cp.kubectl([updateOf ? 'apply' : 'create', '--dry-run=server', '--validate=strict', '-n', ns, '-f', path], { check: false });
    expect(res.code, `accepted: ${res.stdout}`).not.toBe(0);
    expect(res.stderr).toContain(expected);
  });

  // Each case: a spec the API server must refuse, and the field its message must name.
  const INVALID: readonly { what: string; spec: Record<string, unknown>; field: string }[] = [
    { what: 'no options', spec: { options: [] }, field: 'spec.options' },
    { what: 'more than 20 options', spec: { options: Array.from({ length: 21 }, (_, i) => ({ id: `o${i}`, label: `O${i}` })) }, field: 'spec.options' },
    { what: 'duplicate option ids', spec: { options: [{ id: 'a', label: 'A' }, { id: 'a', label: 'B' }] }, field: 'spec.options' },
    { what: 'an option id with capitals', spec: { options: [{ id: 'Cats', label: 'Cats' }] }, field: 'spec.options[0].id' },
    { what: 'an option label with a leading space', spec: { options: [{ id: 'cats', label: ' Cats' }] }, field: 'spec.options[0].label' },
    { what: 'an option without a label', spec: { options: [{ id: 'cats' }] }, field: 'spec.options[0].label' },
    { what: 'an unknown log level', spec: { logLevel: 'verbose' }, field: 'spec.logLevel' },
    { what: 'an existingSecret that is not a DNS name', spec: { existingSecret: 'My_Secret' }, field: 'spec.existingSecret' },
    { what: 'two database replicas', spec: { database: { replicas: 2 } }, field: 'spec.database.replicas' },
    { what: 'zero backend replicas', spec: { backend: { replicas: 0 } }, field: 'spec.backend.replicas' },
    { what: 'eleven frontend replicas', spec: { frontend: { replicas: 11 } }, field: 'spec.frontend.replicas' },
    { what: 'a replica count that is a string', spec: { backend: { replicas: 'two' } }, field: 'spec.backend.replicas' },
    { what: 'a memory limit that is not a quantity', spec: { cache: { resources: { limits: { memory: '1GB' } } } }, field: 'spec.cache.resources.limits.memory' },
    { what: 'a cpu limit below its request', spec: { backend: { resources: { requests: { cpu: '500m' }, limits: { cpu: '100m' } } } }, field: 'spec.backend.resources.limits.cpu' },
    { what: 'a memory limit below its request', spec: { database: { resources: { requests: { memory: '1Gi' }, limits: { memory: '512Mi' } } } }, field: 'spec.database.resources.limits.memory' },
    { what: 'an unknown proxy service type', spec: { proxy: { serviceType: 'External' } }, field: 'spec.proxy.serviceType' },
    { what: 'an unknown field (strict field validation)', spec: { colour: 'blue' }, field: 'spec.colour' },
  ];

  it.each(INVALID)('refuses $what, naming $field', async ({ spec, field }) => {
    const api = cp.kubeConfig.makeApiClient(CustomObjectsApi);
    await cp.kubectl(['create', 'namespace', 'invalid'], { check: false });
    const err = await api.createNamespacedCustomObject({
      group: GROUP, version, namespace: 'invalid', plural: 'securevotes',
      body: { apiVersion: `${GROUP}/${version}`, kind: 'SecureVote', metadata: { name: 'bad' }, spec },
      dryRun: 'All', fieldValidation: 'Strict',
    }).then(() => undefined, (e: unknown) => e as { code?: number; body?: unknown });
    expect(err, 'the API server accepted it').toBeDefined();
    expect([422, 400]).toContain(err?.code);
    const body = typeof err?.body === 'string' ? JSON.parse(err.body) as { message?: string } : err?.body as { message?: string };
    expect(body.message).toContain(field);
  });
});
