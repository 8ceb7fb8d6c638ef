import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ENTRY_FIELDS } from '../src/log/codec.js';
import { loadLuaScript } from '../src/redis/lua-loader.js';
import { ScriptReply, scripts } from '../src/redis/scripts.js';

const luaFolder = new URL('../src/redis/lua/', import.meta.url);
const luaFiles = (folder: URL) => readdirSync(folder).filter((name) => name.endsWith('.lua')).map((name) => name.slice(0, -'.lua'.length));

/** The hub's Lua without Redis: the registry, the includes, and the two places that must agree with TypeScript. */
describe('Lua scripts and their includes', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'switchboard-lua-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('registers every script of src/redis/lua, sorted, each with its includes inlined', () => {
    expect(Object.keys(scripts)).toEqual(luaFiles(luaFolder).sort());
    for (const script of Object.values(scripts)) expect(script.source).not.toMatch(/^--- @include/m);
    expect(scripts.webhookRecord.source).toContain('local function fenceRefusal(');
    expect(scripts.ctiFetch.source).toContain('local function appendEntry(');
  });

  it('inlines an include once per script, nested includes first, and names a missing one', () => {
    const folder = join(scratch, 'lua');
    mkdirSync(join(folder, 'includes'), { recursive: true });
    writeFileSync(join(folder, 'includes', 'a.lua'), 'local a = 1\n');
    writeFileSync(join(folder, 'includes', 'b.lua'), '--- @include "includes/a"\nlocal b = a + 1\n');
    writeFileSync(join(folder, 'main.lua'), '--- @include "includes/b"\n--- @include "includes/a"\nreturn b\n');
    writeFileSync(join(folder, 'broken.lua'), '--- @include "includes/missing"\nreturn 1\n');
    const url = pathToFileURL(`${folder}/`);
    const main = loadLuaScript(url, 'main');
    expect(main.source).toBe('local a = 1\nlocal b = a + 1\n-- includes/a (included above)\nreturn b\n');
    expect(main.sha).toMatch(/^[0-9a-f]{40}$/);
    expect(() => loadLuaScript(url, 'broken')).toThrow(/includes\/missing\.lua/);
  });

  it('writes an event entry with the codec field names, in one include only', () => {
    const include = readFileSync(new URL('includes/appendEntry.lua', luaFolder), 'utf8');
    const written = [...include.matchAll(/'XADD', stream, (?:'MAXLEN', '~', maxLength, )?'\*', (.+)\)/g)].map((match) => match[1]);
    const fields = `'${ENTRY_FIELDS.id}', eventId, '${ENTRY_FIELDS.type}', eventType, '${ENTRY_FIELDS.event}', json`;
    expect(written).toEqual([fields, fields, fields]);
    for (const name of luaFiles(luaFolder)) {
      expect(readFileSync(new URL(`${name}.lua`, luaFolder), 'utf8'), name).not.toMatch(/'type', eventType|'event', /);
    }
  });

  it('gives the Lua reply codes the names and numbers of ScriptReply', () => {
    const include = readFileSync(new URL('includes/replies.lua', luaFolder), 'utf8');
    const lua = Object.fromEntries([...include.matchAll(/^\s+([A-Z_]+) = (-?\d+),$/gm)].map((match) => [match[1], Number(match[2])]));
    expect(lua).toEqual({ ...ScriptReply });
  });
});
