import { describe, expect, it } from 'vitest';
import type { KObject } from '../../operator/context.ts';
import { HASH_ANNOTATION, canonicalJson, covers, desiredHash, parseQuantity, upToDate, withHash } from '../../operator/diff.ts';

const deployment = (): KObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'sv-backend', namespace: 'ns', labels: { a: '1' } },
  spec: {
    replicas: 2,
    template: {
      spec: {
        containers: [{ name: 'backend', image: 'b:1', resources: { limits: { cpu: '0.5', memory: '512Mi' } }, args: [] }],
        securityContext: {},
      },
    },
  },
});

/** What the API server returns for it: defaults added, quantities normalized, empty lists dropped. */
const live = (d: KObject): KObject => {
  const l = structuredClone(d) as KObject & { spec: any }; // any: test fixture poking into nested JSON
  l.metadata = { ...l.metadata, uid: 'u1', resourceVersion: '7', generation: 1, managedFields: [] };
  l.spec.strategy = { type: 'RollingUpdate' };
  const c = l.spec.template.spec.containers[0];
  c.resources.limits.cpu = '500m';
  c.terminationMessagePath = '/dev/termination-log';
  delete c.args;
  l.status = { replicas: 2 };
  return l;
};

describe('quantities', () => {
  it('parses the forms the server rewrites', () => {
    expect(parseQuantity('0.5')).toBe(0.5);
    expect(parseQuantity('500m')).toBe(0.5);
    expect(parseQuantity('512Mi')).toBe(512 * 2 ** 20);
    expect(parseQuantity('1Gi')).toBe(2 ** 30);
    expect(parseQuantity('1e3')).toBe(1000);
    expect(parseQuantity('1k')).toBe(1000);
    expect(parseQuantity('abc')).toBeUndefined();
    expect(parseQuantity('b:1')).toBeUndefined();
  });
});

describe('covers', () => {
  it('accepts server defaults and normalized quantities', () => {
    const d = deployment();
    expect(covers(live(d), d)).toBe(true);
  });
  it('sees a changed value, a changed list length and a missing field', () => {
    const d = deployment();
    const l = live(d) as KObject & { spec: any }; // any: nested fixture edits
    l.spec.replicas = 1;
    expect(covers(l, d)).toBe(false);
    const l2 = live(d) as KObject & { spec: any }; // any: nested fixture edits
    l2.spec.template.spec.containers.push({ name: 'x' });
    expect(covers(l2, d)).toBe(false);
    const l3 = live(d) as KObject & { spec: any }; // any: nested fixture edits
    delete l3.spec.template.spec.containers[0].resources;
    expect(covers(l3, d)).toBe(false);
    const l4 = live(d) as KObject & { spec: any }; // any: nested fixture edits
    l4.spec.template.spec.containers[0].resources.limits.memory = '256Mi';
    expect(covers(l4, d)).toBe(false);
  });
  it("zero values match the server's omission of them, not another value", () => {
    expect(covers({ spec: {} }, { spec: { minReadySeconds: 0, hostNetwork: false, x: '' } })).toBe(true);
    expect(covers({ spec: { minReadySeconds: 5 } }, { spec: { minReadySeconds: 0 } })).toBe(false);
    expect(covers({ spec: { hostNetwork: true } }, { spec: { hostNetwork: false } })).toBe(false);
  });
  it('does not confuse strings that are not quantities', () => {
    expect(covers('b:1', 'b:2')).toBe(false);
    expect(covers(5000, '5000')).toBe(false);
  });
});

describe('upToDate', () => {
  it('needs the hash of the same desired state', () => {
    const d = withHash(deployment());
    expect(upToDate(live(d), d)).toBe(true);
    expect(upToDate(undefined, d)).toBe(false);
    const other = withHash({ ...deployment(), metadata: { ...deployment().metadata, labels: {} } });
    // The new desired state dropped a label: every remaining value is still
    // there, only the hash tells.
    const { annotations: _a, ...metaOther } = other.metadata;
    expect(covers(live(d), { ...other, metadata: metaOther })).toBe(true);
    expect(upToDate(live(d), other)).toBe(false);
  });
  it('a hand edit of one of our fields is drift', () => {
    const d = withHash(deployment());
    const l = live(d) as KObject & { spec: any }; // any: nested fixture edits
    l.spec.template.spec.containers[0].image = 'evil:1';
    expect(upToDate(l, d)).toBe(false);
  });
  it('an object being deleted is not up to date', () => {
    const d = withHash(deployment());
    const l = live(d);
    l.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
    expect(upToDate(l, d)).toBe(false);
  });
  it('the hash ignores key order and its own annotation', () => {
    const a = deployment();
    const b = JSON.parse(canonicalJson(a)) as KObject;
    expect(desiredHash(a)).toBe(desiredHash(b));
    expect(desiredHash(withHash(a))).toBe(desiredHash(a));
    expect(withHash(a).metadata.annotations?.[HASH_ANNOTATION]).toBe(desiredHash(a));
  });
});
