/**
 * The classifier against real replies from public sources (test/fixtures/replies.tsv, labelled by
 * the category definitions, not by the classifier). Each reply is taken as an answer to RCPT TO
 * with no provider known, as `relais reply explain` does without --mx.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { loadReplyClassifier } from '../../config/classification.js';
import { REPLY_CATEGORIES, type ReplyCategory } from '../../relay/delivery/reply-class.js';

interface Row {
  provider: string;
  category: ReplyCategory;
  permanent: boolean;
  reply: string;
  source: string;
}

function readCorpus(): Row[] {
  const lines = readFileSync(new URL('../fixtures/replies.tsv', import.meta.url), 'utf8').split('\n');
  const rows: Row[] = [];
  for (const line of lines.slice(lines.findIndex((l) => l.startsWith('provider\t')) + 1)) {
    if (!line.trim()) continue;
    const [provider, category, permanent, reply, source] = line.split('\t') as [string, ReplyCategory, string, string, string];
    rows.push({ provider, category, permanent: permanent === 'true', reply, source });
  }
  return rows;
}

const pct = (n: number, d: number) => (d ? (100 * n) / d : 100);

describe('reply classification on the public corpus', () => {
  const rows = readCorpus();
  const classifier = loadReplyClassifier();
  const results = rows.map((r) => ({ row: r, got: classifier.classify({ text: r.reply, phase: 'rcpt' }) }));

  test('the corpus is large enough and labelled with known categories', () => {
    expect(rows.length).toBeGreaterThanOrEqual(300);
    for (const r of rows) {
      expect(REPLY_CATEGORIES).toContain(r.category);
      expect(r.source).not.toBe('');
    }
  });

  test('≥ 95 % categories, ≥ 97 % permanent flags, every provider group ≥ 85 %', () => {
    const confusion = new Map<string, number>();
    for (const { row, got } of results) {
      const k = `${row.category}\t${got.category}`;
      confusion.set(k, (confusion.get(k) ?? 0) + 1);
    }
    const cats = [...REPLY_CATEGORIES];
    const head = ['label \\ got', ...cats.map((c) => c.slice(0, 9))];
    const table = [head.map((h) => h.padStart(10)).join('')];
    for (const a of cats) table.push([a.slice(0, 10).padStart(10), ...cats.map((b) => String(confusion.get(`${a}\t${b}`) ?? '.').padStart(10))].join(''));
    const misses = results.filter(({ row, got }) => row.category !== got.category || row.permanent !== got.permanent);
    const catOk = results.filter(({ row, got }) => row.category === got.category).length;
    const permOk = results.filter(({ row, got }) => row.permanent === got.permanent).length;
    const groups = new Map<string, { n: number; ok: number }>();
    for (const { row, got } of results) {
      const g = groups.get(row.provider) ?? { n: 0, ok: 0 };
      g.n++;
      if (row.category === got.category) g.ok++;
      groups.set(row.provider, g);
    }
    console.log(
      [
        `categories ${catOk}/${rows.length} (${pct(catOk, rows.length).toFixed(1)} %), permanent ${permOk}/${rows.length} (${pct(permOk, rows.length).toFixed(1)} %)`,
        ...table,
        'provider groups: ' + [...groups].map(([p, g]) => `${p} ${g.ok}/${g.n}`).join(', '),
        'misses (label → got):',
        ...misses.map(({ row, got }) => `  ${row.category}/${row.permanent} → ${got.category}/${got.permanent} [${got.rule ?? '-'}] ${row.reply.slice(0, 110)}`),
      ].join('\n'),
    );
    expect(pct(catOk, rows.length)).toBeGreaterThanOrEqual(95);
    expect(pct(permOk, rows.length)).toBeGreaterThanOrEqual(97);
    for (const [p, g] of groups) expect({ provider: p, pct: pct(g.ok, g.n) >= 85 }).toEqual({ provider: p, pct: true });
  });
});
