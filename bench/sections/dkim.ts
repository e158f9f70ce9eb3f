/**
 * DKIM signing cost (issue 6; target: end-to-end with RSA-2048 at most 15 % slower than without).
 * One relay (admin token + DKIM master key) delivering to smtp-sink; an RSA-2048 key is made for
 * signed.example through the admin API. "On" = From: in signed.example, "off" = From: in
 * unsigned.example (no key: the body is still hashed on the way to the spool, nothing is signed).
 *  - end to end: 2 KiB, 20 sessions (lean pipelining client), interleaved runs of
 *    BENCH_DKIM_MESSAGES (default 2000) messages, delivered / (last delivery − start);
 *  - one 25 MiB message, 1 session: MiB/s of the whole transaction (best of 5), on vs off;
 *  - in process: BodyHasher (relaxed, as the relay uses it) on 25 MiB, vs plain SHA-256.
 * The sink dumps messages to /dev/shm so the bench can check that "on" mail carries a valid
 * signature (dkimpy, key from the API's DNS record) and "off" mail none.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BodyHasher } from '../../relay/dkim/body-hasher.js';
import { section, type BenchContext } from '../lib/registry.js';
import { createDkimKey, procCpuMs, startBenchRelay, type BenchRelay } from '../lib/relay.js';
import { makeMessage, makeMessages, percentile, runLoad } from '../lib/smtp-load.js';
import { haveSmtpSink, startSmtpSink, waitDelivered, type Sink } from '../lib/smtp-source.js';

const run = promisify(execFile);
const MESSAGES = Math.max(100, Number(process.env.BENCH_DKIM_MESSAGES ?? 2000));
const ROUNDS = 2;
const BIG = 25 * 1024 * 1024;
const BIG_REPS = 5;
const SIGNED = 'signed.example';
const UNSIGNED = 'unsigned.example';
const PYDKIM = '/usr/bin/python3';

const VERIFY_PY = `import sys, dkim
m = open(sys.argv[1], 'rb').read().replace(b'\\r\\n', b'\\n').replace(b'\\n', b'\\r\\n')
txt = sys.argv[2].encode()
print('pass' if dkim.verify(m, dnsfunc=lambda name, timeout=5: txt) else 'fail')`;

function clearDir(dir: string): void {
  for (const f of readdirSync(dir)) rmSync(join(dir, f), { force: true });
}

/** Checks one dumped message: signed by signed.example (and valid, when dkimpy is there) or unsigned. */
async function checkDump(ctx: BenchContext, dir: string, on: boolean, txt: string): Promise<void> {
  const f = readdirSync(dir).find((n) => n.startsWith('msg.'));
  if (!f) return ctx.note(`no dumped message to check (DKIM ${on ? 'on' : 'off'})`);
  const head = readFileSync(join(dir, f), 'latin1').slice(0, 8192);
  const signed = new RegExp(`^DKIM-Signature:[^]*?d=${SIGNED.replace('.', '\\.')}`, 'im').test(head);
  if (!on) {
    if (/^DKIM-Signature:/im.test(head)) ctx.note('DKIM off: a message WAS signed — the off figures are not unsigned');
    return;
  }
  if (!signed) return ctx.note(`DKIM on: the delivered message carries no DKIM-Signature d=${SIGNED} — on/off figures are meaningless`);
  if (!existsSync(PYDKIM)) return ctx.note('DKIM on: signature present (dkimpy not available to verify it)');
  const out = await run(PYDKIM, ['-c', VERIFY_PY, join(dir, f), txt]).then((r) => r.stdout.trim(), (err: Error) => `error ${err.message.split('\n')[0]}`);
  ctx.note(`DKIM on: delivered message signed d=${SIGNED} (rsa-sha256, 2048 bits); dkimpy verification: ${out}`);
}

async function hashRate(fn: (chunks: Buffer[]) => void, chunks: Buffer[]): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    fn(chunks);
    best = Math.min(best, performance.now() - t0);
  }
  return BIG / 1048576 / (best / 1000);
}

section('dkim', async (ctx) => {
  // In process first: no relay, no disk.
  const big = makeMessage(BIG, 'dkim');
  const chunks: Buffer[] = [];
  for (let o = 0; o < big.length; o += 65536) chunks.push(big.subarray(o, o + 65536));
  const relaxed = await hashRate((cs) => {
    const h = new BodyHasher(['relaxed']);
    for (const c of cs) h.update(c);
    h.digest();
  }, chunks);
  const both = await hashRate((cs) => {
    const h = new BodyHasher();
    for (const c of cs) h.update(c);
    h.digest();
  }, chunks);
  const sha = await hashRate((cs) => {
    const h = createHash('sha256');
    for (const c of cs) h.update(c);
    h.digest();
  }, chunks);
  ctx.record('body hash 25 MiB · relaxed (in process)', { 'MiB/s': relaxed });
  ctx.record('body hash 25 MiB · relaxed + simple', { 'MiB/s': both });
  ctx.record('plain SHA-256 25 MiB (reference)', { 'MiB/s': sha });

  if (!haveSmtpSink()) return ctx.note('smtp-sink not installed (Debian package "postfix"): relay figures skipped');
  const dumpDir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'relais-bench-dkim-'));
  const token = randomBytes(24).toString('hex');
  let sink: Sink | undefined;
  let relay: BenchRelay | undefined;
  try {
    sink = await startSmtpSink({ dumpDir });
    relay = await startBenchRelay({
      RELAIS_SMARTHOST: `127.0.0.1:${sink.port}`,
      RELAIS_SMARTHOST_TLS: 'none',
      RELAIS_ALLOW_PRIVATE_MX: 'true',
      RELAIS_ADMIN_TOKEN: token,
      RELAIS_DKIM_MASTER_KEY: randomBytes(32).toString('base64'),
    });
    const txt = await createDkimKey(relay, token, SIGNED);
    const r = relay;
    const s = sink;

    const e2e = { on: { n: 0, s: 0, cpu: 0, lat: [] as number[] }, off: { n: 0, s: 0, cpu: 0, lat: [] as number[] } };
    const factories = { on: makeMessages(2048, 'dkim', { from: `bench@${SIGNED}` }), off: makeMessages(2048, 'dkim', { from: `bench@${UNSIGNED}` }) };
    const once = async (mode: 'on' | 'off', n: number, record: boolean) => {
      clearDir(dumpDir);
      const before = s.count();
      const cpu0 = procCpuMs(r.pid);
      const t0 = performance.now();
      const load = await runLoad({ port: r.smtpPort, sessions: 20, maxMessages: n, maxMs: 300_000, message: factories[mode], mailFrom: `bench@${mode === 'on' ? SIGNED : UNSIGNED}` });
      if (load.errors.length) ctx.note(`DKIM ${mode}: errors ${load.errors.slice(0, 3).join('; ')}`);
      const d = await waitDelivered(s, before + load.messages, 15_000);
      if (!record) return;
      e2e[mode].n += d.delivered - before;
      e2e[mode].s += (d.lastAt - t0) / 1000;
      e2e[mode].cpu += procCpuMs(r.pid) - cpu0;
      e2e[mode].lat.push(...load.latencies);
      if (d.delivered - before < load.messages) ctx.note(`DKIM ${mode}: only ${d.delivered - before} of ${load.messages} delivered`);
    };
    // Warm-up both paths (JIT, key cache), then check what the sink got.
    await once('on', 200, false);
    await checkDump(ctx, dumpDir, true, txt);
    await once('off', 200, false);
    await checkDump(ctx, dumpDir, false, txt);
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of round % 2 ? (['on', 'off'] as const) : (['off', 'on'] as const)) await once(mode, MESSAGES, true);
    }
    const rate = (m: 'on' | 'off') => e2e[m].n / e2e[m].s;
    for (const mode of ['off', 'on'] as const) {
      const lat = e2e[mode].lat.sort((a, b) => a - b);
      ctx.record(`end to end · 2 KiB · 20 sess · DKIM ${mode}`, {
        'msg/s': rate(mode),
        'on vs off %': mode === 'on' ? (rate('on') / rate('off') - 1) * 100 : undefined,
        'p50 ms': percentile(lat, 50),
        'p99 ms': percentile(lat, 99),
        'relay CPU ms/msg': e2e[mode].cpu / Math.max(1, e2e[mode].n),
        delivered: e2e[mode].n,
      });
    }

    // One 25 MiB message at a time: the whole transaction, on and off alternately, best of BIG_REPS.
    const bigMsg = { on: makeMessage(BIG, 'dkim', { from: `bench@${SIGNED}` }), off: makeMessage(BIG, 'dkim', { from: `bench@${UNSIGNED}` }) };
    const best = { on: { s: Infinity, eod: Infinity }, off: { s: Infinity, eod: Infinity } };
    for (let i = 0; i < BIG_REPS; i++) {
      for (const mode of i % 2 ? (['on', 'off'] as const) : (['off', 'on'] as const)) {
        clearDir(dumpDir);
        const before = s.count();
        const one = await runLoad({ port: r.smtpPort, sessions: 1, maxMessages: 1, maxMs: 120_000, message: bigMsg[mode], mailFrom: `bench@${mode === 'on' ? SIGNED : UNSIGNED}` });
        if (one.errors.length) throw new Error(`25 MiB DKIM ${mode}: ${one.errors[0]}`);
        best[mode].s = Math.min(best[mode].s, one.seconds);
        best[mode].eod = Math.min(best[mode].eod, one.latencies[0] ?? Infinity);
        // Let its delivery finish before the next one (it would compete for the CPU and disk).
        await waitDelivered(s, before + 1, 30_000);
      }
    }
    for (const mode of ['off', 'on'] as const) {
      ctx.record(`one 25 MiB message · DKIM ${mode}`, {
        'MiB/s': BIG / 1048576 / best[mode].s,
        'on vs off %': mode === 'on' ? (best.off.s / best.on.s - 1) * 100 : undefined,
        'transaction s': best[mode].s,
        'end-of-DATA ms': best[mode].eod,
      });
    }
    ctx.note(`end to end: ${ROUNDS} interleaved runs of ${MESSAGES} messages per mode (BENCH_DKIM_MESSAGES); 25 MiB: best of ${BIG_REPS}, MiB/s over the whole transaction (client → spool, fsync; the body is hashed on the way in); "off" = a From domain without key (body still hashed)`);
  } finally {
    await relay?.stop();
    await sink?.stop();
    rmSync(dumpDir, { recursive: true, force: true });
  }
});
