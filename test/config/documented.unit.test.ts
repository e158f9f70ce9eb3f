/**
 * Every RELAIS_* variable the configuration reads is documented where operators look: the
 * README's configuration table and config/relais.example.yaml, next to the key it sets.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ENV_KEYS } from '../../src/config/config.js';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const readme = read('README.md');
const example = read('config/relais.example.yaml');

describe('configuration documentation', () => {
  it('the README names every variable, in full, with its key', () => {
    const table = readme.split('\n').filter((l) => l.startsWith('| `RELAIS_'));
    for (const [name, key] of Object.entries(ENV_KEYS)) {
      const row = table.find((l) => l.includes(`\`${name}\``));
      expect(row, `${name} missing from the README's configuration table`).toBeDefined();
      const leaf = key.split('.').at(-1)!;
      expect(row, `${name}'s row should name ${key}`).toContain(leaf);
    }
  });

  it('the example file names every variable beside its key', () => {
    for (const [name, key] of Object.entries(ENV_KEYS)) {
      const line = example.split('\n').find((l) => new RegExp(`\\b${name}\\b`).test(l));
      expect(line, `${name} missing from config/relais.example.yaml`).toBeDefined();
      expect(line, `${name} should sit on the line of ${key}`).toContain(`${key.split('.').at(-1)!}:`);
    }
  });
});
