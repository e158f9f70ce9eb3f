/**
 * One node:dns Resolver on the configured servers (system ones when none), exposed both as
 * promises (our routing) and as the callback-style `resolve(name, [type], cb)` mx-connect and
 * the MTA-STS look-ups expect.
 */
import { Resolver } from 'node:dns';
import type { MxRecord } from 'node:dns';

export type DnsCallback = (err: NodeJS.ErrnoException | null, records?: unknown) => void;
export type CallbackResolve = (name: string, typeOrCb: string | DnsCallback, cb?: DnsCallback) => void;

export interface Dns {
  mx(name: string): Promise<MxRecord[]>;
  a(name: string): Promise<string[]>;
  aaaa(name: string): Promise<string[]>;
  txt(name: string): Promise<string[][]>;
  /** Callback-style resolve for mx-connect's `dnsOptions.resolve`. */
  resolveCb: CallbackResolve;
}

/** "NXDOMAIN" (ENOTFOUND) and "no record of that type" (ENODATA) are answers, not failures. */
export function isNoRecord(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === 'ENOTFOUND' || code === 'ENODATA';
}

export function createDns(servers: string[], timeoutMs: number, tries: number): Dns {
  const resolver = new Resolver({ timeout: timeoutMs, tries });
  if (servers.length) resolver.setServers(servers);
  const call = <T>(name: string, type: string): Promise<T> =>
    new Promise((resolve, reject) => {
      resolver.resolve(name, type, (err: NodeJS.ErrnoException | null, records: unknown) =>
        err ? reject(err) : resolve(records as T),
      );
    });
  const resolveCb: CallbackResolve = (name, typeOrCb, cb) => {
    const type = typeof typeOrCb === 'string' ? typeOrCb : 'A';
    const done = (typeof typeOrCb === 'function' ? typeOrCb : cb) as DnsCallback;
    resolver.resolve(name, type, (err: NodeJS.ErrnoException | null, records: unknown) => done(err, records));
  };
  return {
    mx: (n) => call<MxRecord[]>(n, 'MX'),
    a: (n) => call<string[]>(n, 'A'),
    aaaa: (n) => call<string[]>(n, 'AAAA'),
    txt: (n) => call<string[][]>(n, 'TXT'),
    resolveCb,
  };
}
