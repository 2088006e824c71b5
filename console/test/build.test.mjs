// The build: deterministic bytes, the three files the server serves, nothing inline for the
// CSP, and the size budget of the first screen.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { build } from '../build.mjs';

const FILES = ['index.html', 'app.js', 'app.css'];

test('two builds give the same bytes, and index.html loads only /assets files, nothing inline', async () => {
  const a = mkdtempSync(join(tmpdir(), 'roeh-console-a-'));
  const b = mkdtempSync(join(tmpdir(), 'roeh-console-b-'));
  try {
    await build(a);
    await build(b);
    for (const f of FILES) assert.ok(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), f);
    const html = readFileSync(join(a, 'index.html'), 'utf8');
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    assert.equal(scripts.length, 1);
    assert.match(scripts[0][1], /src="\/assets\/app\.js"/);
    assert.equal(scripts[0][2], '', 'no inline script');
    assert.ok(!/<style\b/i.test(html), 'no <style>');
    assert.ok(!/\sstyle=/i.test(html), 'no style attribute');
    assert.ok(!/\son[a-z]+=/i.test(html), 'no inline event handler');
    assert.match(html, /<link rel="stylesheet" href="\/assets\/app\.css">/);
    assert.match(html, /<meta charset="utf-8">/);
    // The bundle is self-contained: no imports of other files, no source paths of this machine.
    const js = readFileSync(join(a, 'app.js'), 'utf8');
    assert.ok(!/\bimport\s*\(|\bfrom\s*["']/.test(js), 'no imports');
    assert.ok(!js.includes(process.cwd()), 'no absolute paths');
    // Sizes of the first screen (index + script + styles), gzipped.
    const gz = FILES.reduce((n, f) => n + gzipSync(readFileSync(join(a, f)), { level: 9 }).length, 0);
    assert.ok(gz <= 150 * 1024, `first screen ${gz} bytes gzipped`);
  } finally {
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
});
