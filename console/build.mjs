// Builds the console: `node build.mjs OUTDIR` writes OUTDIR/index.html, OUTDIR/app.js and
// OUTDIR/app.css, the three files the server serves at `/`, `/assets/app.js` and
// `/assets/app.css`, and a gzip copy of each (`….gz`).
//
// Invariants:
// - the output depends only on the sources and the locked dependencies: the same bytes on every
//   run and machine (no timestamps, no absolute paths, no hashes of the environment);
// - index.html holds no inline script and no inline style (the server's CSP forbids both);
// - silent on success; on failure the errors go to stderr and the exit status is 1; a warning
//   fails the build too, so a clean build prints nothing.

import { mkdir, writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = dirname(fileURLToPath(import.meta.url));

/** The page: the bundle and its styles by absolute path, nothing inline. */
export const INDEX_HTML = `<!doctype html>
<html lang="en" dir="ltr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="dark">
<meta name="referrer" content="no-referrer">
<title>roeh</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/app.css">
<script type="module" src="/assets/app.js"></script>
</head>
<body>
<noscript><p>roeh: JavaScript is required. / מוקד רואה: נדרש JavaScript.</p></noscript>
<div id="app"></div>
</body>
</html>
`;

/** esbuild options of the browser bundle (shared with the tests). */
export function bundleOptions() {
  return {
    absWorkingDir: root,
    entryPoints: { app: 'src/main.tsx' },
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2020',
    platform: 'browser',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    charset: 'utf8',
    legalComments: 'eof',
    sourcemap: false,
    outdir: 'out',
    write: false,
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
  };
}

/** Builds into `outDir`; returns the written files' sizes. */
export async function build(outDir) {
  const result = await esbuild.build(bundleOptions());
  if (result.warnings.length > 0) {
    const text = await esbuild.formatMessages(result.warnings, { kind: 'warning', color: false });
    throw new Error(text.join(''));
  }
  const files = { 'index.html': INDEX_HTML };
  for (const f of result.outputFiles) {
    if (f.path.endsWith('.js')) files['app.js'] = f.contents;
    else if (f.path.endsWith('.css')) files['app.css'] = f.contents;
  }
  if (!files['app.js'] || !files['app.css']) throw new Error('the bundle lacks app.js or app.css');
  // Pre-compressed copies, served to browsers that accept gzip (the gzip header of Node's zlib
  // carries no time and no name: the same bytes on every build).
  for (const name of ['index.html', 'app.js', 'app.css']) {
    const data = files[name];
    files[`${name}.gz`] = gzipSync(typeof data === 'string' ? Buffer.from(data) : data, { level: 9 });
  }
  await mkdir(outDir, { recursive: true });
  const sizes = {};
  for (const [name, data] of Object.entries(files)) {
    await writeFile(join(outDir, name), data);
    sizes[name] = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  }
  return sizes;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = process.argv[2];
  if (!out) {
    process.stderr.write('usage: node build.mjs OUTDIR\n');
    process.exit(2);
  }
  try {
    await build(resolve(out));
  } catch (e) {
    const errors = e && Array.isArray(e.errors) ? e.errors : null;
    if (errors && errors.length > 0) {
      const text = await esbuild.formatMessages(errors, { kind: 'error', color: false });
      process.stderr.write(text.join(''));
    } else {
      process.stderr.write(`build failed: ${e && e.message ? e.message : e}\n`);
    }
    process.exit(1);
  }
}
