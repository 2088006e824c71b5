// `npm test`: compiles the DOM-free modules of src/lib with esbuild into
// node_modules/.cache/roeh-console-test/, then runs every test/*.test.mjs with Node's own test
// runner (Node 18.20 or newer). Test files are passed by name, which every Node version with
// `--test` understands.

import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const LIB_OUT = join(root, 'node_modules', '.cache', 'roeh-console-test');

const modules = ['alerts', 'api', 'bytes', 'format', 'i18n', 'labels', 'push', 'pushclient', 'resync', 'time', 'live', 'unit', 'map', 'playback', 'groups', 'zone', 'evidence', 'admin', 'integrate', 'hotspots', 'stats'];

try {
  await esbuild.build({
    absWorkingDir: root,
    entryPoints: modules.map((m) => `src/lib/${m}.ts`),
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2020',
    outdir: LIB_OUT,
    outExtension: { '.js': '.mjs' },
    logLevel: 'silent',
  });
} catch (e) {
  const errors = e && Array.isArray(e.errors) ? e.errors : [];
  const text = await esbuild.formatMessages(errors, { kind: 'error', color: false });
  process.stderr.write(text.join('') || `${e}\n`);
  process.exit(1);
}

const testDir = join(root, 'test');
const files = readdirSync(testDir)
  .filter((f) => f.endsWith('.test.mjs'))
  .sort()
  .map((f) => join(testDir, f));
const r = spawnSync(process.execPath, ['--test', ...files], {
  stdio: 'inherit',
  // Clock times in the tests are written for UTC.
  env: { ...process.env, TZ: 'UTC', ROEH_CONSOLE_LIB: LIB_OUT },
});
process.exit(r.status ?? 1);
