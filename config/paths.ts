/**
 * Locate a file of the repo's config/ directory from this module, both when run from sources
 * (src/stats) and when compiled (dist/src/stats): walk up until config/<name> exists.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function bundledConfigPath(name: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'config', name);
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error(`config/${name} not found above ${fileURLToPath(import.meta.url)}`);
}
