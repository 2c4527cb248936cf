// One kind cluster of three schedulable nodes for the multi-node scenarios
// (vitest globalSetup): this release's operator, the scenarios' SecureVote
// (../scenarios/stack-spec.ts) Ready, the proxy reached on 127.0.0.1 through
// a NodePort that kind maps on the control plane's node. The files run one
// after another, each leaving the stack Ready. Where kind can't run, they
// skip with the reason and the command.
import type { TestProject } from 'vitest/node';
import { kindReadiness, startKind, type KindStack } from '../../fixtures/containers-kind.ts';
import { SCENARIO_SECUREVOTE } from '../scenarios/stack-spec.ts';

/** The control plane and two workers: replicas spread, a drain has somewhere to move them, the database's node can go. */
export const NODES = 3;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const { pre, engine } = await kindReadiness();
  let stack: KindStack | undefined;
  if (!pre.ok) {
    project.provide('scenarioCluster', { ok: false, line: `multi-node kind tests skipped: ${pre.reason}; to run them: ${pre.command}` });
  } else {
    stack = await startKind(pre, undefined, { suffix: 'nodes', secureVote: SCENARIO_SECUREVOTE, entry: 'node-port', nodes: NODES });
    project.provide('scenarioCluster', {
      ok: true, kubectl: pre.kubectl, kubeconfig: stack.kubeconfig, namespace: stack.namespace, url: stack.url, name: stack.name,
    });
  }
  return async () => {
    await stack?.stop();
    await engine?.release();
  };
}
