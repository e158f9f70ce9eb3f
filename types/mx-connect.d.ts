// Minimal types for mx-connect 1.6 (the parts Relais uses).
declare module 'mx-connect' {
  import type { Socket } from 'node:net';

  namespace mxConnect {
    export type DnsCallback = (err: NodeJS.ErrnoException | null, records?: unknown) => void;

    export interface MxEntry {
      exchange: string;
      priority?: number;
      A?: string[];
      AAAA?: string[];
    }

    export interface MxConnectOptions {
      target: string;
      port?: number;
      maxConnectTime?: number;
      localAddress?: string;
      localHostname?: string;
      localAddressIPv4?: string;
      localHostnameIPv4?: string;
      localAddressIPv6?: string;
      localHostnameIPv6?: string;
      dnsOptions?: {
        ignoreIPv6?: boolean;
        preferIPv6?: boolean;
        blockLocalAddresses?: boolean;
        /** Callback-style resolver: resolve(name, cb) for A, resolve(name, type, cb) otherwise. */
        resolve?: (name: string, typeOrCb: string | DnsCallback, cb?: DnsCallback) => void;
      };
      mx?: Array<string | MxEntry>;
      ignoreMXHosts?: string[];
      mxLastError?: Error;
      connectHook?: (delivery: unknown, options: Record<string, unknown>, cb: (err?: Error) => void) => void;
      connectError?: (err: Error, delivery: unknown, options: Record<string, unknown>) => void;
      mtaSts?: {
        enabled?: boolean;
        logger?: (entry: Record<string, unknown>) => void;
        cache?: { get(domain: string): Promise<unknown>; set(domain: string, policy: unknown): Promise<unknown> };
      };
    }

    export interface MxConnection {
      socket: Socket;
      hostname: string;
      host: string;
      port: number;
      localAddress?: string;
      localHostname?: string | false;
      localPort?: number;
    }

    export interface MxConnectError extends Error {
      code?: string;
      response?: string;
      category?: 'dns' | 'network' | 'policy' | 'dane';
      temporary?: boolean;
    }
  }

  function mxConnect(options: mxConnect.MxConnectOptions | string): Promise<mxConnect.MxConnection>;
  function mxConnect(
    options: mxConnect.MxConnectOptions | string,
    cb: (err: mxConnect.MxConnectError | null, c?: mxConnect.MxConnection) => void,
  ): Promise<mxConnect.MxConnection>;

  export = mxConnect;
}
