// `npm run docs:config`: rewrites the config reference in docs/configuration.md from the schema
// (src/config/reference.ts says what is written; test/config-doc.test.ts fails when it is stale).
import { readFileSync, writeFileSync } from 'node:fs';
import { withConfigReference } from '../src/config/reference.ts';

const page = new URL('../docs/configuration.md', import.meta.url);
const before = readFileSync(page, 'utf8');
const after = withConfigReference(before);
writeFileSync(page, after);
console.log(after === before ? 'docs/configuration.md: the reference was up to date' : 'docs/configuration.md: reference rewritten');
