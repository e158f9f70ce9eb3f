/**
 * What the dashboard test runs against: ONE replaceable function. Today it builds the admin API
 * (real buildApi, real token and queue routes over a real spool and embedded store) plus the
 * dashboard plugin, with an in-test fake for the /api/v1 routes that do not exist yet. Once the
 * whole API exists, replace the body with a started relay that delivered real traffic to test
 * MXs, keeping the returned shape.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Envelope } from '../../relay/spool/envelope.js';
import { Spool } from '../../relay/spool/spool.js';
import { queueRoutes } from '../../src/api/routes/queue.js';
import { tokenRoutes } from '../../src/api/routes/tokens.js';
import { buildApi } from '../../src/api/server.js';
import { createToken } from '../../src/api/tokens.js';
import { dashboardRoutes } from '../../src/dashboard/plugin.js';
import { openStore } from '../../src/store/open.js';
import { fakeApiRoutes, type FakeApiRecord } from './fake-api.js';

export interface DashboardTarget {
  baseUrl: string;
  adminToken: string;
  /** Scope tenant:collectif-a. */
  tenantToken: string;
  tenant: string;
  /** A deferred message of the tenant, to retry from the queue page. */
  deferredId: string;
  /** Current queue state of a message (null when gone). */
  queueState(id: string): Envelope['state'] | null;
  /** Requests the fake received (quota changes). */
  record: FakeApiRecord;
  close(): Promise<void>;
}

async function queueMessage(spool: Spool, fields: Partial<Envelope> & Pick<Envelope, 'from' | 'state'>, rcpts: string[], reply?: Envelope['recipients'][0]['last']): Promise<string> {
  const w = await spool.createWriter();
  w.write(`From: <${fields.from}>\r\nTo: ${rcpts.join(', ')}\r\nSubject: ${fields.subject ?? 'Test'}\r\nMessage-ID: <${w.id}@test>\r\n\r\nBonjour.\r\n`);
  const now = Date.now();
  await spool.commit(w, {
    id: w.id,
    rev: 0,
    receivedAt: now - 3600_000,
    size: 0,
    client: { name: 'mailcow', address: '127.0.0.1', tls: true },
    recipients: rcpts.map((address) => ({ address, status: reply ? 'deferred' : 'pending', attempts: reply ? 2 : 0, last: reply })),
    nextAttemptAt: now + 1800_000,
    attempts: reply ? [{ at: now - 600_000, domain: rcpts[0]!.split('@')[1]!, mx: 'mx.test', outcome: 'deferred', recipients: rcpts, reply }] : [],
    messageId: `<${w.id}@test>`,
    ...fields,
  });
  return w.id;
}

export async function startDashboardTarget(): Promise<DashboardTarget> {
  const dir = mkdtempSync(join(tmpdir(), 'relais-dashboard-'));
  const log = pino({ level: 'silent' });
  const store = await openStore({ dataDir: dir });
  const spool = await Spool.open({ dir: join(dir, 'spool'), log, fsync: false });
  const tenant = 'collectif-a';
  const deferredReply = { code: 451, enhanced: '4.7.650', text: 'The mail server [203.0.113.25] has been temporarily rate limited due to IP reputation.', remoteMta: 'outlook-com.olc.protection.outlook.com', at: Date.now() - 600_000 };
  const deferredId = await queueMessage(spool, { from: 'contact@collectif-a.org', state: 'deferred', tenant, subject: 'Compte rendu de l’assemblée' }, ['camille@outlook.fr', 'dominique@hotmail.com', 'eli@live.fr'], deferredReply);
  await queueMessage(spool, { from: 'lettre@collectif-a.org', state: 'active', tenant, subject: 'Lettre d’information' }, ['sam@orange.fr']);
  await queueMessage(spool, { from: 'bureau@amap-b.fr', state: 'hold', tenant: 'amap-b', subject: 'Paniers', holdReason: 'held by an admin' }, ['alex@gmail.com']);
  await queueMessage(spool, { from: 'bureau@amap-b.fr', state: 'deferred', tenant: 'amap-b', subject: 'Distribution' }, ['lou@yahoo.fr'], { ...deferredReply, code: 421, enhanced: '4.7.0', text: '[TSS04] Messages from 203.0.113.25 temporarily deferred due to unexpected volume or user complaints' });

  const adminToken = (await createToken(store, 'admin-test', ['admin'])).token;
  const tenantToken = (await createToken(store, 'collectif-a-test', [`tenant:${tenant}`])).token;
  const record: FakeApiRecord = { quotaPuts: [], quotaDeletes: [] };
  const app = await buildApi({
    store,
    log,
    rateLimitPerMinute: 10_000,
    routes: [
      { plugin: tokenRoutes, opts: { store } },
      { plugin: queueRoutes, opts: { spool } },
      { plugin: fakeApiRoutes, opts: { spool, record } }, // last: only fills in what is missing
    ],
    publicRoutes: [{ plugin: dashboardRoutes, opts: {} }],
  });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    baseUrl: address,
    adminToken,
    tenantToken,
    tenant,
    deferredId,
    queueState: (id) => spool.get(id)?.state ?? null,
    record,
    async close() {
      await app.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
