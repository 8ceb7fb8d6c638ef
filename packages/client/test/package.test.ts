import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { describe, expect, it } from 'vitest';

const root = new URL('../', import.meta.url);
const manifest = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { dependencies: Record<string, string>; exports: unknown; files: string[] };

/** Every module specifier the built package imports, from its compiled files. */
function importsOf(directory: URL): string[] {
  const specifiers: string[] = [];
  for (const name of readdirSync(directory)) {
    if (!name.endsWith('.js')) continue;
    const code = readFileSync(new URL(name, directory), 'utf8');
    for (const match of code.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
      specifiers.push((match[1] ?? match[2]) as string);
    }
  }
  return specifiers;
}

describe('@switchboard/client as an integrator installs it', () => {
  it('depends on node-redis and TypeBox (the catalogue schemas its event types come from) only: no Fastify, no SQLite, nothing of the server', () => {
    expect(Object.keys(manifest.dependencies)).toEqual(['@sinclair/typebox', 'redis']);
  });

  it('imports only Node built-ins, its own files, redis and TypeBox (checked on the build output)', () => {
    const specifiers = importsOf(new URL('dist/', root));
    expect(specifiers.length).toBeGreaterThan(0);
    const foreign = specifiers.filter(
      (specifier) => !specifier.startsWith('./') && !specifier.startsWith('node:') && !builtinModules.includes(specifier) && !['redis', '@sinclair/typebox'].includes(specifier),
    );
    expect(foreign).toEqual([]);
  });

  it('ships its Lua script and typings', () => {
    expect(manifest.files).toEqual(expect.arrayContaining(['dist', 'lua']));
    expect(readdirSync(new URL('lua/', root))).toContain('deadLetter.lua');
    expect(readdirSync(new URL('dist/', root))).toContain('index.d.ts');
  });
});
