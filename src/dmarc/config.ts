/**
 * The `dmarc:` section: where DMARC and TLS reports are taken and how much one may cost.
 *
 *   dmarc:
 *     report_addresses: [dmarc-rua@laruche.example]  # besides dmarc@ and tlsrpt@<bounce domain>
 *     max_report_size: 20971520   # decompressed bytes of one report (20 MiB)
 *     max_rows: 10000             # distinct rows of one report
 *     max_rows_per_day: 50000     # distinct rows stored per domain and day, all reporters
 */
import { ConfigError, parseInteger, parseList } from '../config/parse.js';

export interface DmarcConfig {
  report_addresses: string[];
  max_report_size: number;
  max_rows: number;
  max_rows_per_day: number;
}

const KEYS = ['report_addresses', 'max_report_size', 'max_rows', 'max_rows_per_day'];

export function parseDmarcConfig(raw: Record<string, unknown>): DmarcConfig {
  for (const k of Object.keys(raw)) if (!KEYS.includes(k)) throw new ConfigError(`dmarc.${k}`, `unknown key (allowed: ${KEYS.join(', ')})`);
  const addresses = parseList('dmarc.report_addresses', raw.report_addresses).map((a) => {
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(a)) throw new ConfigError('dmarc.report_addresses', `invalid address ${JSON.stringify(a)}`);
    return a.toLowerCase();
  });
  return {
    report_addresses: addresses,
    max_report_size: raw.max_report_size === undefined ? 20 * 1024 * 1024 : parseInteger('dmarc.max_report_size', raw.max_report_size, 1024, 1024 * 1024 * 1024),
    max_rows: raw.max_rows === undefined ? 10_000 : parseInteger('dmarc.max_rows', raw.max_rows, 1, 1_000_000),
    max_rows_per_day: raw.max_rows_per_day === undefined ? 50_000 : parseInteger('dmarc.max_rows_per_day', raw.max_rows_per_day, 1, 10_000_000),
  };
}
