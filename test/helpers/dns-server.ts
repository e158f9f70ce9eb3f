/**
 * A real DNS server for tests (dns2, UDP + TCP on 127.0.0.1, random port). Zones are plain data:
 *   const dns = await startDnsServer({ 'example.org': { MX: [{ exchange: 'mx.example.org', priority: 10 }] },
 *                                      'mx.example.org': { A: ['127.0.0.2'] } });
 *   dns.server  // "127.0.0.1:53053" for RELAIS_DNS_SERVERS
 * A name absent from the zones answers NXDOMAIN; `servfail` names answer SERVFAIL; `timeout`
 * names never answer. Zones can be changed while the server runs (dns.zones is live).
 */
import dns2 from 'dns2';
import { createServer as createNetServer, type AddressInfo } from 'node:net';

const { Packet } = dns2 as unknown as { Packet: any };

export interface MxRecord {
  exchange: string;
  priority: number;
}

export interface ZoneRecords {
  A?: string[];
  AAAA?: string[];
  MX?: MxRecord[];
  /** Each TXT record is one string (split into 255-byte chunks on the wire) or chunks. */
  TXT?: Array<string | string[]>;
  CNAME?: string;
  /** Reverse names, under "<reversed address>.in-addr.arpa" (see ptrName). */
  PTR?: string[];
  /** Answer SERVFAIL for every question about this name. */
  servfail?: boolean;
  /** Never answer questions about this name (client times out). */
  timeout?: boolean;
}

export type Zones = Record<string, ZoneRecords>;

export interface TestDnsServer {
  /** "127.0.0.1:PORT" */
  server: string;
  host: string;
  port: number;
  zones: Zones;
  /** Questions received, as "TYPE name". */
  queries: string[];
  close(): Promise<void>;
}

const TYPE_NAMES: Record<number, string> = {};
for (const [name, code] of Object.entries(Packet.TYPE as Record<string, number>)) TYPE_NAMES[code] = name;

function chunk(s: string): string[] {
  const out: string[] = [];
  const buf = Buffer.from(s, 'utf8');
  for (let i = 0; i < buf.length; i += 255) out.push(buf.subarray(i, i + 255).toString('utf8'));
  return out.length ? out : [''];
}

export async function startDnsServer(initial: Zones = {}): Promise<TestDnsServer> {
  const zones: Zones = {};
  for (const [k, v] of Object.entries(initial)) zones[k.toLowerCase()] = v;
  const queries: string[] = [];

  const create = () => (dns2 as any).createServer({
    udp: true,
    tcp: true,
    handle: (request: any, send: (r: any) => void) => {
      const response = Packet.createResponseFromRequest(request);
      const [question] = request.questions;
      const name = String(question.name).toLowerCase().replace(/\.$/, '');
      const type = TYPE_NAMES[question.type] ?? String(question.type);
      queries.push(`${type} ${name}`);
      const rec = zones[name];
      if (rec?.timeout) return; // never answer
      response.header.aa = 1;
      if (rec?.servfail) {
        response.header.rcode = 2;
        return send(response);
      }
      if (!rec) {
        response.header.rcode = 3; // NXDOMAIN
        return send(response);
      }
      const base = { name: question.name, class: Packet.CLASS.IN, ttl: 60 };
      if (rec.CNAME && type !== 'CNAME') {
        response.answers.push({ ...base, type: Packet.TYPE.CNAME, domain: rec.CNAME });
      }
      switch (type) {
        case 'A':
          for (const address of rec.A ?? []) response.answers.push({ ...base, type: Packet.TYPE.A, address });
          break;
        case 'AAAA':
          for (const address of rec.AAAA ?? []) response.answers.push({ ...base, type: Packet.TYPE.AAAA, address });
          break;
        case 'MX':
          for (const mx of rec.MX ?? [])
            response.answers.push({ ...base, type: Packet.TYPE.MX, exchange: mx.exchange, priority: mx.priority });
          break;
        case 'TXT':
          for (const txt of rec.TXT ?? [])
            response.answers.push({ ...base, type: Packet.TYPE.TXT, data: Array.isArray(txt) ? txt : chunk(txt) });
          break;
        case 'PTR':
          for (const domain of rec.PTR ?? []) response.answers.push({ ...base, type: Packet.TYPE.PTR, domain });
          break;
        case 'CNAME':
          if (rec.CNAME) response.answers.push({ ...base, type: Packet.TYPE.CNAME, domain: rec.CNAME });
          break;
      }
      send(response);
    },
  });

  // Same port for UDP and TCP: take a port the OS says is free, retry with a new server if UDP
  // or TCP is taken meanwhile. dns2 reports bind failures only as 'error' events.
  for (let attempt = 0; ; attempt++) {
    const port = await osFreePort();
    const server = create();
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ udp: { port, address: '127.0.0.1' }, tcp: { port, address: '127.0.0.1' } }).then(() => {
          server.off('error', reject);
          resolve();
        }, reject);
      });
      server.on('error', () => undefined);
      return {
        server: `127.0.0.1:${port}`,
        host: '127.0.0.1',
        port,
        zones,
        queries,
        close: async () => {
          await server.close();
        },
      };
    } catch (err) {
      server.on('error', () => undefined);
      // A half-bound server may never report 'close': do not wait for it.
      Promise.resolve(server.close()).catch(() => undefined);
      if (attempt > 20) throw err;
    }
  }
}

/** "192.0.2.7" → "7.2.0.192.in-addr.arpa", the zone key of its PTR record. */
export function ptrName(ipv4: string): string {
  return `${ipv4.split('.').reverse().join('.')}.in-addr.arpa`;
}

function osFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
