/**
 * What each component image is built from, and its hash: the files its
 * Dockerfile copies (scripts/docker-images.sh, the Dockerfiles) plus what
 * the build pulls in by version (the Node runtime, the npm packages of the
 * lockfile). Test files are left out, as .dockerignore leaves them out.
 * The project's own version is NOT an input: package.json and
 * package-lock.json count only for their dependencies, so a release that
 * changes nothing else re-tags nothing.
 *
 * test/charts/images.test.ts recomputes every hash against
 * charts/images.json; charts/release.ts re-tags the images whose hash moved.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { ImageName } from './images.ts';

const ROOT = join(import.meta.dirname, '..');

/** The base image and the Node runtime every app image starts from. */
const COMMON = ['images/base/build.sh'];
const NODE_APP = [...COMMON, 'images/node/Dockerfile', 'images/node/closure.ts', '@node', '@npm-dependencies'];

/** Per image: the paths (files or directories) its build copies. */
export const IMAGE_INPUTS: Readonly<Record<ImageName, readonly string[]>> = {
  postgres: [...COMMON, 'images/postgres'],
  redis: [...COMMON, 'images/redis'],
  // app/backend imports app/frontend/security-headers.ts (closure.ts follows it).
  backend: [...NODE_APP, 'app/backend', 'app/frontend/security-headers.ts'],
  // app/frontend imports the backend's drain and metrics server (closure.ts follows them).
  frontend: [...NODE_APP, 'app/frontend', 'app/backend/drain.ts', 'app/backend/metrics-server.ts'],
  // The render stage runs node on app/proxy/render.ts; nginx serves its output.
  proxy: [...COMMON, '@node', 'app/proxy', 'images/proxy/render-conf.ts'],
  // The binaries come from the wrapper modules' pinned versions (go.mod, go.sum).
  exporters: [...COMMON, 'images/exporters'],
};

function walk(path: string): string[] {
  const abs = join(ROOT, path);
  if (!statSync(abs).isDirectory()) return [path];
  return readdirSync(abs)
    .filter((n) => n !== 'node_modules' && n !== '.work' && !n.endsWith('.test.ts'))
    .flatMap((n) => walk(join(path, n)));
}

/** A pseudo-input's content: versions, never the project's own. */
function pseudo(name: string): string {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies?: unknown; devDependencies?: Record<string, string> };
  if (name === '@node') return `node ${pkg.devDependencies?.['node'] ?? '?'}`;
  if (name === '@npm-dependencies') {
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages?: Record<string, unknown> };
    // The root entry carries the project's version: only the installed packages count.
    const packages = Object.fromEntries(Object.entries(lock.packages ?? {}).filter(([k]) => k !== ''));
    return JSON.stringify({ dependencies: pkg.dependencies, packages });
  }
  throw new Error(`unknown pseudo-input ${name}`);
}

/** Every input of an image, sorted: repository paths and `@pseudo` inputs. */
export function imageInputFiles(image: ImageName): string[] {
  return IMAGE_INPUTS[image].flatMap((p) => (p.startsWith('@') ? [p] : walk(p))).map((p) => relative('.', p)).sort();
}

/** sha256 (hex, 16 digits) over each input's path and content. */
export function imageInputsHash(image: ImageName): string {
  const h = createHash('sha256');
  for (const f of imageInputFiles(image)) {
    h.update(`${f}\0`);
    h.update(f.startsWith('@') ? pseudo(f) : readFileSync(join(ROOT, f)));
    h.update('\0');
  }
  return h.digest('hex').slice(0, 16);
}
