// The figures of the Démailnagement page, apart from the page so they are tested without a
// browser. A month without mail has no share: it is drawn and listed empty, never as 100 %
// "others", and the headline compares with the last month that had mail.

/** Whether any mail of the month reached a final outcome. */
export const hasMail = (m) => m.total > 0;

/**
 * The headline: the latest month with mail and, to compare with, the month with mail before it
 * (`delta` in percentage points). null when no month had mail.
 */
export function headline(months) {
  const withMail = months.filter(hasMail);
  const current = withMail.at(-1);
  if (!current) return null;
  const previous = withMail.at(-2);
  return { current, previous, delta: previous ? current.usGiantsPct - previous.usGiantsPct : undefined };
}

/** Heights of the two stacked bars per month, in %: nothing for a month without mail. */
export function shareBars(months) {
  return {
    giants: months.map((m) => (hasMail(m) ? m.usGiantsPct : 0)),
    others: months.map((m) => (hasMail(m) ? Math.max(0, 100 - m.usGiantsPct) : 0)),
  };
}
