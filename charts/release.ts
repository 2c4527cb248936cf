/**
 * `make release VERSION=x.y.z`: sets the project's version (package.json,
 * package-lock.json: the operator's image and the non-pod objects' version
 * label), then re-tags with that version only the component images whose
 * build inputs changed (charts/image-inputs.ts) and records their new input
 * hashes in charts/images.json. An image that is re-tagged leaves its old
 * default behind in `pastDefaults`, so resources whose stored spec carries
 * it (written by an older CRD's default) follow the new default.
 * Prints what it re-tagged; it builds and pushes nothing.
 *   node charts/release.ts VERSION
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { imageInputsHash } from './image-inputs.ts';
import { IMAGE_NAMES, defaultImages, type ImageTable } from './images.ts';

const ROOT = join(import.meta.dirname, '..');
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?$/;

/** The table after a release of `version`: only the images whose inputs moved get `version`. */
export function releaseTable(table: ImageTable, version: string, hashes: Readonly<Record<string, string>>): { table: ImageTable; retagged: string[] } {
  const images = { ...table.images };
  const past = new Set(table.pastDefaults);
  const before = defaultImages(table);
  const retagged: string[] = [];
  for (const name of IMAGE_NAMES) {
    const hash = hashes[name];
    if (hash === undefined || hash === images[name].inputs) continue;
    images[name] = { tag: version, inputs: hash };
    retagged.push(name);
  }
  const after = defaultImages({ images, pastDefaults: [] });
  for (const [c, img] of Object.entries(before)) if (after[c as keyof typeof after] !== img) past.add(img);
  return { table: { images, pastDefaults: [...past].sort() }, retagged };
}

function writeJson(file: string, value: unknown): void {
  writeFileSync(join(ROOT, file), `${JSON.stringify(value, null, 2)}\n`);
}

if (process.argv[1] === import.meta.filename) {
  const version = process.argv[2] ?? '';
  if (!SEMVER.test(version)) {
    console.error(`usage: node charts/release.ts VERSION (x.y.z), got ${JSON.stringify(version)}`);
    process.exit(2);
  }
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { version: string; packages: Record<string, { version?: string }> };
  const table = JSON.parse(readFileSync(join(ROOT, 'charts/images.json'), 'utf8')) as ImageTable;
  const hashes = Object.fromEntries(IMAGE_NAMES.map((n) => [n, imageInputsHash(n)]));
  const { table: next, retagged } = releaseTable(table, version, hashes);
  pkg.version = version;
  lock.version = version;
  if (lock.packages[''] !== undefined) lock.packages[''].version = version;
  writeJson('package.json', pkg);
  writeJson('package-lock.json', lock);
  writeJson('charts/images.json', next);
  console.log(`release ${version}: ${retagged.length > 0 ? `re-tagged ${retagged.map((n) => `securevote/${n}:${version}`).join(', ')}` : 'no image changed'}`);
  for (const n of IMAGE_NAMES.filter((n) => !retagged.includes(n))) console.log(`  kept securevote/${n}:${next.images[n].tag}`);
}
