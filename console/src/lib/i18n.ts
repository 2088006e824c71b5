// Message catalogs and the choice of language. No DOM: the caller passes what the browser says.
//
// Invariants:
// - every user-visible string comes from a catalog (src/i18n/*.json); both catalogs have the same
//   keys and the same `{placeholders}` per key (checked by the unit tests);
// - Hebrew is the default where the browser's language starts with "he", English elsewhere; a
//   language the operator chose (stored) wins;
// - parameters are substituted as plain text: the UI renders strings as text nodes, never HTML.

import en from '../i18n/en.json';
import he from '../i18n/he.json';

/** The console's languages. */
export type Lang = 'he' | 'en';

/** A catalog key (the English catalog is the reference). */
export type MessageKey = keyof typeof en;

/** A catalog. */
export type Catalog = Record<MessageKey, string>;

/** The catalogs, by language. */
export const CATALOGS: Record<Lang, Catalog> = { en, he };

/** Where the chosen language is remembered (localStorage). */
export const LANG_STORAGE_KEY = 'roeh.lang';

/** The language to start with: the stored choice if valid, else from the browser's language. */
export function pickLang(stored: string | null | undefined, browser: string | null | undefined): Lang {
  if (stored === 'he' || stored === 'en') return stored;
  return (browser ?? '').toLowerCase().startsWith('he') ? 'he' : 'en';
}

/** The writing direction of a language. */
export function dirOf(lang: Lang): 'rtl' | 'ltr' {
  return lang === 'he' ? 'rtl' : 'ltr';
}

/** Parameters of a message. */
export type Params = Record<string, string | number>;

/** The `{name}` placeholders of a message, sorted. */
export function placeholders(s: string): string[] {
  const out = new Set<string>();
  for (const m of s.matchAll(/\{([a-zA-Z0-9_]+)\}/g)) if (m[1] !== undefined) out.add(m[1]);
  return [...out].sort();
}

/** The message `key` of `catalog` with `params` filled in; an unknown key shows as itself, a
 * missing parameter as its placeholder. */
export function translate(catalog: Catalog, key: MessageKey, params?: Params): string {
  const s = catalog[key] ?? key;
  if (!params) return s;
  return s.replace(/\{([a-zA-Z0-9_]+)\}/g, (whole, name: string) => {
    const v = params[name];
    return v === undefined ? whole : String(v);
  });
}

/** A translator bound to a language. */
export type T = (key: MessageKey, params?: Params) => string;

/** The translator of `lang`. */
export function translator(lang: Lang): T {
  const c = CATALOGS[lang];
  return (key, params) => translate(c, key, params);
}
