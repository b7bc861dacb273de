import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  invertProbabilities,
  medianKnownSpacing,
  openDataset,
  planSliceTransform,
  preprocessOptions,
  preprocessVolume,
  readNiftiImage,
  readNiftiLabels,
  voxelsOutsideWindow,
  writePhantomDataset,
} from '../src/data/index.js';
import { argmax } from '../src/metrics/index.js';
import { resolvePreprocess } from '../src/train/slices.js';

/** A 200 × 150 plane of labels with one heart voxel at (x, y). */
function oneVoxel(x: number, y: number): Uint8Array {
  const l = new Uint8Array(200 * 150);
  l[x + 200 * y] = 1;
  return l;
}

describe("preprocessing with fit: 'whole'", () => {
  it('keeps the whole grid, padding only the axis smaller than the window', () => {
    const crop = planSliceTransform(200, 100, [1, 1], { size: [128, 128] });
    const whole = planSliceTransform(200, 100, [1, 1], { size: [128, 128], fit: 'whole' });
    expect(crop.outputDims).toEqual([128, 128]);
    expect(whole.outputDims).toEqual([200, 128]);
    expect(whole.offset).toEqual([0, -14]);
  });

  it('counts the heart voxels a centre crop never shows, and none for the whole image', () => {
    const corner = oneVoxel(5, 140);
    const centre = oneVoxel(100, 75);
    const crop = planSliceTransform(200, 150, [1, 1], { size: [128, 128] });
    const whole = planSliceTransform(200, 150, [1, 1], { size: [128, 128], fit: 'whole' });
    expect(voxelsOutsideWindow(corner, crop)).toBe(1);
    expect(voxelsOutsideWindow(centre, crop)).toBe(0);
    expect(voxelsOutsideWindow(corner, whole)).toBe(0);
    // With resampling (1.5 mm → 1 mm) too.
    const rs = planSliceTransform(200, 150, [1.5, 1.5], { size: [128, 128], targetSpacing: 1, fit: 'whole' });
    expect(rs.outputDims).toEqual([300, 225]);
    expect(voxelsOutsideWindow(corner, rs)).toBe(0);
    expect(voxelsOutsideWindow(corner, planSliceTransform(200, 150, [1.5, 1.5], { size: [128, 128], targetSpacing: 1 }))).toBe(1);
  });

  it('maps one-hot labels back exactly (no resampling)', () => {
    const dims: [number, number, number] = [150, 90, 2];
    const labels = Uint8Array.from({ length: 150 * 90 * 2 }, (_, i) => (i * 7919) % 4);
    const vol = preprocessVolume({ data: Float32Array.from(labels, (v, i) => v + (i % 3)), dims, spacing: [1, 1, 8], affine: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 8, 0, 0, 0, 0, 1] }, { size: [128, 128], fit: 'whole' }, labels);
    const [mx, my] = vol.transform.slice.outputDims;
    const n = mx * my * 2;
    const onehot = new Float32Array(4 * n);
    for (let i = 0; i < n; i++) onehot[(vol.labels as Uint8Array)[i] * n + i] = 1;
    expect(argmax(invertProbabilities(onehot, 4, vol.transform), 4)).toEqual(labels);
  });

  it('BAD CALL - rejects an unknown fit', () => {
    expect(() => planSliceTransform(10, 10, [1, 1], { fit: 'tile' as 'whole', source: 'x.nii.gz' })).toThrow(/x\.nii\.gz: fit must be 'crop' or 'whole'/);
  });

  it("preprocessOptions: stores without a window crop about the centre, 'sliding' stores see the whole slice", () => {
    expect(preprocessOptions({ size: 128, targetSpacing: null }, 's').fit).toBe('crop');
    expect(preprocessOptions({ size: 128, targetSpacing: null, window: 'centre' }, 's').fit).toBe('crop');
    expect(preprocessOptions({ size: 128, targetSpacing: null, window: 'sliding' }, 's').fit).toBe('whole');
  });
});

describe('medianKnownSpacing', () => {
  it('pools the in-plane spacings of files with known spacing and ignores pixdim 1', () => {
    expect(medianKnownSpacing([[1, 1, 1], [1, 1, 10]])).toBeNull();
    expect(medianKnownSpacing([[1.5, 1.5, 8], [1, 1, 1], [2, 2, 8]])).toBe(1.75);
    expect(medianKnownSpacing([[1.2, 1.4, 8], [1.6, 1.6, 8], [2, 2, 5]])).toBe(1.6);
  });
});

describe('phantoms written at two spacings', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'hmcseg-spacing-'));
    // Same field of view (220 mm), 64 px (3.44 mm) and 96 px (2.29 mm).
    writePhantomDataset({ out: join(root, 'coarse'), cases: 1, contrast: 'ssfp', seed: 3, size: 64, slices: 2 });
    writePhantomDataset({ out: join(root, 'fine'), cases: 1, contrast: 'ssfp', seed: 3, size: 96, slices: 2 });
  }, 60_000);
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('the files carry their spacing, the median is the default target, and both land on one grid of the same anatomy', () => {
    const refs = ['coarse', 'fine'].flatMap((d) => openDataset(join(root, d)).cases.slice(0, 1));
    const spacings = refs.map((r) => readNiftiImage(r.image).spacing[0]);
    expect(spacings[0]).toBeCloseTo(220 / 64, 4);
    expect(spacings[1]).toBeCloseTo(220 / 96, 4);
    const pre = resolvePreprocess(refs, { size: 64, targetSpacing: 'median', window: 'sliding' });
    expect(pre.targetSpacing).toBeCloseTo((220 / 64 + 220 / 96) / 2, 4);
    const heartArea: number[] = [];
    for (const ref of refs) {
      const image = readNiftiImage(ref.image);
      const labels = readNiftiLabels(ref.labels!).data;
      const vol = preprocessVolume(image, preprocessOptions(pre, ref.image), labels);
      expect(vol.transform.slice.resampledDims).toEqual([77, 77]); // 220 mm / 2.865 mm, for both files
      let heart = 0;
      for (const v of vol.labels as Uint8Array) if (v !== 0) heart++;
      heartArea.push(heart);
      // Mapped back, the labels reach every input voxel: none lies outside the network's view.
      expect(voxelsOutsideWindow(labels, vol.transform)).toBe(0);
    }
    // The same anatomy at two spacings covers about the same number of target-grid pixels.
    expect(Math.abs(heartArea[0] - heartArea[1]) / heartArea[1]).toBeLessThan(0.1);
  });
});
