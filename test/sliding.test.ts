import { describe, expect, it } from 'vitest';
import { argmax } from '../src/metrics/index.js';
import { invertProbabilities, preprocessVolume, type Volume } from '../src/data/index.js';
import {
  assembleVolumePrediction,
  gaussianImportance,
  passDisagreement,
  predictFromBranches,
  slidingWindowSoftmax,
  windowStarts,
  WindowFusion,
} from '../src/predict/index.js';
import { UncertaintyAccumulator } from '../src/uncertainty/index.js';

const C = 2;

/** A pixel-wise "network": p(class 1) = sigmoid(value), returned NCHW for `b` windows of `w × w`. */
function pixelwise(w: number) {
  return (win: Float32Array, b: number): Float32Array => {
    const out = new Float32Array(b * C * w * w);
    for (let k = 0; k < b; k++) {
      for (let i = 0; i < w * w; i++) {
        const p1 = 1 / (1 + Math.exp(-win[k * w * w + i]));
        out[(k * C + 0) * w * w + i] = 1 - p1;
        out[(k * C + 1) * w * w + i] = p1;
      }
    }
    return out;
  };
}

describe('windowStarts', () => {
  it.each([
    [128, 128, [0]],
    [216, 128, [0, 44, 88]],
    [256, 128, [0, 64, 128]],
    [257, 128, [0, 43, 86, 129]],
  ])('tiles %i pixels with %i-pixel windows at least half overlapping', (n, w, expected) => {
    const s = windowStarts(n, w);
    expect(s).toEqual(expected);
    expect(s[0]).toBe(0);
    expect(s[s.length - 1] + w).toBe(n); // the last window is flush with the far edge: every pixel is covered
    for (let i = 1; i < s.length; i++) expect(s[i] - s[i - 1]).toBeLessThanOrEqual(w / 2);
  });

  it('BAD CALL - rejects an image smaller than the window and an overlap of 1', () => {
    expect(() => windowStarts(100, 128)).toThrow(/n >= w/);
    expect(() => windowStarts(200, 128, 1)).toThrow(/overlap must be in \[0, 1\)/);
  });
});

describe('gaussianImportance', () => {
  it('peaks at 1 in the centre with sigma = size / 8, and stays positive at the edges', () => {
    const w = 64;
    const g = gaussianImportance(w, w);
    const c = (w - 1) / 2; // 31.5: the four central pixels share the peak
    const at = (x: number, y: number) => g[x + w * y];
    expect(at(31, 31)).toBeCloseTo(Math.exp(-0.25 / 64), 6);
    expect(Math.max(...g)).toBe(at(32, 32));
    // One sigma (8 px) from the centre along x: exp(-1/2) times the centre value on that row.
    expect(at(31 + 8, 31) / at(31, 31)).toBeCloseTo(Math.exp(-((39 - c) ** 2 - (31 - c) ** 2) / 128), 6);
    expect(Math.min(...g)).toBeGreaterThan(0);
  });
});

describe('slidingWindowSoftmax', () => {
  it('fuses a pixel-wise network to exactly its whole-image output (weights cancel)', () => {
    const w = 16;
    const [mx, my, nz] = [40, 23, 2];
    const images = Float32Array.from({ length: nz * mx * my }, (_, i) => Math.sin(i * 0.37) * 3);
    const fused = slidingWindowSoftmax(images, nz, mx, my, pixelwise(w), { window: [w, w], numClasses: C, batchSize: 5 });
    const whole = pixelwise(1)(images, images.length); // one 1-pixel "window" per pixel: [pixel][class]
    for (let i = 0; i < images.length; i++) {
      expect(fused[i]).toBeCloseTo(whole[2 * i], 5);
      expect(fused[nz * mx * my + i]).toBeCloseTo(whole[2 * i + 1], 5);
    }
  });

  it('averages overlapping windows with the Gaussian weights, and sums to 1 per pixel', () => {
    const w = 8;
    const [mx, my] = [12, 8]; // two windows along x, at 0 and 4
    // Window k says class 1 with probability k (0 for the first, 1 for the second), everywhere.
    const forward = (_win: Float32Array, b: number): Float32Array => {
      const out = new Float32Array(b * C * w * w);
      out.fill(1, 0, w * w); // window 0: class 0
      out.fill(1, (1 * C + 1) * w * w, (1 * C + 2) * w * w); // window 1: class 1
      return out;
    };
    const fused = slidingWindowSoftmax(new Float32Array(mx * my), 1, mx, my, forward, { window: [w, w], numClasses: C });
    const g = gaussianImportance(w, w);
    const y = 3;
    for (let x = 0; x < mx; x++) {
      const g0 = x < 8 ? g[x + w * y] : 0;
      const g1 = x >= 4 ? g[x - 4 + w * y] : 0;
      expect(fused[mx * my + x + mx * y]).toBeCloseTo(g1 / (g0 + g1), 6);
      expect(fused[x + mx * y] + fused[mx * my + x + mx * y]).toBeCloseTo(1, 6);
    }
  });

  it('fuses windows within a pass before the accumulator: passes that agree give MI 0 though their windows disagree', () => {
    const w = 8;
    const [mx, my] = [12, 8];
    const forward = (_win: Float32Array, b: number): Float32Array => {
      const out = new Float32Array(b * C * w * w);
      out.fill(1, 0, w * w);
      out.fill(1, (1 * C + 1) * w * w, (1 * C + 2) * w * w);
      return out;
    };
    const acc = new UncertaintyAccumulator({ numClasses: C, numPixels: mx * my });
    for (let pass = 0; pass < 3; pass++) {
      acc.add(slidingWindowSoftmax(new Float32Array(mx * my), 1, mx, my, forward, { window: [w, w], numClasses: C }));
    }
    const r = acc.result();
    const overlap = 6 + mx * 3; // x = 6 lies in both windows: the fused softmax is uncertain there
    expect(r.predictiveEntropy[overlap]).toBeGreaterThan(0.1);
    expect(Math.max(...r.mutualInformation.map(Math.abs))).toBeLessThan(1e-6);
  });

  it('BAD CALL - names the mismatch for small slices and a wrong forward output', () => {
    const f = pixelwise(8);
    expect(() => slidingWindowSoftmax(new Float32Array(7 * 8), 1, 7, 8, f, { window: [8, 8], numClasses: C })).toThrow(/smaller than the 8 × 8 window/);
    expect(() => slidingWindowSoftmax(new Float32Array(10), 1, 8, 8, f, { window: [8, 8], numClasses: C })).toThrow(/10 values is not 1 slices of 8 × 8/);
    const bad = () => new Float32Array(3);
    expect(() => slidingWindowSoftmax(new Float32Array(64), 1, 8, 8, bad, { window: [8, 8], numClasses: C })).toThrow(
      'WindowFusion.add: 3 values for 1 windows × 1 passes × 2 classes × 8 × 8',
    );
  });
});

/** Pass k's pixel-wise "network": p(class 1) = sigmoid(a_k · value + b_k), NCHW. */
const branch = (w: number, k: number) => (win: Float32Array, b: number) => pixelwise(w)(win.map((v) => (1 + 0.5 * k) * v + 0.3 * k - 0.4), b);

/** `passes` of {@link branch} at once, returned [window][pass][class][y][x]. */
function branches(w: number, passes: number) {
  return (win: Float32Array, b: number): Float32Array => {
    const out = new Float32Array(b * passes * C * w * w);
    const each = Array.from({ length: passes }, (_, k) => branch(w, k)(win, b));
    for (let i = 0; i < b; i++) for (let k = 0; k < passes; k++) out.set(each[k].subarray(i * C * w * w, (i + 1) * C * w * w), (i * passes + k) * C * w * w);
    return out;
  };
}

describe('WindowFusion', () => {
  const w = 8;
  const [mx, my, nz] = [19, 13, 3];
  const images = Float32Array.from({ length: nz * mx * my }, (_, i) => Math.cos(i * 0.21) * 2);

  it('fuses several passes per window as slidingWindowSoftmax fuses each alone, batch by batch', () => {
    const P = 3;
    const fusion = new WindowFusion(images, nz, mx, my, { window: [w, w], numClasses: C, passes: P, batchSize: 5 });
    expect(fusion.windowsPerSlice).toBe(windowStarts(mx, w).length * windowStarts(my, w).length);
    expect(fusion.batchCount).toBe(Math.ceil((fusion.windowsPerSlice * nz) / 5));
    const forward = branches(w, P);
    for (let i = fusion.batchCount - 1; i >= 0; i--) {
      const { input, count } = fusion.windows(i); // any order
      fusion.add(i, forward(input, count));
    }
    const fused = fusion.result();
    expect(fused.length).toBe(P);
    for (let k = 0; k < P; k++) {
      const alone = branch(w, k);
      // Batches added in another order sum each pixel's windows in another order: float32 rounding.
      const want = slidingWindowSoftmax(images, nz, mx, my, alone, { window: [w, w], numClasses: C, batchSize: 7 });
      for (let i = 0; i < want.length; i++) expect(Math.abs(fused[k][i] - want[i])).toBeLessThan(1e-6);
    }
  });

  it('one window per slice gives its softmax exactly (no weights)', () => {
    const f = pixelwise(w);
    const im = images.subarray(0, 2 * w * w);
    expect(slidingWindowSoftmax(im, 2, w, w, f, { window: [w, w], numClasses: C })).toEqual(
      (() => {
        const nchw = f(im, 2);
        const out = new Float32Array(nchw.length);
        for (let z = 0; z < 2; z++) for (let c = 0; c < C; c++) out.set(nchw.subarray((z * C + c) * w * w, (z * C + c + 1) * w * w), (c * 2 + z) * w * w);
        return out;
      })(),
    );
  });

  it('BAD CALL - a batch out of range or added twice, a result before every batch or twice', () => {
    const fusion = new WindowFusion(images, nz, mx, my, { window: [w, w], numClasses: C, batchSize: 4 });
    const n = fusion.batchCount;
    expect(() => fusion.windows(n)).toThrow(`WindowFusion.windows: batch ${n} is not in 0..${n - 1}`);
    expect(() => new WindowFusion(images, nz, mx, my, { window: [w, w], numClasses: C, passes: 0 })).toThrow('WindowFusion: passes must be a positive integer, got 0');
    const f = pixelwise(w);
    const { input, count } = fusion.windows(0);
    fusion.add(0, f(input, count));
    expect(() => fusion.add(0, f(input, count))).toThrow('WindowFusion.add: batch 0 was already added');
    expect(() => fusion.result()).toThrow(`WindowFusion.result: batch 1 of ${n} was not added`);
    for (let i = 1; i < n; i++) {
      const b = fusion.windows(i);
      fusion.add(i, f(b.input, b.count));
    }
    fusion.result();
    expect(() => fusion.result()).toThrow('WindowFusion.result: called twice');
  });
});

describe('predictFromBranches', () => {
  it('slice group by slice group, gives exactly the volume-wise fusion, accumulator, disagreement and scores of Predictor', async () => {
    const [w, P] = [8, 3];
    const image: Volume<Float32Array> = {
      dims: [21, 14, 4],
      spacing: [1.25, 1.25, 8],
      affine: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1],
      data: Float32Array.from({ length: 21 * 14 * 4 }, (_, i) => 100 + 60 * Math.sin(i * 0.13) + 30 * Math.cos(i * 0.031)),
    };
    const pre = preprocessVolume(image, { size: [w, w], fit: 'whole', source: 'test' });
    const [mx, my] = pre.transform.slice.outputDims;
    const nz = pre.transform.nz;
    const forward = branches(w, P);
    // Predictor's way: each pass over the whole volume, then the accumulator and the disagreement.
    const acc = new UncertaintyAccumulator({ numClasses: C, numPixels: nz * mx * my });
    const disagreement = passDisagreement(image, P);
    for (let k = 0; k < P; k++) {
      const alone = branch(w, k);
      const probs = slidingWindowSoftmax(pre.image, nz, mx, my, alone, { window: [w, w], numClasses: C });
      acc.add(probs);
      disagreement?.add(argmax(invertProbabilities(probs, C, pre.transform), C));
    }
    const want = assembleVolumePrediction(acc.result(), C, pre.transform, image.dims, disagreement?.result(), { warningScore: 'pairwiseDice' });
    expect(windowStarts(mx, w).length * windowStarts(my, w).length).toBe(15);
    // Two slices per call (30 windows), and four calls per slice (4 windows each).
    for (const [batchSize, progress] of [[31, [0, 2, 4]], [4, [0, 1, 2, 3, 4]]] as const) {
      const seen: number[] = [];
      const got = await predictFromBranches(image, pre, async (win, b) => forward(win, b), {
        branches: P,
        numClasses: C,
        size: w,
        batchSize,
        warningScore: 'pairwiseDice',
        progress: (done) => seen.push(done),
      });
      expect(seen).toEqual(progress);
      expect(got).toEqual(want);
    }
    // Not a trivial agreement: the passes disagree.
    expect(want.volumeUnit).toBe('ml');
    expect(Math.max(...want.mutualInformation)).toBeGreaterThan(1e-3);
    expect(want.slices.some((sl) => sl.score > 0)).toBe(true);
  });

  it('BAD CALL - a forward that returns the wrong number of values: the error says what was expected', async () => {
    const image: Volume<Float32Array> = { dims: [8, 8, 1], spacing: [1, 1, 1], affine: [], data: Float32Array.from({ length: 64 }, (_, i) => i) };
    const pre = preprocessVolume(image, { size: [8, 8], source: 'x' });
    await expect(
      predictFromBranches(image, pre, () => new Float32Array(10), { branches: 2, numClasses: C, size: 8, warningScore: 'entropyRegion' }),
    ).rejects.toThrow('WindowFusion.add: 10 values for 1 windows × 2 passes × 2 classes × 8 × 8');
  });
});
