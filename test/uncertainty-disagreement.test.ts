import { describe, expect, it } from 'vitest';
import { SampleDisagreement, type DisagreementScores } from '../src/uncertainty/index.js';

function disagreement(dims: [number, number, number], samples: number[][], voxelMl?: number) {
  const d = new SampleDisagreement({ dims, ...(voxelMl === undefined ? {} : { voxelMl }) });
  for (const s of samples) d.add(Uint8Array.from(s));
  return d.result();
}

function expectScores(got: DisagreementScores, want: DisagreementScores): void {
  for (const key of Object.keys(want) as (keyof DisagreementScores)[]) {
    expect(got[key], key).toBeCloseTo(want[key], 12);
  }
}

const sqrt18 = Math.sqrt(1 / 18);

describe('SampleDisagreement: hand-computed tables', () => {
  it('two samples, one slice: LV Dice 2/3; empty-vs-empty structures agree (0)', () => {
    const r = disagreement([4, 1, 1], [
      [1, 1, 0, 0],
      [1, 0, 0, 0],
    ]);
    expect(r.samples).toBe(2);
    expect(r.volumeUnit).toBe('voxels');
    // LV: |A1| = 2, |A2| = 1, |A1 ∩ A2| = 1 → 1 − 2/3; volumes 2 and 1 voxels: std 0.5, CV 0.5/1.5.
    const want = { pairwiseDiceLV: 1 / 3, pairwiseDiceMYO: 0, pairwiseDiceRV: 0, pairwiseDice: 1 / 9, volumeStdLV: 0.5, volumeStdMYO: 0, volumeStdRV: 0, volumeCV: 1 / 3 };
    expectScores(r.slices[0], want);
    expectScores(r.volume, want);
  });

  it('three samples, two slices, in ml: the mean over the three pairs, per slice and per volume', () => {
    // slice 0 = voxels 0, 1; slice 1 = voxels 2, 3.
    const r = disagreement(
      [2, 1, 2],
      [
        [1, 2, 0, 0],
        [1, 2, 3, 0],
        [2, 2, 0, 0],
      ],
      0.5,
    );
    expect(r.volumeUnit).toBe('ml');
    // slice 0. LV {0},{0},{}: pairs 0, 1, 1 → 2/3. MYO {1},{1},{0,1}: 0, 1/3, 1/3 → 2/9. RV empty: 0.
    // LV volumes .5, .5, 0 ml: std √(1/18); heart 1, 1, 1 ml: CV 0.
    expectScores(r.slices[0], {
      pairwiseDiceLV: 2 / 3, pairwiseDiceMYO: 2 / 9, pairwiseDiceRV: 0, pairwiseDice: 8 / 27,
      volumeStdLV: sqrt18, volumeStdMYO: sqrt18, volumeStdRV: 0, volumeCV: 0,
    });
    // slice 1. RV {}, {2}, {}: pairs 1, 0 (both empty), 1 → 2/3. Heart 0, .5, 0 ml: std √(1/18), mean 1/6.
    expectScores(r.slices[1], {
      pairwiseDiceLV: 0, pairwiseDiceMYO: 0, pairwiseDiceRV: 2 / 3, pairwiseDice: 2 / 9,
      volumeStdLV: 0, volumeStdMYO: 0, volumeStdRV: sqrt18, volumeCV: Math.sqrt(2),
    });
    // volume: heart 1, 1.5, 1 ml: std √(1/18), mean 7/6.
    expectScores(r.volume, {
      pairwiseDiceLV: 2 / 3, pairwiseDiceMYO: 2 / 9, pairwiseDiceRV: 2 / 3, pairwiseDice: 14 / 27,
      volumeStdLV: sqrt18, volumeStdMYO: sqrt18, volumeStdRV: sqrt18, volumeCV: sqrt18 / (7 / 6),
    });
  });

  it('identical samples and all-empty samples: 0 everywhere, never NaN', () => {
    for (const s of [[1, 2, 3, 0], [0, 0, 0, 0]]) {
      const r = disagreement([2, 2, 1], [s, s, s]);
      for (const v of Object.values(r.volume)) expect(v).toBe(0);
    }
  });

  it('BAD CALL - one sample, a label that is no class, wrong length, bad dims or voxel volume', () => {
    const one = new SampleDisagreement({ dims: [2, 1, 1] });
    one.add(Uint8Array.from([1, 0]));
    expect(() => one.result()).toThrow(/at least 2 samples, got 1/);
    expect(() => one.add(Uint8Array.from([4, 0]))).toThrow(/label 4 at voxel 0 is not a project class/);
    expect(() => one.add(Uint8Array.from([0]))).toThrow(/1 labels, dims 2×1×1 need 2/);
    expect(() => new SampleDisagreement({ dims: [2, 0, 1] })).toThrow(/dims/);
    expect(() => new SampleDisagreement({ dims: [2, 1, 1], voxelMl: 0 })).toThrow(/voxelMl/);
  });
});
