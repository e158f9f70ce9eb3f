/**
 * Who may talk to the intake: the configured clients plus those created at run time through the
 * admin API (stored in the store, namespace "clients", winning over the YAML). Network matching
 * is in memory; AUTH verifies the scrypt hash. A store failure during AUTH is reported as such
 * (the intake answers 454 4.7.0, not 535, because Postfix bounces mail on 535).
 */
import ipaddr from 'ipaddr.js';
import type { ClientConfig } from '../config/clients.js';
import type { Store } from '../store/types.js';
import { verifyPassword } from './password.js';

export const CLIENTS_NS = 'clients';

export interface MatchedClient {
  name: string;
  tenants: string[];
  newsletter: boolean;
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

export class ClientDirectory {
  private configured: Array<ClientConfig & { nets: Net[] }> = [];
  private runtime: Array<ClientConfig & { nets: Net[] }> = [];

  constructor(
    clients: ClientConfig[],
    private readonly store?: Store,
  ) {
    this.setConfigured(clients);
  }

  /** Replaces the YAML clients (SIGHUP reload). */
  setConfigured(clients: ClientConfig[]): void {
    this.configured = clients.map((c) => ({ ...c, nets: toNets(c.networks) }));
  }

  /** Reloads the clients created through the admin API. */
  async refresh(): Promise<void> {
    if (!this.store) return;
    const docs = await this.store.listDocs<ClientConfig>(CLIENTS_NS);
    this.runtime = docs.map((d) => ({ ...d.value, nets: toNets(d.value.networks ?? []) }));
  }

  private all(): Array<ClientConfig & { nets: Net[] }> {
    const names = new Set(this.runtime.map((c) => c.name));
    return [...this.runtime, ...this.configured.filter((c) => !names.has(c.name))].filter((c) => !c.disabled);
  }

  /** The client entry whose networks contain this address (no AUTH needed). */
  byAddress(ip: string): MatchedClient | null {
    const c = this.all().find((x) => x.nets.length && ipInNetworks(ip, x.nets));
    return c ? { name: c.name, tenants: c.tenants, newsletter: c.newsletter } : null;
  }

  /** Verifies AUTH credentials; rejects (throws) only when the store cannot be read. */
  async authenticate(user: string, password: string): Promise<MatchedClient | null> {
    let c = this.all().find((x) => x.name === user && x.password_hash);
    if (this.store) {
      const doc = await this.store.getDoc<ClientConfig>(CLIENTS_NS, user);
      if (doc) c = doc.disabled ? undefined : { ...doc, nets: toNets(doc.networks ?? []) };
    }
    if (!c?.password_hash) return null;
    if (!(await verifyPassword(password, c.password_hash))) return null;
    return { name: c.name, tenants: c.tenants, newsletter: c.newsletter };
  }

  names(): string[] {
    return this.all().map((c) => c.name);
  }
}
