// parseSpec as the operator uses it: defaults, pruning, errors naming the
// field, the CEL rules' TypeScript twins, the transition rules, and the
// quantity arithmetic behind them.
import { describe, expect, it } from 'vitest';
import { isQuantity, mebibytes, quantityValue } from '../../charts/quantity.ts';
import { RESOURCES } from '../../charts/rules.ts';
import { DEFAULT_IMAGES, defaultSpec, IMAGE_TAG, parseSpec, transitionErrors, type SecureVoteSpec } from '../../charts/spec.ts';
import { IMAGE_TABLE } from '../../charts/images.ts';
import pkg from '../../package.json' with { type: 'json' };

function ok(input: unknown): SecureVoteSpec {
  const r = parseSpec(input);
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.spec;
}

function errors(input: unknown): string[] {
  const r = parseSpec(input);
  return r.ok ? [] : r.errors;
}

describe('parseSpec', () => {
  it('defaults an empty spec to the seed stack, each image at its own tag from the image table', () => {
    const s = ok({});
    expect(s.backend.resources).toEqual(RESOURCES.backend);
    expect(s.database).toMatchObject({ replicas: 1, storage: { size: '1Gi', retainOnDelete: true } });
    expect(s.proxy.serviceType).toBe('ClusterIP');
    expect(IMAGE_TAG).toBe(pkg.version);
    expect(s.backend.image).toBe(`securevote/backend:${IMAGE_TABLE.images.backend.tag}`);
    expect(DEFAULT_IMAGES.database).toBe(`securevote/postgres:${IMAGE_TABLE.images.postgres.tag}`);
    expect(s.existingSecret).toBeUndefined();
    expect(ok(undefined)).toEqual(s);
    expect(ok(null)).toEqual(s);
  });

  it('fills only what is missing, and is idempotent', () => {
    const s = ok({ backend: { resources: { limits: { memory: '1Gi' } } } });
    expect(s.backend.resources).toEqual({ requests: RESOURCES.backend.requests, limits: { cpu: RESOURCES.backend.limits.cpu, memory: '1Gi' } });
    expect(ok(s)).toEqual(s);
    expect(ok(defaultSpec())).toEqual(defaultSpec());
  });

  it('prunes unknown fields, as the API server does', () => {
    expect(ok({ surprise: 1, backend: { replicas: 2, extra: true } })).toEqual(ok({ backend: { replicas: 2 } }));
  });

  it('does not modify its input', () => {
    const input = { backend: { replicas: 2 } };
    ok(input);
    expect(input).toEqual({ backend: { replicas: 2 } });
  });

  it('leaves autoscaling off unless asked, and defaults its CPU target and scale-down wait (the autoscaler\'s own 5 minutes) when it is on', () => {
    expect(ok({}).backend.autoscaling).toBeUndefined();
    expect(ok({ backend: { autoscaling: { minReplicas: 2, maxReplicas: 6 } } }).backend.autoscaling).toEqual({
      minReplicas: 2, maxReplicas: 6, targetCPUUtilizationPercentage: 70, scaleDownStabilizationSeconds: 300,
    });
  });

  it('accepts integer quantities (cpu: 1)', () => {
    expect(ok({ backend: { resources: { limits: { cpu: 2 } } } }).backend.resources.limits.cpu).toBe(2);
  });

  it.each<[unknown, string]>([
    ['a string', 'spec: must be an object'],
    [[], 'spec: must be an object'],
    [{ backend: { replicas: 'two' } }, 'spec.backend.replicas: expected integer'],
    [{ frontend: { replicas: 11 } }, 'spec.frontend.replicas: expected integer to be less or equal to 10'],
    [{ options: [{ id: 'Bad Id', label: 'x' }] }, 'spec.options[0].id: expected string to match'],
    [{ options: [{ id: 'a', label: ' padded ' }] }, 'spec.options[0].label: expected string to match'],
    [{ cache: { resources: { requests: { cpu: '1 core' } } } }, 'spec.cache.resources.requests.cpu: must be a quantity'],
    [{ logLevel: 'loud' }, 'spec.logLevel'],
    [{ database: { storage: { retainOnDelete: 'yes' } } }, 'spec.database.storage.retainOnDelete: expected boolean'],
    [{ database: { replicas: 3 } }, 'spec.database.replicas must be 1'],
    [{ cache: { resources: { limits: { memory: '64Mi' } } } }, 'spec.cache.resources.limits.memory must not be below spec.cache.resources.requests.memory'],
    [{ backend: { autoscaling: { minReplicas: 4, maxReplicas: 2 } } }, 'spec.backend.autoscaling.minReplicas must not be above spec.backend.autoscaling.maxReplicas'],
    [{ frontend: { autoscaling: { minReplicas: 1 } } }, 'spec.frontend.autoscaling.maxReplicas: expected required property'],
    [{ backend: { autoscaling: { minReplicas: 1, maxReplicas: 11 } } }, 'spec.backend.autoscaling.maxReplicas: expected integer to be less or equal to 10'],
    [{ backend: { autoscaling: { minReplicas: 1, maxReplicas: 3, targetCPUUtilizationPercentage: 5 } } }, 'spec.backend.autoscaling.targetCPUUtilizationPercentage: expected integer to be greater or equal to 10'],
  ])('%j → %s', (input, message) => {
    expect(errors(input).join('\n')).toContain(message);
  });

  it('compares quantities by value across units (1Gi ≥ 1000Mi, 0.5 ≥ 500m)', () => {
    expect(errors({ backend: { resources: { requests: { memory: '1000Mi', cpu: '500m' }, limits: { memory: '1Gi', cpu: '0.5' } } } })).toEqual([]);
    expect(errors({ backend: { resources: { requests: { memory: '1025Mi' }, limits: { memory: '1Gi' } } } })).toEqual([
      'spec.backend.resources.limits.memory must not be below spec.backend.resources.requests.memory',
    ]);
  });
});

describe('transitionErrors (immutable fields)', () => {
  const base = ok({ database: { storage: { storageClassName: 'standard', size: '5Gi' } } });
  it.each<[string, unknown, string[]]>([
    ['no change', { database: { storage: { storageClassName: 'standard', size: '5Gi' } } }, []],
    ['other fields change', { backend: { replicas: 3 }, database: { storage: { storageClassName: 'standard', size: '5Gi', retainOnDelete: false } } }, []],
    ['class changed', { database: { storage: { storageClassName: 'fast', size: '5Gi' } } }, ['spec.database.storage.storageClassName is immutable']],
    ['class removed', { database: { storage: { size: '5Gi' } } }, ['spec.database.storage.storageClassName is immutable']],
    ['size changed', { database: { storage: { storageClassName: 'standard', size: '10Gi' } } }, ['spec.database.storage.size is immutable (a StatefulSet volume claim template cannot change)']],
  ])('%s', (_what, next, expected) => {
    expect(transitionErrors(base, ok(next))).toEqual(expected);
  });
});

describe('quantities', () => {
  it.each<[string | number, number]>([
    ['250m', 0.25],
    ['1', 1],
    [2, 2],
    ['0.5', 0.5],
    ['512Mi', 512 * 2 ** 20],
    ['1Gi', 2 ** 30],
    ['500M', 5e8],
    ['1e3', 1000],
    ['128k', 128e3],
  ])('%j = %d', (q, v) => {
    expect(quantityValue(q)).toBeCloseTo(v, 6);
  });

  it('rejects what is not a quantity', () => {
    for (const q of ['', 'lots', '1 Gi', 'Mi', '1GB', '--1']) {
      expect(isQuantity(q)).toBe(false);
      expect(() => quantityValue(q)).toThrow('not a quantity');
    }
  });

  it('mebibytes rounds down', () => {
    expect(mebibytes('512Mi')).toBe(512);
    expect(mebibytes('512M')).toBe(488);
  });
});
