/**
 * Every RELAIS_* variable the configuration reads is documented where operators look: the full
 * table of docs/configuration.md and config/relais.example.yaml, next to the key it sets. The
 * README keeps a table of the essential ones, which must agree with the code and link the full one.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ENV_KEYS } from '../../src/config/config.js';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const readme = read('README.md');
const reference = read('docs/configuration.md');
const example = read('config/relais.example.yaml');

const tableRows = (text: string) => text.split('\n').filter((l) => l.startsWith('| `RELAIS_'));

describe('configuration documentation', () => {
  it('docs/configuration.md names every variable, in full, with its key', () => {
    const table = tableRows(reference);
    for (const [name, key] of Object.entries(ENV_KEYS)) {
      const row = table.find((l) => l.includes(`\`${name}\``));
      expect(row, `${name} missing from the table of docs/configuration.md`).toBeDefined();
      const leaf = key.split('.').at(-1)!;
      expect(row, `${name}'s row should name ${key}`).toContain(leaf);
    }
  });

  it("the README's table of essential variables names real ones with their keys, and links the full table", () => {
    const table = tableRows(readme);
    expect(table.length).toBeGreaterThan(0);
    for (const row of table) {
      const names = [...row.split('|')[1]!.matchAll(/`(RELAIS_[A-Z0-9_]+)`/g)].map((m) => m[1]!);
      expect(names.length, row).toBeGreaterThan(0);
      for (const name of names) {
        const key = ENV_KEYS[name];
        expect(key, `${name} in the README is not a variable the configuration reads`).toBeDefined();
        expect(row, `${name}'s row should name ${key}`).toContain(key!.split('.').at(-1)!);
      }
    }
    expect(readme).toContain('(docs/configuration.md)');
  });

  it('the example file names every variable beside its key', () => {
    for (const [name, key] of Object.entries(ENV_KEYS)) {
      const line = example.split('\n').find((l) => new RegExp(`\\b${name}\\b`).test(l));
      expect(line, `${name} missing from config/relais.example.yaml`).toBeDefined();
      expect(line, `${name} should sit on the line of ${key}`).toContain(`${key.split('.').at(-1)!}:`);
    }
  });
});
