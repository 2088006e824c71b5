// Catalogs and the rules that keep the UI translatable, mirrored and safe: same keys and
// placeholders in both languages, every key used, no text or HTML written outside the catalogs,
// logical CSS properties only.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { lib } from './helpers.mjs';

const i18n = await lib('i18n');
const labels = await lib('labels');

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const en = JSON.parse(readFileSync(join(root, 'src/i18n/en.json'), 'utf8'));
const he = JSON.parse(readFileSync(join(root, 'src/i18n/he.json'), 'utf8'));

function sources(dir = join(root, 'src')) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (/\.(ts|tsx)$/.test(name)) out.push({ path: p, text: readFileSync(p, 'utf8') });
  }
  return out;
}

test('both catalogs have the same keys, none empty', () => {
  assert.deepEqual(Object.keys(he).sort(), Object.keys(en).sort());
  for (const [k, v] of [...Object.entries(en), ...Object.entries(he)]) {
    assert.equal(typeof v, 'string', k);
    assert.notEqual(v.trim(), '', k);
  }
});

test('each message has the same placeholders in both languages', () => {
  for (const k of Object.keys(en)) {
    assert.deepEqual(i18n.placeholders(he[k]), i18n.placeholders(en[k]), k);
  }
});

test('the Hebrew catalog is Hebrew (but for names of keys and the other language)', () => {
  const latinOnly = Object.entries(he)
    .filter(([, v]) => !/[\u0590-\u05FF]/.test(v))
    .map(([k]) => k)
    .sort();
  assert.deepEqual(latinOnly, ['dispatch.option', 'header.otherLanguage', 'key.enter', 'key.escape']);
  assert.equal(he['app.name'], 'מוקד רואה');
  assert.equal(en['app.name'], 'roeh');
});

test('every key is used in the sources, and every key used exists', () => {
  const text = sources().map((s) => s.text).join('\n');
  const unused = Object.keys(en).filter((k) => !text.includes(`'${k}'`));
  assert.deepEqual(unused, []);
  const namespaces = new Set(Object.keys(en).map((k) => k.split('.')[0]));
  const used = [...text.matchAll(/'([a-z]+)\.([A-Za-z_]+)'/g)].filter((m) => namespaces.has(m[1])).map((m) => `${m[1]}.${m[2]}`);
  assert.ok(used.length > 50);
  assert.deepEqual(used.filter((k) => !(k in en)), []);
  for (const k of labels.ALL_LABEL_KEYS) assert.ok(k in en && k in he, k);
});

test('language choice: a stored choice wins, else Hebrew for he-*, else English', () => {
  assert.equal(i18n.pickLang(null, 'he-IL'), 'he');
  assert.equal(i18n.pickLang(null, 'he'), 'he');
  assert.equal(i18n.pickLang(null, 'HE-il'), 'he');
  assert.equal(i18n.pickLang(null, 'en-US'), 'en');
  assert.equal(i18n.pickLang(null, 'ar'), 'en');
  assert.equal(i18n.pickLang(undefined, undefined), 'en');
  assert.equal(i18n.pickLang('en', 'he-IL'), 'en');
  assert.equal(i18n.pickLang('he', 'en-US'), 'he');
  assert.equal(i18n.pickLang('fr', 'he-IL'), 'he', 'an unknown stored value is ignored');
  assert.equal(i18n.dirOf('he'), 'rtl');
  assert.equal(i18n.dirOf('en'), 'ltr');
});

test('parameters are filled in as text', () => {
  const t = i18n.translator('en');
  assert.equal(t('queue.count', { n: 3 }), 'Open alerts: 3');
  assert.equal(t('announce.new', { severity: 'High', hotspot: '<b>Gate</b>' }), 'New High alert at <b>Gate</b>');
  assert.equal(t('announce.new', { severity: 'High' }), 'New High alert at {hotspot}');
  assert.equal(i18n.translator('he')('queue.count', { n: 3 }), 'התרעות פתוחות: 3');
});

test('the UI writes no text outside the catalogs and no HTML at all', () => {
  for (const { path, text } of sources()) {
    const name = path.slice(root.length + 1);
    for (const bad of ['dangerouslySetInnerHTML', 'innerHTML', 'outerHTML', 'insertAdjacentHTML', 'document.write', 'eval(', 'new Function']) {
      assert.ok(!text.includes(bad), `${name} uses ${bad}`);
    }
    // The CSP forbids inline styles: no style attributes either.
    assert.ok(!/\sstyle=/.test(text), `${name} sets a style attribute`);
    if (name.endsWith('.tsx')) {
      // Text between JSX tags must come from a catalog (punctuation and symbols are fine).
      const literal = [...text.matchAll(/>([^<>{}()=;]*)</g)]
        .map((m) => m[1].trim())
        .filter((s) => /[A-Za-z\u0590-\u05FF]/.test(s));
      assert.deepEqual(literal, [], `${name} has text outside the catalogs`);
      // Labels too.
      assert.ok(!/(aria-label|alt|title|placeholder)="[^"]*[A-Za-z]/.test(text), `${name} has a literal label`);
    }
  }
});

test('the styles use logical properties only, so right-to-left mirrors by itself', () => {
  const css = readFileSync(join(root, 'src/app.css'), 'utf8');
  const physical = css.match(
    /\b(margin|padding|border)-(left|right)\b|(^|[\s;{])(left|right)\s*:|text-align:\s*(left|right)|float:\s*(left|right)/gm,
  );
  assert.equal(physical, null, `physical properties: ${physical}`);
  assert.match(css, /margin-inline-start/);
  assert.match(css, /inset-inline-start/);
  assert.match(css, /text-align: start/);
});
