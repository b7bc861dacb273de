/// <reference lib="dom" />
/**
 * `hmcseg view` in a real browser (Debian's chromium through playwright-core): the page loads
 * without console errors and fetches nothing from outside the server; the overlay colour at a
 * voxel is its class's; the slice list is in the order of the scores in NAME_uncertainty.json;
 * a picked NIfTI is segmented in the browser (onnxruntime-web, the exported model) and agrees with
 * `hmcseg predict`, for a store predicting whole slices by sliding windows (the page's fixture)
 * and for one predicting a centre crop (a second server, whose cases were predicted with another
 * warning score and post-processing, which the page repeats). Takes the screenshot the README shows:
 * into a temporary folder, or over docs/view.png with HMCSEG_UPDATE_SCREENSHOT=1.
 *
 * Skips, saying why, where /usr/bin/chromium (or $CHROMIUM) or the built page (npm run build:view)
 * is missing.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { optional } from './helpers/optional.js';
import { readNiftiLabels } from '../src/data/index.js';
import { CLASS_COLORS, rankSlices, startViewServer, type ViewPageHooks, type ViewServer } from '../src/view/index.js';
import { makeViewFixture, type ViewFixture } from './helpers/view.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const WEB = join(ROOT, 'dist', 'web', 'index.html');
const missing = !existsSync(CHROMIUM)
  ? `no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM)`
  : !existsSync(WEB)
    ? `the page is not built (${WEB}; npm run build:view)`
    : undefined;
const browserGate = optional('chromium and the built page', missing ?? null);

declare global {
  interface Window {
    hmcsegView: ViewPageHooks;
  }
}

let fx: ViewFixture;
let centreFx: ViewFixture | undefined;
let server: ViewServer;
let centreServer: ViewServer | undefined;
let browser: BrowserContext;
let page: Page;
let profile: string;
const consoleErrors: string[] = [];
const external: string[] = [];

browserGate.describe('hmcseg view in chromium', () => {
  beforeAll(async () => {
    fx = await makeViewFixture({ model: true, trained: true, window: 'sliding' });
    server = await startViewServer({ pred: fx.pred, gt: fx.data, model: fx.model });
    profile = mkdtempSync(join(tmpdir(), 'hmcseg-chromium-'));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      viewport: { width: 1200, height: 760 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        // WebGL2 for NiiVue without a GPU: the software renderer.
        '--use-angle=swiftshader',
        '--enable-unsafe-swiftshader',
      ],
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(e.message));
    page.on('response', (r) => {
      if (r.status() >= 400) consoleErrors.push(`${r.status()} ${r.url()}`);
    });
    page.on('request', (r) => {
      if (!r.url().startsWith(server.url) && !r.url().startsWith('blob:') && !r.url().startsWith('data:')) external.push(r.url());
    });
    await page.goto(server.url);
    await page.waitForFunction(() => window.hmcsegView?.ready === true || (window.hmcsegView?.errors.length ?? 0) > 0, null, { timeout: 60_000 });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await centreServer?.close();
    if (centreFx) rmSync(centreFx.root, { recursive: true, force: true });
    if (profile) rmSync(profile, { recursive: true, force: true });
    if (fx) rmSync(fx.root, { recursive: true, force: true });
  });

  it('loads with no console errors and nothing fetched from elsewhere', async () => {
    expect(await page.evaluate(() => window.hmcsegView.errors)).toEqual([]);
    expect(consoleErrors).toEqual([]);
    expect(external).toEqual([]);
  });

  it('lists the slices in the order of the scores in NAME_uncertainty.json', async () => {
    const rows = await page.$$eval('#slices tbody tr', (trs) => trs.map((tr) => ({ case: (tr as HTMLElement).dataset.case, z: Number((tr as HTMLElement).dataset.z), flagged: tr.classList.contains('flagged') })));
    const fromFiles = server.cases.map((c) => {
      const u = JSON.parse(readFileSync(join(fx.pred, `${c.name}_uncertainty.json`), 'utf8')) as { slices: { score: number | null }[] };
      return { name: c.name, scores: u.slices.map((s) => s.score) };
    });
    const scoreOf = (r: { case?: string; z: number }) => fromFiles.find((f) => f.name === r.case)?.scores[r.z] ?? -Infinity;
    const scores = rows.map(scoreOf);
    expect(rows.length).toBe(fromFiles.reduce((n, f) => n + f.scores.length, 0));
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    const expected = rankSlices(fromFiles);
    expect(rows).toEqual(expected.slices.map((s) => ({ case: s.case, z: s.z, flagged: s.flagged })));
    expect(rows.some((r) => r.flagged)).toBe(true);
  });

  it('colours a voxel of each class with its class colour, and a click moves to the slice', async () => {
    // Per class, a voxel whose 4-neighbours share its class (no blending with a neighbour's colour),
    // in the slice of all cases that has such voxels of the most classes.
    const interior = (data: Uint8Array, nx: number, ny: number, z: number, cls: number): [number, number] | undefined => {
      for (let y = 1; y < ny - 1; y++) {
        for (let x = 1; x < nx - 1; x++) {
          const i = x + nx * (y + ny * z);
          if ([0, 1, -1, nx, -nx].every((d) => data[i + d] === cls)) return [x, y];
        }
      }
      return undefined;
    };
    let best = { name: '', z: 0, voxels: [] as { cls: 1 | 2 | 3; at: [number, number] }[] };
    for (const c of server.cases) {
      const seg = readNiftiLabels(join(fx.pred, `${c.name}_seg.nii.gz`));
      const [nx, ny, nz] = seg.dims;
      for (let z = 0; z < nz; z++) {
        const voxels = ([1, 2, 3] as const).flatMap((cls) => {
          const at = interior(seg.data, nx, ny, z, cls);
          return at === undefined ? [] : [{ cls, at }];
        });
        if (voxels.length > best.voxels.length) best = { name: c.name, z, voxels };
      }
    }
    expect(best.voxels.length, 'no slice of the fixture has an interior voxel of any class').toBeGreaterThan(0);
    const row = page.locator(`#slices tbody tr[data-case="${best.name}"][data-z="${best.z}"]`);
    await row.click();
    await page.waitForFunction((n) => document.getElementById('case-name')?.textContent === n, best.name);
    expect(await row.getAttribute('class')).toMatch(/current/);
    await page.evaluate(() => {
      for (const [id, v] of [['op-seg', '1'], ['op-entropy', '0'], ['op-mi', '0']]) {
        const el = document.getElementById(id) as HTMLInputElement;
        el.value = v;
        el.dispatchEvent(new Event('input'));
      }
    });
    const colours = { 1: CLASS_COLORS.LV, 2: CLASS_COLORS.MYO, 3: CLASS_COLORS.RV };
    for (const { cls, at } of best.voxels) {
      const rgba = await page.evaluate(([x, y, z]) => window.hmcsegView.probe(x, y, z), [at[0], at[1], best.z] as const);
      expect(rgba, `class ${cls} at ${at}`).not.toBeNull();
      const rgb = (rgba as number[]).slice(0, 3);
      rgb.forEach((v, c) => expect(Math.abs(v - colours[cls][c]), `class ${cls} at ${at}: rendered ${rgb}, colour ${colours[cls]}`).toBeLessThanOrEqual(3));
    }
  });

  it('segments a picked NIfTI in the browser as hmcseg predict does (sliding windows: every voxel, every slice score)', async () => {
    const inf = await segmentsAsPredict(page, fx, 'sliding windows');
    // The new case joins the list and is shown.
    expect(await page.locator(`#slices tbody tr[data-case="${inf.name}"]`).count()).toBe(inf.scores.length);
    expect(await page.textContent('#case-name')).toBe(inf.name);
    expect(consoleErrors).toEqual([]);
  });

  it('a centre-crop model (another server) segments in the browser as hmcseg predict does too, with its warning score and post-processing', async () => {
    // Not predict's defaults: the page must take them from the listed cases.
    centreFx = await makeViewFixture({ model: true, trained: true, window: 'centre', predict: ['--warning-score', 'uncertainFraction', '--postprocess', 'largest-component'] });
    centreServer = await startViewServer({ pred: centreFx.pred, gt: centreFx.data, model: centreFx.model });
    const other = await browser.newPage();
    try {
      await other.goto(centreServer.url);
      await other.waitForFunction(() => window.hmcsegView?.ready === true || (window.hmcsegView?.errors.length ?? 0) > 0, null, { timeout: 60_000 });
      await segmentsAsPredict(other, centreFx, 'centre crop');
    } finally {
      await other.close();
    }
    expect(consoleErrors).toEqual([]);
  }, 180_000);

  it('BAD CALL - a picked file that is not NIfTI: an error naming it, on the page', async () => {
    await page.setInputFiles('#pick', { name: 'notes.nii', mimeType: 'application/octet-stream', buffer: Buffer.from('not a NIfTI file at all'.repeat(20)) });
    await page.waitForFunction(() => window.hmcsegView.errors.length > 0, null, { timeout: 30_000 });
    const errors = await page.evaluate(() => window.hmcsegView.errors);
    expect(errors[errors.length - 1]).toMatch(/^notes\.nii: /);
    expect(await page.textContent('#status')).toBe(errors[errors.length - 1]);
    await page.evaluate(() => window.hmcsegView.errors.splice(0));
  });

  it('takes the README screenshot (a flagged slice, all overlays)', async () => {
    const first = page.locator('#slices tbody tr.flagged').first();
    await first.click();
    await page.evaluate(() => {
      for (const [id, v] of [['op-seg', '0.5'], ['op-entropy', '0.5'], ['op-mi', '0']]) {
        const el = document.getElementById(id) as HTMLInputElement;
        el.value = v;
        el.dispatchEvent(new Event('input'));
      }
    });
    const update = process.env.HMCSEG_UPDATE_SCREENSHOT === '1';
    const dir = update ? join(ROOT, 'docs') : mkdtempSync(join(tmpdir(), 'hmcseg-shot-'));
    const out = join(dir, 'view.png');
    try {
      await page.screenshot({ path: out });
      expect(readFileSync(out).subarray(1, 4).toString()).toBe('PNG');
    } finally {
      if (!update) rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * Picks `fx`'s first image on `p`, waits for the in-browser inference and checks it against the
 * files `hmcseg predict` wrote: the same label at every voxel and every slice's warning score.
 */
async function segmentsAsPredict(p: Page, fx: ViewFixture, what: string): Promise<NonNullable<ViewPageHooks['inference']>> {
  const image = fx.images[0];
  const name = image.split('/').pop()?.replace(/\.nii(\.gz)?$/, '') as string;
  await p.setInputFiles('#pick', image);
  await p.waitForFunction(() => window.hmcsegView.inference !== null || window.hmcsegView.errors.length > 0, null, { timeout: 120_000 });
  expect(await p.evaluate(() => window.hmcsegView.errors)).toEqual([]);
  const inf = (await p.evaluate(() => window.hmcsegView.inference)) as NonNullable<ViewPageHooks['inference']>;
  const ours = readNiftiLabels(join(fx.pred, `${name}_seg.nii.gz`)).data;
  expect(inf.segmentation.length).toBe(ours.length);
  let same = 0;
  for (let i = 0; i < ours.length; i++) if (inf.segmentation[i] === ours[i]) same++;
  const u = JSON.parse(readFileSync(join(fx.pred, `${name}_uncertainty.json`), 'utf8')) as { slices: { score: number }[] };
  const scoreDiff = Math.max(...inf.scores.map((s, z) => Math.abs(s - u.slices[z].score)));
  console.log(`view-browser (${what}): in-browser segmentation agrees with hmcseg predict on ${same}/${ours.length} voxels, slice scores within ${scoreDiff.toExponential(2)} (${inf.seconds.toFixed(2)} s)`);
  expect(same, `${what}: voxels`).toBe(ours.length);
  // Not a trivial agreement on an all-background volume.
  expect(new Set(ours).size).toBeGreaterThan(1);
  expect(inf.scores.length).toBe(u.slices.length);
  expect(scoreDiff, `${what}: slice scores`).toBeLessThan(1e-4);
  return inf;
}
