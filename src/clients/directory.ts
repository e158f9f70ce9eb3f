/**
 * Who may talk to the intake: the clients of the tenant directory (YAML seed plus run-time
 * changes from the admin API, shared by every node). Network matching and scrypt verification
 * happen here; a store failure during AUTH is reported as such, so the intake answers
 * 454 4.7.0 rather than 535 (Postfix bounces mail on 535).
 */
import ipaddr from 'ipaddr.js';
import type { ClientView } from '../tenants/types.js';
import type { TenantDirectory } from '../tenants/directory.js';
import { dummyHash, verifyPassword } from './password.js';

export interface MatchedClient {
  name: string;
  tenants: string[];
  newsletter: boolean;
  allowNullSender: boolean;
  trusted: boolean;
}

export type Net = [ipaddr.IPv4 | ipaddr.IPv6, number];

export function toNets(networks: string[]): Net[] {
  return networks.map((n) => (n.includes('/') ? ipaddr.parseCIDR(n) : ((a) => [a, a.kind() === 'ipv4' ? 32 : 128] as Net)(ipaddr.parse(n))));
}

export function ipInNetworks(ip: string, nets: Net[]): boolean {
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    addr = ipaddr.process(ip);
  } catch {
    return false;
  }
  return nets.some(([net, bits]) => addr.kind() === net.kind() && addr.match([net, bits] as never));
}

const matched = (c: ClientView): MatchedClient => ({ name: c.name, tenants: c.tenants, newsletter: c.newsletter, allowNullSender: c.allow_null_sender, trusted: Boolean(c.trusted) });

export class ClientDirectory {
  private netCache = new WeakMap<ClientView, Net[]>();

  constructor(private readonly directory: TenantDirectory) {
    // Made now, so the first unknown user does not cost a second scrypt (its timing would show).
    dummyHash().catch(() => undefined);
  }

  private nets(c: ClientView): Net[] {
    let n = this.netCache.get(c);
    if (!n) {
      n = toNets(c.networks ?? []);
      this.netCache.set(c, n);
    }
    return n;
  }

  /** The client entry whose networks contain this address (no AUTH needed). */
  async byAddress(ip: string): Promise<MatchedClient | null> {
    const snap = await this.directory.snapshot();
    for (const c of snap.clients.values()) {
      if (!c.disabled && c.networks?.length && ipInNetworks(ip, this.nets(c))) return matched(c);
    }
    return null;
  }

  /**
   * Verifies AUTH credentials; rejects (throws) only when the directory cannot be read, or when
   * too many verifications wait (ScryptBusyError). `priority`: see verifyPassword.
   */
  async authenticate(user: string, password: string, priority = false): Promise<MatchedClient | null> {
    const snap = await this.directory.snapshot();
    const c = snap.clients.get(user);
    const usable = c && !c.disabled && c.password_hash ? c.password_hash : undefined;
    // Unknown and disabled users cost one scrypt too: the answer time tells nothing.
    const ok = await verifyPassword(password, usable ?? (await dummyHash()), priority);
    if (ok && usable) return matched(c!);
    // A refusal computed from an out-of-date snapshot must stay temporary: Postfix bounces on 535.
    if (this.directory.degraded) throw new Error('client directory unavailable (store down)');
    return null;
  }
}
