#!/usr/bin/env node
/**
 * Visual check of a report: renders report.html in a headless Chromium and saves a full-page PNG
 * (plus one PNG per viewport-height tile, easier to read than one very tall image).
 *
 *   node scripts/screenshot-report.mjs DIR/report.html [OUT.png] [--width 1280]
 *
 * Needs a Chromium binary (Debian: apt-get install chromium); set CHROMIUM to override
 * /usr/bin/chromium. playwright-core (a dev dependency) downloads no browser by itself.
 * Not part of `npm test`.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const args = process.argv.slice(2);
const widthAt = args.indexOf('--width');
const width = widthAt >= 0 ? Number(args.splice(widthAt, 2)[1]) : 1280;
const [html, outArg] = args;
if (!html || !Number.isInteger(width) || width < 320) {
  process.stderr.write('usage: node scripts/screenshot-report.mjs REPORT.html [OUT.png] [--width 1280]\n');
  process.exit(2);
}
const input = resolve(html);
if (!existsSync(input)) {
  process.stderr.write(`screenshot-report: ${input}: not found\n`);
  process.exit(1);
}
const out = resolve(outArg ?? input.replace(/\.html?$/, '') + '.png');
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
if (!existsSync(executablePath)) {
  process.stderr.write(`screenshot-report: no Chromium at ${executablePath} (apt-get install chromium, or set CHROMIUM)\n`);
  process.exit(1);
}

const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
try {
  const page = await browser.newPage({ viewport: { width, height: 1000 } });
  const external = [];
  page.on('request', (r) => {
    if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) external.push(r.url());
  });
  await page.goto(pathToFileURL(input).href, { waitUntil: 'load' });
  await page.screenshot({ path: out, fullPage: true });
  const height = await page.evaluate(() => document.documentElement.scrollHeight);
  const tiles = [];
  for (let y = 0, i = 0; y < height; y += 1000, i++) {
    const tile = out.replace(/\.png$/, `-${String(i).padStart(2, '0')}.png`);
    await page.screenshot({ path: tile, fullPage: true, clip: { x: 0, y, width, height: Math.min(1000, height - y) } });
    tiles.push(tile);
  }
  process.stdout.write(`screenshot: ${out} (${width} × ${height}), ${tiles.length} tiles ${tiles[0]} …\n`);
  if (external.length) {
    process.stderr.write(`screenshot-report: the report requested external resources: ${external.join(', ')}\n`);
    process.exitCode = 1;
  }
} finally {
  await browser.close();
}
