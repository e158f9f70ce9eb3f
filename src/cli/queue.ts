/**
 * `relais queue list|show|retry|hold|release|delete`. Actions take message ids, or --all with the
 * list filters for bulk work (with progress on a terminal); a bulk run reports how many failed.
 */
import type { Command } from 'commander';
import type { ApiCaller } from './backend.js';
import { adminCommand } from './common.js';
import { apiAction, out, printJson, printYaml, progress, shortTime, table, truncate } from './output.js';

interface Recipient {
  address: string;
  status: string;
  attempts: number;
  last?: { code?: number; enhanced?: string; text?: string };
}

interface Item {
  id: string;
  state: string;
  from: string;
  recipients: Recipient[];
  receivedAt: string;
  nextAttemptAt: string;
  size: number;
  tenant?: string;
  subject?: string;
  holdReason?: string;
}

interface ListAnswer {
  total: number;
  counts: { active: number; deferred: number; hold: number };
  items: Item[];
}

interface Filters {
  state?: string;
  sender?: string;
  recipient?: string;
  domain?: string;
  tenant?: string;
}

function filterQuery(o: Filters, limit: number, offset = 0): string {
  const q = new URLSearchParams();
  for (const k of ['state', 'sender', 'recipient', 'domain', 'tenant'] as const) if (o[k]) q.set(k, String(o[k]));
  q.set('limit', String(limit));
  q.set('offset', String(offset));
  return `/queue?${q}`;
}

const withFilters = (cmd: Command) =>
  cmd
    .option('--state <state>', 'active, deferred or hold')
    .option('--sender <address>', 'envelope sender')
    .option('--recipient <address>', 'one of the recipients')
    .option('--domain <domain>', 'recipient domain')
    .option('--tenant <id>', 'tenant');

/** Every queued id matching the filters (pages of 1000). */
async function allIds(api: ApiCaller, o: Filters): Promise<string[]> {
  const ids: string[] = [];
  for (let offset = 0; ; offset += 1000) {
    const r = await api.call<ListAnswer>('GET', filterQuery(o, 1000, offset));
    ids.push(...r.items.map((i) => i.id));
    if (r.items.length < 1000 || ids.length >= r.total) return ids;
  }
}

function lastReply(r: Recipient): string | undefined {
  return r.last ? [r.last.code, r.last.enhanced, r.last.text].filter(Boolean).join(' ') : undefined;
}

type Action = { verb: string; done: string; method: 'POST' | 'DELETE'; path: (id: string, o: Record<string, unknown>) => string };

const ACTIONS: Action[] = [
  { verb: 'retry', done: 'retry scheduled', method: 'POST', path: (id) => `/queue/${id}/retry` },
  { verb: 'hold', done: 'held', method: 'POST', path: (id) => `/queue/${id}/hold` },
  { verb: 'release', done: 'released', method: 'POST', path: (id) => `/queue/${id}/release` },
  { verb: 'delete', done: 'deleted', method: 'DELETE', path: (id, o) => `/queue/${id}?bounce=${o.bounce ? 'true' : 'false'}` },
];

const DESCRIPTIONS: Record<string, string> = {
  retry: 'retry now',
  hold: 'put on hold (not delivered until released)',
  release: 'release from hold',
  delete: 'remove from the queue (--bounce tells the sender)',
};

export function registerQueue(program: Command): void {
  const queue = program.command('queue').description('messages waiting for delivery');

  withFilters(adminCommand(queue.command('list').description('queued messages, oldest first')))
    .option('--limit <n>', 'at most N messages', '50')
    .action(
      apiAction<[]>(async (api, _a, o) => {
        const limit = Number(o.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new Error(`--limit: expected 1 to 1000, got ${JSON.stringify(o.limit)}`);
        const r = await api.call<ListAnswer>('GET', filterQuery(o as Filters, limit));
        if (o.json) return printJson(r);
        out(
          table(
            ['ID', 'STATE', 'FROM', 'RCPTS', 'RECEIVED', 'NEXT ATTEMPT', 'SIZE', 'LAST REPLY'],
            r.items.map((i) => {
              const pending = i.recipients.filter((x) => x.status !== 'delivered' && x.status !== 'bounced');
              const reply = pending.map(lastReply).find(Boolean);
              return [i.id, i.state, truncate(i.from || '<>', 40), i.recipients.length, shortTime(i.receivedAt), i.state === 'hold' ? 'on hold' : shortTime(i.nextAttemptAt), i.size, truncate(reply ?? i.holdReason, 60)];
            }),
            '(queue empty)',
          ),
        );
        out(`${r.total} message(s): ${r.counts.active} active, ${r.counts.deferred} deferred, ${r.counts.hold} on hold${r.total > r.items.length ? ` (showing ${r.items.length}; --limit)` : ''}`);
      }),
    );

  adminCommand(queue.command('show <id>').description('one message: envelope, recipients, attempt history')).action(
    apiAction<[string]>(async (api, [id], o) => {
      const m = await api.call<Item & { attempts?: Array<{ at?: number }> }>('GET', `/queue/${encodeURIComponent(id)}`);
      if (o.json) return printJson(m);
      // For people: attempt and reply times as dates (the API and --json keep epoch milliseconds).
      const iso = (at: unknown) => (typeof at === 'number' ? new Date(at).toISOString() : at);
      printYaml({
        ...m,
        recipients: m.recipients.map((r) => (r.last ? { ...r, last: { ...r.last, at: iso((r.last as { at?: number }).at) } } : r)),
        attempts: m.attempts?.map((a) => ({ ...a, at: iso(a.at) })),
      });
    }),
  );

  for (const a of ACTIONS) {
    const cmd = withFilters(adminCommand(queue.command(`${a.verb} [ids...]`).description(`${DESCRIPTIONS[a.verb]}; ids, or --all with filters`))).option('--all', 'every message matching the filters');
    if (a.verb === 'delete') cmd.option('--bounce', 'send a bounce (DSN) to the sender');
    cmd.action(
      apiAction<[string[]]>(async (api, [given], o) => {
        if (given.length && o.all) throw new Error('give message ids or --all, not both');
        if (!given.length && !o.all) throw new Error(`nothing to ${a.verb}: give message ids or --all (with --state, --sender, ... filters)`);
        const ids = o.all ? await allIds(api, o as Filters) : given;
        const p = progress(`${a.verb}`);
        const results: Array<{ id: string; ok: boolean; error?: string }> = [];
        for (const [n, id] of ids.entries()) {
          p.update(`${n + 1}/${ids.length}`);
          try {
            await api.call(a.method, a.path(encodeURIComponent(id), o));
            results.push({ id, ok: true });
          } catch (err) {
            results.push({ id, ok: false, error: (err as Error).message });
          }
        }
        p.done();
        const failed = results.filter((r) => !r.ok);
        if (o.json) printJson({ ok: failed.length === 0, results });
        else if (ids.length === 1 && !o.all) {
          // One id: one line, the error is the command's error.
          if (failed.length) throw new Error(failed[0]!.error);
          out(`${ids[0]} ${a.done}`);
        } else {
          for (const f of failed) process.stderr.write(`relais: ${f.id}: ${f.error}\n`);
          out(`${results.length - failed.length} of ${ids.length} message(s) ${a.done}`);
        }
        return failed.length ? 1 : 0;
      }),
    );
  }
}
