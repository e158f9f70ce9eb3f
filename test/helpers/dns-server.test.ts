import { describe, it, expect, afterAll } from 'vitest';
import { Resolver } from 'node:dns/promises';
import { startDnsServer } from './dns-server.js';

describe('test DNS server', async () => {
  const dns = await startDnsServer({
    'example.org': { MX: [{ exchange: 'mx.example.org', priority: 10 }], TXT: ['v=spf1 -all', 'x'.repeat(400)] },
    'mx.example.org': { A: ['127.0.0.2'], AAAA: ['::1'] },
    'broken.example': { servfail: true },
  });
  afterAll(() => dns.close());
  const r = new Resolver({ timeout: 500, tries: 1 });
  r.setServers([dns.server]);

  it('answers MX, A, AAAA, TXT', async () => {
    expect(await r.resolveMx('example.org')).toEqual([{ exchange: 'mx.example.org', priority: 10 }]);
    expect(await r.resolve4('mx.example.org')).toEqual(['127.0.0.2']);
    expect(await r.resolve6('mx.example.org')).toEqual(['::1']);
    const txt = await r.resolveTxt('example.org');
    expect(txt.map((c) => c.join(''))).toContain('x'.repeat(400));
  });
  it('answers NXDOMAIN and SERVFAIL', async () => {
    await expect(r.resolveMx('nope.example')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await expect(r.resolveMx('broken.example')).rejects.toMatchObject({ code: 'ESERVFAIL' });
  });
});
