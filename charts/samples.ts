/**
 * The pipeline path: a SecureVote resource synthesized through the typed
 * construct that `cdk8s import` generated from the CRD (imports/), so a
 * pipeline can template SecureVotes with type checking. It builds the same
 * resource as samples/securevote-ha.yaml (test/charts/samples.test.ts
 * compares them). Runs under tsx/vitest only: the generated code is not
 * erasable TypeScript.
 */
import { App, Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import {
  SecureVote,
  SecureVoteSpecBackendResourcesLimitsMemory,
  SecureVoteSpecBackendResourcesRequestsMemory,
  SecureVoteSpecProxyServiceType,
} from '../imports/securevote.dev.ts';

export class HaSampleChart extends Chart {
  readonly resource: SecureVote;
  constructor(scope: Construct, id: string) {
    super(scope, id, { disableResourceNameHashes: true });
    this.resource = new SecureVote(this, 'vote-ha', {
      metadata: { name: 'vote-ha' },
      spec: {
        options: [
          { id: 'python', label: 'Python' },
          { id: 'typescript', label: 'TypeScript' },
          { id: 'go', label: 'Go' },
        ],
        backend: {
          replicas: 3,
          resources: {
            requests: { memory: SecureVoteSpecBackendResourcesRequestsMemory.fromString('384Mi') },
            limits: { memory: SecureVoteSpecBackendResourcesLimitsMemory.fromString('768Mi') },
          },
        },
        frontend: { replicas: 2 },
        proxy: { replicas: 2, serviceType: SecureVoteSpecProxyServiceType.LOAD_BALANCER },
      },
    });
  }
}

/** The SecureVote objects of the sample chart. */
export function haSample(): Record<string, unknown>[] {
  const app = new App();
  return new HaSampleChart(app, 'samples').toJson() as Record<string, unknown>[];
}
