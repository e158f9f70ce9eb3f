// French first, English second. The language choice (not a secret) is remembered in
// localStorage; the token never is (see api.js).
import { fr } from './i18n-fr.js';
import { en } from './i18n-en.js';

const DICTS = { fr, en };
const LANG_KEY = 'relais.lang';
const LOCALES = { fr: 'fr-FR', en: 'en-GB' };

let lang = (() => {
  try {
    const saved = localStorage.getItem(LANG_KEY);
    return saved === 'en' || saved === 'fr' ? saved : 'fr';
  } catch {
    return 'fr';
  }
})();

export const getLang = () => lang;

export function setLang(l) {
  lang = l === 'en' ? 'en' : 'fr';
  try {
    localStorage.setItem(LANG_KEY, lang);
  } catch {
    // private mode: the choice lasts for this page only
  }
}

/** t('quotas.saved', {address}) — `fallback` is shown for keys unknown in both languages. */
export function t(key, vars = {}, fallback) {
  const s = DICTS[lang][key] ?? DICTS.fr[key] ?? fallback ?? key;
  return s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] === undefined ? m : String(vars[k])));
}

/** API messages are "French / English": keep the half in the current language. */
export function localMessage(message) {
  const parts = String(message).split(' / ');
  if (parts.length !== 2) return String(message);
  return lang === 'en' ? parts[1] : parts[0];
}

const locale = () => LOCALES[lang];
const monthDate = (m) => new Date(`${m}-01T12:00:00Z`);

export const fmt = {
  num: (n) => (n === null || n === undefined || Number.isNaN(n) ? '–' : new Intl.NumberFormat(locale()).format(n)),
  /** Percentages arrive as 0–100; French puts a narrow no-break space before %. */
  pct: (p) => {
    if (p === null || p === undefined || Number.isNaN(p)) return '–';
    const n = new Intl.NumberFormat(locale(), { maximumFractionDigits: 1 }).format(p);
    return lang === 'fr' ? `${n}\u202f%` : `${n}%`;
  },
  dateTime: (iso) => (iso ? new Intl.DateTimeFormat(locale(), { dateStyle: 'short', timeStyle: 'short' }).format(new Date(iso)) : '–'),
  month: (m) => new Intl.DateTimeFormat(locale(), { month: 'long', year: 'numeric', timeZone: 'UTC' }).format(monthDate(m)),
  monthShort: (m) => new Intl.DateTimeFormat(locale(), { month: 'short', year: '2-digit', timeZone: 'UTC' }).format(monthDate(m)),
  bytes: (b) => {
    const [u0, u1, u2] = lang === 'fr' ? ['o', 'kio', 'Mio'] : ['B', 'KiB', 'MiB'];
    if (b < 1024) return `${b} ${u0}`;
    return b < 1048576 ? `${fmt.num(Math.round(b / 102.4) / 10)} ${u1}` : `${fmt.num(Math.round(b / 104857.6) / 10)} ${u2}`;
  },
};
