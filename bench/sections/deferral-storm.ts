/**
 * Deferral storm (issue 21): BENCH_STORM_MESSAGES (default 10 000) queued newsletter messages to a
 * Gmail-like MX that answers every RCPT with "421 4.7.28", while person-to-person mail goes to two
 * healthy providers. Personal mail's delivery latency (queued → received by its MX) is measured
 * with and without the storm; the storm's cost is the difference.
 *
 * Delivery runs in this process (relay/delivery over a spool in a temp dir, fsync off: the disk
 * is not what is measured) against three smtp-server MXs on 127.0.0.7-9; recipients are address
 * literals (user@[127.0.0.7]), so no DNS is involved. Providers and automation rules are those of
 * config/providers.yaml, with each provider's MX pattern pointed at its test address and TLS off;
 * replies are classified as in production (src/wiring/delivery.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { SMTPServer } from 'smtp-server';
import { parse as parseYaml } from 'yaml';
import { bundledConfigPath } from '../../config/paths.js';
import { buildProviderCatalog } from '../../config/providers.js';
import { createDelivery, type Delivery } from '../../relay/delivery/index.js';
import type { Envelope } from '../../relay/spool/envelope.js';
import { Spool } from '../../relay/spool/spool.js';
import { section, type BenchContext } from '../lib/registry.js';

const STORM = Math.max(10, Number(process.env.BENCH_STORM_MESSAGES ?? 10_000));
const PERSONAL = Math.max(10, Number(process.env.BENCH_STORM_PERSONAL ?? 200));
/** One personal message every this many ms, alternating between the two healthy providers. */
const PERSONAL_EVERY_MS = 50;
const IPS = { storm: '127.0.0.7', a: '127.0.0.8', b: '127.0.0.9' } as const;
const REFUSAL = '4.7.28 Gmail has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily rate limited.';

interface Mx {
  rcpts: number;
  received: Map<string, number>;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function startMx(host: string, port: number, refuse: boolean): Promise<Mx> {
  const mx: Mx = { rcpts: 0, received: new Map(), close: async () => void (await new Promise<void>((r) => server.close(() => r()))) };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onRcptTo(_a, _s, cb) {
      mx.rcpts++;
      cb(refuse ? Object.assign(new Error(REFUSAL), { responseCode: 421 }) : undefined);
    },
    onData(stream, session, cb) {
      stream.resume();
      stream.on('end', () => {
        const now = Date.now();
        for (const r of session.envelope.rcptTo) mx.received.set(r.address, now);
        cb(null);
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return mx;
}

/** Writes one message into the spool as the intake would. */
async function enqueue(spool: Spool, to: string, newsletter: boolean): Promise<void> {
  const w = await spool.createWriter();
  const from = newsletter ? 'lettre@collectif.test' : 'ami@collectif.test';
  w.write(Buffer.from(`From: <${from}>\r\nTo: <${to}>\r\nSubject: Bonjour\r\nMessage-ID: <${w.id}@bench>\r\n\r\nBonjour.\r\n`));
  const now = Date.now();
  const env: Envelope = {
    id: w.id,
    rev: 0,
    state: 'active',
    from,
    recipients: [{ address: to, status: 'pending', attempts: 0 }],
    receivedAt: now,
    size: 0,
    client: { address: '127.0.0.1', tls: false },
    ...(newsletter ? { newsletter: true, listmonk: { campaign: 'bench' } } : {}),
    nextAttemptAt: now,
    attempts: [],
  };
  await spool.commit(w, env);
}

/** The bundled providers file with Google's, Proton's and the default MX moved to the test addresses. */
function catalog() {
  const doc = parseYaml(readFileSync(bundledConfigPath('providers.yaml'), 'utf8')) as { providers: Array<{ id: string; mx: string[]; shaping?: Record<string, unknown> }> };
  const at: Record<string, string> = { google: IPS.storm, proton: IPS.a };
  doc.providers = doc.providers
    .filter((p) => p.id in at)
    .map((p) => ({ ...p, mx: [at[p.id]!], domains: [], shaping: { ...p.shaping, tls_required: false } }));
  return buildProviderCatalog(doc, 'providers.yaml (bench)');
}

const pct = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;


async function run(storm: boolean): Promise<Record<string, number | string>> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'relais-bench-storm-'));
  const log = pino({ level: 'silent' });
  const spool = await Spool.open({ dir, log, fsync: false });
  const mxs = { storm: await startMx(IPS.storm, port, true), a: await startMx(IPS.a, port, false), b: await startMx(IPS.b, port, false) };
  let delivery: Delivery | undefined;
  try {
    const q0 = performance.now();
    if (storm) for (let i = 0; i < STORM; i++) await enqueue(spool, `n${i}@[${IPS.storm}]`, true);
    const queueS = (performance.now() - q0) / 1000;
    delivery = createDelivery({ spool, log, options: { hostname: 'relais.bench', port, allowPrivateMx: true, mtaSts: false, retryFirstMs: 3_600_000 }, providers: catalog() });
    const t0 = performance.now();
    delivery.start();
    const sentAt = new Map<string, number>();
    for (let i = 0; i < PERSONAL; i++) {
      const to = `p${i}@[${i % 2 ? IPS.a : IPS.b}]`;
      sentAt.set(to, Date.now());
      await enqueue(spool, to, false);
      await new Promise((r) => setTimeout(r, PERSONAL_EVERY_MS));
    }
    const deadline = Date.now() + 120_000;
    const got = () => mxs.a.received.size + mxs.b.received.size;
    while (got() < PERSONAL && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const latencies = [...sentAt].flatMap(([to, at]) => {
      const r = mxs.a.received.get(to) ?? mxs.b.received.get(to);
      return r === undefined ? [] : [r - at];
    });
    latencies.sort((x, y) => x - y);
    const s = delivery.stats();
    const shaping = delivery.shaping().restrictions.find((r) => r.provider === 'google');
    return {
      'personal delivered': latencies.length,
      'latency p50 ms': pct(latencies, 0.5),
      'latency p95 ms': pct(latencies, 0.95),
      'latency max ms': latencies.at(-1) ?? NaN,
      'storm queued': storm ? STORM : 0,
      'storm queue s': queueS,
      'storm RCPTs': mxs.storm.rcpts,
      'storm parked': s.parked,
      'storm bounced': s.bounced,
      'google state': shaping ? `${shaping.mode} L${shaping.level}` : '-',
      'run s': (performance.now() - t0) / 1000,
    };
  } finally {
    await delivery?.stop({ timeoutMs: 2000 });
    await Promise.all(Object.values(mxs).map((m) => m.close()));
    await rm(dir, { recursive: true, force: true });
  }
}

section('deferral-storm', async (ctx: BenchContext) => {
  ctx.note(`${PERSONAL} personal messages, one every ${PERSONAL_EVERY_MS} ms to two healthy providers; storm: ${STORM} newsletter messages to a provider answering 421 4.7.28 (BENCH_STORM_MESSAGES, BENCH_STORM_PERSONAL)`);
  ctx.record('personal mail alone', await run(false));
  ctx.record(`personal mail + ${STORM} in a 421 storm`, await run(true));
});
