/** `relais stats`: deliverability per destination provider (or tenant, sender, domain) as a table. */
import type { Command } from 'commander';
import { adminCommand } from './common.js';
import { apiAction, out, printJson, table, truncate } from './output.js';

interface Row {
  id: string;
  name?: string;
  sent: number;
  delivered: number;
  deferred: number;
  bounced: number;
  deliveredPct: number;
  deferredPct: number;
  bouncedPct: number;
  topReasons?: Array<{ reason: string; count: number }>;
}

const BY: Record<string, string> = { provider: 'providers', tenant: 'tenants', sender: 'senders', 'sender-domain': 'sender-domains', domain: 'domains' };

function isoOption(flag: string, v: unknown): string | undefined {
  if (v === undefined) return undefined;
  const t = Date.parse(String(v));
  if (Number.isNaN(t)) throw new Error(`${flag}: expected a date or ISO time (2026-01-31 or 2026-01-31T12:00:00Z), got ${JSON.stringify(v)}`);
  return new Date(t).toISOString();
}

const pct = (n: number) => `${n.toFixed(1)}%`;

export function registerStats(program: Command): void {
  adminCommand(program.command('stats').description('deliverability per destination provider: sent, delivered %, deferred %, bounced %, top reason'))
    .option('--from <iso>', 'start (default: 7 days ago)')
    .option('--to <iso>', 'end (default: now)')
    .option('-t, --tenant <id>', 'only this tenant')
    .option('--by <dimension>', `provider, tenant, sender, sender-domain or domain`, 'provider')
    .option('--limit <n>', 'at most N rows', '100')
    .action(
      apiAction<[]>(async (api, _a, o) => {
        const route = BY[String(o.by)];
        if (!route) throw new Error(`--by: expected one of ${Object.keys(BY).join(', ')}, got ${JSON.stringify(o.by)}`);
        const q = new URLSearchParams();
        const from = isoOption('--from', o.from);
        const to = isoOption('--to', o.to);
        if (from) q.set('from', from);
        if (to) q.set('to', to);
        if (o.tenant) q.set('tenant', String(o.tenant));
        q.set('limit', String(o.limit));
        const r = await api.call<{ from: string; to: string; items: Row[] }>('GET', `/stats/${route}?${q}`);
        if (o.json) return printJson(r);
        out(`${r.from} → ${r.to}${o.tenant ? ` (tenant ${String(o.tenant)})` : ''}`);
        out(
          table(
            [String(o.by).toUpperCase(), 'SENT', 'DELIVERED', 'DEFERRED', 'BOUNCED', 'TOP REASON'],
            r.items.map((x) => [x.name && x.name !== x.id ? `${x.name} (${x.id})` : x.id, x.sent, pct(x.deliveredPct), pct(x.deferredPct), pct(x.bouncedPct), truncate(x.topReasons?.[0] ? `${x.topReasons[0].reason} (${x.topReasons[0].count})` : undefined, 50)]),
            '(nothing sent in this period)',
          ),
        );
      }),
    );
}
