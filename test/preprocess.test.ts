import { describe, expect, it } from 'vitest';
import {
  invertProbabilities,
  normalizeIntensity,
  planSliceTransform,
  preprocessSlice,
  preprocessVolume,
  spacingIsKnown,
  type SliceTransform,
  type Volume,
  type VolumeTransform,
} from '../src/data/index.js';
import { argmax } from '../src/metrics/index.js';
import { percentileSorted, Rng } from '../src/util/index.js';

/** A label plane with an ellipse of each class (3 inside 2 inside 1 elsewhere), x fastest. */
function phantomLabels(nx: number, ny: number, cx: number, cy: number, r: number): Uint8Array {
  const out = new Uint8Array(nx * ny);
  for (let y = 0; y < ny; y++) {
    for (let x = 0; x < nx; x++) {
      const d = Math.hypot((x - cx) / 1.2, y - cy);
      out[x + nx * y] = d < r * 0.5 ? 1 : d < r * 0.75 ? 2 : d < r ? 3 : 0;
    }
  }
  return out;
}

function volumeOf(data: Float32Array, dims: [number, number, number], spacing: [number, number, number]): Volume {
  return { dims, spacing, affine: [], data };
}

/**
 * Labels on the output grid mapped back the way predictions are: one-hot probabilities, class-major,
 * through {@link invertProbabilities}, then their arg-max.
 */
function invertLabels(labels: Uint8Array, transform: SliceTransform | VolumeTransform, C = 4): Uint8Array {
  const oneHot = new Float32Array(C * labels.length);
  labels.forEach((v, i) => (oneHot[v * labels.length + i] = 1));
  return argmax(invertProbabilities(oneHot, C, transform), C);
}

describe('percentileSorted', () => {
  it('matches numpy linear interpolation', () => {
    // numpy.percentile([1, 2, 3, 4, 10], [0, 25, 50, 90, 99.5, 100]) = [1, 2, 3, 7.6, 9.88, 10]
    const s = [1, 2, 3, 4, 10];
    expect(percentileSorted(s, 0)).toBe(1);
    expect(percentileSorted(s, 25)).toBe(2);
    expect(percentileSorted(s, 50)).toBe(3);
    expect(percentileSorted(s, 90)).toBeCloseTo(7.6, 12);
    expect(percentileSorted(s, 99.5)).toBeCloseTo(9.88, 12);
    expect(percentileSorted(s, 100)).toBe(10);
  });
});

describe('normalizeIntensity', () => {
  it('clips at the percentiles then z-scores (hand-computed)', () => {
    // 0..100: the 10th/90th percentiles are 10 and 90; clipped values have mean 50.
    const data = Float32Array.from({ length: 101 }, (_, i) => i);
    const { data: out, intensity } = normalizeIntensity(data, { clipPercentiles: [10, 90] });
    expect(intensity.lo).toBe(10);
    expect(intensity.hi).toBe(90);
    expect(intensity.mean).toBeCloseTo(50, 12);
    let ss = 0;
    for (let i = 0; i <= 100; i++) ss += (Math.min(90, Math.max(10, i)) - 50) ** 2;
    expect(intensity.std).toBeCloseTo(Math.sqrt(ss / 101), 10);
    expect(out[0]).toBeCloseTo((10 - 50) / intensity.std, 6);
    expect(out[0]).toBe(out[10]);
    expect(out[100]).toBe(out[90]);
    expect(out[50]).toBeCloseTo(0, 6);
    // Output has mean 0 and std 1.
    const m = out.reduce((a, b) => a + b, 0) / out.length;
    const sd = Math.sqrt(out.reduce((a, b) => a + (b - m) ** 2, 0) / out.length);
    expect(m).toBeCloseTo(0, 5);
    expect(sd).toBeCloseTo(1, 5);
  });

  it('names the source for empty, constant, degenerate and non-finite volumes', () => {
    expect(() => normalizeIntensity(new Float32Array(10), { source: 'a.nii.gz' })).toThrow(
      /a\.nii\.gz: empty volume/,
    );
    expect(() => normalizeIntensity(new Float32Array(10).fill(3), { source: 'b.nii.gz' })).toThrow(
      /b\.nii\.gz: constant volume \(every voxel is 3\)/,
    );
    const spike = new Float32Array(1000);
    spike[0] = 1;
    expect(() => normalizeIntensity(spike, { source: 'c' })).toThrow(/c: intensities clipped .* are constant/);
    expect(() => normalizeIntensity(Float32Array.of(0, NaN, 1), { source: 'd' })).toThrow(/d: voxel 1 is not finite/);
    expect(() => normalizeIntensity(Float32Array.of(0, 1), { clipPercentiles: [60, 40] })).toThrow(RangeError);
  });
});

describe('planSliceTransform', () => {
  it('centres the window: crop for large grids, pad for small ones', () => {
    expect(planSliceTransform(200, 150, [1, 1]).offset).toEqual([36, 11]);
    expect(planSliceTransform(101, 99, [1, 1], { size: [128, 128] }).offset).toEqual([-14, -15]);
    expect(planSliceTransform(5, 4, [1, 1], { size: [3, 3] }).offset).toEqual([1, 0]);
  });

  it('clamps a supplied centre so the window stays inside (crop) or covers the image (pad)', () => {
    const t = planSliceTransform(200, 200, [1, 1], { centre: [10, 190] });
    expect(t.offset).toEqual([0, 72]);
    expect(planSliceTransform(200, 200, [1, 1], { centre: [120.2, 80] }).offset).toEqual([56, 16]);
    // Pad: the window covers the whole image whatever the centre (offsets within [n - m, 0]).
    expect(planSliceTransform(100, 100, [1, 1], { centre: [0, 99] }).offset).toEqual([-28, 0]);
    expect(planSliceTransform(100, 100, [1, 1], { centre: [60, 40] }).offset).toEqual([-4, -24]);
  });

  it('resamples only with a real spacing and a target', () => {
    expect(planSliceTransform(200, 100, [1.5, 1.5], { targetSpacing: 1 }).resampledDims).toEqual([300, 150]);
    expect(planSliceTransform(200, 100, [1.5, 2.0], { targetSpacing: 3 }).resampledDims).toEqual([100, 67]);
    expect(planSliceTransform(200, 100, [1.5, 1.5], { targetSpacing: null }).resampledDims).toEqual([200, 100]);
    // pixdim 1 = spacing not kept, unless the caller says it is real.
    expect(planSliceTransform(200, 100, [1, 1], { targetSpacing: 1.5 }).resampledDims).toEqual([200, 100]);
    expect(
      planSliceTransform(200, 100, [1, 1], { targetSpacing: 2, unitSpacingIsUnknown: false }).resampledDims,
    ).toEqual([100, 50]);
    expect(() => planSliceTransform(10, 10, [0, 1], { targetSpacing: 1, source: 's' })).toThrow(/s: cannot resample/);
    expect(() => planSliceTransform(10, 10, [1, 1], { size: [0, 10] })).toThrow(/size\[0\]/);
  });
});

describe('preprocessSlice', () => {
  it('crops and pads exactly (hand-checked values)', () => {
    // 4×3 image with values 10*y + x; a 2×5 window centred: x offset 1, y offset -1.
    const image = Float32Array.from({ length: 12 }, (_, i) => 10 * Math.floor(i / 4) + (i % 4));
    const out = preprocessSlice({ image, nx: 4, ny: 3 }, { size: [2, 5], padValue: -1 });
    expect(out.transform.offset).toEqual([1, -1]);
    expect(Array.from(out.image)).toEqual([-1, -1, 1, 2, 11, 12, 21, 22, -1, -1]);
  });

  it('resamples bilinearly with pixel-centre alignment', () => {
    // 2×1 → 4×1 (spacing 2 mm → 1 mm): centres at -0.25, 0.25, 0.75, 1.25 of the source, edges held.
    const out = preprocessSlice(
      { image: Float32Array.of(0, 4), nx: 2, ny: 1, spacing: [2, 2] },
      { targetSpacing: 1, size: [4, 2], padValue: 0 },
    );
    expect(out.transform.resampledDims).toEqual([4, 2]);
    expect(Array.from(out.image)).toEqual([0, 1, 3, 4, 0, 1, 3, 4]);
  });
});

describe('invertProbabilities of one-hot labels, then arg-max', () => {
  const cases: { name: string; nx: number; ny: number; size: [number, number]; centre?: [number, number] }[] = [
    { name: 'crop, even sizes', nx: 200, ny: 160, size: [128, 128] },
    { name: 'crop, odd sizes', nx: 201, ny: 157, size: [127, 129] },
    { name: 'pad, odd input', nx: 97, ny: 101, size: [128, 128] },
    { name: 'pad, even input', nx: 96, ny: 100, size: [127, 128] },
    { name: 'pad x, crop y', nx: 100, ny: 181, size: [128, 128] },
    { name: 'crop about a supplied centre', nx: 220, ny: 190, size: [128, 128], centre: [140.3, 85.7] },
  ];
  for (const c of cases) {
    it(`is the identity without resampling: ${c.name}`, () => {
      const nz = 2;
      const labels = new Uint8Array(c.nx * c.ny * nz);
      // Structures well inside the window in slice 0, touching the window edge in slice 1 (cropped part → 0).
      const cx = c.centre?.[0] ?? (c.nx - 1) / 2;
      const cy = c.centre?.[1] ?? (c.ny - 1) / 2;
      labels.set(phantomLabels(c.nx, c.ny, cx, cy, 30), 0);
      labels.set(phantomLabels(c.nx, c.ny, cx + 3, cy - 2, 20), c.nx * c.ny);
      const image = new Float32Array(labels.length);
      for (let i = 0; i < image.length; i++) image[i] = labels[i] * 10 + (i % 7);
      const pre = preprocessVolume(
        volumeOf(image, [c.nx, c.ny, nz], [1, 1, 8]),
        { size: c.size, centre: c.centre },
        labels,
      );
      expect(pre.image.length).toBe(c.size[0] * c.size[1] * nz);
      const back = invertLabels(pre.labels!, pre.transform);
      expect(back).toEqual(labels);
      // The slice transform alone inverts one slice.
      const one = invertLabels(pre.labels!.subarray(0, c.size[0] * c.size[1]), pre.transform.slice);
      expect(one).toEqual(labels.subarray(0, c.nx * c.ny));
    });
  }

  it('sets voxels outside the window to background', () => {
    const labels = new Uint8Array(10 * 10).fill(2);
    const pre = preprocessSlice({ image: new Float32Array(100), nx: 10, ny: 10, labels }, { size: [4, 6] });
    const back = invertLabels(pre.labels!, pre.transform);
    let inside = 0;
    for (let y = 0; y < 10; y++) {
      for (let x = 0; x < 10; x++) {
        const inWin = x >= 3 && x < 7 && y >= 2 && y < 8;
        expect(back[x + 10 * y]).toBe(inWin ? 2 : 0);
        inside += inWin ? 1 : 0;
      }
    }
    expect(inside).toBe(24);
  });

  it('round-trips through resampling up to a small boundary fraction', () => {
    const nx = 180;
    const ny = 170;
    const labels = phantomLabels(nx, ny, 92.3, 80.6, 40);
    const image = Float32Array.from(labels, (v, i) => v + (i % 3));
    const fg = labels.reduce((a, v) => a + (v > 0 ? 1 : 0), 0);
    // Spacing 1.5 mm → 1.0 mm (up, 270×255, nearest) then back (bilinear one-hot, arg-max):
    // every original voxel centre has at least 0.75 × 0.75 of its bilinear weight on fine voxels
    // that lie inside it, so every voxel comes back.
    const up = preprocessVolume(volumeOf(image, [nx, ny, 1], [1.5, 1.5, 8]), { targetSpacing: 1, size: [320, 300] }, labels);
    expect(up.transform.slice.resampledDims).toEqual([270, 255]);
    const upBack = invertLabels(up.labels!, up.transform);
    const upWrong = upBack.reduce((a, v, i) => a + (v !== labels[i] ? 1 : 0), 0);
    expect(upWrong).toBe(0);
    // Spacing 1.0 mm → 1.7 mm (down, 106×100) then back: errors only on boundaries, a few % of the foreground.
    const down = preprocessVolume(
      volumeOf(image, [nx, ny, 1], [1, 1, 8]),
      { targetSpacing: 1.7, unitSpacingIsUnknown: false, size: [128, 128] },
      labels,
    );
    expect(down.transform.slice.resampledDims).toEqual([106, 100]);
    const downBack = invertLabels(down.labels!, down.transform);
    let wrong = 0;
    let wrongOffBoundary = 0;
    for (let y = 1; y < ny - 1; y++) {
      for (let x = 1; x < nx - 1; x++) {
        const i = x + nx * y;
        if (downBack[i] === labels[i]) continue;
        wrong++;
        const l = labels[i];
        const edge = [i - 1, i + 1, i - nx, i + nx, i - nx - 1, i - nx + 1, i + nx - 1, i + nx + 1].some(
          (j) => labels[j] !== l,
        );
        if (!edge) wrongOffBoundary++;
      }
    }
    expect(wrong).toBeGreaterThan(0);
    expect(wrong / fg).toBeLessThan(0.08);
    expect(wrongOffBoundary).toBe(0);
  });

  it('rejects predictions of the wrong size', () => {
    const pre = preprocessVolume(volumeOf(Float32Array.from({ length: 200 }, (_, i) => i), [10, 10, 2], [1, 1, 1]), {
      size: [8, 8],
    });
    expect(() => invertProbabilities(new Float32Array(2 * 64), 2, pre.transform)).toThrow(/got 1 slices, the transform has nz = 2/);
    expect(() => invertProbabilities(new Float32Array(2 * 65), 2, pre.transform.slice)).toThrow(/not a whole number/);
    expect(() => invertProbabilities(new Float32Array(129), 2, pre.transform)).toThrow(/not a whole number of 2 classes/);
  });
});

describe('invertProbabilities', () => {
  it('is the identity without resampling; cropped-away voxels are certain background', () => {
    const nx = 9;
    const ny = 7;
    const C = 3;
    const pre = preprocessSlice({ image: new Float32Array(nx * ny), nx, ny }, { size: [5, 8] });
    expect(pre.transform.offset).toEqual([2, -1]);
    const rng = new Rng(3);
    const probs = new Float32Array(C * 5 * 8);
    for (let i = 0; i < 40; i++) {
      const a = rng.uniform();
      const b = rng.uniform() * (1 - a);
      probs[i] = a;
      probs[40 + i] = b;
      probs[80 + i] = 1 - a - b;
    }
    const back = invertProbabilities(probs, C, pre.transform);
    expect(back.length).toBe(C * nx * ny);
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++) {
        const inWin = x >= 2 && x < 7;
        for (let c = 0; c < C; c++) {
          const v = back[c * nx * ny + x + nx * y];
          if (inWin) expect(v).toBe(probs[c * 40 + (x - 2) + 5 * (y + 1)]);
          else expect(v).toBe(c === 0 ? 1 : 0);
        }
      }
    }
  });

  it('interpolates bilinearly and keeps probabilities summing to 1 under resampling', () => {
    const nx = 40;
    const ny = 30;
    const pre = preprocessSlice(
      { image: new Float32Array(nx * ny), nx, ny, spacing: [1.25, 1.25] },
      { targetSpacing: 1, size: [48, 40] },
    );
    expect(pre.transform.resampledDims).toEqual([50, 38]);
    const [mx, my] = pre.transform.outputDims;
    const probs = new Float32Array(2 * mx * my);
    for (let y = 0; y < my; y++) {
      for (let x = 0; x < mx; x++) {
        probs[x + mx * y] = x / (mx - 1);
        probs[mx * my + x + mx * y] = 1 - x / (mx - 1);
      }
    }
    const back = invertProbabilities(probs, 2, pre.transform);
    let maxDev = 0;
    for (let i = 0; i < nx * ny; i++) maxDev = Math.max(maxDev, Math.abs(back[i] + back[nx * ny + i] - 1));
    expect(maxDev).toBeLessThan(1e-6);
    // Away from the cropped-off columns (resampled x = 0 and 49 are background), the linear ramp
    // comes back as a linear ramp: class 1 at original x is 1 - (xr - 1)/47 with xr = (x + 0.5)*1.25 - 0.5.
    const row = 15 * nx;
    for (let x = 2; x < nx - 2; x++) {
      const xr = (x + 0.5) * 1.25 - 0.5;
      expect(back[nx * ny + row + x]).toBeCloseTo(1 - (xr - 1) / 47, 5);
    }
    expect(back[row]).toBeGreaterThan(back[row + 1]);
  });
});

describe('spacingIsKnown', () => {
  it('is false exactly for an in-plane spacing of 1 × 1 (pixdim not kept), whatever the slice spacing', () => {
    expect(spacingIsKnown([1, 1, 8])).toBe(false);
    expect(spacingIsKnown([1, 1])).toBe(false);
    expect(spacingIsKnown([1, 1.25, 8])).toBe(true);
    expect(spacingIsKnown([1.5625, 1.5625, 10])).toBe(true);
  });

  it('is the rule preprocessing uses to skip resampling', () => {
    expect(planSliceTransform(20, 10, [1, 1], { targetSpacing: 2 }).resampledDims).toEqual([20, 10]);
    expect(planSliceTransform(20, 10, [1, 1.2], { targetSpacing: 2 }).resampledDims).toEqual([10, 6]);
  });
});
