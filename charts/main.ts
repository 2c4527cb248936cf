/**
 * The `cdk8s synth` entry (cdk8s.yaml): a namespace enforcing Pod Security
 * `restricted`, and the SecureVote stack with the default spec, into dist/.
 * Also writes the kind cluster config (dist/kind/cluster.yaml).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ApiObject, App, Chart, type ChartProps } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import type { Construct } from 'constructs';
import { KIND_CONFIG_PATH, kindClusterYaml } from './kind.ts';
import { dataPriorityClass } from './priority.ts';
import { SecureVoteStack, type SecureVoteStackProps } from './securevote-stack.ts';

export const DEFAULT_NAMESPACE = 'securevote';
export const DEFAULT_INSTANCE = 'securevote';

/**
 * The namespace, labelled so the API server enforces Pod Security `restricted`
 * on every pod, and the PriorityClass the stack's database and cache pods name.
 */
export class RestrictedNamespaceChart extends Chart {
  constructor(scope: Construct, id: string, name: string) {
    super(scope, id, { disableResourceNameHashes: true });
    new ApiObject(this, 'data-priority', dataPriorityClass());
    const level = 'restricted';
    new kplus.Namespace(this, 'namespace', {
      metadata: {
        name,
        labels: {
          'pod-security.kubernetes.io/enforce': level,
          'pod-security.kubernetes.io/enforce-version': 'latest',
          'pod-security.kubernetes.io/audit': level,
          'pod-security.kubernetes.io/warn': level,
          'app.kubernetes.io/part-of': 'securevote',
        },
      },
    });
  }
}

export interface SecureVoteChartProps extends ChartProps {
  readonly stack: SecureVoteStackProps;
}

/** The stack as a chart of its own, in the chart's namespace. */
export class SecureVoteChart extends Chart {
  readonly stack: SecureVoteStack;
  constructor(scope: Construct, id: string, props: SecureVoteChartProps) {
    super(scope, id, { ...props, disableResourceNameHashes: true });
    this.stack = new SecureVoteStack(this, 'stack', props.stack);
  }
}

/**
 * Build the app `cdk8s synth` writes: the namespace first, then the stack.
 * @param outdir @default cdk8s's own choice: $CDK8S_OUTDIR (`cdk8s synth --output`) or dist
 */
export function buildApp(outdir?: string): App {
  const app = new App(outdir !== undefined ? { outdir } : {});
  const ns = new RestrictedNamespaceChart(app, '00-namespace', DEFAULT_NAMESPACE);
  const chart = new SecureVoteChart(app, '10-securevote', { namespace: DEFAULT_NAMESPACE, stack: { name: DEFAULT_INSTANCE } });
  chart.addDependency(ns);
  return app;
}

if (process.argv[1] === import.meta.filename) {
  const app = buildApp();
  app.synth();
  const kind = join(app.outdir, KIND_CONFIG_PATH);
  mkdirSync(dirname(kind), { recursive: true });
  writeFileSync(kind, kindClusterYaml());
}
