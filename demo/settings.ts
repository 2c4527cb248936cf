// Where `make demo` puts things, one place for main.ts, status.ts, down.ts
// and the tests: the cluster's name, the host port of the vote page, the
// namespace, the state directory.
import { join } from 'node:path';
import { defaultImage, defaultImages } from '../charts/images.ts';
import { PROJECT_VERSION } from '../charts/spec.ts';

const REPO = join(import.meta.dirname, '..');
const work = join(process.env.SECUREVOTE_WORK ?? join(REPO, '.work'), 'demo');

export const DEMO = {
  /** The kind cluster make demo creates (not make kind-up's: this one maps the page's port). */
  cluster: process.env.DEMO_CLUSTER ?? 'securevote-demo',
  /** The vote page on http://127.0.0.1:<port>/. */
  port: Number(process.env.DEMO_PORT ?? 8080),
  namespace: process.env.DEMO_NAMESPACE ?? 'securevote-demo',
  /** Nodes of a new cluster (NODES=3: the control plane and two workers, all schedulable). */
  nodes: Number(process.env.NODES ?? 1),
  /** The SecureVote applied (named securevote): the sample, or your own. */
  sample: process.env.DEMO_SAMPLE ?? join(REPO, 'samples/securevote.yaml'),
  work,
  /** `none`: don't use a container engine even where one could run (the kwok fallback). */
  engine: process.env.DEMO_ENGINE ?? 'docker',
} as const;

/** The demo cluster's kubeconfig, written by make demo. */
export function demoKubeconfig(): string {
  return join(DEMO.work, `kind-${DEMO.cluster}.kubeconfig`);
}

/** Every image the stack and the operator run: each component at its own tag, the exporters, the operator at the project's version. */
export function kindImages(): string[] {
  return [...Object.values(defaultImages()), defaultImage('exporters'), `securevote/operator:${PROJECT_VERSION}`];
}
