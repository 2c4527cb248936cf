// Prints vitest's totals as one plain line ("tests: N passed, N failed, N skipped")
// so CI logs carry a count a reader (or a log scraper) can find at once. Takes
// one JSON report per vitest run (make test runs the kind tests separately).
import { readFileSync } from 'node:fs';
const files = process.argv.slice(2);
if (files.length === 0) throw new Error('test-summary: no vitest JSON report given');
const t = { passed: 0, failed: 0, skipped: 0 };
for (const f of files) {
  const r = JSON.parse(readFileSync(f, 'utf8'));
  t.passed += r.numPassedTests;
  t.failed += r.numFailedTests;
  t.skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
}
console.log(`tests: ${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped`);
