/**
 * Peak memory of the relay while 50 clients each send a 20 MiB message at once: intake must
 * stream to disk, so the peak (VmHWM) should stay far below 50 × 20 MiB.
 */
import { section } from '../lib/registry.js';
import { startTarpit } from '../lib/tarpit.js';
import { procStatusKiB, startBenchRelay } from '../lib/relay.js';
import { makeMessage, percentile, runLoad } from '../lib/smtp-load.js';

section('memory', async (ctx) => {
  const tarpit = await startTarpit();
  const relay = await startBenchRelay({ RELAIS_SMARTHOST: `127.0.0.1:${tarpit.port}`, RELAIS_ALLOW_PRIVATE_MX: 'true' }).catch(async (err: unknown) => {
    await tarpit.close();
    throw err;
  });
  try {
    const base = procStatusKiB(relay.pid, 'VmRSS');
    const message = makeMessage(20 * 1024 * 1024, 'big');
    let peakRss = base;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, procStatusKiB(relay.pid, 'VmRSS'))), 50);
    const r = await runLoad({ port: relay.smtpPort, sessions: 50, maxMessages: 50, maxMs: 120_000, message, perConnection: true });
    clearInterval(sampler);
    const hwm = procStatusKiB(relay.pid, 'VmHWM');
    ctx.record('50 × 20 MiB at once', {
      'RSS before MiB': base / 1024,
      'VmHWM MiB': hwm / 1024,
      'peak − before MiB': (Math.max(hwm, peakRss) - base) / 1024,
      accepted: r.messages,
      seconds: r.seconds,
      'MiB/s': r.mibPerSecond,
      'p50 ms': percentile(r.latencies, 50),
      'p99 ms': percentile(r.latencies, 99),
    });
    if (r.errors.length) ctx.note(`errors: ${r.errors.slice(0, 3).join('; ')}`);
  } finally {
    await relay.stop();
    await tarpit.close();
  }
});
