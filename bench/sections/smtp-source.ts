/**
 * Relais vs Postfix, same machine, same disk, same C client (Postfix's smtp-source, no
 * pipelining): accept rate only. Postfix runs as a private instance with delivery deferred
 * (defer_transports = smtp), Relais with delivery pointed at a silent smarthost
 * (tarpit); both fsync before answering 250.
 */
import { freePort, postfixUnavailable, startPostfix, type PostfixInstance } from '../lib/postfix.js';
import { section } from '../lib/registry.js';
import { startBenchRelay, type BenchRelay } from '../lib/relay.js';
import { haveSmtpSource, smtpSource } from '../lib/smtp-source.js';
import { startTarpit } from '../lib/tarpit.js';

const CASES = [
  { size: 2048, sessions: 1, reuse: true },
  { size: 2048, sessions: 20, reuse: true },
  { size: 2048, sessions: 20, reuse: false },
  { size: 102_400, sessions: 1, reuse: true },
  { size: 102_400, sessions: 20, reuse: true },
];
const TARGET_S = 2.5;

/** A short probe sizes the real run to about TARGET_S seconds (smtp-source counts messages, not time). */
async function measure(port: number, c: (typeof CASES)[number]): Promise<{ perSecond: number; messages: number }> {
  const probeN = Math.max(50, c.sessions * 10);
  const probe = await smtpSource({ port, sessions: c.sessions, messages: probeN, size: c.size, reuse: c.reuse });
  const n = Math.min(30_000, Math.max(probeN, Math.round((probe.perSecond * TARGET_S) / c.sessions) * c.sessions));
  const r = await smtpSource({ port, sessions: c.sessions, messages: n, size: c.size, reuse: c.reuse });
  return { perSecond: r.perSecond, messages: n };
}

section('smtp-source', async (ctx) => {
  if (!haveSmtpSource()) {
    ctx.note('smtp-source not installed (Debian package "postfix"): Relais/Postfix comparison skipped');
    return;
  }
  const closed = await freePort();
  const why = postfixUnavailable();
  if (why) ctx.note(`Postfix comparison skipped: ${why}`);
  let relay: BenchRelay | undefined;
  let postfix: PostfixInstance | undefined;
  const tarpit = await startTarpit();
  try {
    relay = await startBenchRelay({ RELAIS_SMARTHOST: `127.0.0.1:${tarpit.port}`, RELAIS_ALLOW_PRIVATE_MX: 'true' });
    if (!why) {
      postfix = await startPostfix({
        prefix: 'relais-bench-postfix-',
        main: { relayhost: `[127.0.0.1]:${closed}`, defer_transports: 'smtp', smtpd_client_connection_count_limit: '0', message_size_limit: '104857600' },
      });
      ctx.note(`Postfix ${postfix.postconf('mail_version')}: private instance, queue in ${postfix.queueDir}, defer_transports = smtp`);
    }
    for (const [i, c] of CASES.entries()) {
      const name = `${c.size / 1024} KiB · ${c.sessions} sess · ${c.reuse ? 'reused' : '1 msg/conn'}`;
      // Alternate who goes first: the disk's fsync latency drifts over a run.
      const pfFirst = postfix && i % 2 === 1 ? await measure(postfix.port, c) : undefined;
      const rel = await measure(relay.smtpPort, c);
      const pf = pfFirst ?? (postfix ? await measure(postfix.port, c) : undefined);
      ctx.record(name, { 'Relais msg/s': rel.perSecond, 'Postfix msg/s': pf?.perSecond, 'Relais/Postfix': pf ? rel.perSecond / pf.perSecond : undefined, 'n Relais': rel.messages, 'n Postfix': pf?.messages });
    }
  } finally {
    await postfix?.stop();
    await relay?.stop();
    await tarpit.close();
  }
});
