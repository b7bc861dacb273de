import { describe, expect, it } from 'vitest';
import { distanceTransform, surfaceDistances, surfaceDistancesPerSlice, surfaceVoxels } from '../src/metrics/index.js';

const u8 = (a: number[]): Uint8Array => Uint8Array.from(a);

/** A label map of size n with `cls` at the given flat indices. */
function labels(n: number, at: number[], cls = 1): Uint8Array {
  const a = new Uint8Array(n);
  for (const i of at) a[i] = cls;
  return a;
}

describe('distanceTransform', () => {
  it('1-D line with spacing 2: distances 0, 2, 4, 6, 8', () => {
    expect([...distanceTransform(u8([1, 0, 0, 0, 0]), [5, 1], [2, 1])]).toEqual([0, 2, 4, 6, 8]);
  });

  it('2-D anisotropic: feature at the corner gives sqrt(x² + (2y)²)', () => {
    const d = distanceTransform(labels(9, [0]), [3, 3], [1, 2]);
    for (let y = 0; y < 3; y++) for (let x = 0; x < 3; x++) expect(d[x + 3 * y]).toBeCloseTo(Math.hypot(x, 2 * y), 12);
  });

  it('3-D: nearest of two features, across slices with dz = 5', () => {
    // features at (0,0,0) and (2,2,2) in a 3×3×3 grid
    const d = distanceTransform(labels(27, [0, 26]), [3, 3, 3], [1, 1, 5]);
    expect(d[1 + 3 * (1 + 3 * 1)]).toBeCloseTo(Math.sqrt(1 + 1 + 25), 12); // centre
    expect(d[2 + 3 * (2 + 3 * 0)]).toBeCloseTo(Math.sqrt(8), 12); // (2,2,0): sqrt(8) to (0,0,0), 10 to (2,2,2)
    expect(d[2 + 3 * (2 + 3 * 1)]).toBeCloseTo(5, 12); // (2,2,1): 5 to (2,2,2)
  });

  it('no feature → Infinity everywhere', () => {
    expect([...distanceTransform(new Uint8Array(4), [2, 2])]).toEqual([Infinity, Infinity, Infinity, Infinity]);
  });

  it('BAD CALL - dims and spacing', () => {
    expect(() => distanceTransform(new Uint8Array(5), [2, 2])).toThrow(/dims \[2, 2\] hold 4 voxels, but the array has 5/);
    expect(() => distanceTransform(new Uint8Array(4), [2, 2], [1, 0])).toThrow(/spacing must be 2 positive numbers/);
  });
});

describe('surfaceVoxels', () => {
  it('2-D: a 3×3 square keeps its 8 border pixels, not the centre', () => {
    const sq: number[] = [];
    for (let y = 1; y <= 3; y++) for (let x = 1; x <= 3; x++) sq.push(x + 5 * y);
    const s = surfaceVoxels(labels(25, sq), [5, 5]);
    expect(s.reduce((a, b) => a + b, 0)).toBe(8);
    expect(s[2 + 5 * 2]).toBe(0);
  });

  it('the image edge counts as background (scipy binary_erosion border_value=0)', () => {
    const s = surfaceVoxels(new Uint8Array(9).fill(1), [3, 3]);
    expect([...s]).toEqual([1, 1, 1, 1, 0, 1, 1, 1, 1]);
  });

  it('3-D: a 3×3×3 cube has 26 surface voxels; 2-D dims ignore the z neighbours', () => {
    const cube: number[] = [];
    for (let z = 1; z <= 3; z++) for (let y = 1; y <= 3; y++) for (let x = 1; x <= 3; x++) cube.push(x + 5 * (y + 5 * z));
    const m = labels(125, cube);
    expect(surfaceVoxels(m, [5, 5, 5]).reduce((a, b) => a + b, 0)).toBe(26);
    // One slice of it: as a 2-D image the centre is interior; as a 1-slice volume it is not.
    const slice = m.subarray(25 * 2, 25 * 3);
    expect(surfaceVoxels(slice, [5, 5]).reduce((a, b) => a + b, 0)).toBe(8);
    expect(surfaceVoxels(slice, [5, 5, 1]).reduce((a, b) => a + b, 0)).toBe(9);
  });
});

describe('surfaceDistances', () => {
  const nan = (r: { value: number; reason?: string }) => [Number.isNaN(r.value), r.reason];

  it('single voxels: HD95 = ASSD = the anisotropic distance', () => {
    // gt at (1,1), pred at (4,5) in 6×7, spacing [2, 3]: sqrt(6² + 12²)
    const r = surfaceDistances(labels(42, [4 + 6 * 5]), labels(42, [1 + 6 * 1]), { dims: [6, 7], spacing: [2, 3], classes: [1] });
    expect(r.unit).toBe('mm');
    expect(r.hausdorff[0].value).toBeCloseTo(Math.sqrt(180), 12);
    expect(r.assd[0].value).toBeCloseTo(Math.sqrt(180), 12);
  });

  it('two parallel rows two pixels apart with dy = 0.5 → 1 mm', () => {
    const a: number[] = [];
    const b: number[] = [];
    for (let x = 0; x < 10; x++) {
      a.push(x);
      b.push(x + 10 * 2);
    }
    const r = surfaceDistances(labels(30, b), labels(30, a), { dims: [10, 3], spacing: [1, 0.5], classes: [1] });
    expect(r.hausdorff[0].value).toBeCloseTo(1, 12);
    expect(r.assd[0].value).toBeCloseTo(1, 12);
  });

  // pred = x 0..4 in a 1-row image, gt = x 0: directed pred→gt {0,1,2,3,4}, gt→pred {0}
  const pred = labels(5, [0, 1, 2, 3, 4]);
  const gt = labels(5, [0]);
  it.each([
    [95, 3.8],
    [100, 4],
    [50, 2],
  ])('percentile %d → HD %d (max of the directed numpy percentiles)', (q, hd) => {
    const r = surfaceDistances(pred, gt, { dims: [5, 1], spacing: [1, 1], percentile: q, classes: [1] });
    expect(r.hausdorff[0].value).toBeCloseTo(hd, 12);
    expect(r.assd[0].value).toBeCloseTo(10 / 6, 12); // mean of {0,1,2,3,4} ∪ {0}
    expect(r.percentile).toBe(q);
  });

  it('3-D anisotropic: voxels two slices apart with dz = 5 → 10 mm', () => {
    const r = surfaceDistances(labels(27, [4 + 18]), labels(27, [4]), { dims: [3, 3, 3], spacing: [1, 1, 5], classes: [1] });
    expect(r.hausdorff[0].value).toBeCloseTo(10, 12);
  });

  it('empty and unlabelled structures: missing, both-empty, unlabelled', () => {
    const p = u8([1, 1, 0, 0]);
    const g = u8([1, 0, 2, 0]);
    const r = surfaceDistances(p, g, { dims: [2, 2], spacing: [1, 1], labelled: [0, 1, 2] });
    expect(r.hausdorff.map(nan)).toEqual([
      [false, undefined],
      [true, 'missing'],
      [true, 'unlabelled'],
    ]);
    expect(r.assd.map(nan)).toEqual(r.hausdorff.map(nan));
    const both = surfaceDistances(u8([0, 1]), u8([0, 1]), { dims: [2, 1], spacing: [1, 1], classes: [2] });
    expect(both.hausdorff.map(nan)).toEqual([[true, 'both-empty']]);
  });

  it('spacing unknown → pixels, unit px; spacing is required otherwise', () => {
    const r = surfaceDistances(labels(42, [4 + 6 * 5]), labels(42, [1 + 6 * 1]), {
      dims: [6, 7],
      spacing: [2, 3],
      spacingKnown: false,
      classes: [1],
    });
    expect(r.unit).toBe('px');
    expect(r.hausdorff[0].value).toBeCloseTo(5, 12);
    expect(() => surfaceDistances(u8([1]), u8([1]), { dims: [1, 1] })).toThrow(/spacing \(mm\) is required/);
  });

  it('per slice equals 2-D calls on each slice', () => {
    const p = u8([1, 1, 0, 0, 2, 2, 0, 1, 0, 2, 2, 2]);
    const g = u8([1, 0, 0, 0, 2, 2, 1, 1, 0, 0, 2, 2]);
    const per = surfaceDistancesPerSlice(p, g, { dims: [3, 2, 2], spacing: [0.5, 2, 9] });
    expect(per).toHaveLength(2);
    for (let z = 0; z < 2; z++) {
      const one = surfaceDistances(p.subarray(6 * z, 6 * z + 6), g.subarray(6 * z, 6 * z + 6), { dims: [3, 2], spacing: [0.5, 2] });
      expect(per[z]).toEqual(one);
    }
  });

  it('BAD CALL - percentile, dims', () => {
    expect(() => surfaceDistances(u8([1]), u8([1]), { dims: [1, 1], spacing: [1, 1], percentile: 101 })).toThrow(/percentile/);
    expect(() => surfaceDistances(u8([1, 0]), u8([1, 0]), { dims: [3, 1], spacing: [1, 1] })).toThrow(/dims \[3, 1\]/);
  });
});
