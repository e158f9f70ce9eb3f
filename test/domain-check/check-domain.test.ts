/** Domain health checks against zones served by the real test DNS server. */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkDomain, overallStatus } from '../../src/domain-check/index.js';
import type { Finding } from '../../src/domain-check/index.js';
import { startDnsServer, type TestDnsServer, type Zones } from '../helpers/dns-server.js';

const IPS = ['203.0.113.10', '2001:db8::10'];
const INCLUDE = '_spf.relais.example.net';

function dkimValue(): string {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return `v=DKIM1; k=rsa; p=${(publicKey.export({ type: 'spki', format: 'der' }) as Buffer).toString('base64')}`;
}
const KEY = dkimValue();
const OTHER_KEY = dkimValue();

/** A fully configured domain; tests derive broken variants from it. */
function goodZone(d: string, over: Zones = {}): Zones {
  return {
    [d]: { TXT: [`v=spf1 mx include:${INCLUDE} -all`, 'google-site-verification=abc'], MX: [{ exchange: `mx.${d}`, priority: 10 }] },
    [`mx.${d}`]: { A: ['198.51.100.1'] },
    [`_dmarc.${d}`]: { TXT: [`v=DMARC1; p=quarantine; rua=mailto:dmarc@${d}`] },
    [`_mta-sts.${d}`]: { TXT: ['v=STSv1; id=2026112601'] },
    [`_smtp._tls.${d}`]: { TXT: [`v=TLSRPTv1; rua=mailto:tls@${d}`] },
    [`rel1._domainkey.${d}`]: { TXT: [KEY] },
    ...over,
  };
}

let dns: TestDnsServer;
beforeAll(async () => {
  dns = await startDnsServer({
    [INCLUDE]: { TXT: ['v=spf1 ip4:203.0.113.0/24 ip6:2001:db8::/64 -all'] },
    '_spf.other.example': { TXT: ['v=spf1 ip4:192.0.2.0/24 -all'] },
  });
});
afterAll(async () => dns.close());

async function check(d: string, zone: Zones, extra: Partial<Parameters<typeof checkDomain>[1]> = {}): Promise<Record<string, Finding>> {
  Object.assign(dns.zones, zone);
  const findings = await checkDomain(d, {
    servers: [dns.server],
    publicIps: IPS,
    expectedDkimRecords: [{ selector: 'rel1', value: KEY }],
    spfInclude: INCLUDE,
    timeoutMs: 1000,
    ...extra,
  });
  for (const f of findings) if (f.status !== 'pass') expect(f.fix?.fr && f.fix.en, `${f.check} has a fix`).toBeTruthy();
  return Object.fromEntries(findings.map((f) => [f.check, f]));
}

describe('checkDomain', () => {
  it('good domain: every check passes', async () => {
    const f = await check('good.example', goodZone('good.example'));
    expect(Object.keys(f)).toEqual(['dkim', 'spf', 'dmarc', 'mx', 'mta-sts', 'tls-rpt']);
    for (const x of Object.values(f)) expect(x, x.detail).toMatchObject({ status: 'pass' });
    expect(f.spf.detail).toContain('203.0.113.10 → pass');
    expect(f.spf.detail).toContain('2001:db8::10 → pass');
    expect(overallStatus(Object.values(f))).toBe('pass');
    // mailauth's SPF evaluation went through the test DNS server (it followed the include).
    expect(dns.queries).toContain(`TXT ${INCLUDE}`);
  });

  it('SPF without the exit node include: fail, fix adds the include before -all', async () => {
    const d = 'spf-other.example';
    const f = await check(d, goodZone(d, { [d]: { TXT: ['v=spf1 include:_spf.other.example -all'] } }));
    expect(f.spf.status).toBe('fail');
    expect(f.spf.detail).toContain('203.0.113.10 → fail');
    expect(f.spf.fix!.fr).toContain(`v=spf1 include:_spf.other.example include:${INCLUDE} -all`);
    expect(f.spf.fix!.en).toContain(`Add include:${INCLUDE}`);
  });

  it('SPF missing one exit-node IP (no operator include): fail with ip4/ip6 terms', async () => {
    const d = 'spf-ip.example';
    const f = await check(d, goodZone(d, { [d]: { TXT: ['v=spf1 ip4:203.0.113.10 ~all'] } }), { spfInclude: undefined });
    expect(f.spf.status).toBe('fail');
    expect(f.spf.detail).toContain('203.0.113.10 → pass');
    expect(f.spf.detail).toContain('2001:db8::10 → softfail');
    expect(f.spf.fix!.en).toContain('Add ip6:2001:db8::10 to the SPF record of spf-ip.example: v=spf1 ip4:203.0.113.10 ip6:2001:db8::10 ~all');
  });

  it('SPF absent: fail with a record to publish', async () => {
    const d = 'nospf.example';
    const zone = goodZone(d);
    zone[d] = { MX: zone[d].MX };
    const f = await check(d, zone);
    expect(f.spf.status).toBe('fail');
    expect(f.spf.fix!.fr).toContain(`v=spf1 include:${INCLUDE} ~all`);
  });

  it('SPF over the 10-lookup limit: fail (permerror)', async () => {
    const d = 'spf-deep.example';
    const chain: Zones = {};
    for (let i = 0; i < 11; i++) chain[`l${i}.${d}`] = { TXT: [i < 10 ? `v=spf1 include:l${i + 1}.${d} -all` : `v=spf1 include:${INCLUDE} -all`] };
    const f = await check(d, goodZone(d, { ...chain, [d]: { TXT: [`v=spf1 include:l0.${d} -all`] } }));
    expect(f.spf.status).toBe('fail');
    expect(f.spf.detail).toMatch(/permerror/);
  });

  it('DMARC absent: fail; p=none: warn', async () => {
    const d = 'nodmarc.example';
    const zone = goodZone(d);
    delete zone[`_dmarc.${d}`];
    const f = await check(d, zone);
    expect(f.dmarc.status).toBe('fail');
    expect(f.dmarc.fix!.fr).toContain(`_dmarc.${d}`);
    const d2 = 'dmarc-none.example';
    const g = await check(d2, goodZone(d2, { [`_dmarc.${d2}`]: { TXT: ['v=DMARC1; p=none'] } }));
    expect(g.dmarc.status).toBe('warn');
  });

  it('DKIM record mismatched or missing: fail with the record to publish', async () => {
    const d = 'dkim-bad.example';
    const f = await check(d, goodZone(d, { [`rel1._domainkey.${d}`]: { TXT: [OTHER_KEY] } }));
    expect(f.dkim.status).toBe('fail');
    expect(f.dkim.detail).toMatch(/differs/);
    expect(f.dkim.fix!.en).toContain(`rel1._domainkey.${d} with the value: ${KEY}`);

    const all = await checkDomain(d, { servers: [dns.server], publicIps: IPS, dkimSelectors: ['rel1', 'absent'], spfInclude: INCLUDE });
    const dkim = all.filter((x) => x.check === 'dkim');
    expect(dkim.map((x) => x.status)).toEqual(['pass', 'fail']); // selector only: published is enough
    expect(dkim[1].detail).toMatch(/no DKIM record/);
  });

  it('no MX and no MTA-STS/TLS-RPT: warnings; DNS failure: warning, not a verdict', async () => {
    const d = 'bare.example';
    const zone = goodZone(d);
    zone[d] = { TXT: zone[d].TXT };
    delete zone[`_mta-sts.${d}`];
    delete zone[`_smtp._tls.${d}`];
    zone[`_dmarc.${d}`] = { servfail: true };
    const f = await check(d, zone);
    expect(f.mx.status).toBe('warn');
    expect(f['mta-sts'].status).toBe('warn');
    expect(f['tls-rpt'].status).toBe('warn');
    expect(f.dmarc.status).toBe('warn');
    expect(f.dmarc.detail).toMatch(/DNS error/);
    expect(overallStatus(Object.values(f))).toBe('warn');
  });
});
