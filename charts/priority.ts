// The PriorityClass the pods everything else waits on run at. The backend,
// frontend and proxy wait in init containers for the database and the cache
// while holding their CPU requests; on a cluster short of CPU the database
// could then stay Pending for good (no preemption victim at equal priority).
// At a higher priority the scheduler preempts a replica instead, and status
// names the replica left Pending and why. Cluster-scoped: the operator's
// install and dist/ both carry it, since the pods of either name it.
import type { ApiObjectProps } from 'cdk8s';

/** Above the default (0) that the replicas run at; far below the system classes (2,000,000,000). */
export const DATA_PRIORITY = { name: 'securevote-data', value: 1000 } as const;

export function dataPriorityClass(): ApiObjectProps {
  return {
    apiVersion: 'scheduling.k8s.io/v1',
    kind: 'PriorityClass',
    metadata: { name: DATA_PRIORITY.name, labels: { 'app.kubernetes.io/part-of': 'securevote' } },
    value: DATA_PRIORITY.value,
    globalDefault: false,
    preemptionPolicy: 'PreemptLowerPriority',
    description: "SecureVote's PostgreSQL and Redis: scheduled before the replicas that wait on them, preempting one if the cluster is short.",
  };
}
