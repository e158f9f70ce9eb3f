/**
 * Opens an SMTP session to a destination: MX hosts in preference order (mx-connect walks them
 * on connection failure; we go on to the next host ourselves when the greeting, EHLO or STARTTLS
 * fails), or the smarthost. Source address and EHLO name come from the configured identities.
 */
import { isIPv4, isIPv6 } from 'node:net';
import mxConnect from 'mx-connect';
import type { Dns } from './dns.js';
import type { ResolvedOptions } from './options.js';
import { DeliveryError, errorToFailure } from './reply.js';
import type { MxHost } from './route.js';
import { SmtpSession, type TlsMode } from './session.js';
import type { OutboundAddress } from './types.js';

export interface Destination {
  /** Recipient domain (or "smarthost"). */
  target: string;
  hosts: MxHost[];
  port: number;
  tls: TlsMode;
  verify: boolean;
  auth?: { user: string; pass: string };
}

interface Identity {
  ehloName: string;
  v4: OutboundAddress[];
  v6: OutboundAddress[];
}

export class Connector {
  private turn = 0;
  private readonly identities = new Map<string, Identity>();

  constructor(
    private readonly opts: ResolvedOptions,
    private readonly dns: Dns,
  ) {
    const split = (ehloName: string, list: OutboundAddress[]): Identity => ({ ehloName, v4: list.filter((a) => isIPv4(a.address)), v6: list.filter((a) => isIPv6(a.address)) });
    this.identities.set('', split(opts.ehloName, opts.localAddresses));
    for (const [name, p] of Object.entries(opts.pools)) this.identities.set(name, split(p.ehloName, p.localAddresses));
  }

  /** Opens a session to `dest` from the outbound identity of `pool` (default identity if unknown). */
  async open(dest: Destination, pool = ''): Promise<SmtpSession> {
    const id = this.identities.get(pool) ?? this.identities.get('')!;
    const ignored: string[] = [];
    let firstError: DeliveryError | undefined;
    // Hosts without addresses (smarthost by name) are resolved by mx-connect: one address at least.
    const total = Math.max(1, dest.hosts.reduce((n, h) => n + h.A.length + h.AAAA.length, 0));
    // Each turn tries the remaining addresses until one connects; a session-level failure
    // after connecting excludes that address and goes on with the next one.
    while (ignored.length < total) {
      const n = this.turn++;
      const v4 = id.v4.length ? id.v4[n % id.v4.length] : undefined;
      const v6 = id.v6.length ? id.v6[n % id.v6.length] : undefined;
      let conn;
      try {
        conn = await mxConnect({
          target: dest.target,
          mx: dest.hosts.map((h) => ({ exchange: h.exchange, priority: h.priority, A: h.A, AAAA: h.AAAA })),
          port: dest.port,
          maxConnectTime: this.opts.connectTimeoutMs,
          localAddressIPv4: v4?.address,
          localHostnameIPv4: v4?.ehloName,
          localAddressIPv6: v6?.address,
          localHostnameIPv6: v6?.ehloName,
          ignoreMXHosts: ignored,
          dnsOptions: { resolve: this.dns.resolveCb, ignoreIPv6: this.opts.ignoreIPv6 },
        });
      } catch (err) {
        throw firstError ?? connectFailure(err);
      }
      try {
        return await SmtpSession.open({
          socket: conn.socket,
          hostname: conn.hostname,
          port: conn.port,
          ehloName: conn.localHostname || id.ehloName,
          tls: dest.tls,
          verify: dest.verify,
          ca: this.opts.caCerts,
          auth: dest.auth,
          greetingTimeoutMs: this.opts.greetingTimeoutMs,
          socketTimeoutMs: this.opts.socketTimeoutMs,
        });
      } catch (err) {
        conn.socket.destroy();
        const failure = errorToFailure(err, 'greeting');
        const annotated = new DeliveryError(
          { ...failure.reply, text: `${conn.hostname}[${conn.host}]: ${failure.reply.text}` },
          failure.phase,
          { cause: err },
        );
        (annotated as DeliveryError & { mx?: string }).mx = conn.hostname;
        firstError ??= annotated;
        ignored.push(conn.host);
      }
    }
    throw firstError ?? new DeliveryError({ code: 451, enhanced: '4.4.1', text: `no address to connect to for ${dest.target}` }, 'connect');
  }
}

function connectFailure(err: unknown): DeliveryError {
  const e = err as { message?: string; category?: string };
  const text = (e.message ?? String(err)).replace(/\s+/g, ' ').slice(0, 300);
  if (e.category === 'policy') return new DeliveryError({ code: 451, enhanced: '4.7.5', text }, 'policy');
  return new DeliveryError({ code: 451, enhanced: '4.4.1', text }, 'connect', { cause: err });
}
