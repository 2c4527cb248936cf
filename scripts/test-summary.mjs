// Prints vitest's totals as one plain line ("tests: N passed, N failed, N skipped")
// so CI logs carry a count a reader (or a log scraper) can find at once. Takes
// one JSON report per vitest run (make test runs the kind tests separately).
// Above the line, what failed and why, briefly: a file whose set-up failed
// (its tests then count as skipped) and each failed test, with the first lines
// of its error, so the end of a long log says what broke.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
const files = process.argv.slice(2);
if (files.length === 0) throw new Error('test-summary: no vitest JSON report given');
const t = { passed: 0, failed: 0, skipped: 0, failedFiles: 0 };
const head = (text, lines = 12) => String(text ?? '').replace(/\u001b\[[0-9;]*m/g, '').split('\n').slice(0, lines).map((l) => `    ${l}`).join('\n');
const why = [];
for (const f of files) {
  const r = JSON.parse(readFileSync(f, 'utf8'));
  t.passed += r.numPassedTests;
  t.failed += r.numFailedTests;
  t.skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  for (const file of r.testResults ?? []) {
    const name = relative(process.cwd(), file.name);
    if (file.status === 'failed') {
      t.failedFiles++;
      if (file.message) why.push(`FAILED ${name} (its set-up or teardown):\n${head(file.message, 40)}`);
    }
    for (const a of file.assertionResults ?? []) {
      if (a.status === 'failed') why.push(`FAILED ${name} > ${a.fullName ?? a.title}:\n${head(a.failureMessages?.[0])}`);
    }
  }
}
for (const w of why) console.log(w);
const files_ = t.failedFiles > 0 ? `; ${t.failedFiles} file(s) failed` : '';
console.log(`tests: ${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped${files_}`);
if (t.failedFiles > 0 || t.failed > 0) process.exitCode = 1;
