// `npm run bench`: runs every bench/*.bench.mjs in its own process, one after the other, so one
// suite's load does not skew another's figures.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

const only = process.argv.slice(2);
const suites = readdirSync(new URL('.', import.meta.url))
  .filter((file) => file.endsWith('.bench.mjs'))
  .filter((file) => only.length === 0 || only.some((name) => file.includes(name)))
  .sort();

let failed = false;
for (const suite of suites) {
  const result = spawnSync(process.execPath, [new URL(suite, import.meta.url).pathname], { stdio: 'inherit' });
  if (result.status !== 0) {
    failed = true;
    console.error(`bench ${suite} failed (exit ${result.status})`);
  }
}
process.exit(failed ? 1 : 0);
