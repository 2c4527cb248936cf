// The SecureVote the day-two scenarios run: the default sample with smaller
// CPU requests (limits stay the seed's), so that on the 2-core kind node
// three backends, a surge pod and the migration Job fit beside the control
// plane; the seed's own requests already take the node's last millicore.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { COMPONENTS, RESOURCES } from '../../../charts/rules.ts';

const SCENARIO_CPU_REQUEST = '50m';

export const SCENARIO_SECUREVOTE = {
  apiVersion: 'securevote.dev/v1alpha1',
  kind: 'SecureVote',
  metadata: { name: 'securevote' },
  spec: Object.fromEntries(
    COMPONENTS.map((c) => [c, { resources: { requests: { cpu: SCENARIO_CPU_REQUEST, memory: RESOURCES[c].requests.memory } } }]),
  ),
};

/** Appended to an app image's name: the same content under a new tag, to roll to. */
export const NEXT_SUFFIX = '-next';
/** Appended to the backend image's name: an image whose schema migration exits 1. */
export const BROKEN_MIGRATION_SUFFIX = '-broken-migration';

/** The components with several pods in the HA sample. */
export const REPLICATED = ['backend', 'frontend', 'proxy'] as const;

/** A spec patch giving each replicated component the HA sample's replicas (samples/securevote-ha.yaml). */
export function haReplicas(): Record<(typeof REPLICATED)[number], { replicas: number }> {
  const ha = parse(readFileSync(new URL('../../../samples/securevote-ha.yaml', import.meta.url), 'utf8')) as { spec: Record<string, { replicas?: number }> };
  return Object.fromEntries(REPLICATED.map((c) => [c, { replicas: ha.spec[c]?.replicas ?? 1 }])) as Record<(typeof REPLICATED)[number], { replicas: number }>;
}

/** A spec patch giving the replicas back to the scenarios' SecureVote (its defaults). */
export const DEFAULT_REPLICAS = Object.fromEntries(REPLICATED.map((c) => [c, { replicas: null }]));
