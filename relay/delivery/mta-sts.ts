/**
 * MTA-STS (RFC 8461): a domain publishing `_mta-sts` TXT and an HTTPS policy in "enforce" mode
 * gets mail only over verified TLS to the MX hosts its policy lists.
 *
 * Done here rather than through mx-connect's `mtaSts` option: the mailauth copy it bundles
 * (4.13.0) re-fetches a fresh cached policy on every delivery and only "renews" expired ones,
 * and drops to mode "none" when the policy host has no address. Parsing and MX matching reuse
 * mailauth's functions.
 */
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import { isIP, type LookupFunction } from 'node:net';
import type { Logger } from 'pino';
import { parsePolicy, validateMx } from 'mailauth/lib/mta-sts.js';
import { type Dns, isNoRecord } from './dns.js';
import { BoundedMap } from '../../src/util/bounded-map.js';

export interface StsPolicy {
  id: string;
  mode: 'enforce' | 'testing' | 'none';
  mx: string[];
  maxAgeS: number;
}

interface CacheEntry {
  policy: StsPolicy | null;
  expiresAt: number;
}

export interface MtaStsOptions {
  dns: Dns;
  log: Logger;
  port: number;
  ca: string[];
  timeoutMs?: number;
}

const NEGATIVE_TTL_MS = 60 * 60_000;
const ERROR_TTL_MS = 5 * 60_000;
const MAX_POLICY_BYTES = 64 * 1024;
/**
 * Policies held: recipient domains come from mail, so bytes, not entries. When full, all are
 * fetched again (a forgotten policy is the TXT lookup and HTTPS fetch of a first contact).
 */
export const STS_CACHE_BYTES = 4 * 1024 * 1024;

export class MtaSts {
  private readonly cache = new BoundedMap<CacheEntry>(STS_CACHE_BYTES);
  private readonly pending = new Map<string, Promise<StsPolicy | null>>();

  constructor(private readonly o: MtaStsOptions) {}

  /** The policy in force for a domain (null = none). Never throws: failures mean "no policy". */
  async policyFor(domain: string): Promise<StsPolicy | null> {
    const hit = this.cache.get(domain);
    if (hit && hit.expiresAt > Date.now()) return hit.policy;
    let p = this.pending.get(domain);
    if (!p) {
      p = this.refresh(domain, hit?.policy ?? null).finally(() => this.pending.delete(domain));
      this.pending.set(domain, p);
    }
    return p;
  }

  matches(mxHost: string, policy: StsPolicy): boolean {
    return validateMx(mxHost, { mode: policy.mode, mx: policy.mx } as never).valid;
  }

  private async refresh(domain: string, previous: StsPolicy | null): Promise<StsPolicy | null> {
    const set = (policy: StsPolicy | null, ttl: number) => {
      this.cache.set(domain, { policy, expiresAt: Date.now() + ttl });
      return policy;
    };
    let id: string | null;
    try {
      const txt = (await this.o.dns.txt(`_mta-sts.${domain}`)).map((c) => c.join('')).filter((t) => /^v=STSv1\b/i.test(t));
      id = txt.length === 1 ? (/(?:^|;)\s*id\s*=\s*([A-Za-z0-9]{1,32})\s*(?:;|$)/.exec(txt[0]!)?.[1] ?? null) : null;
    } catch (err) {
      // A cached policy stays in force while its TXT record cannot be read (RFC 8461 §5.1).
      return isNoRecord(err) ? set(null, NEGATIVE_TTL_MS) : set(previous, ERROR_TTL_MS);
    }
    if (!id) return set(null, NEGATIVE_TTL_MS);
    if (previous && previous.id === id) return set(previous, previous.maxAgeS * 1000);
    try {
      const parsed = parsePolicy(await this.fetchPolicy(domain)) as unknown as { mode: StsPolicy['mode']; mx?: string[]; maxAge: number };
      const policy: StsPolicy = { id, mode: parsed.mode, mx: parsed.mx ?? [], maxAgeS: parsed.maxAge };
      this.o.log.info({ domain, mode: policy.mode, mx: policy.mx, maxAgeS: policy.maxAgeS }, 'mta-sts: policy fetched');
      return set(policy, Math.max(60, policy.maxAgeS) * 1000);
    } catch (err) {
      this.o.log.warn({ domain, err: (err as Error).message }, 'mta-sts: policy fetch failed');
      return set(previous, ERROR_TTL_MS);
    }
  }

  private fetchPolicy(domain: string): Promise<string> {
    const host = `mta-sts.${domain}`;
    const dns = this.o.dns;
    // Policy host resolved through the same resolver as everything else.
    const lookup = ((name: string, options: { all?: boolean }, cb: (...a: unknown[]) => void) => {
      if (isIP(name)) return cb(null, options?.all ? [{ address: name, family: isIP(name) }] : name, isIP(name));
      dns
        .a(name)
        .catch(() => [] as string[])
        .then(async (a) => (a.length ? { list: a, family: 4 } : { list: await dns.aaaa(name), family: 6 }))
        .then(({ list, family }) => {
          if (!list.length) throw Object.assign(new Error(`no address for ${name}`), { code: 'ENOTFOUND' });
          if (options?.all) cb(null, list.map((address) => ({ address, family })));
          else cb(null, list[0], family);
        })
        .catch((err: unknown) => cb(err));
    }) as unknown as LookupFunction;
    return new Promise((resolve, reject) => {
      const req = https.get(
        {
          host,
          port: this.o.port,
          path: '/.well-known/mta-sts.txt',
          servername: host,
          lookup,
          ca: this.o.ca.length ? [...rootCertificates, ...this.o.ca] : undefined,
          timeout: this.o.timeoutMs ?? 15_000,
          headers: { 'user-agent': 'Relais MTA-STS' },
        },
        (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            return reject(new Error(`HTTP ${res.statusCode} from ${host}`));
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_POLICY_BYTES) req.destroy(new Error('policy too large'));
            else chunks.push(c);
          });
          res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`timeout fetching https://${host}`)));
      req.on('error', reject);
    });
  }
}
