// Prints vitest's totals as one plain line ("tests: N passed, N failed, N skipped")
// so CI logs carry a count a reader (or a log scraper) can find at once.
import { readFileSync } from 'node:fs';
const r = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
