// `make demo-down`: removes what `make demo` left running: its kind cluster,
// its kubeconfig, and the Docker engine, when make demo started it (the
// engine script stops only a dockerd it started, never someone else's).
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO, demoKubeconfig } from './settings.ts';

const REPO = join(import.meta.dirname, '..');
const engine = join(REPO, 'scripts/docker-engine.sh');
const answers = (): boolean => {
  try {
    execFileSync(engine, ['status'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

if (answers()) {
  const kind = execFileSync(join(REPO, 'scripts/kind-cluster.sh'), ['kind'], { encoding: 'utf8' }).trim();
  execFileSync(join(REPO, 'scripts/kind-cluster.sh'), ['down', DEMO.cluster], { stdio: 'inherit', env: { ...process.env, KIND: kind } });
  console.log(`==> kind cluster ${DEMO.cluster} removed`);
}
rmSync(demoKubeconfig(), { force: true });
// Drops make demo's hold on the engine; stops it if make demo started it and nothing else holds it.
execFileSync(engine, ['down'], { stdio: 'inherit' });
console.log('==> make demo left nothing running');
