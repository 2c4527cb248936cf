// Hardening, pod by pod: Pod Security `restricted` fields on every pod and
// container, no service account token, no secret value anywhere in the
// synthesized output (and none on a command line).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { buildApp } from '../../charts/main.ts';
import { RUN_AS, SECRET_KEYS, SECRETS_DIR, type Component } from '../../charts/rules.ts';
import { allContainers, env, mainContainer, NAME, podOf, podTemplates, render, type K8s } from './helpers.ts';

const objects = render();
const RESTRICTED_VOLUMES = ['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret'];

let dist: string;
let distText: string;
beforeAll(() => {
  dist = mkdtempSync(join(tmpdir(), 'securevote-dist-'));
  buildApp(dist).synth();
  distText = readdirSync(dist)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => readFileSync(join(dist, f), 'utf8'))
    .join('\n---\n');
});
afterAll(() => rmSync(dist, { recursive: true, force: true }));

describe('Pod Security restricted, every pod', () => {
  it.each(podTemplates(objects).map((p) => [p.workload, p] as const))('%s: pod-level fields', (_w, pod) => {
    const uid = pod.workload === 'migration' ? RUN_AS.backend : RUN_AS[pod.workload as Component];
    expect(pod.spec['securityContext']).toMatchObject({ runAsNonRoot: true, runAsUser: uid, runAsGroup: uid, fsGroup: uid });
    expect(uid).toBeGreaterThan(0);
    expect(pod.spec['automountServiceAccountToken']).toBe(false);
    expect(pod.spec['enableServiceLinks']).toBe(false);
    expect(pod.spec['hostNetwork'] ?? false).toBe(false);
    expect(pod.spec['hostPID'] ?? false).toBe(false);
    expect(pod.spec['hostIPC'] ?? false).toBe(false);
    for (const v of (pod.spec['volumes'] ?? []) as K8s[]) {
      const type = Object.keys(v).find((k) => k !== 'name');
      expect(RESTRICTED_VOLUMES).toContain(type);
    }
  });

  it.each(podTemplates(objects).map((p) => [p.workload, p] as const))('%s: every container, init containers too', (_w, pod) => {
    for (const c of allContainers(pod)) {
      expect(c['securityContext'], c['name']).toEqual({
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
        privileged: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        runAsUser: pod.spec['securityContext'].runAsUser,
        runAsGroup: pod.spec['securityContext'].runAsGroup,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(c['imagePullPolicy']).toBe('IfNotPresent');
      for (const p of (c['ports'] ?? []) as K8s[]) expect(p['hostPort']).toBeUndefined();
    }
  });

  it('every writable path of a read-only root is an emptyDir with a size limit (or the database volume)', () => {
    for (const pod of podTemplates(objects)) {
      const volumes = new Map(((pod.spec['volumes'] ?? []) as K8s[]).map((v) => [v['name'], v]));
      for (const c of allContainers(pod)) {
        for (const m of (c['volumeMounts'] ?? []) as K8s[]) {
          if (m['readOnly']) continue;
          if (pod.workload === 'database' && m['name'] === 'data') continue; // the claim template
          expect(volumes.get(m['name'])?.['emptyDir']?.sizeLimit, `${pod.workload}:${m['mountPath']}`).toBeDefined();
        }
      }
    }
  });

  it("the synthesized namespace enforces, audits and warns on Pod Security 'restricted'", () => {
    const ns = parseAllDocuments(distText).map((d) => d.toJS() as K8s).find((o) => o['kind'] === 'Namespace')!;
    expect(ns['metadata'].labels).toMatchObject({
      'pod-security.kubernetes.io/enforce': 'restricted',
      'pod-security.kubernetes.io/audit': 'restricted',
      'pod-security.kubernetes.io/warn': 'restricted',
    });
  });
});

describe('secrets', () => {
  it('dist/ has no Secret object, no data or stringData block', () => {
    const docs = parseAllDocuments(distText).map((d) => d.toJS() as K8s);
    expect(docs.filter((o) => o['kind'] === 'Secret')).toEqual([]);
    expect(distText).not.toMatch(/^\s*(stringData|data):\s*\n\s+(database-password|redis-password|cookie-secret):/m);
    expect(distText).not.toMatch(/requirepass|POSTGRES_PASSWORD:|PGPASSWORD:|REDIS_PASSWORD:|COOKIE_SECRET:/);
    expect(distText).not.toMatch(/redis-cli[^\n]* -a /);
  });

  it('every credential variable is a *_FILE path under the secrets mount; no plain one, no secretKeyRef', () => {
    for (const pod of podTemplates(objects)) {
      for (const c of allContainers(pod)) {
        for (const e of (c['env'] ?? []) as K8s[]) {
          expect(e['valueFrom'], `${c['name']}:${e['name']}`).toBeUndefined();
          if (/PASSWORD|SECRET|AUTH/.test(e['name'])) {
            expect(e['name']).toMatch(/_FILE$/);
            expect(e['value'].startsWith(`${SECRETS_DIR}/`)).toBe(true);
          }
        }
      }
    }
  });

  it('the Secret is referenced by name (<name>-credentials by default, spec.existingSecret when set), each pod only its keys', () => {
    const keysOf = (objs: K8s[], w: Parameters<typeof podOf>[1]) =>
      ((podOf(objs, w).spec['volumes'] ?? []) as K8s[]).filter((v) => v['secret']).map((v) => [v['secret'].secretName, v['secret'].items.map((i: K8s) => i['key']).sort()]);
    expect(keysOf(objects, 'database')).toEqual([[`${NAME}-credentials`, [SECRET_KEYS.databasePassword]]]);
    expect(keysOf(objects, 'cache')).toEqual([[`${NAME}-credentials`, [SECRET_KEYS.redisPassword]]]);
    expect(keysOf(objects, 'migration')).toEqual([[`${NAME}-credentials`, [SECRET_KEYS.databasePassword]]]);
    expect(keysOf(objects, 'backend')).toEqual([[`${NAME}-credentials`, Object.values(SECRET_KEYS).sort()]]);
    expect(keysOf(objects, 'frontend')).toEqual([]);
    expect(keysOf(objects, 'proxy')).toEqual([]);
    const custom = render({ existingSecret: 'vault-synced' });
    expect(keysOf(custom, 'backend')).toEqual([['vault-synced', Object.values(SECRET_KEYS).sort()]]);
  });

  it('secret files are readable by the pod group only (0440)', () => {
    for (const pod of podTemplates(objects)) {
      for (const v of (pod.spec['volumes'] ?? []) as K8s[]) if (v['secret']) expect(v['secret'].defaultMode).toBe(0o440);
    }
  });

  it('Redis gets its password through an ACL file of its SHA-256, built in the shell from the file', () => {
    const cache = mainContainer(objects, 'cache');
    const script = (cache['command'] as string[]).join(' ');
    expect(script).toContain('pw=$(cat "$REDIS_PASSWORD_FILE")');
    expect(script).toContain('sha256sum');
    expect(script).toContain('exec redis-server /etc/securevote/redis.conf');
    expect(env(cache)['REDIS_PASSWORD_FILE']).toBe(`${SECRETS_DIR}/${SECRET_KEYS.redisPassword}`);
  });
});
