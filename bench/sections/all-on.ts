/**
 * Everything on, side by side with Postfix (issue 23): smtp-source → relay → smtp-sink, 2 KiB,
 * 20 sessions, one message per connection, the same client and sink for every system, in one
 * sitting: Postfix (before), Relais with everything on (a tenant's client: sender checks,
 * quotas at three levels, bulk signals, the guard, RSA-2048 DKIM) on the embedded store and on
 * Redis, Postfix with Debian's OpenDKIM as a milter (RSA-2048, relaxed/relaxed), Postfix (after).
 * Each round ends with one session on a reused connection (latency-bound), Relais everything-on
 * vs Postfix.
 * Every system gets the same unmeasured warm-up before its measured run; each round's data dir
 * is primed by an unmeasured relay run so that both stores meet the same, used, spool directories.
 *
 * "machine CPU ms/msg" counts every process (client and sink included, the same for all), from
 * /proc/stat; "relay CPU" is the Relais process alone. Ratios are against the mean of the two
 * Postfix runs. BENCH_ALLON_MESSAGES (default 20 000) and BENCH_ALLON_SINGLE (default 2 000) set
 * the counts; BENCH_ALLON_ROUNDS (default 1) repeats the comparisons in the same sitting and prints
 * each ratio's range over the rounds.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { opendkimUnavailable, startOpenDkim, type OpenDkim } from '../lib/opendkim.js';
import { postfixUnavailable, startPostfix, type PostfixInstance } from '../lib/postfix.js';
import { BENCH_REDIS_URL, dropPrefix, redisReachable } from '../lib/redis.js';
import { section, type BenchContext } from '../lib/registry.js';
import { createDkimKey, machineJiffies, procCpuMs, procStatusKiB, startBenchRelay, threadCpuMs, type BenchRelay } from '../lib/relay.js';
import { haveSmtpSink, haveSmtpSource, startSmtpSink, type Sink } from '../lib/smtp-source.js';
import { drive, type DriveOptions, type E2eRun } from './end-to-end.js';
import { policiesConfig } from './policies.js';

const MESSAGES = Math.max(100, Number(process.env.BENCH_ALLON_MESSAGES ?? 20_000));
const SINGLE = Math.max(50, Number(process.env.BENCH_ALLON_SINGLE ?? 2000));
const ROUNDS = Math.max(1, Math.floor(Number(process.env.BENCH_ALLON_ROUNDS ?? 1)));
const DOMAIN = 'bench.example';
const FROM = `bench@${DOMAIN}`;

interface Measured extends E2eRun {
  machineCpuMsPerMsg: number;
  busyPct: number;
  relayCpuMsPerMsg?: number;
  /** The relay's CPU per message by thread: main (intake), delivery, others (pool, V8). */
  threads?: { main: number; delivery: number; others: number };
  peakRssMiB?: number;
}

/** One run against `port`, with the machine's CPU over it (and the relay's, when given). */
async function measure(port: number, sink: Sink, o: DriveOptions, relayPid?: number): Promise<Measured> {
  const m0 = machineJiffies();
  const r0 = relayPid === undefined ? 0 : procCpuMs(relayPid);
  const t0 = relayPid === undefined ? undefined : threadCpuMs(relayPid);
  const run = await drive(port, sink, o);
  const m1 = machineJiffies();
  const n = Math.max(1, run.delivered);
  const t1 = relayPid === undefined ? undefined : threadCpuMs(relayPid);
  const threads = t0 && t1 ? { main: (t1.main - t0.main) / n, delivery: (t1.delivery - t0.delivery) / n, others: (t1.others - t0.others) / n } : undefined;
  return {
    ...run,
    // /proc/stat counts in USER_HZ (100 per second).
    machineCpuMsPerMsg: ((m1.busy - m0.busy) * 10) / n,
    busyPct: ((m1.busy - m0.busy) / Math.max(1, m1.total - m0.total)) * 100,
    ...(relayPid === undefined ? {} : { relayCpuMsPerMsg: (procCpuMs(relayPid) - r0) / n, threads, peakRssMiB: procStatusKiB(relayPid, 'VmHWM') / 1024 }),
  };
}

function record(ctx: BenchContext, who: string, r: Measured): void {
  ctx.record(who, {
    'accepted msg/s': r.acceptPerSecond,
    'delivered msg/s': r.e2ePerSecond,
    'relay CPU ms/msg': r.relayCpuMsPerMsg,
    'main / delivery / other threads ms/msg': r.threads ? `${r.threads.main.toFixed(2)} / ${r.threads.delivery.toFixed(2)} / ${r.threads.others.toFixed(2)}` : undefined,
    'machine CPU ms/msg': r.machineCpuMsPerMsg,
    'machine busy %': r.busyPct,
    'peak RSS MiB': r.peakRssMiB,
    delivered: r.delivered,
  });
  if (r.delivered < r.accepted) ctx.note(`${who}: only ${r.delivered} of ${r.accepted} messages reached the sink`);
}

async function withSink<T>(fn: (sink: Sink) => Promise<T>): Promise<T> {
  const sink = await startSmtpSink();
  try {
    return await fn(sink);
  } finally {
    await sink.stop();
  }
}

/** Messages sent before each measured run, to every system alike. */
const warmUp = (o: DriveOptions) => Math.min(1000, o.messages ?? MESSAGES);

async function postfixRun(o: DriveOptions, milter?: string): Promise<Measured> {
  return withSink(async (sink) => {
    let pf: PostfixInstance | undefined;
    try {
      pf = await startPostfix({
        prefix: 'relais-bench-allon-',
        main: {
          relayhost: `[127.0.0.1]:${sink.port}`,
          smtp_tls_security_level: 'none',
          smtpd_client_connection_count_limit: '0',
          ...(milter ? { smtpd_milters: milter, milter_default_action: 'tempfail', milter_protocol: '6' } : {}),
        },
      });
      // The same warm-up as Relais's (its processes started, its queue directories used).
      await drive(pf.port, sink, { ...o, messages: warmUp(o) });
      return await measure(pf.port, sink, o);
    } finally {
      await pf?.stop();
    }
  });
}

/** Messages of the unmeasured run that primes each round's data directory. */
const PRIME = 5000;

/** One master key for every relay of the sitting: runs on one data dir read each other's DKIM keys. */
const MASTER_KEY = randomBytes(32).toString('base64');

async function relaisRun(o: DriveOptions, configFile: string, env: Record<string, string>, dataDir?: string, warm = true): Promise<Measured> {
  return withSink(async (sink) => {
    const token = randomBytes(24).toString('hex');
    let relay: BenchRelay | undefined;
    try {
      relay = await startBenchRelay(
        { RELAIS_SMARTHOST: `127.0.0.1:${sink.port}`, RELAIS_SMARTHOST_TLS: 'none', RELAIS_ALLOW_PRIVATE_MX: 'true', RELAIS_ADMIN_TOKEN: token, RELAIS_DKIM_MASTER_KEY: MASTER_KEY, ...env },
        { configFile, dataDir },
      );
      await createDkimKey(relay, token, DOMAIN);
      // Warm-up (JIT, store files, key cache); not measured.
      if (warm) await drive(relay.smtpPort, sink, { ...o, messages: warmUp(o) });
      const r = await measure(relay.smtpPort, sink, o, relay.pid);
      const refused = Object.entries(relay.verdicts()).filter(([k]) => k !== 'accept');
      if (refused.length) throw new Error(`verdicts other than accept: ${refused.map(([k, v]) => `${k}=${v}`).join(' ')}`);
      return r;
    } finally {
      await relay?.stop();
    }
  });
}

section('all-on', async (ctx) => {
  if (!haveSmtpSink() || !haveSmtpSource()) return ctx.note('smtp-source/smtp-sink not installed (Debian package "postfix"): skipped');
  const noPostfix = postfixUnavailable();
  if (noPostfix) return ctx.note(`skipped: ${noPostfix}`);
  const dir = mkdtempSync(join(tmpdir(), 'relais-bench-allon-'));
  const configFile = join(dir, 'relais.yaml');
  writeFileSync(configFile, policiesConfig(true));
  const prefix = `bench-allon-${randomBytes(6).toString('hex')}:`;
  const useRedis = await redisReachable(BENCH_REDIS_URL);
  const many: DriveOptions = { messages: MESSAGES, sessions: 20, reuse: false, from: FROM };
  const one: DriveOptions = { messages: SINGLE, sessions: 1, reuse: true, from: FROM };
  let dkim: OpenDkim | undefined;
  const noDkim = opendkimUnavailable();
  if (noDkim) ctx.note(`Postfix + OpenDKIM skipped: ${noDkim}`);
  if (!useRedis) ctx.note(`Redis not reachable at ${BENCH_REDIS_URL}: Redis rows skipped`);
  /** Per ratio and column, its value in each round (for the min–max summary). */
  const seen = new Map<string, Map<string, number[]>>();
  const ratio = (round: string, name: string, values: Record<string, number | undefined>) => {
    ctx.record(`ratio${round}: ${name}`, values);
    const cols = seen.get(name) ?? new Map<string, number[]>();
    seen.set(name, cols);
    for (const [k, v] of Object.entries(values)) if (v !== undefined) cols.set(k, [...(cols.get(k) ?? []), v]);
  };
  try {
    if (!noDkim) dkim = await startOpenDkim(DOMAIN);
    for (let n = 1; n <= ROUNDS; n++) {
      const round = ROUNDS > 1 ? ` (round ${n})` : '';
      const pfBefore = await postfixRun(many);
      record(ctx, `Postfix (before)${round}`, pfBefore);
      // Both stores on one data directory (the same spool directories), in turn first. A new
      // directory costs its first user more (ext4 places and frees the first thousands of queue
      // files differently): an unmeasured run primes it, so that neither store meets it new.
      const shared = join(dir, `round-${n}`);
      await relaisRun({ ...many, messages: PRIME }, configFile, {}, shared, false);
      const runEmbedded = () => relaisRun(many, configFile, {}, shared);
      const runRedis = () => relaisRun(many, configFile, { RELAIS_REDIS_URL: BENCH_REDIS_URL, RELAIS_STORE_PREFIX: `${prefix}${n}:` }, shared);
      let embedded: Measured;
      let redis: Measured | undefined;
      if (useRedis && n % 2 === 0) {
        redis = await runRedis();
        embedded = await runEmbedded();
      } else {
        embedded = await runEmbedded();
        if (useRedis) redis = await runRedis();
      }
      record(ctx, `Relais everything on · embedded${round}`, embedded);
      if (redis) record(ctx, `Relais everything on · Redis${round}`, redis);
      let pfDkim: Measured | undefined;
      if (dkim) {
        pfDkim = await postfixRun(many, dkim.milter);
        record(ctx, `Postfix + OpenDKIM${round}`, pfDkim);
      }
      const pfAfter = await postfixRun(many);
      record(ctx, `Postfix (after)${round}`, pfAfter);

      const pfAcc = (pfBefore.acceptPerSecond + pfAfter.acceptPerSecond) / 2;
      const pfDel = (pfBefore.e2ePerSecond + pfAfter.e2ePerSecond) / 2;
      const vsPostfix = (r: Measured) => ({
        'accepted msg/s': r.acceptPerSecond / pfAcc,
        'delivered msg/s': r.e2ePerSecond / pfDel,
        'vs Postfix + OpenDKIM delivered': pfDkim ? r.e2ePerSecond / pfDkim.e2ePerSecond : undefined,
      });
      ratio(round, 'embedded / Postfix', vsPostfix(embedded));
      if (redis) {
        ratio(round, 'Redis / Postfix', vsPostfix(redis));
        ratio(round, 'embedded / Redis', { 'accepted msg/s': embedded.acceptPerSecond / redis.acceptPerSecond, 'delivered msg/s': embedded.e2ePerSecond / redis.e2ePerSecond });
      }

      // One session on a reused connection (latency-bound), on the round's primed data dir.
      const pfOne = await postfixRun(one);
      record(ctx, `one session, reused · Postfix${round}`, pfOne);
      const relaisOne = await relaisRun(one, configFile, {}, shared);
      record(ctx, `one session, reused · Relais everything on${round}`, relaisOne);
      ratio(round, 'one session Relais / Postfix', { 'accepted msg/s': relaisOne.acceptPerSecond / pfOne.acceptPerSecond, 'delivered msg/s': relaisOne.e2ePerSecond / pfOne.e2ePerSecond });
    }
    const range = (v: number[]) => `${Math.min(...v).toFixed(2)}–${Math.max(...v).toFixed(2)}`;
    if (ROUNDS > 1) for (const [name, cols] of seen) ctx.record(`ratio over ${ROUNDS} rounds: ${name}`, Object.fromEntries([...cols].map(([k, v]) => [k, range(v)])));

    ctx.note(`${MESSAGES} messages of 2 KiB per system, smtp-source -s 20, one message per connection (BENCH_ALLON_MESSAGES); one session: ${SINGLE} messages, -d (BENCH_ALLON_SINGLE); targets: embedded ≥ 1.0× Postfix accepted and ≥ 1.3× delivered, ≥ 2.5× Postfix + OpenDKIM delivered, embedded ≥ Redis, one session ≥ 1.0× Postfix`);
  } finally {
    await dkim?.stop();
    rmSync(dir, { recursive: true, force: true });
    if (useRedis) await dropPrefix(BENCH_REDIS_URL, prefix).catch(() => undefined);
  }
});
