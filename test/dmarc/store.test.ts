/**
 * DMARC report storage and views on both stores (real Redis under a unique prefix, LMDB in a
 * temp dir): counted once per report, tenants' domains only, bounded per domain and day, kept
 * retention_days, labelled by source; the alignment and new-source alerts.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AggregateReport, AggregateRow } from '../../relay/reports/types.js';
import { dmarcAlertSource, parseDmarcAlertsConfig } from '../../src/dmarc/alerts.js';
import { createDmarcQueries } from '../../src/dmarc/queries.js';
import { createReportRecorder } from '../../src/dmarc/recorder.js';
import type { SourceLabeller } from '../../src/dmarc/sources.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/types.js';
import { dropRedisPrefix } from '../store/redis-cleanup.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 11, 7, 12);
const dirs: string[] = [];
const prefixes: string[] = [];
afterAll(async () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  await dropRedisPrefix(prefixes);
});

async function store(kind: 'redis' | 'lmdb'): Promise<Store> {
  const dataDir = mkdtempSync(join(tmpdir(), 'relais-dmarc-'));
  dirs.push(dataDir);
  const prefix = `test-dmarc-${randomBytes(5).toString('hex')}:`;
  prefixes.push(prefix);
  return openStore({ dataDir, prefix, ...(kind === 'redis' ? { redisUrl: 'redis://127.0.0.1:6379' } : {}) });
}

/** Our own sending address is 198.51.100.10, the upstream 203.0.113.5 (as the config would say). */
const labeller: SourceLabeller = {
  label: async (ip) => (ip === '198.51.100.10' ? 'relais' : ip === '203.0.113.5' ? 'mailcow' : 'elsewhere'),
  reverse: async (ip) => (ip === '192.0.2.9' ? 'web.example' : null),
};

const row = (ip: string, count: number, aligned: boolean, domain = 'laruche.example'): AggregateRow => ({
  domain, sourceIp: ip, count, disposition: 'none', dkim: aligned ? 'pass' : 'fail', spf: 'fail', dkimAuth: aligned ? 'pass' : 'fail', spfAuth: 'softfail',
});

const report = (org: string, id: string, dayMs: number, rows: AggregateRow[]): AggregateReport => ({
  kind: 'dmarc', org, reportId: id, begin: dayMs / 1000, end: dayMs / 1000 + 86_399, policyDomain: 'laruche.example', rows,
});

const yesterday = Math.floor(NOW / DAY) * DAY - DAY;

describe.each(['redis', 'lmdb'] as const)('DMARC storage on %s', (kind) => {
  const setup = async (maxRowsPerDay = 1000) => {
    const s = await store(kind);
    const recorder = createReportRecorder({ store: s, retentionDays: 90, maxRowsPerDay, isTenantDomain: async (d) => d === 'laruche.example' || d === 'autre.example' });
    const queries = createDmarcQueries({ store: s, sources: labeller });
    return { s, recorder, queries };
  };

  it('stores per domain, day, reporter and source; the same report counts once', async () => {
    const { s, recorder, queries } = await setup();
    const r = report('google.com', 'g1', yesterday, [row('198.51.100.10', 100, true), row('198.51.100.10', 2, false), row('203.0.113.5', 5, true), row('192.0.2.9', 7, false), row('192.0.2.9', 1, true, 'inconnu.example')]);
    expect(await recorder.record(r, NOW)).toEqual({ stored: true, domains: ['laruche.example'], rows: 5 });
    expect(await recorder.record(r, NOW)).toMatchObject({ stored: false, reason: 'duplicate' });
    const v = await queries.domainView('laruche.example', { days: 7, now: NOW });
    expect(v.relais).toEqual({ messages: 102, aligned: 100, share: 100 / 102 });
    expect(v.others).toEqual({ messages: 12, aligned: 5, share: 5 / 12, sources: 2 });
    expect(v.bySource.map((x) => [x.ip, x.label, x.ptr, x.messages])).toEqual([['198.51.100.10', 'relais', null, 102], ['192.0.2.9', 'elsewhere', 'web.example', 7], ['203.0.113.5', 'mailcow', null, 5]]);
    expect(v.byReporter).toEqual([{ org: 'google.com', reports: 1, messages: 114, aligned: 105, share: 105 / 114 }]);
    expect(v.byDay.at(-2)).toMatchObject({ day: '2026-12-06', relais: { messages: 102 }, mailcow: { messages: 5 }, elsewhere: { messages: 7 } });
    expect(v.byDay.at(-1)).toMatchObject({ day: '2026-12-07', relais: { messages: 0, share: null } });
    expect([...(await queries.domains()).keys()]).toEqual(['laruche.example']);
    await s.close();
  });

  it('drops reports for no tenant’s domain and reports outside the retention', async () => {
    const { s, recorder, queries } = await setup();
    expect(await recorder.record(report('x', '1', yesterday, [row('192.0.2.1', 3, true, 'inconnu.example')]), NOW)).toMatchObject({ stored: false, reason: 'not_tenant' });
    expect(await recorder.record(report('x', '2', yesterday - 91 * DAY, [row('192.0.2.1', 3, true)]), NOW)).toMatchObject({ stored: false, reason: 'out_of_range' });
    expect(await recorder.record(report('x', '3', yesterday + 5 * DAY, [row('192.0.2.1', 3, true)]), NOW)).toMatchObject({ stored: false, reason: 'out_of_range' });
    expect((await queries.domains()).size).toBe(0);
    await s.close();
  });

  it('bounds the distinct rows per domain and day (a flood of forged reports fills one day, no more)', async () => {
    const { s, recorder, queries } = await setup(10);
    const many = (id: string, from: number) => report(`forger-${id}`, id, yesterday, Array.from({ length: 4 }, (_, i) => row(`192.0.2.${from + i}`, 1, false)));
    expect(await recorder.record(many('a', 1), NOW)).toMatchObject({ stored: true });
    expect(await recorder.record(many('b', 10), NOW)).toMatchObject({ stored: true });
    expect(await recorder.record(many('c', 20), NOW)).toMatchObject({ stored: false, reason: 'day_full' });
    // Refused, not marked seen: the same report another day of room would be taken.
    expect(await recorder.record(many('c', 20), NOW)).toMatchObject({ stored: false, reason: 'day_full' });
    expect((await queries.domainView('laruche.example', { days: 2, now: NOW, resolve: 0 })).others.sources).toBe(8);
    await s.close();
  });

  it('alerts on Relais’s alignment under the threshold and on a new outside source', async () => {
    const { s, recorder, queries } = await setup();
    const config = parseDmarcAlertsConfig({ dmarc_alignment: { threshold: 0.98, min_messages: 50 }, dmarc_new_source: { min_messages: 20 } });
    const alerts = dmarcAlertSource({ queries, config, tenantOf: async (d) => (d === 'laruche.example' ? 'laruche' : undefined), generation: recorder.generation });
    await recorder.record(report('google.com', 'd-5', yesterday - 4 * DAY, [row('198.51.100.10', 100, true), row('192.0.2.50', 30, false)]), NOW);
    expect(await alerts(NOW)).toEqual([]);
    await recorder.record(report('google.com', 'd-1', yesterday, [row('198.51.100.10', 90, true), row('198.51.100.10', 10, false), row('192.0.2.9', 25, false), row('192.0.2.50', 30, false), row('192.0.2.77', 3, false)]), NOW);
    const a = await alerts(NOW);
    expect(a.map((x) => x.id).sort()).toEqual(['dmarc_alignment:laruche.example', 'dmarc_new_source:laruche.example:192.0.2.9']);
    expect(a.find((x) => x.type === 'dmarc_alignment')).toMatchObject({ tenant: 'laruche', severity: 'warning', value: 190 / 200, threshold: 0.98 });
    expect(a.find((x) => x.type === 'dmarc_new_source')).toMatchObject({ value: 25, message: { en: expect.stringContaining('192.0.2.9 (web.example) (elsewhere) sent 25 messages as laruche.example on 2026-12-06') } });
    await s.close();
  });
});

describe('DMARC alerts config', () => {
  it('defaults, disabling, and errors naming the key', () => {
    expect(parseDmarcAlertsConfig(undefined)).toEqual({ alignment: { threshold: 0.98, minMessages: 50, windowDays: 7 }, newSource: { minMessages: 100 } });
    expect(parseDmarcAlertsConfig({ dmarc_alignment: false, dmarc_new_source: false })).toEqual({ alignment: null, newSource: null });
    expect(() => parseDmarcAlertsConfig({ dmarc_alignment: { threshold: 2 } })).toThrow(/alerts\.dmarc_alignment\.threshold/);
    expect(() => parseDmarcAlertsConfig({ dmarc_alignment: { window: '36h' } })).toThrow(/whole days/);
    expect(() => parseDmarcAlertsConfig({ dmarc_new_source: { typo: 1 } })).toThrow(/typo/);
  });
});
