/** `domain check` advice from the DMARC reports: rua= to Relais, RFC 7489 §7.1 authorisation, p=none → quarantine. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkDomain } from '../../src/domain-check/index.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';

const BOUNCE = 'bounce.relais.example';
let dns: TestDnsServer;
beforeAll(async () => {
  dns = await startDnsServer({
    '_dmarc.laruche.example': { TXT: ['v=DMARC1; p=none; rua=mailto:dmarc@laruche.example'] },
    '_dmarc.ruche2.example': { TXT: [`v=DMARC1; p=none; rua=mailto:dmarc@${BOUNCE}`] },
    '_dmarc.ruche3.example': { TXT: [`v=DMARC1; p=none; rua=mailto:dmarc@${BOUNCE}`] },
    [`ruche3.example._report._dmarc.${BOUNCE}`]: { TXT: ['v=DMARC1'] },
    '_dmarc.relais.example': { TXT: [`v=DMARC1; p=quarantine; rua=mailto:dmarc@${BOUNCE}`] },
  });
});
afterAll(async () => dns.close());

async function advice(domain: string, last30Days?: { messages: number; share: number | null }) {
  const f = await checkDomain(domain, { servers: [dns.server], publicIps: [], timeoutMs: 1000, dmarcReports: { bounceDomain: BOUNCE, last30Days } });
  return f.filter((x) => x.check === 'dmarc-reports');
}

describe('domain check: DMARC reports advice', () => {
  it('proposes adding rua=mailto:dmarc@<bounce domain>, and the §7.1 record for an outside domain', async () => {
    const [f] = await advice('laruche.example');
    expect(f).toMatchObject({ status: 'warn' });
    expect(f!.fix!.en).toContain(`rua=mailto:dmarc@laruche.example,mailto:dmarc@${BOUNCE}`);
    expect(f!.fix!.en).toContain(`laruche.example._report._dmarc.${BOUNCE}: "v=DMARC1"`);
  });

  it('asks for the authorisation record when rua= already points at Relais but it is missing', async () => {
    const [f] = await advice('ruche2.example');
    expect(f).toMatchObject({ status: 'warn' });
    expect(f!.detail).toContain(`ruche2.example._report._dmarc.${BOUNCE}: missing`);
    const [ok] = await advice('ruche3.example');
    expect(ok).toMatchObject({ status: 'pass' });
  });

  it('no authorisation record needed inside the bounce domain’s organisation', async () => {
    const [f] = await advice('relais.example');
    expect(f).toMatchObject({ status: 'pass', detail: `rua= includes mailto:dmarc@${BOUNCE}.` });
  });

  it('moves p=none to quarantine after 30 days ≥ 98 % aligned, keeps it otherwise', async () => {
    const up = (await advice('ruche3.example', { messages: 5000, share: 0.991 }))[1]!;
    expect(up.detail).toContain('99.1 % aligned: p=none can move to quarantine');
    expect(up.fix!.en).toContain(`v=DMARC1; p=quarantine; rua=mailto:dmarc@${BOUNCE}`);
    const keep = (await advice('ruche3.example', { messages: 5000, share: 0.9 }))[1]!;
    expect(keep.detail).toContain('keep p=none');
    expect(await advice('ruche3.example', { messages: 10, share: 1 })).toHaveLength(1);
  });

  it('suggests the bounce domain in rua= when there is no DMARC record', async () => {
    const f = await checkDomain('nodmarc.example', { servers: [dns.server], publicIps: [], timeoutMs: 1000, dmarcReports: { bounceDomain: BOUNCE } });
    expect(f.find((x) => x.check === 'dmarc')!.fix!.en).toContain(`rua=mailto:dmarc@${BOUNCE}`);
    // TLS reports too go where Relais reads them (tlsrpt@<bounce domain>), not to an address of the domain.
    expect(f.find((x) => x.check === 'tls-rpt')!.fix!.en).toContain(`"v=TLSRPTv1; rua=mailto:tlsrpt@${BOUNCE}"`);
  });
});
