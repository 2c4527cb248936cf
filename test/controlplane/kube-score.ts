// kube-score over manifests, with the exclusions of kube-score.yaml (each
// with its reason): the one runner for `make lint-manifests` and the lint
// test, so both judge the same way.
//
//   tsx test/controlplane/kube-score.ts FILE|DIR...   # prints the findings; exit 1 if any
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { binaryPath } from '../fixtures/controlplane.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
export const CONFIG = join(HERE, 'kube-score.yaml');

export interface Exclusion {
  readonly check: string;
  /** `Kind/name`; every object when absent. */
  readonly objects?: readonly string[];
  readonly reason: string;
}

export function exclusions(path = CONFIG): Exclusion[] {
  const doc = parse(readFileSync(path, 'utf8')) as { exclude?: Exclusion[] };
  const list = doc.exclude ?? [];
  for (const e of list) {
    if (!e.check || !e.reason?.trim()) throw new Error(`${path}: every exclusion needs a check and its reason (${JSON.stringify(e)})`);
  }
  return list;
}

/** The Kubernetes minor the manifests target: the control plane's pinned release (test/controlplane/go.mod). */
export function kubernetesMinor(): string {
  const m = /k8s\.io\/kubernetes v(\d+)\.(\d+)\./.exec(readFileSync(join(HERE, 'go.mod'), 'utf8'));
  if (!m) throw new Error('test/controlplane/go.mod requires no k8s.io/kubernetes version');
  return `v${m[1]}.${m[2]}`;
}

/** Manifest files: YAML files as given, and those directly inside a directory. */
function manifestFiles(paths: readonly string[]): string[] {
  return paths.flatMap((p) =>
    statSync(p).isDirectory()
      ? readdirSync(p).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => join(p, f))
      : [p],
  );
}

interface ScoredObject {
  readonly type_meta: { readonly kind: string };
  readonly object_meta: { readonly name: string };
  readonly checks: ReadonlyArray<{
    readonly check: { readonly id: string };
    readonly grade: number;
    readonly skipped: boolean;
    readonly comments: ReadonlyArray<{ readonly path?: string; readonly summary: string }> | null;
  }>;
}

export interface Finding {
  /** `Kind/name`. */
  readonly object: string;
  readonly check: string;
  readonly message: string;
}

/** 10 is kube-score's "all OK"; anything lower is a finding (1 critical, 5 warning, 7 almost OK). */
const ALL_OK = 10;

/** Every finding of kube-score over `paths`, and which of them kube-score.yaml excludes. */
export async function kubeScore(paths: readonly string[], config = CONFIG): Promise<{ findings: Finding[]; excluded: Finding[] }> {
  const files = manifestFiles(paths);
  if (files.length === 0) throw new Error(`no manifest in ${paths.join(', ')}`);
  const args = ['score', '--output-format', 'json', '--kubernetes-version', kubernetesMinor(), ...files];
  // kube-score exits 1 when it finds something; the JSON report is on stdout either way.
  const stdout = await promisify(execFile)(binaryPath('kube-score'), args, { maxBuffer: 64 << 20 }).then(
    (r) => r.stdout,
    (e: { stdout?: string; stderr?: string; message: string }) => {
      if (!e.stdout) throw new Error(`kube-score failed: ${e.stderr || e.message}`);
      return e.stdout;
    },
  );
  const rules = exclusions(config);
  const findings: Finding[] = [];
  const excluded: Finding[] = [];
  for (const o of JSON.parse(stdout) as ScoredObject[]) {
    const object = `${o.type_meta.kind}/${o.object_meta.name}`;
    for (const c of o.checks) {
      if (c.skipped || c.grade >= ALL_OK) continue;
      const message = (c.comments ?? []).map((m) => (m.path ? `(${m.path}) ${m.summary}` : m.summary)).join('; ');
      const f = { object, check: c.check.id, message };
      const out = rules.some((r) => r.check === f.check && (!r.objects || r.objects.includes(object))) ? excluded : findings;
      out.push(f);
    }
  }
  return { findings, excluded };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const paths = process.argv.slice(2);
  if (paths.length === 0) {
    console.error('usage: tsx test/controlplane/kube-score.ts FILE|DIR...');
    process.exit(2);
  }
  const { findings, excluded } = await kubeScore(paths);
  for (const f of findings) console.log(`${f.object}: ${f.check}: ${f.message}`);
  console.log(`kube-score: ${findings.length} finding(s), ${excluded.length} excluded with their reasons (${CONFIG})`);
  process.exit(findings.length > 0 ? 1 : 0);
}
