/**
 * What the dashboard test runs against: a real relay process (Redis store) that delivered real
 * traffic to the test MXs of test/e2e-stats/world.ts (Gmail / Microsoft / Orange look-alikes
 * answering those providers' refusals), redirected bulk mail to a Listmonk-compatible server, and
 * still holds three deferred messages. `expected` carries the figures the pages must show.
 */
import { randomUUID } from 'node:crypto';
import { startFakeListmonk, type FakeListmonk } from '../listmonk/listmonk-server.js';
import { api, DOMAINS, dropPrefix, newPrefix, startNode, startWorld, until, type StatsNode, type World } from '../e2e-stats/world.js';

const G = DOMAINS.google;
const M = DOMAINS.microsoft;
const O = DOMAINS.orange;
const X = DOMAINS.other;

export const SENDER = 'contact@collectif-a.org';

/** One message per recipient. rate-1, stuck-1 and busy-1 stay deferred (next retry in 1 h). */
const TRAFFIC: [from: string, to: string][] = [
  ...[`ok-1@${G}`, `ok-2@${G}`, `spam-1@${G}`, `rate-1@${G}`, `ok-1@${M}`, `block-1@${M}`, `stuck-1@${M}`, `ok-1@${O}`, `busy-1@${O}`, `ok-1@${X}`].map((to): [string, string] => [SENDER, to]),
  ...[`ok-3@${G}`, `ok-2@${M}`, `ok-2@${X}`].map((to): [string, string] => ['bureau@amap-b.fr', to]),
];

export interface ProviderFigures {
  name: string;
  sent: number;
  delivered: number;
  deferred: number;
  bounced: number;
}

export interface DashboardTarget {
  baseUrl: string;
  adminToken: string;
  /** Scope tenant:collectif-a. */
  tenantToken: string;
  tenant: string;
  /** A deferred message of the tenant (stuck-1@outlook.test), to retry from the queue page. */
  deferredId: string;
  deferredRecipient: string;
  /** Current queue state of a message (null when gone). */
  queueState(id: string): Promise<string | null>;
  /** Recipients the test MXs accepted. */
  delivered(): string[];
  /** The MX accepts this (stuck-*) recipient from now on. */
  release(address: string): void;
  /** Sends one message through the relay's SMTP intake: the reply code. */
  send(from: string, to: string): Promise<number>;
  expected: {
    accepted: number;
    queue: { active: number; deferred: number; hold: number };
    /** Provider rows as the table sorts them (sent desc, then id). */
    providers: ProviderFigures[];
    /** Messages `SENDER` sent this hour (its messages_per_hour usage). */
    senderUsed: number;
    redirects: { tenant: string; sender: string; recipients: number }[];
  };
  close(): Promise<void>;
}

function yaml(lmA: FakeListmonk, lmB: FakeListmonk): string {
  const lm = (l: FakeListmonk, pub: string) => `{ url: "${l.url}", public_url: "${pub}", user: ${l.user}, token: "${l.token}" }`;
  return `hostname: relais.test
alerts:
  interval: 1s
tenants:
  - id: collectif-a
    name: Collectif A
    domains: [collectif-a.org]
    bulk: { action: redirect }
    listmonk: ${lm(lmA, 'https://listes.collectif-a.org')}
  - id: amap-b
    name: AMAP B
    domains: [amap-b.fr]
    bulk: { action: redirect }
    listmonk: ${lm(lmB, 'https://listes.amap-b.fr')}
clients:
  - name: mailcow
    networks: [127.0.0.1/32]
    tenants: [collectif-a, amap-b]
`;
}

/** A message to `n` recipients: more than bulk.recipients_per_message (50), so redirected. */
async function bulk(node: StatsNode, from: string, n: number, subject: string): Promise<void> {
  const { transport } = await import('../helpers/mail.js');
  const to = Array.from({ length: n }, (_, i) => `abonne-${i}@${X}`);
  await transport(node.relay.smtpPort)
    .sendMail({ from, to, subject, html: `<p>${subject}</p>`, text: subject })
    .then(
      () => {
        throw new Error('bulk mail was not redirected');
      },
      (err: { responseCode?: number }) => {
        if (err.responseCode !== 550) throw err;
      },
    );
}

export async function startDashboardTarget(): Promise<DashboardTarget> {
  const adminToken = `dashboard-admin-${randomUUID()}`;
  const prefix = newPrefix();
  const world: World = await startWorld();
  const [lmA, lmB] = await Promise.all([startFakeListmonk(), startFakeListmonk()]);
  const node = await startNode(world, { prefix, adminToken, yaml: yaml(lmA, lmB), env: { RELAIS_QUEUE_RETRY_FIRST: '1h', RELAIS_QUEUE_RETRY_MAX: '2h' } });
  const base = node.base;
  const call = (path: string, init?: { method?: string; body?: unknown }) => api(base, adminToken, path, init);

  for (const [from, to] of TRAFFIC) {
    const reply = await node.send(from, to);
    if (!reply.startsWith('250 ')) throw new Error(`${from} → ${to}: ${reply}`);
  }
  await bulk(node, SENDER, 60, 'Assemblée générale de juin');
  await bulk(node, SENDER, 75, 'Lettre d’information');
  await bulk(node, 'bureau@amap-b.fr', 55, 'Paniers de la semaine');

  // Delivered, refused or deferred; the DSNs of the two refusals delivered; stats flushed.
  const deferred = await until(async () => {
    const q = (await call('/api/v1/queue')).body as { total: number; items: { id: string; state: string; recipients: { address: string }[] }[] };
    return q.total === 3 && q.items.every((i) => i.state === 'deferred') ? q.items : null;
  }, 'three deferred messages, nothing else queued');
  const providersSent = async () => ((await call('/api/v1/stats/providers')).body.items as { sent: number }[]).reduce((n, p) => n + p.sent, 0);
  await until(async () => (await providersSent()) === 15, 'the stats of 15 attempts');
  await until(async () => ((await call('/api/v1/listmonk/redirects')).body.items as { status: string }[]).filter((i) => i.status === 'draft-created').length === 3, 'three Listmonk drafts');
  await until(async () => ((await call('/api/v1/alerts')).body.items as unknown[]).length >= 2, 'the spam-block alerts');
  const stuck = deferred.find((i) => i.recipients[0]!.address === `stuck-1@${M}`)!;

  const created = await call('/api/v1/tokens', { method: 'POST', body: { name: 'collectif-a (lecture)', scopes: ['tenant:collectif-a'] } });

  return {
    baseUrl: base,
    adminToken,
    tenantToken: created.body.token,
    tenant: 'collectif-a',
    deferredId: stuck.id,
    deferredRecipient: `stuck-1@${M}`,
    async queueState(id) {
      const r = await call(`/api/v1/queue/${id}`);
      return r.status === 404 ? null : r.body.state;
    },
    delivered: () => world.received().flatMap((r) => r.to),
    release: (a) => world.release(a),
    async send(from, to) {
      const { transport } = await import('../helpers/mail.js');
      try {
        await transport(node.relay.smtpPort).sendMail({ from, to, subject: 'Essai', text: 'Bonjour.' });
        return 250;
      } catch (err) {
        return (err as { responseCode?: number }).responseCode ?? 0;
      }
    },
    expected: {
      // 13 single messages; the bulk ones were refused (redirected).
      accepted: 13,
      queue: { active: 0, deferred: 3, hold: 0 },
      providers: [
        // google: ok-1, ok-2, ok-3 delivered; spam-1 refused; rate-1 deferred.
        { name: 'Google (Gmail)', sent: 5, delivered: 3, deferred: 1, bounced: 1 },
        // microsoft: ok-1, ok-2 delivered; block-1 refused; stuck-1 deferred.
        { name: 'Microsoft (Outlook, Hotmail, Microsoft 365)', sent: 4, delivered: 2, deferred: 1, bounced: 1 },
        // other: ok-1, ok-2 and the two DSNs to contact@collectif-a.org.
        { name: 'Autres / Others', sent: 4, delivered: 4, deferred: 0, bounced: 0 },
        { name: 'Orange (Wanadoo)', sent: 2, delivered: 1, deferred: 1, bounced: 0 },
      ],
      senderUsed: 10,
      redirects: [
        { tenant: 'amap-b', sender: 'bureau@amap-b.fr', recipients: 55 },
        { tenant: 'collectif-a', sender: SENDER, recipients: 75 },
        { tenant: 'collectif-a', sender: SENDER, recipients: 60 },
      ],
    },
    async close() {
      await node.relay.stop();
      await Promise.all([world.close(), lmA.close(), lmB.close()]);
      await dropPrefix(prefix);
    },
  };
}
