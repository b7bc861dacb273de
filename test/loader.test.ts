import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, normalize, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { augmentConfig } from '../src/data/augment.js';
import { createLoader, epochOrder, sampleSeed, type Batch, type LoaderOptions, type Sample2D } from '../src/data/loader.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const NX = 24;
const NY = 20;
const C = 4;

/**
 * Worker threads cannot run the TypeScript sources vitest executes, so the loader, the worker entry
 * and their relative imports are transpiled (TypeScript's own transpileModule, no bundling) into a
 * temporary folder laid out like dist/, and the loader is pointed at that worker entry. The worker
 * thus runs the same source as the inline path; only the type annotations are stripped. The
 * compiled loader.js also serves the child-process test of the default worker location.
 */
function compileForWorkers(out: string): URL {
  writeFileSync(join(out, 'package.json'), '{ "type": "module" }');
  const todo = ['src/data/loader.ts'];
  const seen = new Set<string>();
  while (todo.length > 0) {
    const rel = todo.pop() as string;
    if (seen.has(rel)) continue;
    seen.add(rel);
    const src = readFileSync(join(repoRoot, rel), 'utf8');
    for (const m of src.matchAll(/from\s+'(\.{1,2}\/[^']+)\.js'/g)) {
      todo.push(normalize(join(dirname(rel), `${m[1]}.ts`)));
    }
    const js = ts.transpileModule(src, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    const dest = join(out, rel.replace(/\.ts$/, '.js'));
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, js);
  }
  return pathToFileURL(join(out, 'src/data/loader-worker.js'));
}

let tmp: string;
let workerUrl: URL;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'hmcseg-loader-test-'));
  workerUrl = compileForWorkers(tmp);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Sample i: a disc of class 1 + (i % 3) at an i-dependent place; image = label + i/100. */
function makeSamples(n: number): Sample2D[] {
  return Array.from({ length: n }, (_, i) => {
    const labels = new Uint8Array(NX * NY);
    const image = new Float32Array(NX * NY);
    for (let y = 0; y < NY; y++) {
      for (let x = 0; x < NX; x++) {
        const inside = Math.hypot(x - 8 - (i % 7), y - 6 - (i % 5)) < 4;
        labels[x + NX * y] = inside ? 1 + (i % 3) : 0;
        image[x + NX * y] = labels[x + NX * y] + i / 100;
      }
    }
    return { image, labels, labelled: [true, true, i % 2 === 0, i % 4 !== 3], id: `case${i}` };
  });
}

const base = (o: Partial<LoaderOptions> = {}): LoaderOptions => ({
  nx: NX,
  ny: NY,
  batchSize: 4,
  seed: 7,
  workers: 0,
  ...o,
});

async function take(loader: { next(): Promise<Batch> }, k: number): Promise<Batch[]> {
  const out: Batch[] = [];
  for (let i = 0; i < k; i++) out.push(await loader.next());
  return out;
}

function expectSameBatches(a: Batch[], b: Batch[]): void {
  expect(a.length).toBe(b.length);
  a.forEach((x, i) => {
    const y = b[i];
    expect([x.epoch, x.position]).toEqual([y.epoch, y.position]);
    expect(x.indices).toEqual(y.indices);
    expect(Buffer.from(x.images.buffer).equals(Buffer.from(y.images.buffer))).toBe(true);
    expect(x.labels).toEqual(y.labels);
    expect(x.labelled).toEqual(y.labelled);
  });
}

describe('epochOrder and sampleSeed', () => {
  it('are seeded permutations that change with the epoch', () => {
    const a = epochOrder(50, 3, 0);
    expect(Array.from(a).sort((p, q) => p - q)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(epochOrder(50, 3, 0)).toEqual(a);
    expect(epochOrder(50, 3, 1)).not.toEqual(a);
    expect(epochOrder(50, 4, 0)).not.toEqual(a);
    expect(epochOrder(5, 3, 2, false)).toEqual(Int32Array.of(0, 1, 2, 3, 4));
    const seeds = new Set<number>();
    for (let e = 0; e < 10; e++) for (let p = 0; p < 100; p++) seeds.add(sampleSeed(3, e, p));
    expect(seeds.size).toBe(1000);
  });
});

describe('createLoader (inline)', () => {
  it('yields shaped batches that cover each sample once per epoch', async () => {
    const samples = makeSamples(10);
    const loader = createLoader(samples, base({ augment: null, dropLast: false }));
    expect(loader.batchesPerEpoch).toBe(3);
    const batches = await take(loader, 4);
    expect(batches.map((b) => [b.epoch, b.position, b.indices.length])).toEqual([
      [0, 0, 4],
      [0, 4, 4],
      [0, 8, 2],
      [1, 0, 4],
    ]);
    const seen = batches.slice(0, 3).flatMap((b) => Array.from(b.indices));
    expect(seen.sort((p, q) => p - q)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(Array.from(batches[0].indices)).toEqual(Array.from(epochOrder(10, 7, 0).subarray(0, 4)));
    const b = batches[0];
    expect(b.imageShape).toEqual([4, 1, NY, NX]);
    expect(b.labelShape).toEqual([4, NY, NX]);
    expect(b.labelledShape).toEqual([4, C]);
    expect(b.images.length).toBe(4 * NX * NY);
    // Without augmentation, the batch holds the samples verbatim.
    b.indices.forEach((idx, k) => {
      expect(b.images.subarray(k * NX * NY, (k + 1) * NX * NY)).toEqual(samples[idx].image);
      expect(b.labels.subarray(k * NX * NY, (k + 1) * NX * NY)).toEqual(samples[idx].labels);
      expect(Array.from(b.labelled.subarray(k * C, (k + 1) * C))).toEqual(samples[idx].labelled.map(Number));
    });
    expect(loader.state()).toEqual({ epoch: 1, position: 4 });
    await loader.close();
  });

  it('drops the incomplete last batch by default', async () => {
    const loader = createLoader(makeSamples(10), base({ augment: null }));
    expect(loader.batchesPerEpoch).toBe(2);
    const bs = await take(loader, 3);
    expect(bs.map((b) => [b.epoch, b.position])).toEqual([
      [0, 0],
      [0, 4],
      [1, 0],
    ]);
    expect(loader.state()).toEqual({ epoch: 1, position: 4 });
  });

  it('augments with per-(epoch, position) seeds', async () => {
    const samples = makeSamples(8);
    const aug = augmentConfig({ rotation: { p: 1 } });
    const [b] = await take(createLoader(samples, base({ augment: aug })), 1);
    expect(b.images).not.toEqual((await take(createLoader(samples, base({ augment: null })), 1))[0].images);
    // Same seed → same batch; another seed → another order/augmentation.
    expectSameBatches([b], await take(createLoader(samples, base({ augment: aug })), 1));
    const [c] = await take(createLoader(samples, base({ augment: aug, seed: 8 })), 1);
    expect(c.images).not.toEqual(b.images);
  });

  it('shard: the ranks\' rows, augmented alone, together are the unsharded batch', async () => {
    const samples = makeSamples(11);
    const opts = base({ batchSize: 5, augment: augmentConfig({ elastic: { p: 1 } }) });
    const full = await take(createLoader(samples, opts), 4);
    const plane = NX * NY;
    for (const worldSize of [2, 3]) {
      const ranks = await Promise.all(
        Array.from({ length: worldSize }, (_, rank) => take(createLoader(samples, { ...opts, shard: { rank, worldSize } }), 4)),
      );
      full.forEach((f, k) => {
        const parts = ranks.map((r) => r[k]);
        // rows ⌊r·5/W⌋ … ⌊(r+1)·5/W⌋: 2+3 for W = 2, 1+2+2 for W = 3
        expect(parts.map((p) => p.indices.length)).toEqual(worldSize === 2 ? [2, 3] : [1, 2, 2]);
        expect(Int32Array.from(parts.flatMap((p) => Array.from(p.indices)))).toEqual(f.indices);
        let row = 0;
        for (const p of parts) {
          expect(p.images).toEqual(f.images.slice(row * plane, (row + p.indices.length) * plane));
          expect(p.labels).toEqual(f.labels.slice(row * plane, (row + p.indices.length) * plane));
          expect([p.epoch, p.position]).toEqual([f.epoch, f.position]);
          expect(p.shardOf?.size).toBe(5);
          expect(p.shardOf?.labelled).toEqual(f.labelled);
          row += p.indices.length;
        }
      });
    }
    expect(() => createLoader(samples, { ...opts, shard: { rank: 2, worldSize: 2 } })).toThrow(/rank in 0\.\.worldSize-1, got rank 2 of 2/);
    expect(() => createLoader(samples, { ...opts, shard: { rank: 0, worldSize: 6 } })).toThrow(/batchSize 5 is smaller than the 6 ranks/);
  });

  it('resumes exactly from state(), also across an epoch boundary', async () => {
    const samples = makeSamples(11);
    const opts = base({ augment: augmentConfig({ elastic: { p: 1 } }) });
    const full = await take(createLoader(samples, opts), 7);
    for (const k of [1, 2, 4]) {
      const first = createLoader(samples, opts);
      await take(first, k);
      const saved = first.state();
      await first.close();
      const resumed = createLoader(samples, { ...opts, start: saved });
      expectSameBatches(await take(resumed, 7 - k), full.slice(k));
    }
  });

  it('rejects a bad sample naming it, then stays failed', async () => {
    const samples = makeSamples(8);
    const bad = samples.map((s) => ({ ...s, image: s.image.slice() }));
    bad[5].image[3 + NX * 2] = NaN;
    const loader = createLoader(bad, base({ shuffle: false }));
    await take(loader, 1);
    await expect(loader.next()).rejects.toThrow(
      /sample "case5" \(#5\) \(epoch 0, position 5\) is unusable: image value at \(x=3, y=2\) is not finite/,
    );
    await expect(loader.next()).rejects.toThrow(/case5/);
    const badLabels = samples.map((s) => ({ ...s, labels: s.labels.slice() }));
    badLabels[1].labels[0] = 4;
    await expect(createLoader(badLabels, base({ shuffle: false })).next()).rejects.toThrow(
      /"case1".*label 4 at \(x=0, y=0\) is not a class \(numClasses = 4\)/,
    );
  });

  it('checks shapes and options at construction', () => {
    const s = makeSamples(4);
    expect(() => createLoader([...s, { ...s[0], image: new Float32Array(3), id: 'short' }], base())).toThrow(
      /sample "short" \(#4\) image has 3 values, expected 24\*20/,
    );
    expect(() => createLoader([{ ...s[0], labelled: [true] }], base({ batchSize: 1 }))).toThrow(
      /labelled mask has 1 entries, expected numClasses = 4/,
    );
    expect(() => createLoader(s, base({ batchSize: 5 }))).toThrow(/fewer than batchSize 5/);
    expect(() => createLoader(s, base({ start: { epoch: 0, position: 4 } }))).toThrow(/start.position 4/);
    expect(() => createLoader(s, base({ workers: -1 }))).toThrow(/workers/);
  });
});

describe('createLoader with samples larger than the batch (random training windows)', () => {
  const SX = 40;
  const SY = 30;
  /** Sample i of SX × SY: image = x + 100·y (each pixel tells where it came from), labels = (x + y + i) % 4. */
  const big = (n: number): Sample2D[] =>
    Array.from({ length: n }, (_, i) => ({
      nx: SX,
      ny: SY,
      image: Float32Array.from({ length: SX * SY }, (_, p) => (p % SX) + 100 * Math.floor(p / SX)),
      labels: Uint8Array.from({ length: SX * SY }, (_, p) => ((p % SX) + Math.floor(p / SX) + i) % 4),
      labelled: [true, true, true, true],
      id: `big${i}`,
    }));

  /** The window offset of batch sample k, checked to be one contiguous window of its sample. */
  function offsetOf(b: Batch, k: number): [number, number] {
    const img = b.images.subarray(k * NX * NY, (k + 1) * NX * NY);
    const ox = img[0] % 100;
    const oy = Math.floor(img[0] / 100);
    expect(ox).toBeLessThanOrEqual(SX - NX);
    expect(oy).toBeLessThanOrEqual(SY - NY);
    for (let y = 0; y < NY; y++) {
      for (let x = 0; x < NX; x++) {
        expect(img[x + NX * y]).toBe(x + ox + 100 * (y + oy));
        expect(b.labels[k * NX * NY + x + NX * y]).toBe((x + ox + y + oy + b.indices[k]) % 4);
      }
    }
    return [ox, oy];
  }

  it('draws a whole window of the sample, placed differently each time it is drawn', async () => {
    const batches = await take(createLoader(big(4), base({ augment: null })), 6);
    const offsets = new Set(batches.flatMap((b) => [0, 1, 2, 3].map((k) => offsetOf(b, k).join(','))));
    expect(offsets.size).toBeGreaterThan(8); // 24 draws over 17 × 11 places
  });

  it('is seeded, resumes exactly, and workers give the inline batches', async () => {
    const samples = [...big(5), ...makeSamples(2)]; // sizes mixed: window-sized samples are used whole
    const opts = base({ augment: augmentConfig({ rotation: { p: 1 } }) });
    const full = await take(createLoader(samples, opts), 5);
    expectSameBatches(await take(createLoader(samples, opts), 5), full);
    const other = await take(createLoader(samples, { ...opts, seed: 8 }), 1);
    expect(other[0].images).not.toEqual(full[0].images);
    const first = createLoader(samples, opts);
    await take(first, 2);
    const saved = first.state();
    await first.close();
    expectSameBatches(await take(createLoader(samples, { ...opts, start: saved }), 3), full.slice(2));
    const w = createLoader(samples, { ...opts, workers: 2, workerUrl });
    expectSameBatches(await take(w, 5), full);
    await w.close();
  });

  it('BAD CALL - rejects a sample smaller than the batch, naming it', () => {
    const s = { ...big(1)[0], nx: 10, ny: 10, image: new Float32Array(100), labels: new Uint8Array(100), id: 'tiny' };
    expect(() => createLoader([s], base({ batchSize: 1 }))).toThrow(/sample "tiny" \(#0\) is 10 × 10, smaller than the batch's 24 × 20/);
    const wrong = { ...big(1)[0], image: new Float32Array(5), id: 'short' };
    expect(() => createLoader([wrong], base({ batchSize: 1 }))).toThrow(/sample "short" \(#0\) image has 5 values, expected 40\*30/);
  });
});

describe('createLoader (worker threads)', () => {
  it('refuses to start workers from TypeScript sources without a compiled entry', () => {
    expect(() => createLoader(makeSamples(4), base({ workers: 1 }))).toThrow(
      /loader-worker\.js not found\. Worker threads run compiled JavaScript/,
    );
  });

  it('gives batches bit-identical to the inline path, for 1 and 2 workers', async () => {
    const samples = makeSamples(13);
    const opts = base({ augment: augmentConfig({ rotation: { p: 1 }, elastic: { p: 0.5 }, noise: { p: 0.5 } }) });
    const inline = await take(createLoader(samples, opts), 8);
    for (const workers of [1, 2]) {
      const loader = createLoader(samples, { ...opts, workers, workerUrl, prefetch: 3 });
      expectSameBatches(await take(loader, 8), inline);
      expect(loader.state()).toEqual({ epoch: 2, position: 8 });
      await loader.close();
    }
  });

  it('resumes exactly from state() with workers', async () => {
    const samples = makeSamples(9);
    const opts = base({ workers: 2, workerUrl });
    const a = createLoader(samples, opts);
    const full = await take(a, 6);
    await a.close();
    const b = createLoader(samples, opts);
    await take(b, 3);
    const saved = b.state();
    await b.close();
    const c = createLoader(samples, { ...opts, start: saved });
    expectSameBatches(await take(c, 3), full.slice(3));
    await c.close();
  });

  it('propagates a worker-side sample error as a rejection naming the sample', async () => {
    const samples = makeSamples(8).map((s) => ({ ...s, image: s.image.slice() }));
    samples[6].image[0] = Infinity;
    const loader = createLoader(samples, base({ shuffle: false, workers: 2, workerUrl }));
    // Batch 0 (samples 0–3) is fine even though the bad batch was prefetched alongside it.
    expect(Array.from((await loader.next()).indices)).toEqual([0, 1, 2, 3]);
    await expect(loader.next()).rejects.toThrow(/sample "case6" \(#6\) \(epoch 0, position 6\) is unusable: .*not finite/);
    await expect(loader.next()).rejects.toThrow(/case6/);
    await loader.close();
  });

  it('rejects pending batches when a worker crashes or exits', async () => {
    const throwing = join(tmp, 'throwing-worker.mjs');
    writeFileSync(throwing, "throw new Error('boom at load');\n");
    const a = createLoader(makeSamples(8), base({ workers: 1, workerUrl: pathToFileURL(throwing) }));
    await expect(a.next()).rejects.toThrow(/loader: worker 0 failed: boom at load/);
    await expect(a.next()).rejects.toThrow(/worker 0 failed/);
    await a.close();
    const exiting = join(tmp, 'exiting-worker.mjs');
    writeFileSync(exiting, 'process.exit(3);\n');
    const b = createLoader(makeSamples(8), base({ workers: 1, workerUrl: pathToFileURL(exiting) }));
    await expect(b.next()).rejects.toThrow(/loader: worker 0 exited unexpectedly \(code 3\)/);
    await b.close();
  });

  it('closes cleanly with batches in flight, and when a for-await loop stops early', async () => {
    const samples = makeSamples(16);
    const loader = createLoader(samples, base({ workers: 2, workerUrl, prefetch: 4 }));
    const pending = expect(loader.next()).rejects.toThrow(/loader: closed/);
    await loader.close();
    await pending;
    await expect(loader.next()).rejects.toThrow(/loader: closed/);
    await loader.close(); // idempotent

    const it2 = createLoader(samples, base({ workers: 1, workerUrl }));
    let n = 0;
    for await (const b of it2) {
      expect(b.indices.length).toBe(4);
      if (++n === 3) break;
    }
    expect(it2.state()).toEqual({ epoch: 0, position: 12 });
    await expect(it2.next()).rejects.toThrow(/loader: closed/);
  });

  it('does not keep the process alive when the consumer stops without close()', async () => {
    // A plain Node process using the compiled loader (default worker location, as from dist/): it
    // awaits batches at top level (the awaited worker must keep the process alive), then returns
    // without close(); idle workers must not hold the process open.
    const script = join(tmp, 'early-stop.mjs');
    writeFileSync(
      script,
      `import { createLoader } from './src/data/loader.js';
const n = ${NX * NY};
const samples = Array.from({ length: 12 }, (_, i) => ({
  image: new Float32Array(n).fill(i), labels: new Uint8Array(n), labelled: [true, true, true, true] }));
const loader = createLoader(samples, { nx: ${NX}, ny: ${NY}, batchSize: 4, workers: 2, prefetch: 2 });
const a = await loader.next();
const b = await loader.next();
console.log(JSON.stringify([a.images.length, b.images.length]));
`,
    );
    // A hang here was timing-dependent (a port re-ref'd by a late listener), so run it a few times.
    for (let run = 0; run < 3; run++) {
      const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((res) => {
        execFile(process.execPath, [script], { timeout: 10_000 }, (err, out) =>
          res({ code: err === null ? 0 : ((err as { code?: number }).code ?? -1), stdout: out }),
        );
      });
      expect(code).toBe(0);
      expect(stdout.trim()).toBe(JSON.stringify([4 * NX * NY, 4 * NX * NY]));
    }
  });
});
