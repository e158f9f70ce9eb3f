import { describe, it, expect } from 'vitest';
// The page module is plain browser JavaScript (no types).
import { hasMail, headline, shareBars } from '../../src/dashboard/public/js/dem-months.js';

const month = (m: string, total: number, usGiantsPct: number) => ({ month: m, total, usGiants: Math.round((total * usGiantsPct) / 100), others: total - Math.round((total * usGiantsPct) / 100), usGiantsPct, deliveredPctUsGiants: 0, deliveredPctOthers: 0 });
const empty = (m: string) => month(m, 0, 0);

describe('Démailnagement figures', () => {
  it('draws a month without mail as empty, never as 100 % others', () => {
    const months = [empty('2025-12'), month('2026-01', 15, 53.3), empty('2026-02')];
    expect(months.map(hasMail)).toEqual([false, true, false]);
    expect(shareBars(months)).toEqual({ giants: [0, 53.3, 0], others: [0, 46.7, 0] });
  });

  it('compares the latest month with mail with the month with mail before it, skipping empty ones', () => {
    const h = headline([month('2025-10', 40, 70), empty('2025-11'), month('2025-12', 20, 60), empty('2026-01'), month('2026-02', 10, 50), empty('2026-03')]);
    expect(h.current.month).toBe('2026-02');
    expect(h.previous.month).toBe('2025-12');
    expect(h.delta).toBeCloseTo(-10);
  });

  it('makes no comparison when only one month had mail, and no headline when none had', () => {
    const h = headline([empty('2025-12'), month('2026-01', 15, 53.3)]);
    expect(h.current.month).toBe('2026-01');
    expect(h.previous).toBeUndefined();
    expect(h.delta).toBeUndefined();
    expect(headline([empty('2025-12'), empty('2026-01')])).toBeNull();
    expect(headline([])).toBeNull();
  });
});
