/** `relais shaping list|clear`: providers slowed down or suspended after their replies, per pool. */
import type { Command } from 'commander';
import { adminCommand } from './common.js';
import { apiAction, out, printJson, shortTime, table, truncate } from './output.js';

interface Restriction {
  pool: string;
  provider: string;
  mode: string;
  category: string;
  level: number;
  since: string;
  until: string;
  limits: { maxConnections: number; messagesPerMinute: number | null };
  triggers: number;
  cause: { reply: { code: number; enhanced?: string; text: string }; at: string; mx?: string; fix?: { fr: string; en: string } };
}

interface Answer {
  node: string;
  running: boolean;
  restrictions: Restriction[];
  warmups: Array<{ pool: string; provider: string; day: string; volume: number; sent: number }>;
}

export function registerShaping(program: Command): void {
  const shaping = program.command('shaping').description('providers slowed down or suspended after their replies (reputation, block list, rate limiting), warm-up budgets');

  adminCommand(shaping.command('list').description('restrictions in force with their cause, and warm-up budgets of the day')).action(
    apiAction<[]>(async (api, _a, o) => {
      const r = await api.call<Answer>('GET', '/delivery/shaping');
      if (o.json) return printJson(r);
      if (!r.running) out('(no relay running: nothing is shaped)');
      out(
        table(
          ['PROVIDER', 'POOL', 'STATE', 'CATEGORY', 'LEVEL', 'SINCE', 'UNTIL', 'CONN', 'MSG/MIN', 'CAUSE'],
          r.restrictions.map((x) => [
            x.provider,
            x.pool,
            x.mode,
            x.category,
            x.level,
            shortTime(x.since),
            shortTime(x.until),
            x.limits.maxConnections,
            x.mode === 'suspended' ? 'probe' : x.limits.messagesPerMinute ?? '-',
            truncate([x.cause.reply.code, x.cause.reply.enhanced, x.cause.reply.text].filter(Boolean).join(' '), 70),
          ]),
          '(no provider restricted)',
        ),
      );
      for (const x of r.restrictions) if (x.cause.fix) out(`${x.provider}/${x.pool}: ${x.cause.fix.en}`);
      if (r.warmups.length) {
        out('');
        out(table(['POOL', 'PROVIDER', 'DAY', 'SENT', 'VOLUME'], r.warmups.map((w) => [w.pool, w.provider, w.day, w.sent, w.volume])));
      }
    }),
  );

  adminCommand(shaping.command('clear <provider>').description("lift a provider's restrictions now (every pool, or --pool)"))
    .option('--pool <name>', 'only this outbound identity (delivery.pools name, or "default")')
    .action(
      apiAction<[string]>(async (api, [provider], o) => {
        const q = o.pool ? `?pool=${encodeURIComponent(String(o.pool))}` : '';
        const r = await api.call<{ cleared: number }>('DELETE', `/delivery/shaping/${encodeURIComponent(provider)}${q}`);
        if (o.json) return printJson(r);
        out(r.cleared ? `${provider}: ${r.cleared} restriction(s) lifted` : `${provider}: no restriction in force`);
      }),
    );
}
