import { describe, expect, it } from 'vitest';
import { gaussianImportance, slidingWindowSoftmax, windowStarts } from '../src/predict/sliding.js';
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
    expect(() => slidingWindowSoftmax(new Float32Array(64), 1, 8, 8, bad, { window: [8, 8], numClasses: C })).toThrow(/forward returned 3 values/);
  });
});
