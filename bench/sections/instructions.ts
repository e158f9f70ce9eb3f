/**
 * CPU cost per message in instructions (issue 23): the all-on relay under valgrind's callgrind,
 * which counts the instructions each thread executes. Seconds of CPU on a shared VM move by
 * ±30 % between runs (other tenants, the load generator on the same cores); instruction counts
 * move by a few per cent, so a change to the per-message path can be judged from one pair of
 * runs (before/after a change: run this section on each build). Kernel work (system calls) is not
 * counted; valgrind runs one thread at a time, so batching differs from a real run.
 *
 * BENCH_INSTR_MESSAGES (default 300) messages after BENCH_INSTR_WARMUP (default 300): 20 sessions,
 * one message per connection, 2 KiB, the all-on configuration, into smtp-sink. Counters are
 * zeroed after the warm-up (callgrind_control -z) and read after the last delivery (-d).
 * Takes ~5 minutes: the relay runs ~50× slower under callgrind.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { section } from '../lib/registry.js';
import { createDkimKey, startBenchRelay, type BenchRelay } from '../lib/relay.js';
import { haveSmtpSink, haveSmtpSource, startSmtpSink } from '../lib/smtp-source.js';
import { drive } from './end-to-end.js';
import { policiesConfig } from './policies.js';

const MESSAGES = Math.max(20, Number(process.env.BENCH_INSTR_MESSAGES ?? 300));
const WARMUP = Math.max(20, Number(process.env.BENCH_INSTR_WARMUP ?? 300));
const DOMAIN = 'bench.example';

function have(cmd: string): boolean {
  try {
    execFileSync(cmd, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Instructions per thread of callgrind's dump number 1 (files cg.<pid>.1-<thread>). */
function readDump(dir: string, pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const f of readdirSync(dir)) {
    const m = new RegExp(`^cg\\.${pid}\\.1-(\\d+)$`).exec(f);
    if (!m) continue;
    const text = readFileSync(join(dir, f), 'utf8');
    const total = /^(?:summary|totals): (\d+)/m.exec(text);
    out.set(Number(m[1]), Number(total?.[1] ?? 0));
  }
  return out;
}

section('instructions', async (ctx) => {
  if (!haveSmtpSink() || !haveSmtpSource()) return ctx.note('smtp-source/smtp-sink not installed (Debian package "postfix"): skipped');
  if (!have('valgrind') || !have('callgrind_control')) return ctx.note('valgrind not installed (Debian package "valgrind"): skipped');
  const dir = mkdtempSync(join(tmpdir(), 'relais-bench-instr-'));
  const configFile = join(dir, 'relais.yaml');
  writeFileSync(configFile, policiesConfig(true));
  const sink = await startSmtpSink();
  const token = randomBytes(24).toString('hex');
  let relay: BenchRelay | undefined;
  try {
    relay = await startBenchRelay(
      { RELAIS_SMARTHOST: `127.0.0.1:${sink.port}`, RELAIS_SMARTHOST_TLS: 'none', RELAIS_ALLOW_PRIVATE_MX: 'true', RELAIS_ADMIN_TOKEN: token, RELAIS_DKIM_MASTER_KEY: randomBytes(32).toString('base64') },
      {
        configFile,
        // V8 writes the code it compiles: --smc-check makes valgrind see it.
        wrapper: ['valgrind', '--tool=callgrind', '--smc-check=all-non-file', '--separate-threads=yes', `--callgrind-out-file=${join(dir, 'cg.%p')}`, '--dump-line=no', '--compress-strings=no'],
        startTimeoutMs: 600_000,
      },
    );
    await createDkimKey(relay, token, DOMAIN);
    const o = { sessions: 20, reuse: false, from: `bench@${DOMAIN}` };
    await drive(relay.smtpPort, sink, { ...o, messages: WARMUP });
    execFileSync('callgrind_control', ['-z', String(relay.pid)], { stdio: 'ignore' });
    const run = await drive(relay.smtpPort, sink, { ...o, messages: MESSAGES });
    // Let the last deliveries' bookkeeping (unlink, stats) finish before reading.
    await new Promise((r) => setTimeout(r, 3000));
    execFileSync('callgrind_control', ['-d', String(relay.pid)], { stdio: 'ignore' });
    const perThread = readDump(dir, relay.pid);
    const n = Math.max(1, run.delivered);
    const mir = (x: number) => x / n / 1e6;
    const main = perThread.get(1) ?? 0;
    const all = [...perThread.values()].reduce((a, b) => a + b, 0);
    const others = [...perThread.entries()].filter(([t]) => t !== 1).sort((a, b) => b[1] - a[1]);
    ctx.record('Relais everything on · embedded', {
      messages: run.delivered,
      'main thread MIr/msg': mir(main),
      'other threads MIr/msg': mir(all - main),
      'all threads MIr/msg': mir(all),
      'busiest other threads MIr/msg': others.slice(0, 3).map(([, x]) => mir(x).toFixed(2)).join(' / '),
    });
    ctx.note(`${MESSAGES} messages after ${WARMUP} of warm-up (BENCH_INSTR_MESSAGES, BENCH_INSTR_WARMUP), 20 sessions, one message per connection, 2 KiB, the all-on configuration, under valgrind --tool=callgrind; user-space instructions only (system calls are not counted); MIr = millions of instructions`);
  } finally {
    await relay?.stop();
    await sink.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
