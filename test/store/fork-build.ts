/**
 * Child processes can't load TypeScript on Node 20, so the race tests transpile src/store (and
 * src/data-dir.ts, which it imports) into a temp dir (with a node_modules symlink for
 * lmdb/ioredis) and fork a plain .mjs worker on it.
 */
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import ts from 'typescript';

const repo = resolve(import.meta.dirname, '../..');

export function buildStoreForFork(): { openJs: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'relais-store-fork-'));
  symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'), 'dir');
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  const out = join(dir, 'src/store');
  mkdirSync(out, { recursive: true });
  // The store, and the one module outside it that it imports (the process-alive check).
  const files = [...readdirSync(join(repo, 'src/store')).filter((n) => n.endsWith('.ts')).map((n) => `store/${n}`), 'data-dir.ts'];
  for (const f of files) {
    const js = ts.transpileModule(readFileSync(join(repo, 'src', f), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    writeFileSync(join(dir, 'src', f.replace(/\.ts$/, '.js')), js);
  }
  return { openJs: join(out, 'open.js'), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
