// Copies what an entry file needs at run time, and nothing else, into OUT:
// the project files reachable through its relative imports (plus every
// non-.ts file beside them: templates, static assets) and the npm packages
// those files import, with their own dependencies.
//   node images/node/closure.ts OUT ENTRY.ts...   (run from the repo root)
// Type-only imports are erased by Node's type stripping, so they pull no
// package. A module loaded through a computed path is not seen: import it
// with a literal path.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';

const [out, ...entries] = process.argv.slice(2);
if (out === undefined || entries.length === 0) {
  console.error('usage: node images/node/closure.ts OUT ENTRY.ts...');
  process.exit(2);
}
const root = process.cwd();
const builtins = new Set(builtinModules);
// import/export ... from 'x', import 'x', import('x'); `import type` / `export type` skipped.
const IMPORT_RE = /(?:^|[;\s])(import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s*)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

const files = new Set<string>();
const packages = new Set<string>();
const queue = entries.map((e) => resolve(root, e));
while (queue.length > 0) {
  const file = queue.pop() as string; // length checked above
  if (files.has(file)) continue;
  if (!existsSync(file)) throw new Error(`closure: ${relative(root, file)} not found`);
  files.add(file);
  const src = readFileSync(file, 'utf8');
  for (const m of src.matchAll(IMPORT_RE)) {
    if (m[2] !== undefined) continue;
    const spec = m[3] ?? m[4] ?? '';
    if (spec.startsWith('.')) {
      if (/\.[cm]?[jt]s$/.test(spec)) queue.push(resolve(dirname(file), spec));
      continue;
    }
    if (spec.startsWith('node:') || builtins.has(spec.split('/')[0] ?? '')) continue;
    const parts = spec.split('/');
    packages.add(spec.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? spec));
  }
}

// Dependencies of packages, resolved the way Node does (nested first).
const pkgDirs = new Set<string>();
function addPackage(name: string, from: string): void {
  let dir = from;
  for (;;) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) {
      if (pkgDirs.has(candidate)) return;
      pkgDirs.add(candidate);
      const pkg = JSON.parse(readFileSync(join(candidate, 'package.json'), 'utf8')) as {
        dependencies?: Record<string, string>;
        optionalDependencies?: Record<string, string>;
        peerDependencies?: Record<string, string>;
      };
      for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) addPackage(dep, candidate);
      for (const dep of Object.keys(pkg.peerDependencies ?? {})) {
        if (existsSync(join(root, 'node_modules', dep))) addPackage(dep, candidate);
      }
      return;
    }
    if (dir === root || dir === dirname(dir)) {
      if (from === root) throw new Error(`closure: package ${name} is imported but not installed`);
      return; // an optional dependency not installed for this platform
    }
    dir = dirname(dir);
  }
}
for (const name of packages) addPackage(name, root);

// Project files, and the non-code files of their directories (templates, assets).
const copy = new Set(files);
for (const dir of new Set([...files].map((f) => dirname(f)))) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (/\.[cm]?[jt]s$/.test(name) || name.endsWith('.test.ts') || name === 'Dockerfile') continue;
    copy.add(p);
  }
}
for (const src of copy) {
  const dst = join(out, relative(root, src));
  mkdirSync(dirname(dst), { recursive: true });
  cpSync(src, dst, { recursive: statSync(src).isDirectory() });
}
// A nested package dir is copied with its parent; copy outermost only.
const sorted = [...pkgDirs].sort();
for (const dir of sorted) {
  const inside = sorted.some((o) => o !== dir && dir.startsWith(o + '/'));
  if (!inside) cpSync(dir, join(out, relative(root, dir)), { recursive: true });
}
cpSync(join(root, 'package.json'), join(out, 'package.json'));
console.log(`closure: ${files.size} project files, ${packages.size} direct packages (${[...packages].sort().join(', ')}), ${pkgDirs.size} package dirs`);
