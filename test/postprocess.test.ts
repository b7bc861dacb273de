import { describe, expect, it } from 'vitest';
import { preprocessVolume, type Volume } from '../src/data/index.js';
import { postprocessSegmentation, predictFromBranches, type Postprocess } from '../src/predict/index.js';

/** Labels of an nx × ny × nz volume from `(x, y, z) => label`, x fastest. */
function volume(nx: number, ny: number, nz: number, f: (x: number, y: number, z: number) => number): Uint8Array {
  const out = new Uint8Array(nx * ny * nz);
  for (let z = 0; z < nz; z++) for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++) out[x + nx * (y + ny * z)] = f(x, y, z);
  return out;
}

describe('postprocessSegmentation', () => {
  it('keeps the largest face-connected foreground component, every class in it, and clears the rest', () => {
    const dims = [8, 6, 3] as const;
    // The heart: LV (1) in x 1..2, MYO (2) beside it in x 3, over y 1..3, on slices 0 and 1 (18
    // voxels); RV (3) at (4, 1, 2) touches it only along an edge, at (3, 1, 1), not a face; a
    // 2-voxel island of LV at (6..7, 5, 0); one MYO voxel at (0, 0, 2), touching nothing.
    const seg = volume(...dims, (x, y, z) => {
      if (z <= 1 && y >= 1 && y <= 3 && x >= 1 && x <= 3) return x === 3 ? 2 : 1;
      if (x === 4 && y === 1 && z === 2) return 3;
      if (y === 5 && x >= 6 && z === 0) return 1;
      if (x === 0 && y === 0 && z === 2) return 2;
      return 0;
    });
    const want = volume(...dims, (x, y, z) => (z <= 1 && y >= 1 && y <= 3 && x >= 1 && x <= 3 ? (x === 3 ? 2 : 1) : 0));
    const got = postprocessSegmentation(seg.slice(), dims, 'largest-component');
    expect(Array.from(got)).toEqual(Array.from(want));
    expect(got.filter((v) => v > 0).length).toBe(18);
    // Idempotent, and 'none' returns its input unchanged.
    expect(Array.from(postprocessSegmentation(got.slice(), dims, 'largest-component'))).toEqual(Array.from(want));
    const same = seg.slice();
    expect(postprocessSegmentation(same, dims, 'none')).toBe(same);
    expect(Array.from(same)).toEqual(Array.from(seg));
  });

  it('connects across slices through faces, keeps the first of two equal components, and leaves an empty volume empty', () => {
    const dims = [5, 5, 4] as const;
    // A column through all four slices at (1, 1) (4 voxels) against a 2×2 square at slice 0 (4 voxels).
    const seg = volume(...dims, (x, y, z) => (x === 1 && y === 1 ? 3 : z === 0 && x >= 3 && y >= 3 ? 1 : 0));
    const got = postprocessSegmentation(seg.slice(), dims, 'largest-component');
    expect(Array.from(got)).toEqual(Array.from(volume(...dims, (x, y) => (x === 1 && y === 1 ? 3 : 0))));
    const empty = new Uint8Array(100);
    expect(Array.from(postprocessSegmentation(empty, dims, 'largest-component'))).toEqual(Array.from(new Uint8Array(100)));
  });

  it('refuses a segmentation of the wrong size', () => {
    expect(() => postprocessSegmentation(new Uint8Array(10), [2, 2, 2], 'largest-component')).toThrow('segmentation of 10 voxels for dims 2×2×2');
  });
});

describe('predictFromBranches with postprocess', () => {
  // One window per slice (16 × 16 slices, window 16). Every branch predicts a heart (LV square,
  // MYO ring) with probability 0.9 and an island of LV at (13..14, 13..14) with 0.6; branch k also
  // an island of RV at (k·4 + 1, 14). Positions only: the "network" ignores the pixel values.
  const [S, B, C] = [16, 3, 4];
  const image: Volume<Float32Array> = {
    dims: [S, S, 2],
    spacing: [1, 1, 1],
    affine: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1],
    data: Float32Array.from({ length: S * S * 2 }, (_, i) => Math.sin(i)),
  };
  const label = (k: number, x: number, y: number): number => {
    if (x >= 5 && x <= 9 && y >= 5 && y <= 9) return x === 5 || x === 9 || y === 5 || y === 9 ? 2 : 1;
    if (x >= 13 && x <= 14 && y >= 13 && y <= 14) return 1;
    if (y === 14 && x === k * 4 + 1) return 3;
    return 0;
  };
  const forward = (_win: Float32Array, b: number): Float32Array => {
    const out = new Float32Array(b * B * C * S * S);
    for (let w = 0; w < b; w++) {
      for (let k = 0; k < B; k++) {
        for (let y = 0; y < S; y++) {
          for (let x = 0; x < S; x++) {
            const l = label(k, x, y);
            const p = x >= 13 && y >= 13 ? 0.6 : 0.9; // the island less certain than the rest
            for (let c = 0; c < C; c++) out[((w * B + k) * C + c) * S * S + y * S + x] = c === l ? p : (1 - p) / 3;
          }
        }
      }
    }
    return out;
  };
  const run = (postprocess?: Postprocess) =>
    predictFromBranches(image, preprocessVolume(image, { size: [S, S], fit: 'whole', source: 'test' }), forward, {
      branches: B,
      numClasses: C,
      size: S,
      warningScore: 'pairwiseDice',
      ...(postprocess === undefined ? {} : { postprocess }),
    });

  it('removes the island from the segmentation only: probabilities, maps and every score stay the network’s', async () => {
    const raw = await run();
    const kept = await run('largest-component');
    expect(raw.postprocess).toBe('none');
    expect(kept.postprocess).toBe('largest-component');
    const heart = volume(S, S, 2, (x, y) => (x >= 5 && x <= 9 && y >= 5 && y <= 9 ? (x === 5 || x === 9 || y === 5 || y === 9 ? 2 : 1) : 0));
    expect(Array.from(kept.segmentation)).toEqual(Array.from(heart));
    // The raw arg-max has the shared island (not the branches' own RV voxels: 1 branch of 3).
    const island = volume(S, S, 2, (x, y) => (x >= 13 && x <= 14 && y >= 13 && y <= 14 ? 1 : 0));
    expect(Array.from(raw.segmentation)).toEqual(Array.from(heart).map((v, i) => v || island[i]));
    // The branches' islands are evidence of confusion: the scores keep them (the branches disagree).
    for (const s of raw.slices) expect(s.pairwiseDice).toBeGreaterThan(0);
    expect(kept.slices).toEqual(raw.slices);
    expect(kept.volume).toEqual(raw.volume);
    expect(kept.probabilities).toEqual(raw.probabilities);
    expect(kept.entropy).toEqual(raw.entropy);
    expect(kept.mutualInformation).toEqual(raw.mutualInformation);
  });
});
