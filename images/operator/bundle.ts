// Bundles the operator (operator/main.ts, the chart construct it renders and
// the npm packages they import) into one ES module, OUT/operator.mjs, with
// the files it reads at run time beside it (the proxy's nginx template and
// the backup scripts, read relative to the module). This is what the operator image runs and what
// `make bench-operator` measures.
//
// Why a bundle: Node loading ~1,500 modules (client-node's generated API
// alone is ~1,000) keeps each one's source and module record for the life of
// the process: ~175 MB of RSS and 52 MB of heap before a single object is
// cached, against ~75 MB and ~20 MB for the same code as one module
// (BENCHMARKS.md). Names are kept (stack traces and logged class names read
// as in the sources); whitespace and syntax are minified.
//
//   node images/operator/bundle.ts OUT      (from the repo root)
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const out = process.argv[2];
if (out === undefined) {
  console.error('usage: node images/operator/bundle.ts OUT');
  process.exit(2);
}
mkdirSync(out, { recursive: true });
await build({
  entryPoints: ['operator/main.ts'],
  outfile: join(out, 'operator.mjs'),
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'esm',
  // CommonJS packages inside an ES module still call require() for Node's builtins.
  banner: { js: "import { createRequire as __svCreateRequire } from 'node:module'; const require = __svCreateRequire(import.meta.url);" },
  minifyWhitespace: true,
  minifySyntax: true,
  keepNames: true,
  legalComments: 'none',
  logLevel: 'warning',
});
// app/proxy/render.ts reads its template beside itself, charts/backup.ts its
// scripts: beside the bundle now.
copyFileSync('app/proxy/nginx.conf.template', join(out, 'nginx.conf.template'));
for (const script of ['backup.sh', 'restore.sh']) copyFileSync(join('charts', script), join(out, script));
