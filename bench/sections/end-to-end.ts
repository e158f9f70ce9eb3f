/**
 * End to end (issue 4): smtp-source → Relais (spool, fsync) → smarthost smtp-sink, and the same
 * through a private Postfix (relayhost = the sink), counted at the sink. Same C client, same
 * message count, same sink: end-to-end msg/s = delivered / (last delivery − start of sending).
 *
 * BENCH_E2E_MESSAGES (default 20 000) sets the count; BENCH_E2E_REUSE=0 sends one message per
 * connection (smtp-source without -d) instead of reusing the 20 sessions.
 */
import { postfixUnavailable, startPostfix, type PostfixInstance } from '../lib/postfix.js';
import { section, type BenchContext } from '../lib/registry.js';
import { procCpuMs, procStatusKiB, startBenchRelay, type BenchRelay } from '../lib/relay.js';
import { haveSmtpSink, haveSmtpSource, smtpSource, startSmtpSink, waitDelivered, type Sink } from '../lib/smtp-source.js';

export const E2E_MESSAGES = Math.max(20, Number(process.env.BENCH_E2E_MESSAGES ?? 20_000));
const REUSE = process.env.BENCH_E2E_REUSE !== '0';
const SESSIONS = 20;
const SIZE = 2048;
/** No delivery progress for this long ends the wait (the rest is reported as missing). */
const IDLE_GIVE_UP_MS = 15_000;

export interface E2eRun {
  accepted: number;
  delivered: number;
  acceptPerSecond: number;
  e2ePerSecond: number;
  lastDeliveryS: number;
}

export interface DriveOptions {
  messages?: number;
  sessions?: number;
  reuse?: boolean;
  /** Envelope sender (and smtp-source's From:). */
  from?: string;
}

/** Sends messages with smtp-source to `port` and waits until the sink has them all. */
export async function drive(port: number, sink: Sink, o: DriveOptions = {}): Promise<E2eRun> {
  const messages = o.messages ?? E2E_MESSAGES;
  const before = sink.count();
  const t0 = performance.now();
  const src = await smtpSource({ port, sessions: o.sessions ?? SESSIONS, messages, size: SIZE, reuse: o.reuse ?? REUSE, from: o.from, timeoutMs: Math.max(120_000, messages * 20) });
  const d = await waitDelivered(sink, before + messages, IDLE_GIVE_UP_MS);
  const delivered = d.delivered - before;
  const lastDeliveryS = (d.lastAt - t0) / 1000;
  return { accepted: messages, delivered, acceptPerSecond: src.perSecond, e2ePerSecond: delivered / lastDeliveryS, lastDeliveryS };
}

function report(ctx: BenchContext, who: string, r: E2eRun, extra: Record<string, number | undefined> = {}): void {
  ctx.record(who, { messages: r.accepted, delivered: r.delivered, 'accept msg/s': r.acceptPerSecond, 'end-to-end msg/s': r.e2ePerSecond, 'last delivery s': r.lastDeliveryS, ...extra });
  if (r.delivered < r.accepted) ctx.note(`${who}: only ${r.delivered} of ${r.accepted} messages reached the sink (no progress for ${IDLE_GIVE_UP_MS / 1000} s)`);
}

section('end-to-end', async (ctx) => {
  if (!haveSmtpSink() || !haveSmtpSource()) {
    ctx.note('smtp-source/smtp-sink not installed (Debian package "postfix"): end-to-end skipped');
    return;
  }
  ctx.note(`${E2E_MESSAGES} messages of ${SIZE / 1024} KiB, smtp-source -s ${SESSIONS}${REUSE ? ' -d (connections reused)' : ' (one message per connection)'}; sink: smtp-sink; BENCH_E2E_MESSAGES sets the count`);
  let relais: E2eRun | undefined;
  let sink: Sink | undefined;
  let relay: BenchRelay | undefined;
  try {
    sink = await startSmtpSink();
    relay = await startBenchRelay({ RELAIS_SMARTHOST: `127.0.0.1:${sink.port}`, RELAIS_SMARTHOST_TLS: 'none', RELAIS_ALLOW_PRIVATE_MX: 'true' });
    const cpu0 = procCpuMs(relay.pid);
    const rssBefore = procStatusKiB(relay.pid, 'VmRSS');
    relais = await drive(relay.smtpPort, sink);
    report(ctx, 'Relais (smarthost smtp-sink)', relais, {
      'relay CPU ms/msg': (procCpuMs(relay.pid) - cpu0) / Math.max(1, relais.delivered),
      'RSS start MiB': rssBefore / 1024,
      'peak RSS MiB': procStatusKiB(relay.pid, 'VmHWM') / 1024,
    });
    if (relais.delivered === 0) return ctx.note('Relais delivered nothing: Postfix comparison skipped');
  } finally {
    await relay?.stop();
    await sink?.stop();
  }

  const why = postfixUnavailable();
  if (why) return ctx.note(`Postfix comparison skipped: ${why}`);
  let postfix: PostfixInstance | undefined;
  sink = undefined;
  try {
    sink = await startSmtpSink();
    postfix = await startPostfix({
      prefix: 'relais-bench-postfix-',
      main: { relayhost: `[127.0.0.1]:${sink.port}`, smtp_tls_security_level: 'none', smtpd_client_connection_count_limit: '0' },
    });
    const pf = await drive(postfix.port, sink);
    report(ctx, `Postfix ${postfix.postconf('mail_version')} (relayhost smtp-sink)`, pf);
    ctx.record('Relais / Postfix', { 'accept msg/s': relais.acceptPerSecond / pf.acceptPerSecond, 'end-to-end msg/s': relais.e2ePerSecond / pf.e2ePerSecond });
    ctx.note('Postfix: private instance, default concurrency (default_destination_concurrency_limit 20), no TLS; target: Relais/Postfix end-to-end ≥ 1');
  } finally {
    await postfix?.stop();
    await sink?.stop();
  }
});
