/**
 * `npm run bench`: runs the registered sections (all, or those named on the command line:
 * `node dist/bench/run.js accept memory`), prints one table per section and writes the results
 * as JSON to bench/results/ (gitignored). New sections: add a module under bench/sections that
 * calls `section(name, fn)`, and import it below.
 *
 * Environment (all optional):
 *   BENCH_E2E_MESSAGES   messages per end-to-end run, Relais and Postfix (default 20000; e.g. 2000
 *                        for a quick run)
 *   BENCH_E2E_REUSE=0    end-to-end with one message per connection (smtp-source without -d)
 *   BENCH_DKIM_MESSAGES  messages per DKIM on/off end-to-end run (default 2000, 2 runs per mode)
 *   BENCH_AUTH_MESSAGES  real-client messages per auth-guessing run (default 2000)
 *   BENCH_STORM_MESSAGES newsletter messages queued to a provider answering 421 4.7.28 in the
 *                        deferral-storm section (default 10000); BENCH_STORM_PERSONAL personal
 *                        messages whose latency is measured (default 200)
 *   BENCH_INSTR_MESSAGES messages counted under callgrind in the instructions section (default 300,
 *                        after BENCH_INSTR_WARMUP, default 300)
 *   BENCH_REDIS_URL      Redis for the policies section (default redis://127.0.0.1:6379; its row
 *                        is skipped when unreachable; keys use a unique prefix, removed after)
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runSection, sections, table, type SectionResult } from './lib/registry.js';
import './sections/accept.js';
import './sections/smtp-source.js';
import './sections/memory.js';
import './sections/end-to-end.js';
import './sections/policies.js';
import './sections/dkim.js';
import './sections/all-on.js';
import './sections/instructions.js';
import './sections/auth-guessing.js';
import './sections/deferral-storm.js';

function machine(): Record<string, string | number> {
  const sh = (cmd: string, args: string[]) => {
    try {
      return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    } catch {
      return 'unknown';
    }
  };
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cpus: cpus().length,
    memGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    postfix: sh('/usr/sbin/postconf', ['-d', '-h', 'mail_version']),
    loadavg1m: Number(loadavg()[0]!.toFixed(2)),
    tmpFs: sh('df', ['--output=fstype,source', tmpdir()]).split('\n').pop() ?? 'unknown',
  };
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((w) => !sections().some((s) => s.name === w));
  if (unknown.length) throw new Error(`unknown section(s) ${unknown.join(', ')}; known: ${sections().map((s) => s.name).join(', ')}`);
  const info = machine();
  process.stderr.write(`Relais bench — ${Object.entries(info).map(([k, v]) => `${k}: ${v}`).join(', ')}\n`);
  if (Number(info.loadavg1m) > cpus().length) process.stderr.write(`warning: load average ${info.loadavg1m} on ${cpus().length} CPUs — figures will be noisy\n`);
  const t0 = performance.now();
  const results: SectionResult[] = [];
  for (const s of sections()) {
    if (wanted.length && !wanted.includes(s.name)) continue;
    process.stderr.write(`▶ ${s.name}\n`);
    results.push(await runSection(s, results));
  }
  const out: string[] = [];
  for (const r of results) {
    out.push(`\n## ${r.name} (${r.seconds.toFixed(1)} s)`);
    if (r.rows.length) out.push(table(r));
    for (const n of r.notes) out.push(`  note: ${n}`);
    if (r.error) out.push(`  ERROR: ${r.error}`);
  }
  out.push(`\ntotal ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  process.stdout.write(out.join('\n') + '\n');
  const dir = resolve(import.meta.dirname, '../../bench/results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ at: new Date().toISOString(), machine: info, sections: results }, null, 2));
  process.stdout.write(`results: ${file}\n`);
  // Exit even if a failed section left a child or socket behind.
  process.exit(results.some((r) => r.error) ? 1 : 0);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
