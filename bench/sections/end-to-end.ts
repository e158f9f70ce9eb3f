/**
 * End to end: client → Relais (spool, fsync) → smarthost smtp-sink. Counts what the sink
 * received. Skips with a note when the relay does not deliver (yet).
 */
import { section } from '../lib/registry.js';
import { startBenchRelay, type BenchRelay } from '../lib/relay.js';
import { makeMessage, runLoad } from '../lib/smtp-load.js';
import { haveSmtpSink, startSmtpSink } from '../lib/smtp-source.js';

const MESSAGES = 1000;
const IDLE_GIVE_UP_MS = 10_000;

section('end-to-end', async (ctx) => {
  if (!haveSmtpSink()) {
    ctx.note('smtp-sink not installed (Debian package "postfix"): end-to-end skipped');
    return;
  }
  const sink = await startSmtpSink();
  let relay: BenchRelay | undefined;
  try {
    relay = await startBenchRelay({ RELAIS_SMARTHOST: `127.0.0.1:${sink.port}`, RELAIS_SMARTHOST_TLS: 'none', RELAIS_ALLOW_PRIVATE_MX: 'true' });
    const t0 = performance.now();
    const r = await runLoad({ port: relay.smtpPort, sessions: 20, maxMessages: MESSAGES, maxMs: 60_000, message: makeMessage(2048) });
    const acceptS = (performance.now() - t0) / 1000;
    let last = sink.count();
    let lastChange = performance.now();
    while (sink.count() < r.messages && performance.now() - lastChange < IDLE_GIVE_UP_MS) {
      await new Promise((res) => setTimeout(res, 50));
      if (sink.count() !== last) {
        last = sink.count();
        lastChange = performance.now();
      }
    }
    const delivered = sink.count();
    if (delivered === 0) {
      ctx.note(`delivery not available yet: 0 of ${r.messages} accepted messages reached smtp-sink within ${IDLE_GIVE_UP_MS / 1000} s — skipped`);
      return;
    }
    const totalS = (lastChange - t0) / 1000;
    ctx.record('2 KiB · 20 sess → smarthost smtp-sink', { accepted: r.messages, delivered, 'accept msg/s': r.messages / acceptS, 'end-to-end msg/s': delivered / totalS, 'last delivery s': totalS });
    if (delivered < r.messages) ctx.note(`only ${delivered} of ${r.messages} messages reached the sink (no progress for ${IDLE_GIVE_UP_MS / 1000} s)`);
  } finally {
    await relay?.stop();
    await sink.stop();
  }
});
