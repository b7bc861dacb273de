#!/usr/bin/env node
/**
 * Builds the `hmcseg view` page into dist/web/: web/main.ts and the project modules it imports,
 * bundled by esbuild (NiiVue and onnxruntime-web included, nothing fetched from a CDN), the HTML,
 * and onnxruntime-web's wasm runtime, which the view server serves from dist/web/ort/.
 *
 *   node scripts/build-view.mjs      (npm run build:view)
 */
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'web');
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'ort'), { recursive: true });

const shim = join(root, 'web', 'shims', 'node.ts');
await build({
  entryPoints: [join(root, 'web', 'main.ts')],
  outfile: join(out, 'app.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  legalComments: 'linked',
  logLevel: 'warning',
  alias: { 'node:fs': shim, 'node:zlib': shim, 'node:path': shim },
});
copyFileSync(join(root, 'web', 'index.html'), join(out, 'index.html'));
const ort = join(root, 'node_modules', 'onnxruntime-web', 'dist');
for (const f of ['ort-wasm-simd-threaded.wasm', 'ort-wasm-simd-threaded.mjs']) copyFileSync(join(ort, f), join(out, 'ort', f));
process.stdout.write(`build-view: ${out}\n`);
