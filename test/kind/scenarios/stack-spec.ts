// The SecureVote the day-two scenarios run: the default sample with smaller
// CPU requests (limits stay the seed's), so that on the 2-core kind node
// three backends, a surge pod and the migration Job fit beside the control
// plane; the seed's own requests already take the node's last millicore.
import { COMPONENTS, RESOURCES } from '../../../charts/rules.ts';

const SCENARIO_CPU_REQUEST = '50m';

/**
 * Nodes in the scenarios' cluster, every one schedulable: the control plane
 * and two workers, so that replicas spread, a drain has somewhere to move
 * them, and the database's node can be drained while two others serve.
 */
export const SCENARIO_NODES = 3;

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
