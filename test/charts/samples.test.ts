// samples/: every valid SecureVote parses and renders; every invalid one is
// refused by the TypeScript twin of the API server's checks with the message
// its `# expect:` line names (the control-plane tests send the same files to
// a real API server). The pipeline path (charts/samples.ts, through the
// construct `cdk8s import` generated) builds samples/securevote-ha.yaml.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Chart } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { haSample } from '../../charts/samples.ts';
import { SecureVoteStack } from '../../charts/securevote-stack.ts';
import { parseSpec, SECUREVOTE_API, transitionErrors, type SecureVoteSpec } from '../../charts/spec.ts';
import { quantityValue } from '../../charts/quantity.ts';

const VALID = readdirSync('samples').filter((f) => f.endsWith('.yaml'));
const INVALID = readdirSync('samples/invalid').filter((f) => f.endsWith('.yaml'));

function load(path: string) {
  const text = readFileSync(path, 'utf8');
  return { text, doc: parse(text) as { apiVersion: string; kind: string; metadata: { name: string }; spec?: unknown } };
}

function stack(doc: { metadata: { name: string }; spec?: unknown }) {
  return new SecureVoteStack(new Chart(new App(), 'sample'), 'stack', { name: doc.metadata.name, spec: doc.spec as SecureVoteSpec });
}

describe('valid samples', () => {
  it('include the default one', () => {
    expect(VALID).toContain('securevote.yaml');
    expect(load('samples/securevote.yaml').doc.spec).toEqual({});
  });

  it.each(VALID)('%s parses and renders', (f) => {
    const { doc } = load(join('samples', f));
    expect(doc.apiVersion).toBe(SECUREVOTE_API.apiVersion);
    expect(doc.kind).toBe(SECUREVOTE_API.kind);
    expect(parseSpec(doc.spec)).toMatchObject({ ok: true });
    expect(stack(doc).node.findAll().length).toBeGreaterThan(10);
  });
});

describe('invalid samples', () => {
  it('there are several, each saying what it breaks', () => {
    expect(INVALID.length).toBeGreaterThanOrEqual(8);
  });

  it.each(INVALID)('%s is refused with its expected message', (f) => {
    const { text, doc } = load(join('samples/invalid', f));
    expect(text).toMatch(/^# Invalid/m);
    const expected = /^# expect: (.*)$/m.exec(text)?.[1];
    expect(expected).toBeDefined();
    const updateOf = /^# update-of: (.*)$/m.exec(text)?.[1];
    let messages: string[];
    if (updateOf !== undefined) {
      const before = parseSpec(load(updateOf).doc.spec);
      const after = parseSpec(doc.spec);
      if (!before.ok || !after.ok) throw new Error('update samples must be valid on their own');
      messages = transitionErrors(before.spec, after.spec);
    } else if (expected!.startsWith('metadata.name')) {
      messages = [];
      try {
        stack(doc);
      } catch (err) {
        messages.push((err as Error).message.replace('SecureVoteStackProps.name', 'metadata.name'));
      }
    } else {
      const r = parseSpec(doc.spec);
      messages = r.ok ? [] : r.errors;
    }
    expect(messages.join('\n')).toContain(expected);
  });
});

describe('what the HA sample says it needs', () => {
  it('the CPU its header names is what its pods request (a pod: its containers, or its largest init container)', () => {
    const { text, doc } = load('samples/securevote-ha.yaml');
    const said = /request (\d+(?:\.\d+)?) CPU in all/.exec(text)?.[1];
    expect(said).toBeDefined();
    const r = parseSpec(doc.spec);
    if (!r.ok) throw new Error(r.errors.join('; '));
    type C = { resources?: { requests?: { cpu?: string | number } } };
    const cpu = (c: C): number => quantityValue(c.resources?.requests?.cpu ?? 0);
    const chart = new Chart(new App(), 'sample');
    new SecureVoteStack(chart, 'stack', { name: doc.metadata.name, spec: r.spec });
    let total = 0;
    for (const o of chart.toJson()) {
      if (o.kind !== 'Deployment' && o.kind !== 'StatefulSet') continue;
      const pod = o.spec.template.spec as { containers: C[]; initContainers?: C[] };
      const perPod = Math.max(pod.containers.reduce((a, c) => a + cpu(c), 0), ...(pod.initContainers ?? []).map(cpu));
      total += perPod * (o.spec.replicas ?? 1);
    }
    expect(total).toBeCloseTo(Number(said), 6);
  });
});

describe('the pipeline path (cdk8s import)', () => {
  it('charts/samples.ts synthesizes samples/securevote-ha.yaml through the imported construct', () => {
    const { doc } = load('samples/securevote-ha.yaml');
    expect(haSample()).toEqual([doc]);
  });
});
