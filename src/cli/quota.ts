/** `relais quota show|set|clear|reset`: limits, usage and reset time of a mailbox, domain or tenant. */
import type { Command } from 'commander';
import { adminCommand } from './common.js';
import { apiAction, out, printJson, shortTime, table } from './output.js';

interface Limit {
  name: string;
  scope?: string;
  level?: string;
  id?: string;
  limit: number;
  used: number;
  resetAt?: string;
  hard?: boolean;
  override?: boolean;
}

interface Usage {
  address: string;
  level: string;
  tenant?: string;
  limits: Limit[];
}

const LIMIT_NAMES = ['messages_per_minute', 'messages_per_hour', 'messages_per_day', 'recipients_per_minute', 'recipients_per_hour', 'recipients_per_day'];

/** "messages_per_hour=200" "hard=true" → {messages_per_hour: 200, hard: true}. */
export function parseAssignments(pairs: string[]): Record<string, number | boolean> {
  if (!pairs.length) throw new Error(`give at least one NAME=VALUE (${LIMIT_NAMES.join(', ')}, hard)`);
  const limits: Record<string, number | boolean> = {};
  for (const p of pairs) {
    const m = /^([a-z_]+)=(.+)$/.exec(p.trim());
    if (!m) throw new Error(`expected NAME=VALUE, got ${JSON.stringify(p)}`);
    const [, name, value] = m as unknown as [string, string, string];
    if (name === 'hard') {
      if (!/^(true|false)$/.test(value)) throw new Error(`hard: expected true or false, got ${JSON.stringify(value)}`);
      limits.hard = value === 'true';
    } else if (LIMIT_NAMES.includes(name)) {
      if (!/^\d+$/.test(value)) throw new Error(`${name}: expected a whole number, got ${JSON.stringify(value)}`);
      limits[name] = Number(value);
    } else {
      throw new Error(`unknown limit ${JSON.stringify(name)} (known: ${LIMIT_NAMES.join(', ')}, hard)`);
    }
  }
  return limits;
}

function printUsage(u: Usage): void {
  out(`${u.address} (${u.level}${u.tenant && u.level !== 'tenant' ? `, tenant ${u.tenant}` : ''})`);
  out(
    table(
      ['LIMIT', 'SCOPE', 'APPLIES TO', 'USED', 'LIMIT', 'RESET AT', 'HARD', 'OVERRIDE'],
      u.limits.map((l) => [l.name, l.scope, l.level && l.id ? `${l.level} ${l.id}` : l.level, l.used, l.limit, shortTime(l.resetAt), l.hard ? 'yes' : 'no', l.override ? 'yes' : 'no']),
      '(no limit applies)',
    ),
  );
}

const path = (address: string) => `/quotas/${encodeURIComponent(address)}`;

export function registerQuota(program: Command): void {
  const quota = program.command('quota').description('sending limits of a mailbox (a@x.org), a domain (x.org) or a tenant id');

  adminCommand(quota.command('show <address>').description('limits, current usage and reset time')).action(
    apiAction<[string]>(async (api, [address], o) => {
      const u = await api.call<Usage>('GET', path(address));
      if (o.json) return printJson(u);
      printUsage(u);
    }),
  );

  adminCommand(quota.command('set <address> <limits...>').description('override limits, e.g. messages_per_hour=200 recipients_per_day=1000 [hard=true]')).action(
    apiAction<[string, string[]]>(async (api, [address, pairs], o) => {
      const u = await api.call<Usage>('PUT', path(address), { limits: parseAssignments(pairs) });
      if (o.json) return printJson(u);
      printUsage(u);
    }),
  );

  adminCommand(quota.command('clear <address>').description('remove the overrides: back to the tenant and default limits')).action(
    apiAction<[string]>(async (api, [address], o) => {
      const r = await api.call('DELETE', path(address));
      if (o.json) return printJson(r);
      out(`overrides of ${address} cleared`);
    }),
  );

  adminCommand(quota.command('reset <address>').description('reset the usage counters to zero')).action(
    apiAction<[string]>(async (api, [address], o) => {
      const r = await api.call('POST', `${path(address)}/reset`);
      if (o.json) return printJson(r);
      out(`usage counters of ${address} reset`);
    }),
  );
}
