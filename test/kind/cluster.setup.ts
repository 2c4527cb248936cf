// One kind cluster of three schedulable nodes for every day-two scenario
// file (vitest globalSetup), the single-node ones (scenarios/) and the
// multi-node ones (nodes/: spread, drains, autoscaling, chaos) alike: the
// PREVIOUS release's operator installed (scripts/previous-release.sh builds
// it from its commit), its SecureVote Ready, this release's images loaded
// beside its own, the proxy reached on 127.0.0.1 through a NodePort that
// kind maps (so the proxy itself can roll under load), and a Prometheus with
// its operator (monitoring-stack.ts), idle until the monitoring scenario
// turns the SecureVote's monitoring on. The upgrade scenario runs first and
// installs this release's operator; the other files run after it, one after
// another, each leaving the stack Ready.
// Where kind can't run, the files skip with the reason and the command.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';
import { KIND_IMAGES, kindReadiness, startKind, type KindStack, type OperatorRelease } from '../fixtures/containers-kind.ts';
import { REPO } from '../fixtures/docker-engine.ts';
import { installMonitoring, monitoringImages, type MonitoringImages } from './monitoring-stack.ts';
import { BROKEN_MIGRATION_SUFFIX, NEXT_SUFFIX, SCENARIO_SECUREVOTE } from './scenarios/stack-spec.ts';

const run = promisify(execFile);

/**
 * With the upgrade scenario (the default; SECUREVOTE_UPGRADE_SCENARIO=no
 * skips it): the cluster starts on the previous release, which it then upgrades.
 */
export const UPGRADE = process.env.SECUREVOTE_UPGRADE_SCENARIO !== 'no';

/** The control plane and two workers: replicas spread, a drain has somewhere to move them, the database's node can go. */
export const NODES = 3;

/** What the previous release ran: every image scripts/previous-release.sh builds. */
const PREVIOUS_RELEASE_IMAGES = ['postgres', 'redis', 'backend', 'frontend', 'proxy', 'operator'];

/**
 * The images the scenarios roll to, loaded into the nodes with the stack's:
 * each app image under a second name (same content: what a user's new tag
 * looks like to the cluster) and a backend whose schema migration fails;
 * with them the monitoring stack's images.
 */
async function scenarioImages(): Promise<{ images: string[]; monitoring: MonitoringImages }> {
  const images: string[] = [];
  for (const img of KIND_IMAGES.filter((i) => /\/(backend|frontend|proxy):/.test(i))) {
    await run('docker', ['tag', img, `${img}${NEXT_SUFFIX}`]);
    images.push(`${img}${NEXT_SUFFIX}`);
  }
  const backend = KIND_IMAGES.find((i) => i.includes('/backend:'));
  const dir = mkdtempSync(join(tmpdir(), 'securevote-broken-'));
  try {
    writeFileSync(join(dir, 'migrate.ts'), "console.error('migration failed: this image is broken on purpose'); process.exit(1);\n");
    writeFileSync(join(dir, 'Dockerfile'), `FROM ${backend}\nCOPY migrate.ts /srv/securevote/app/backend/migrate.ts\n`);
    await run('docker', ['build', '-q', '-t', `${backend}${BROKEN_MIGRATION_SUFFIX}`, dir], { timeout: 120_000 });
    images.push(`${backend}${BROKEN_MIGRATION_SUFFIX}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // The monitoring stack's images (built here when missing), for installMonitoring.
  const monitoring = await monitoringImages();
  images.push(monitoring.prometheus, monitoring.operator, monitoring.reloader);
  return { images, monitoring };
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** The shared cluster, or why there is none. */
    scenarioCluster:
      | { ok: true; kubectl: string; kubeconfig: string; namespace: string; url: string; name: string }
      | { ok: false; line: string };
  }
}

/** The previous release's images (built from its commit when missing) and install manifests. */
async function previousRelease(): Promise<OperatorRelease> {
  const script = join(REPO, 'scripts/previous-release.sh');
  const version = (await run(script, ['version'])).stdout.trim();
  await run(script, ['images'], { timeout: 1_200_000, maxBuffer: 16 * 1024 * 1024 });
  const manifests = mkdtempSync(join(tmpdir(), 'securevote-previous-'));
  await run(script, ['manifests', manifests], { timeout: 120_000 });
  return { manifests, images: PREVIOUS_RELEASE_IMAGES.map((n) => `securevote/${n}:${version}`) };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const { pre, engine } = await kindReadiness();
  let stack: KindStack | undefined;
  let manifests: string | undefined;
  if (!pre.ok) {
    project.provide('scenarioCluster', { ok: false, line: `kind scenario tests skipped: ${pre.reason}; to run them: ${pre.command}` });
  } else {
    // The upgrade scenario starts on the previous release. It and the scenarios' images are made ready while the nodes start.
    const previous = UPGRADE ? previousRelease() : undefined;
    const extra = scenarioImages();
    stack = await startKind(pre, undefined, {
      suffix: 'scenarios', secureVote: SCENARIO_SECUREVOTE, entry: 'node-port', nodes: NODES,
      ...(previous ? { operator: previous } : {}), images: extra.then((e) => e.images),
    });
    manifests = (await previous)?.manifests;
    try {
      const { monitoring } = await extra;
      const kubeconfig = stack.kubeconfig;
      await installMonitoring(async (args, opts = {}) => {
        const p = run(pre.kubectl, ['--kubeconfig', kubeconfig, ...args], { timeout: opts.timeoutMs ?? 120_000, maxBuffer: 16 * 1024 * 1024 });
        if (opts.input !== undefined) p.child.stdin?.end(opts.input);
        return (await p).stdout.trim();
      }, monitoring);
    } catch (err) {
      await stack.stop();
      await engine?.release();
      throw err;
    }
    project.provide('scenarioCluster', {
      ok: true, kubectl: pre.kubectl, kubeconfig: stack.kubeconfig, namespace: stack.namespace, url: stack.url, name: stack.name,
    });
  }
  return async () => {
    await stack?.stop();
    if (manifests) rmSync(manifests, { recursive: true, force: true });
    await engine?.release();
  };
}
