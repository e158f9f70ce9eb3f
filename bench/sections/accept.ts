/**
 * Accept throughput of Relais alone: the lean Node client, 2 KiB and 100 KiB messages, 1 and 20
 * sessions, connections reused or one message per connection. Delivery points at a silent smarthost
 * (tarpit) so only intake + spool (fsync on) is measured.
 */
import { section } from '../lib/registry.js';
import { startTarpit } from '../lib/tarpit.js';
import { procCpuMs, startBenchRelay } from '../lib/relay.js';
import { makeMessage, percentile, runLoad } from '../lib/smtp-load.js';

export const RUN_MS = 2500;

section('accept', async (ctx) => {
  const tarpit = await startTarpit();
  const relay = await startBenchRelay({ RELAIS_SMARTHOST: `127.0.0.1:${tarpit.port}`, RELAIS_ALLOW_PRIVATE_MX: 'true' }).catch(async (err: unknown) => {
    await tarpit.close();
    throw err;
  });
  try {
    // Warm-up (JIT, first directory creations); not recorded.
    await runLoad({ port: relay.smtpPort, sessions: 20, maxMessages: 2000, maxMs: 1000, message: makeMessage(2048) });
    for (const size of [2048, 102_400]) {
      const message = makeMessage(size);
      for (const sessions of [1, 20]) {
        for (const perConnection of [false, true]) {
          const cpu0 = procCpuMs(relay.pid);
          const r = await runLoad({ port: relay.smtpPort, sessions, maxMessages: 100_000, maxMs: RUN_MS, message, perConnection });
          ctx.record(`${size / 1024} KiB · ${sessions} sess · ${perConnection ? '1 msg/conn' : 'reused'}`, {
            'msg/s': r.perSecond,
            'MiB/s': r.mibPerSecond,
            'p50 ms': percentile(r.latencies, 50),
            'p99 ms': percentile(r.latencies, 99),
            'relay CPU ms/msg': (procCpuMs(relay.pid) - cpu0) / Math.max(1, r.messages),
            messages: r.messages,
            errors: r.errors.length || undefined,
          });
          if (r.errors.length) ctx.note(`errors (${size} B, ${sessions} sessions): ${r.errors.slice(0, 3).join('; ')}`);
        }
      }
    }
  } finally {
    await relay.stop();
    await tarpit.close();
  }
});
