// The `cdk8s synth` entry: run exactly as `make synth` does (offline, no
// error printed), a reviewed snapshot of the default output, the proxy
// config from the app's one template, and the kind cluster config's log
// rotation.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { renderNginxConf } from '../../app/proxy/render.ts';
import { KIND_CONFIG_PATH } from '../../charts/kind.ts';
import { LOG_ROTATION, PORTS } from '../../charts/rules.ts';
import { find, NAME, render } from './helpers.ts';

const scratch = mkdtempSync(join(tmpdir(), 'securevote-synth-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('cdk8s synth (make synth)', () => {
  it('writes the namespace and the stack, exits 0 and prints no error, with no network', async () => {
    const out = join(scratch, 'dist');
    // An unroutable proxy: any attempt to reach the network fails instead of hanging.
    const envNoNet = { ...process.env, HTTPS_PROXY: 'http://127.0.0.1:9', HTTP_PROXY: 'http://127.0.0.1:9', NO_PROXY: '' };
    const { stderr } = await promisify(execFile)('node_modules/.bin/cdk8s', ['synth', '--no-check-upgrade', '--output', out], { env: envNoNet });
    expect(stderr).toBe('');
    expect(readdirSync(out).sort()).toEqual(['0000-00-namespace.k8s.yaml', '0001-10-securevote.k8s.yaml', 'kind']);
    const text = readdirSync(out)
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => `# ${f}\n${readFileSync(join(out, f), 'utf8')}`)
      .join('---\n');
    await expect(text).toMatchFileSnapshot('__snapshots__/dist.k8s.yaml');
    for (const d of parseAllDocuments(text)) expect(d.errors).toEqual([]);
  });

  it("the kind cluster's kubelet rotates logs as the seed's json-file driver did", () => {
    const cluster = parse(readFileSync(join(scratch, 'dist', KIND_CONFIG_PATH), 'utf8'));
    expect(cluster).toMatchObject({ kind: 'Cluster', apiVersion: 'kind.x-k8s.io/v1alpha4' });
    const patches = cluster.nodes.flatMap((n: { kubeadmConfigPatches?: string[] }) => n.kubeadmConfigPatches ?? []).map((p: string) => parse(p));
    expect(patches).toContainEqual({
      kind: 'KubeletConfiguration',
      containerLogMaxSize: LOG_ROTATION.containerLogMaxSize,
      containerLogMaxFiles: LOG_ROTATION.containerLogMaxFiles,
    });
  });
});

describe('the proxy config', () => {
  it("is app/proxy's one template, rendered for the instance's Services", () => {
    const conf = find(render(), 'ConfigMap', `${NAME}-proxy-config`)['data']['nginx.conf'];
    expect(conf).toBe(
      renderNginxConf({
        listenPort: PORTS.proxy,
        frontend: { host: `${NAME}-frontend`, port: PORTS.frontend },
        backend: { host: `${NAME}-backend`, port: PORTS.backend },
        pidPath: '/tmp/nginx/nginx.pid',
        tempDir: '/tmp/nginx',
      }),
    );
  });
});
