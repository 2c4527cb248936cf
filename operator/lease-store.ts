// The three calls on one coordination.k8s.io/v1 Lease that leader election
// makes (RBAC: get, create, update in the Lease's namespace). The Lease is
// the one object written with a PUT: its resourceVersion is the
// compare-and-swap that lets two racing candidates not both win. These
// requests don't pass the write fence (they are what keeps it open) and go
// through their own client: their own connections and a short deadline, so
// a renewal never waits behind the reconcile's requests.
import { HttpMethod } from '@kubernetes/client-node';
import { isNotFound } from './errors.ts';
import type { RawKubeApi } from './kube.ts';

export interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace: string; resourceVersion?: string; [k: string]: unknown };
  spec?: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number;
    acquireTime?: string | null;
    renewTime?: string | null;
    leaseTransitions?: number;
  };
}

/** The three calls on one Lease. */
export interface LeaseStore {
  get(): Promise<Lease | undefined>;
  create(lease: Lease): Promise<Lease>;
  replace(lease: Lease): Promise<Lease>;
}

/** The Lease `namespace/name` on the API server, through `raw` (give it no fence and a short timeout). */
export function kubeLeaseStore(raw: RawKubeApi, namespace: string, name: string): LeaseStore {
  const ref = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', namespace, name };
  return {
    get: async () => {
      try {
        return (await raw.send(HttpMethod.GET, await raw.pathOf(ref, 'read'))) as Lease;
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    create: async (l) => (await raw.send(HttpMethod.POST, await raw.pathOf(ref, 'create'), { body: l })) as Lease,
    replace: async (l) => (await raw.send(HttpMethod.PUT, await raw.pathOf(ref, 'replace'), { body: l })) as Lease,
  };
}
