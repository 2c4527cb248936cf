// kube-score (built from its Go module by `make controlplane`) over what
// `cdk8s synth` writes and over the operator's install manifests: no finding.
// Excluded findings, each with its reason, are in
// test/controlplane/kube-score.yaml; the runner is kube-score.ts, the same
// one `make lint-manifests` uses.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Yaml } from 'cdk8s';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OperatorInstall } from '../../charts/operator-install.ts';
import { exclusions, kubeScore } from './kube-score.ts';
import { synthToScratch } from './synth.ts';

describe('kube-score over the synthesized manifests', () => {
  let out: string;
  let install: string;
  beforeAll(async () => {
    out = await synthToScratch();
    // The install manifests as `make operator-manifests` writes them (the CRD included).
    install = mkdtempSync(join(tmpdir(), 'securevote-install-'));
    writeFileSync(join(install, 'securevote-operator.yaml'), Yaml.stringify(...new OperatorInstall(new App(), 'install').toJson()));
  });
  afterAll(() => {
    if (out) rmSync(out, { recursive: true, force: true });
    if (install) rmSync(install, { recursive: true, force: true });
  });

  it('reports no finding on dist/ and the operator install; every exclusion still matches something', async () => {
    const { findings, excluded } = await kubeScore([out, install]);
    expect(findings).toEqual([]);
    // A stale exclusion (its finding fixed) would hide the next one unseen.
    for (const e of exclusions()) {
      const hits = excluded.filter((f) => f.check === e.check && (!e.objects || e.objects.includes(f.object)));
      expect(hits.length, `${e.check} ${e.objects?.join(',') ?? '(all)'}`).toBeGreaterThan(0);
      for (const o of e.objects ?? []) expect(hits.map((h) => h.object), `${e.check} on ${o}`).toContain(o);
    }
  });

  it('still flags what the checks are for, and a scoped exclusion spares only the objects it names', async () => {
    const bad = mkdtempSync(join(tmpdir(), 'securevote-lint-'));
    try {
      writeFileSync(join(bad, 'bad.yaml'), `apiVersion: apps/v1
kind: Deployment
metadata: { name: bad, namespace: x }
spec:
  replicas: 2
  selector: { matchLabels: { a: b } }
  template:
    metadata: { labels: { a: b } }
    spec:
      securityContext: { runAsUser: 999, runAsGroup: 999 }
      containers:
        - name: c
          image: x:latest
          resources: { requests: { cpu: 10m, memory: 16Mi }, limits: { cpu: 10m, memory: 16Mi } }
`);
      const { findings } = await kubeScore([bad]);
      const checks = findings.map((f) => f.check);
      expect(checks).toEqual(expect.arrayContaining([
        'container-image-tag',
        'container-ephemeral-storage-request-and-limit',
        'container-security-context-user-group-id',
        'container-security-context-readonlyrootfilesystem',
        'pod-networkpolicy',
      ]));
      // Excluded for every object, with its reason: not reported.
      expect(checks).not.toContain('container-image-pull-policy');
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
  });
});
