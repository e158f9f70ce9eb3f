/**
 * The `dmarc:` section: where DMARC and TLS reports are taken and how much one may cost.
 *
 *   dmarc:
 *     report_addresses: [dmarc-rua@laruche.example]  # besides dmarc@ and tlsrpt@<bounce domain>
 *     max_report_size: 20971520   # decompressed bytes of one report (20 MiB)
 *     max_rows: 10000             # distinct rows of one report
 *     max_rows_per_day: 50000     # distinct rows stored per domain and day, all reporters
 */
import { envInt, envList, fail, onlyKeys } from '../../config/validate.js';

export interface DmarcConfig {
  report_addresses: string[];
  max_report_size: number;
  max_rows: number;
  max_rows_per_day: number;
}

const KEYS = ['report_addresses', 'max_report_size', 'max_rows', 'max_rows_per_day'];

export function parseDmarcConfig(raw: Record<string, unknown>): DmarcConfig {
  onlyKeys(raw, 'dmarc', KEYS);
  const addresses = envList(raw.report_addresses, 'dmarc.report_addresses').map((a) =>
    /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(a) ? a.toLowerCase() : fail('dmarc.report_addresses', `invalid address ${JSON.stringify(a)}`),
  );
  return {
    report_addresses: addresses,
    max_report_size: raw.max_report_size === undefined ? 20 * 1024 * 1024 : envInt(raw.max_report_size, 'dmarc.max_report_size', 1024, 1024 * 1024 * 1024),
    max_rows: raw.max_rows === undefined ? 10_000 : envInt(raw.max_rows, 'dmarc.max_rows', 1, 1_000_000),
    max_rows_per_day: raw.max_rows_per_day === undefined ? 50_000 : envInt(raw.max_rows_per_day, 'dmarc.max_rows_per_day', 1, 10_000_000),
  };
}
