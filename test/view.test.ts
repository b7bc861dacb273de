/**
 * The `hmcseg view` server without a browser: the case list it serves (scores as in
 * NAME_uncertainty.json, per-slice Dice as hmcseg evaluate computes it), the slice ranking, the
 * files it refuses (`..`, absolute paths, symbolic links out, other directories) and that it
 * listens on loopback only.
 */
import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { networkInterfaces } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDataset } from '../src/data/index.js';
import { evaluateDirectory } from '../src/evaluate/index.js';
import { niftiStem } from '../src/predict/index.js';
import { rankSlices, resolveUnder, startViewServer, VIEW_HOST, type ViewServer } from '../src/view/index.js';
import { CLI, makeViewFixture, type ViewFixture } from './helpers/view.js';

let fx: ViewFixture;
let server: ViewServer;

/** A raw GET, so that "..", "%2e%2e" and "//" reach the server as written (fetch would fold them). */
function get(path: string, host = `${VIEW_HOST}:${server.port}`): Promise<{ status: number; body: Buffer }> {
  return new Promise((ok, fail) => {
    const req = request({ host: VIEW_HOST, port: server.port, path, headers: { host } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => ok({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on('error', fail);
    req.end();
  });
}

beforeAll(async () => {
  fx = await makeViewFixture({ model: false, trained: false, window: 'centre' });
  symlinkSync('/etc', join(fx.pred, 'escape'));
  // The page is not needed here (test/view-browser.test.ts loads it): a one-file web root.
  mkdirSync(join(fx.root, 'web'));
  writeFileSync(join(fx.root, 'web', 'index.html'), '<!doctype html><title>view</title>');
  server = await startViewServer({ pred: fx.pred, gt: fx.data, webRoot: join(fx.root, 'web') });
}, 120_000);

afterAll(async () => {
  await server?.close();
  if (fx) rmSync(fx.root, { recursive: true, force: true });
});

describe('case list', () => {
  it('serves every case with the scores of its NAME_uncertainty.json and the files of its maps', async () => {
    const r = await get('/api/view.json');
    expect(r.status).toBe(200);
    const view = JSON.parse(r.body.toString()) as { cases: { name: string; scores: number[]; image: { root: string; path: string }; dice: { meanDice: number | null }[] }[] };
    expect(view.cases.map((c) => c.name)).toEqual(fx.images.map((f) => f.split('/').pop()?.replace('.nii.gz', '')).sort());
    for (const c of view.cases) {
      const u = JSON.parse(readFileSync(join(fx.pred, `${c.name}_uncertainty.json`), 'utf8')) as { slices: { score: number }[] };
      expect(c.scores).toEqual(u.slices.map((s) => s.score));
      // The image is the input that hmcseg predict recorded, served by case name.
      expect(c.image.root).toBe('input');
      const img = await get(`/files/input/${c.image.path}`);
      expect(img.status).toBe(200);
      expect(img.body.equals(readFileSync(fx.images.find((f) => f.includes(c.name)) as string))).toBe(true);
    }
  });

  it('gives the per-slice Dice of hmcseg evaluate', async () => {
    const view = JSON.parse((await get('/api/view.json')).body.toString()) as { cases: { name: string; dice: { meanDice: number | null }[] }[] };
    const ev = evaluateDirectory({ pred: fx.pred, gt: fx.data });
    const stemOf = new Map(openDataset(fx.data).cases.map((c) => [c.id, niftiStem(c.image)]));
    expect(ev.cases.length).toBe(view.cases.length);
    for (const c of ev.cases) {
      const v = view.cases.find((x) => x.name === stemOf.get(c.id));
      expect(v?.dice.map((d) => d.meanDice)).toEqual(c.slices.map((s) => s.meanDice.value));
    }
    expect(view.cases.flatMap((c) => c.dice).some((d) => d.meanDice !== null)).toBe(true);
  });
});

describe('options', () => {
  it('--images: the image is looked up by case name under that directory', async () => {
    const v = await startViewServer({ pred: fx.pred, images: fx.data, webRoot: join(fx.root, 'web') });
    try {
      for (const c of v.cases) {
        expect(c.image?.root).toBe('images');
        const file = fx.images.find((f) => niftiStem(f) === c.name) as string;
        expect(join(fx.data, c.image?.path as string)).toBe(file);
        const r = await fetch(`${v.url}files/images/${c.image?.path}`);
        expect(Buffer.from(await r.arrayBuffer()).equals(readFileSync(file))).toBe(true);
      }
    } finally {
      await v.close();
    }
  });

  it('--model: the page is told to segment a dropped volume with the warning score and post-processing of the listed cases', async () => {
    const pred = join(fx.root, 'pred-chosen');
    cpSync(fx.pred, pred, { recursive: true, filter: (f) => !f.endsWith('escape') });
    const jsons = fx.images.map((f) => join(pred, `${niftiStem(f)}_uncertainty.json`));
    const rewrite = (file: string, edit: (u: Record<string, unknown>) => void): void => {
      const u = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      edit(u);
      writeFileSync(file, JSON.stringify(u));
    };
    const model = join(fx.root, 'model.onnx');
    writeFileSync(model, 'the server does not read the model');
    const config = async (): Promise<unknown> => {
      const v = await startViewServer({ pred, model, webRoot: join(fx.root, 'web') });
      try {
        return ((await (await fetch(`${v.url}api/view.json`)).json()) as { prediction: unknown }).prediction;
      } finally {
        await v.close();
      }
    };
    // As hmcseg predict wrote them (its defaults).
    expect(await config()).toEqual({ warningScore: 'entropyRegion', postprocess: 'none' });
    for (const f of jsons) rewrite(f, (u) => Object.assign(u, { warningScore: 'uncertainFraction', postprocess: 'largest-component' }));
    expect(await config()).toEqual({ warningScore: 'uncertainFraction', postprocess: 'largest-component' });
    // Files written before the settings existed count as the defaults.
    for (const f of jsons) rewrite(f, (u) => { delete u.warningScore; delete u.postprocess; });
    expect(await config()).toEqual({ warningScore: 'entropyRegion', postprocess: 'none' });
    // Without a model nothing is segmented in the browser, so nothing is asked of the settings.
    const v = await startViewServer({ pred, webRoot: join(fx.root, 'web') });
    expect(((await (await fetch(`${v.url}api/view.json`)).json()) as { prediction: unknown }).prediction).toBeNull();
    await v.close();
    rmSync(pred, { recursive: true, force: true });
  });

  it('BAD CALL - --model with cases predicted with different settings: an error naming two of them', async () => {
    const pred = join(fx.root, 'pred-mixed');
    cpSync(fx.pred, pred, { recursive: true, filter: (f) => !f.endsWith('escape') });
    const last = niftiStem(fx.images[fx.images.length - 1]);
    const file = join(pred, `${last}_uncertainty.json`);
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), postprocess: 'largest-component' }));
    const model = join(fx.root, 'model.onnx');
    writeFileSync(model, 'the server does not read the model');
    try {
      const refused = startViewServer({ pred, model, webRoot: join(fx.root, 'web') });
      await expect(refused).rejects.toThrow(/ were predicted with postprocess (none and largest-component|largest-component and none): /);
      await expect(refused).rejects.toThrow(last);
      // Viewing them is still possible.
      const v = await startViewServer({ pred, webRoot: join(fx.root, 'web') });
      expect(v.cases.length).toBe(fx.images.length);
      await v.close();
    } finally {
      rmSync(pred, { recursive: true, force: true });
    }
  });

  it('BAD CALL - errors name the directory or file', async () => {
    await expect(startViewServer({ pred: join(fx.root, 'nope'), webRoot: join(fx.root, 'web') })).rejects.toThrow(/nope: prediction directory does not exist/);
    await expect(startViewServer({ pred: fx.root, webRoot: join(fx.root, 'web') })).rejects.toThrow(/no NAME_uncertainty\.json files/);
    await expect(startViewServer({ pred: fx.pred, model: join(fx.root, 'none.onnx'), webRoot: join(fx.root, 'web') })).rejects.toThrow(/none\.onnx: ONNX model file does not exist/);
    await expect(startViewServer({ pred: fx.pred, webRoot: join(fx.root, 'nothing') })).rejects.toThrow(/not built/);
    await expect(startViewServer({ pred: fx.pred, port: server.port, webRoot: join(fx.root, 'web') })).rejects.toThrow(/cannot listen on 127\.0\.0\.1/);
  });

  it('hmcseg view prints the URL, serves, and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, [CLI, 'view', '--pred', fx.pred, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const line = await new Promise<string>((ok, fail) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('\n')) ok(out.split('\n')[0]);
        });
        child.once('exit', (code) => fail(new Error(`hmcseg view exited with ${code}`)));
      });
      const printed = JSON.parse(line) as { url: string; cases: number };
      expect(printed.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      expect(printed.cases).toBe(server.cases.length);
      const r = await fetch(printed.url);
      expect(r.status).toBe(200);
      expect(await r.text()).toMatch(/<canvas id="gl">/);
    } finally {
      const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });
});

describe('rankSlices', () => {
  it('sorts by score, most uncertain first, missing scores last, and flags above the threshold', () => {
    const r = rankSlices(
      [
        { name: 'b', scores: [0.2, null, 0.9] },
        { name: 'a', scores: [0.5, 0.2] },
      ],
      0.4,
    );
    expect(r.slices.map((s) => `${s.case}${s.z}`)).toEqual(['b2', 'a0', 'a1', 'b0', 'b1']);
    expect(r.slices.map((s) => s.flagged)).toEqual([true, true, false, false, false]);
    expect(r.thresholdSource).toBe('given');
  });

  it('defaults the threshold to the 90th percentile of the scores', () => {
    const scores = Array.from({ length: 11 }, (_, i) => i / 10); // 0, 0.1, …, 1: 90th percentile 0.9
    const r = rankSlices([{ name: 'c', scores }]);
    expect(r.threshold).toBeCloseTo(0.9, 12);
    expect(r.slices.filter((s) => s.flagged).map((s) => s.z)).toEqual([10]);
  });

  it('BAD CALL - a non-finite threshold', () => {
    expect(() => rankSlices([], NaN)).toThrow(/threshold/);
  });
});

describe('what the server refuses', () => {
  it('serves a file under the prediction directory', async () => {
    const seg = (await get('/api/view.json')).body.toString().match(/"path":"([^"]+_seg\.nii\.gz)"/)?.[1] as string;
    const r = await get(`/files/pred/${seg}`);
    expect(r.status).toBe(200);
    expect(r.body.equals(readFileSync(join(fx.pred, seg)))).toBe(true);
  });

  it.each([
    ['/files/pred/../store/manifest.json'],
    ['/files/pred/%2e%2e/store/manifest.json'],
    ['/files/pred/..%2fstore%2fmanifest.json'],
    ['/files/gt/../../etc/passwd'],
    ['/files/pred//etc/passwd'],
    ['/files/pred/%2fetc%2fpasswd'],
    ['/files/pred/escape/passwd'],
    ['/../../etc/passwd'],
    ['/files/input/..%2f..%2fetc%2fpasswd'],
  ])('403 or 404 for %s, never the file', async (path) => {
    const r = await get(path);
    expect([403, 404]).toContain(r.status);
    expect(r.body.toString()).not.toMatch(/root:|"method"/);
  });

  it('refuses ".." and absolute paths with the reason', () => {
    expect(resolveUnder(fx.pred, '../store/manifest.json')).toEqual({ ok: false, reason: '".." is refused' });
    expect(resolveUnder(fx.pred, '/etc/passwd')).toEqual({ ok: false, reason: 'absolute paths are refused' });
    expect(resolveUnder(fx.pred, 'escape/passwd')).toEqual({ ok: false, reason: 'outside the served directory' });
  });

  it('refuses a root that was not given, and another Host (DNS rebinding)', async () => {
    expect((await get('/files/images/x.nii.gz')).status).toBe(404);
    expect((await get('/api/view.json', `evil.example:${server.port}`)).status).toBe(403);
  });
});

describe('loopback only', () => {
  it('binds 127.0.0.1 and is not reachable on another interface', async () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/`);
    const others = Object.values(networkInterfaces())
      .flat()
      .filter((a) => a !== undefined && a.family === 'IPv4' && !a.internal)
      .map((a) => a?.address as string);
    if (others.length === 0) console.log('view test: no non-loopback IPv4 interface; only the bound address is checked');
    for (const address of others) {
      const refused = await new Promise<boolean>((ok) => {
        const s = connect({ host: address, port: server.port });
        s.once('connect', () => {
          s.destroy();
          ok(false);
        });
        s.once('error', () => ok(true));
      });
      expect(refused, address).toBe(true);
    }
  });
});
