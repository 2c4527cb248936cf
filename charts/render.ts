/**
 * The stack as plain Kubernetes objects, in-process: what the operator
 * applies for one SecureVote. Same construct as `cdk8s synth`, no files.
 */
import { App, Chart } from 'cdk8s';
import { SecureVoteStack, type SecureVoteStackProps } from './securevote-stack.ts';

export interface RenderOptions extends Omit<SecureVoteStackProps, 'namespace'> {
  /** Namespace of every object (the SecureVote's). */
  readonly namespace: string;
}

/** Render one SecureVote into its objects (throws, naming the prop, on invalid input). */
export function renderStack(options: RenderOptions): Record<string, unknown>[] {
  const app = new App();
  const chart = new Chart(app, 'securevote', { namespace: options.namespace, disableResourceNameHashes: true });
  new SecureVoteStack(chart, 'stack', { ...options });
  return chart.toJson() as Record<string, unknown>[];
}
