/**
 * Postfix as Mailcow runs it towards a relayhost, in a private instance (see bench/lib/postfix.ts),
 * plus readers that tolerate the relay moving envelope files while a test polls its spool.
 */
import type { Envelope } from '../../relay/spool/envelope.js';
import { startPostfix, type PostfixInstance } from '../../bench/lib/postfix.js';

export { freePort, postfixUnavailable, startPostfix, type PostfixInstance } from '../../bench/lib/postfix.js';

export interface MailcowLikeOptions {
  relaisPort: number;
  /** SASL credentials of the relayhost, keyed like smtp_sasl_password_maps (next hop, @domain or sender). */
  credentials: Record<string, string>;
  /** Recipient domain → next hop of the `dsnsink` transport (plain SMTP, no AUTH): where bounces go. */
  sinks?: Record<string, string>;
  tlsLevel?: 'encrypt' | 'may';
}

/**
 * The outbound side of Mailcow's main.cf (data/conf/postfix) with the relayhost set globally
 * (Mailcow's extra.cf route) and sender-dependent SASL credentials as Mailcow generates them.
 * Mailcow's anonymize_headers.pcre becomes a regexp table (postfix-pcre is not needed).
 */
export async function startMailcowLikePostfix(o: MailcowLikeOptions): Promise<PostfixInstance> {
  const relayhost = `[127.0.0.1]:${o.relaisPort}`;
  const sasl = Object.entries(o.credentials).map(([k, v]) => `${k === 'relayhost' ? relayhost : k} ${v}`).join('\n') + '\n';
  const sinks = Object.entries(o.sinks ?? {}).map(([d, hop]) => `${d} dsnsink:${hop}`).join('\n') + '\n';
  return startPostfix({
    prefix: 'relais-mailcow-',
    main: {
      relayhost,
      transport_maps: 'texthash:$config_directory/transport',
      smtp_sender_dependent_authentication: 'yes',
      smtp_sasl_auth_enable: 'yes',
      smtp_sasl_password_maps: 'texthash:$config_directory/sasl_passwd',
      smtp_sasl_security_options: '',
      smtp_sasl_mechanism_filter: 'plain, login',
      smtp_sasl_auth_soft_bounce: 'no',
      smtp_tls_security_level: o.tlsLevel ?? 'encrypt',
      smtp_tls_protocols: '>=TLSv1.2',
      smtp_tls_mandatory_protocols: '>=TLSv1.2',
      smtp_tls_loglevel: '1',
      smtp_header_checks: 'regexp:$config_directory/anonymize_headers.regexp',
      // Mailcow keeps Postfix's defaults here: 50 recipients per transaction towards one next hop.
      smtp_destination_recipient_limit: '50',
      message_size_limit: '104857600',
      // Retry quickly so a deferral would show within the test (a bounce must not wait for it).
      queue_run_delay: '2s',
      minimal_backoff_time: '2s',
      maximal_backoff_time: '4s',
    },
    master: ['dsnsink   unix  -       -       n       -       -       smtp', '  -o smtp_tls_security_level=none', '  -o smtp_sasl_auth_enable=no', '  -o smtp_header_checks='],
    files: {
      sasl_passwd: sasl,
      transport: sinks,
      'anonymize_headers.regexp': ['/^X-Enigmail/ IGNORE', '/^X-Originating-IP/ IGNORE', '/^X-Forward/ IGNORE', ''].join('\n'),
    },
  });
}

/** Envelopes in the spool (see spool-files.ts: newest revision, trailers included). */
export const readEnvelopes = spooledEnvelopes;

/** Polls the spool until `pred` holds for the envelopes, returning those that match `select`. */
export async function waitForEnvelopes(dataDir: string, select: (e: Envelope) => boolean, count: number, opts: { timeoutMs?: number; explain?: () => string } = {}): Promise<Envelope[]> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = readEnvelopes(dataDir).filter(select);
    if (found.length >= count) return found;
    if (Date.now() > deadline) throw new Error(`expected ${count} spooled envelopes, found ${found.length}${opts.explain ? `\n${opts.explain()}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export { spooledBytes } from './spool-files.js';
import { spooledEnvelopes } from './spool-files.js';
