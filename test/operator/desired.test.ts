import { App, Chart } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { SecureVoteStack } from '../../charts/securevote-stack.ts';
import type { KObject } from '../../operator/context.ts';
import {
  componentSpecHash,
  INSTANCE_LABEL,
  MANAGED_BY,
  OWNED_KINDS,
  renderChildren,
} from '../../operator/desired.ts';
import { HASH_ANNOTATION } from '../../operator/diff.ts';
import { ErrorClass, type ReconcileError } from '../../operator/errors.ts';
import { credentialsSecret } from '../../operator/secret.ts';
import { parsed, sv } from './securevote.ts';

const byId = (objs: KObject[]): Map<string, KObject> => new Map(objs.map((o) => [`${o.kind}/${o.metadata.name}`, o]));

describe('renderChildren', () => {
  const children = renderChildren(sv(), parsed({}));

  it('is exactly what `cdk8s synth` renders for the spec, plus ownership, labels and the hash', () => {
    const app = new App();
    const chart = new Chart(app, 'x', { disableResourceNameHashes: true });
    new SecureVoteStack(chart, 'stack', { name: 'demo', namespace: 'ns1', spec: {}, managedBy: MANAGED_BY });
    const synth = chart.toJson() as KObject[];
    expect(children.map((c) => `${c.kind}/${c.metadata.name}`)).toEqual(synth.map((c) => `${c.kind}/${c.metadata.name}`));
    for (const [i, c] of children.entries()) {
      const { ownerReferences, annotations, labels, ...meta } = c.metadata;
      const s = synth[i] as KObject;
      const { labels: _l, annotations: _a, ...synthMeta } = s.metadata;
      // Pod and claim templates are exactly the synth's: a label added there would restart every pod on upgrade.
      expect({ ...c, metadata: meta }).toEqual({ ...s, metadata: synthMeta });
      expect(labels).toEqual({ ...(s.metadata.labels ?? {}), [INSTANCE_LABEL]: 'demo', 'app.kubernetes.io/managed-by': MANAGED_BY });
      expect(annotations?.[HASH_ANNOTATION]).toMatch(/^[0-9a-f]{32}$/);
      expect(ownerReferences).toEqual([
        { apiVersion: 'securevote.dev/v1alpha1', kind: 'SecureVote', name: 'demo', uid: 'uid-1', controller: true, blockOwnerDeletion: true },
      ]);
    }
  });

  it('renders only kinds the operator owns (watched, granted, pruned), and never a Secret', () => {
    const owned = new Set(OWNED_KINDS.map((k) => `${k.apiVersion}/${k.kind}`));
    for (const c of children) expect(owned.has(`${c.apiVersion}/${c.kind}`), `${c.apiVersion}/${c.kind}`).toBe(true);
    expect(children.filter((c) => c.kind === 'Secret')).toEqual([]);
    expect(children.every((c) => c.metadata.namespace === 'ns1')).toBe(true);
  });

  it('a spec change changes the children it should: replicas, resources, options', () => {
    const next = byId(
      renderChildren(
        sv({ backend: { replicas: 3, resources: { limits: { memory: '768Mi' } } }, options: [{ id: 'a', label: 'A' }, { id: 'b', label: 'B' }] }, 2),
        parsed({ backend: { replicas: 3, resources: { limits: { memory: '768Mi' } } }, options: [{ id: 'a', label: 'A' }, { id: 'b', label: 'B' }] }),
      ),
    );
    const before = byId(children);
    const backend = next.get('Deployment/demo-backend') as KObject & { spec: any }; // any: reading nested manifest JSON
    expect(backend.spec.replicas).toBe(3);
    expect(backend.spec.template.spec.containers[0].resources.limits.memory).toBe('768Mi');
    expect(JSON.stringify(backend)).toContain('"id\\":\\"a\\"');
    expect(backend.metadata.annotations?.[HASH_ANNOTATION]).not.toBe(before.get('Deployment/demo-backend')?.metadata.annotations?.[HASH_ANNOTATION]);
    // Untouched components keep their hash: no write for them.
    expect(next.get('Deployment/demo-cache')?.metadata.annotations?.[HASH_ANNOTATION]).toBe(
      before.get('Deployment/demo-cache')?.metadata.annotations?.[HASH_ANNOTATION],
    );
  });

  it('the proxy Service type follows the spec', () => {
    const next = byId(renderChildren(sv({ proxy: { serviceType: 'NodePort' } }), parsed({ proxy: { serviceType: 'NodePort' } })));
    expect((next.get('Service/demo-proxy')?.spec as { type?: string }).type).toBe('NodePort');
  });

  it('a resource with no uid is refused as an internal error, not a crash', () => {
    const bad = sv();
    delete bad.metadata.uid;
    try {
      renderChildren(bad, parsed({}));
      expect.unreachable();
    } catch (err) {
      expect((err as ReconcileError).errorClass).toBe(ErrorClass.Internal);
    }
  });
});

describe('credentials', () => {
  it('four random keys, immutable, owned only when the volume goes with the resource', () => {
    const owner = { apiVersion: 'securevote.dev/v1alpha1', kind: 'SecureVote', name: 'demo', uid: 'u', controller: true, blockOwnerDeletion: true };
    const a = credentialsSecret('ns1', 'demo', { [INSTANCE_LABEL]: 'demo' }, owner);
    const b = credentialsSecret('ns1', 'demo', { [INSTANCE_LABEL]: 'demo' }, undefined);
    expect(a.metadata.name).toBe('demo-credentials');
    expect(a.immutable).toBe(true);
    const data = a.data as Record<string, string>;
    expect(Object.keys(data).sort()).toEqual(['cookie-secret', 'database-password', 'random', 'redis-password']);
    for (const v of Object.values(data)) expect(Buffer.from(v, 'base64').toString().length).toBeGreaterThanOrEqual(40);
    expect(new Set(Object.values(data)).size).toBe(4);
    expect((b.data as Record<string, string>)['database-password']).not.toBe(data['database-password']);
    expect(a.metadata.ownerReferences).toEqual([owner]);
    expect(b.metadata.ownerReferences).toBeUndefined();
  });
});

describe('the spec hash of PostgreSQL and Redis (what tells a user\'s change from an operator upgrade)', () => {
  it('is, for a spec without monitoring, what release 0.2.0 wrote: an upgrade does not restart them', () => {
    // Recorded from release 0.2.0's operator for the default spec.
    expect(componentSpecHash(parsed({}), 'database')).toBe('07142b620a900dc7');
    expect(componentSpecHash(parsed({}), 'cache')).toBe('034fce2bde1401bb');
  });

  it('moves when monitoring is turned on or its exporter image changes: the user asked for the exporter beside them', () => {
    const off = componentSpecHash(parsed({}), 'database');
    const on = componentSpecHash(parsed({ monitoring: { enabled: true } }), 'database');
    expect(on).not.toBe(off);
    expect(componentSpecHash(parsed({ monitoring: { enabled: true, image: 'registry.example/exporters:1' } }), 'database')).not.toBe(on);
    // Who may scrape changes a NetworkPolicy, never a pod.
    expect(componentSpecHash(parsed({ monitoring: { enabled: true, scraperNamespaceLabels: { team: 'obs' } } }), 'database')).toBe(on);
  });
});
