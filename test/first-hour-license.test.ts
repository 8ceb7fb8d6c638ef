import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');

describe('the licence, as a person cloning the repository finds it', () => {
  it('has a LICENSE file with the licence package.json names, and who holds the copyright', () => {
    const { license } = JSON.parse(read('package.json')) as { license: string };
    const text = read('LICENSE');
    expect(license).toBe('MIT');
    expect(text.split('\n')[0]).toBe('MIT License');
    expect(text).toMatch(/^Copyright \(c\) \d{4} Switchboard contributors$/m);
    expect(text).toContain('THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND');
  });
});
