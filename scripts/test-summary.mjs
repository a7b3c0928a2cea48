// Prints vitest's result as the plain closing line CI tools read: "N passed, N failed".
import { readFileSync } from 'node:fs';

const results = JSON.parse(readFileSync(new URL('../.vitest-results.json', import.meta.url), 'utf8'));
const skipped = results.numPendingTests + results.numTodoTests;
console.log(
  `tests: ${results.numPassedTests} passed, ${results.numFailedTests} failed${skipped ? `, ${skipped} skipped` : ''}`,
);
process.exit(results.numFailedTests || !results.numTotalTests ? 1 : 0);
