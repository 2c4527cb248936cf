// Synthesizes the charts (what `make synth` writes to dist/) into a scratch
// directory, so the tests judge the current sources without racing on dist/.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The parts of a Kubernetes object the tests look at. */
export interface KubeObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly labels?: Record<string, string> };
  readonly [field: string]: unknown;
}

export interface Manifest {
  readonly file: string;
  readonly text: string;
  readonly objects: readonly KubeObject[];
}

/**
 * Synthesizes the cdk8s app (charts/main.ts, the entry cdk8s.yaml names) into a
 * fresh directory through its exported buildApp(outdir), in a child process as
 * `cdk8s synth` would run it; returns the directory.
 */
export async function synthToScratch(): Promise<string> {
  const out = mkdtempSync(join(tmpdir(), 'securevote-synth-'));
  const entry = join(REPO, 'charts/main.ts');
  const script = `import(${JSON.stringify(entry)}).then(({ buildApp }) => buildApp(${JSON.stringify(out)}).synth());`;
  try {
    await promisify(execFile)(join(REPO, 'node_modules/.bin/tsx'), ['--eval', script], { cwd: REPO });
  } catch (err) {
    rmSync(out, { recursive: true, force: true });
    throw err;
  }
  return out;
}

/** Every YAML file of a directory, parsed (empty documents dropped). */
export function readManifests(dir: string): Manifest[] {
  return readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => {
    const text = readFileSync(join(dir, f), 'utf8');
    const objects = parseAllDocuments(text).map((d) => d.toJS() as KubeObject | null).filter((o): o is KubeObject => o !== null);
    return { file: f, text, objects };
  });
}
