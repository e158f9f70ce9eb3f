/**
 * DNS for the domain check: node's Resolver pointed at the configured servers (ip or ip:port),
 * plus the (name, type) function shape mailauth accepts as its `resolver` option.
 */
import { Resolver } from 'node:dns/promises';

export type LookupFn = (name: string, rrtype: string) => Promise<any>;

export interface CheckDns {
  lookup: LookupFn;
  /** TXT records as joined strings; [] when the name or the type does not exist. */
  txt(name: string): Promise<string[]>;
}

const ABSENT = new Set(['ENOTFOUND', 'ENODATA']);

export function isAbsent(err: unknown): boolean {
  return ABSENT.has((err as { code?: string })?.code ?? '');
}

export function describeDnsError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return `DNS error ${e.code ?? ''} ${e.message ?? String(err)}`.trim();
}

export function makeCheckDns(servers: string[] | undefined, timeoutMs = 3000): CheckDns {
  const resolver = new Resolver({ timeout: timeoutMs, tries: 2 });
  if (servers?.length) resolver.setServers(servers);
  const lookup: LookupFn = (name, rrtype) => resolver.resolve(name, rrtype);
  return {
    lookup,
    async txt(name) {
      try {
        const rows = (await resolver.resolveTxt(name)) as string[][];
        return rows.map((r) => r.join(''));
      } catch (err) {
        if (isAbsent(err)) return [];
        throw err;
      }
    },
  };
}
