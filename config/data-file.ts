/**
 * The one loader of Relais's YAML data files (config/providers.yaml, config/classification.yaml):
 * read, parse, and hand the document to the file's validator, which throws ConfigError naming
 * the key. A file that cannot be read or parsed is a ConfigError too, so `relais start` and
 * `relais config check` report every data file problem the same way.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from './validate.js';
import { bundledConfigPath } from './paths.js';

/** Load `path` (default: the bundled config/<name>) and validate it with `build(doc, path)`. */
export function loadDataFile<T>(name: string, build: (doc: unknown, source: string) => T, path?: string): T {
  const file = path ?? bundledConfigPath(name);
  return build(readYaml(file, file), file);
}

/** The document of a YAML file; one that cannot be read or parsed is a ConfigError of `key`. */
export function readYaml(file: string, key: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(key, `cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    return parseYaml(text);
  } catch (err) {
    throw new ConfigError(key, `${file} is not valid YAML: ${(err as Error).message}`);
  }
}
