import { describe, expect, it } from 'vitest';
import {
  applyAugmentation,
  augment,
  augmentConfig,
  DEFAULT_AUGMENT,
  drawAugmentation,
  elasticField,
  IDENTITY_AUGMENT,
  type AugmentParams,
} from '../src/data/augment.js';
import { Rng } from '../src/util/index.js';

const NX = 64;
const NY = 48;

/** Labels: LV disc (1) in a MYO ring (2), an RV blob (3); image: class-dependent values + texture. */
function phantom(nx = NX, ny = NY): { image: Float32Array; labels: Uint8Array; nx: number; ny: number } {
  const labels = new Uint8Array(nx * ny);
  const image = new Float32Array(nx * ny);
  for (let y = 0; y < ny; y++) {
    for (let x = 0; x < nx; x++) {
      const d = Math.hypot(x - nx * 0.55, y - ny * 0.5);
      const rv = Math.hypot((x - nx * 0.3) / 1.5, y - ny * 0.45) < ny * 0.15;
      const l = d < ny * 0.15 ? 1 : d < ny * 0.25 ? 2 : rv ? 3 : 0;
      labels[x + nx * y] = l;
      image[x + nx * y] = [-0.5, 1.5, 0.2, 1.2][l] + 0.1 * Math.sin(x * 0.7) * Math.cos(y * 0.3);
    }
  }
  return { image, labels, nx, ny };
}

const with_ = (p: Partial<AugmentParams>): AugmentParams => ({ ...IDENTITY_AUGMENT, ...p });

function count(labels: Uint8Array, v: number): number {
  let n = 0;
  for (const l of labels) n += l === v ? 1 : 0;
  return n;
}

describe('augment', () => {
  it('is bit-identical for the same seed and differs for another', () => {
    const s = phantom();
    const all = augmentConfig({
      rotation: { p: 1 },
      scale: { p: 1 },
      elastic: { p: 1 },
      gamma: { p: 1 },
      contrast: { p: 1 },
      brightness: { p: 1 },
      noise: { p: 1 },
      blur: { p: 1 },
      biasField: { p: 1 },
    });
    const a = augment(s, new Rng(42), all);
    const b = augment(s, new Rng(42), all);
    const c = augment(s, new Rng(43), all);
    expect(Buffer.from(a.image.buffer).equals(Buffer.from(b.image.buffer))).toBe(true);
    expect(a.labels).toEqual(b.labels);
    expect(a.image).not.toEqual(c.image);
    // Default config too, over several draws.
    for (let seed = 0; seed < 5; seed++) {
      const x = augment(s, new Rng(seed));
      const y = augment(s, new Rng(seed));
      expect(Buffer.from(x.image.buffer).equals(Buffer.from(y.image.buffer))).toBe(true);
      expect(x.labels).toEqual(y.labels);
    }
  });

  it('is the exact identity at strength 0', () => {
    const s = phantom();
    const zero = augmentConfig({ strength: 0, rotation: { p: 1 }, noise: { p: 1 }, flip: { pX: 1, pY: 1 } });
    for (let seed = 0; seed < 20; seed++) {
      const rng = new Rng(seed);
      expect(drawAugmentation(new Rng(seed), zero)).toEqual(IDENTITY_AUGMENT);
      const out = augment(s, rng, zero);
      expect(out.image).toEqual(s.image);
      expect(out.labels).toEqual(s.labels);
    }
  });

  it('keeps label values within the original set', () => {
    const s = phantom();
    // Only classes 0, 1, 2 present: class 3 must never appear.
    const labels = s.labels.map((l) => (l === 3 ? 0 : l));
    const strong = augmentConfig({ strength: 2, rotation: { p: 1 }, scale: { p: 1 }, elastic: { p: 1 } });
    for (let seed = 0; seed < 20; seed++) {
      const out = augment({ ...s, labels }, new Rng(seed), strong);
      for (const l of out.labels!) expect(l === 0 || l === 1 || l === 2).toBe(true);
    }
  });

  it('flips exactly', () => {
    const s = phantom();
    const fx = applyAugmentation(s, with_({ flipX: true }));
    const fy = applyAugmentation(s, with_({ flipY: true }));
    for (let y = 0; y < NY; y++) {
      for (let x = 0; x < NX; x++) {
        expect(fx.image[x + NX * y]).toBe(s.image[NX - 1 - x + NX * y]);
        expect(fx.labels![x + NX * y]).toBe(s.labels[NX - 1 - x + NX * y]);
        expect(fy.image[x + NX * y]).toBe(s.image[x + NX * (NY - 1 - y)]);
        expect(fy.labels![x + NX * y]).toBe(s.labels[x + NX * (NY - 1 - y)]);
      }
    }
  });

  for (const n of [40, 41]) {
    it(`rotates by 90° exactly (${n} × ${n})`, () => {
      const s = phantom(n, n);
      const out = applyAugmentation(s, with_({ rotationDegrees: 90 }));
      const c = (n - 1) / 2;
      // Input (u, v) lands at output (c - (v - c), c + (u - c)).
      for (let v = 0; v < n; v++) {
        for (let u = 0; u < n; u++) {
          const x = c - (v - c);
          const y = c + (u - c);
          expect(out.image[x + n * y]).toBe(s.image[u + n * v]);
          expect(out.labels![x + n * y]).toBe(s.labels[u + n * v]);
        }
      }
      // Four quarter turns are the identity; -90° undoes +90°.
      let r = s;
      for (let k = 0; k < 4; k++) r = { ...s, ...applyAugmentation(r, with_({ rotationDegrees: 90 })) } as typeof s;
      expect(r.image).toEqual(s.image);
      const back = applyAugmentation({ ...s, ...out } as typeof s, with_({ rotationDegrees: -90 }));
      expect(back.labels).toEqual(s.labels);
    });
  }

  it('roughly preserves label areas under small rotations and scales them by s² under zoom', () => {
    const s = phantom(96, 96);
    const area = [1, 2, 3].map((c) => count(s.labels, c));
    for (const deg of [-10, -3, 5, 12]) {
      const out = applyAugmentation(s, with_({ rotationDegrees: deg }));
      [1, 2, 3].forEach((c, k) => {
        expect(Math.abs(count(out.labels!, c) - area[k]) / area[k]).toBeLessThan(0.03);
      });
    }
    const zoom = applyAugmentation(s, with_({ scale: 1.2 }));
    const lv = count(zoom.labels!, 1);
    expect(Math.abs(lv / area[0] - 1.44)).toBeLessThan(0.06);
  });

  it('elastic deformation has the requested RMS displacement and keeps areas', () => {
    const field = elasticField(96, 80, 7, 2, 8);
    let ss = 0;
    let maxJump = 0;
    for (let i = 0; i < 96 * 80; i++) {
      ss += field[2 * i] ** 2 + field[2 * i + 1] ** 2;
      if (i % 96 > 0) maxJump = Math.max(maxJump, Math.abs(field[2 * i] - field[2 * i - 2]));
    }
    expect(Math.sqrt(ss / (96 * 80))).toBeCloseTo(2, 4);
    // Smooth: neighbouring x-displacements differ by well under a pixel, so the warp does not fold.
    expect(maxJump).toBeLessThan(0.8);
    const s = phantom(96, 96);
    const out = applyAugmentation(s, with_({ elasticSeed: 3, elasticMagnitude: 2, elasticSigma: 8 }));
    expect(out.labels).not.toEqual(s.labels);
    const a = count(s.labels, 1);
    expect(Math.abs(count(out.labels!, 1) - a) / a).toBeLessThan(0.1);
  });

  it('applies intensity components with their hand-computed effect', () => {
    const s = { image: Float32Array.of(0, 1, 2, 3), nx: 2, ny: 2 };
    expect(Array.from(applyAugmentation(s, with_({ brightness: 0.5 })).image)).toEqual([0.5, 1.5, 2.5, 3.5]);
    // Contrast about the mean 1.5 by 2.
    expect(Array.from(applyAugmentation(s, with_({ contrast: 2 })).image)).toEqual([-1.5, 0.5, 2.5, 4.5]);
    // Gamma 2 on [0, 3] rescaled to [0, 1]: 3 * (v/3)^2.
    const g = applyAugmentation(s, with_({ gamma: 2 })).image;
    [0, 1 / 3, 4 / 3, 3].forEach((v, i) => expect(g[i]).toBeCloseTo(v, 6));
    // Bias field exp(c10 X) with X = -1, 1 at x = 0, 1, applied above the minimum 0.
    const b = applyAugmentation(s, with_({ biasCoefficients: [0.2, 0, 0, 0, 0] })).image;
    [0, Math.exp(0.2), 2 * Math.exp(-0.2), 3 * Math.exp(0.2)].forEach((v, i) => expect(b[i]).toBeCloseTo(v, 5));
    // Blur keeps the mean of a constant-edged image and smooths a step.
    const step = { image: Float32Array.from({ length: 20 }, (_, i) => (i % 10 < 5 ? 0 : 1)), nx: 10, ny: 2 };
    const bl = applyAugmentation(step, with_({ blurSigma: 1 })).image;
    expect(bl[4]).toBeGreaterThan(0);
    expect(bl[4]).toBeLessThan(0.5);
    expect(bl[4] + bl[5]).toBeCloseTo(1, 5);
    // Noise: seeded, with the requested std.
    const flat = { image: new Float32Array(4096), nx: 64, ny: 64 };
    const nz = applyAugmentation(flat, with_({ noiseStd: 0.1, noiseSeed: 9 })).image;
    const sd = Math.sqrt(nz.reduce((a, v) => a + v * v, 0) / nz.length);
    expect(Math.abs(sd - 0.1)).toBeLessThan(0.005);
  });

  it('writes into supplied output views', () => {
    const s = phantom();
    const buf = new Float32Array(2 * NX * NY);
    const lab = new Uint8Array(2 * NX * NY);
    const view = { image: buf.subarray(NX * NY), labels: lab.subarray(NX * NY) };
    const out = augment(s, new Rng(5), DEFAULT_AUGMENT, view);
    expect(out.image).toBe(view.image);
    expect(Array.from(buf.subarray(0, NX * NY)).every((v) => v === 0)).toBe(true);
    expect(out.image).toEqual(augment(s, new Rng(5)).image);
  });

  it('draws components at roughly their configured probabilities', () => {
    const rng = new Rng(1);
    let rot = 0;
    let flipX = 0;
    let maxDeg = 0;
    for (let i = 0; i < 2000; i++) {
      const p = drawAugmentation(rng);
      rot += p.rotationDegrees !== 0 ? 1 : 0;
      flipX += p.flipX ? 1 : 0;
      maxDeg = Math.max(maxDeg, Math.abs(p.rotationDegrees));
    }
    expect(Math.abs(rot / 2000 - DEFAULT_AUGMENT.rotation.p)).toBeLessThan(0.05);
    expect(Math.abs(flipX / 2000 - DEFAULT_AUGMENT.flip.pX)).toBeLessThan(0.05);
    expect(maxDeg).toBeLessThanOrEqual(DEFAULT_AUGMENT.rotation.maxDegrees);
    expect(maxDeg).toBeGreaterThan(0.9 * DEFAULT_AUGMENT.rotation.maxDegrees);
  });

  it('rejects invalid configs and inputs naming the field', () => {
    expect(() => augmentConfig({ rotation: { p: 1.5 } })).toThrow(/rotation\.p must be a probability/);
    expect(() => augmentConfig({ scale: { range: [0, 1] } })).toThrow(/scale\.range/);
    expect(() => augmentConfig({ strength: -1 })).toThrow(/strength/);
    expect(() => applyAugmentation({ image: new Float32Array(5), nx: 2, ny: 2 }, IDENTITY_AUGMENT)).toThrow(
      /image has 5 values, expected 2\*2/,
    );
  });
});
