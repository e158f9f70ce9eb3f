/**
 * The bench's section registry: each section module calls `section(name, fn)` at import time;
 * run.ts imports them in order and runs the ones selected on the command line. A section records
 * rows (one per measured configuration) and free-text notes; run.ts prints and saves them.
 */
export type Metric = number | string | boolean | undefined;

export interface Row {
  name: string;
  metrics: Record<string, Metric>;
}

export interface SectionResult {
  name: string;
  rows: Row[];
  notes: string[];
  seconds: number;
  error?: string;
}

export interface BenchContext {
  record(name: string, metrics: Record<string, Metric>): void;
  note(text: string): void;
  /** Results of sections that ran before (for ratios across sections). */
  earlier(name: string): SectionResult | undefined;
}

export type SectionFn = (ctx: BenchContext) => Promise<void>;

const registry: Array<{ name: string; fn: SectionFn }> = [];

export function section(name: string, fn: SectionFn): void {
  if (registry.some((s) => s.name === name)) throw new Error(`duplicate bench section ${name}`);
  registry.push({ name, fn });
}

export function sections(): ReadonlyArray<{ name: string; fn: SectionFn }> {
  return registry;
}

export async function runSection(s: { name: string; fn: SectionFn }, done: SectionResult[]): Promise<SectionResult> {
  const result: SectionResult = { name: s.name, rows: [], notes: [], seconds: 0 };
  const t0 = performance.now();
  const ctx: BenchContext = {
    record: (name, metrics) => {
      result.rows.push({ name, metrics });
      process.stderr.write(`  ${s.name} · ${name}: ${Object.entries(metrics).map(([k, v]) => `${k}=${fmt(v)}`).join(' ')}\n`);
    },
    note: (text) => {
      result.notes.push(text);
      process.stderr.write(`  ${s.name} · note: ${text}\n`);
    },
    earlier: (name) => done.find((r) => r.name === name),
  };
  try {
    await s.fn(ctx);
  } catch (err) {
    result.error = (err as Error).stack ?? String(err);
  }
  result.seconds = (performance.now() - t0) / 1000;
  return result;
}

export function fmt(v: Metric): string {
  if (v === undefined) return '–';
  if (typeof v !== 'number') return String(v);
  if (!Number.isFinite(v)) return '–';
  if (Number.isInteger(v)) return String(v);
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/** A plain-text table of a section's rows (columns = union of metric names, in first-seen order). */
export function table(r: SectionResult): string {
  const cols: string[] = [];
  for (const row of r.rows) for (const k of Object.keys(row.metrics)) if (!cols.includes(k)) cols.push(k);
  const grid = [['', ...cols], ...r.rows.map((row) => [row.name, ...cols.map((c) => fmt(row.metrics[c]))])];
  const widths = grid[0]!.map((_, i) => Math.max(...grid.map((g) => g[i]!.length)));
  const line = (g: string[]) => g.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(grid[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...grid.slice(1).map(line)].join('\n');
}
