/**
 * Scores from the disagreement between the segmentations of the individual samples (weight
 * samples × dropout passes): the pairwise Dice disagreement of Roy et al., "Bayesian QuickNAT",
 * NeuroImage 2019 (found the most robust failure-detection score by the ValUES benchmark, Kahl et
 * al., ICLR 2024), and the spread of the predicted volume across samples.
 *
 * Definitions, per slice and per volume, for each structure c ∈ {LV, MYO, RV} with A_k the pixels
 * sample k labels c:
 *
 * - `pairwiseDice<c>` = mean over the K(K−1)/2 pairs i < j of `1 − 2|A_i ∩ A_j| / (|A_i| + |A_j|)`;
 *   a pair where both are empty agrees (disagreement 0), so the value is never NaN;
 * - `pairwiseDice` (pooled) = mean of the three structures' values;
 * - `volumeStd<c>` = population standard deviation (÷K) across samples of |A_k| × voxel volume
 *   (ml when the spacing is known, voxels otherwise, see {@link DisagreementResult.volumeUnit});
 * - `volumeCV` (pooled) = coefficient of variation (std ÷ mean) across samples of the whole
 *   heart's volume (LV + MYO + RV); 0 when every sample predicts no heart.
 *
 * They exist only with K ≥ 2 samples: one network has none (its scores are the entropy ones).
 */

/** Structures scored (project classes 1..3). */
const STRUCTURES = ['LV', 'MYO', 'RV'] as const;
const S = STRUCTURES.length;

export interface DisagreementScores {
  readonly pairwiseDiceLV: number;
  readonly pairwiseDiceMYO: number;
  readonly pairwiseDiceRV: number;
  /** Mean of the three structures' pairwise Dice disagreements. */
  readonly pairwiseDice: number;
  readonly volumeStdLV: number;
  readonly volumeStdMYO: number;
  readonly volumeStdRV: number;
  /** Coefficient of variation of the heart's volume across samples. */
  readonly volumeCV: number;
}

export interface DisagreementResult {
  readonly samples: number;
  /** Unit of the `volumeStd*` values. */
  readonly volumeUnit: 'ml' | 'voxels';
  readonly slices: DisagreementScores[];
  readonly volume: DisagreementScores;
}

export interface DisagreementOptions {
  readonly dims: readonly [number, number, number];
  /** Voxel volume in ml; omit when the spacing is unknown (volumes are then in voxels). */
  readonly voxelMl?: number;
}

/**
 * Accumulates the per-sample arg-max segmentations (on one grid) one at a time: each new
 * sample's intersections with the earlier ones are counted at once, per slice and structure.
 * The exact mean over pairs needs every pair's intersection, so the earlier label maps are kept
 * (1 byte per voxel per sample, against the 4 bytes × 4 classes per voxel of each pass's
 * probabilities); the running counts are K(K−1)/2 × slices × 3 integers.
 */
export class SampleDisagreement {
  readonly #dims: readonly [number, number, number];
  readonly #voxelMl: number | undefined;
  readonly #labels: Uint8Array[] = [];
  /** Per sample: pixels of each structure per slice, [z][structure]. */
  readonly #counts: Int32Array[] = [];
  /** Per pair (in the order added: (0,1), (0,2), (1,2), (0,3), …): intersections [z][structure]. */
  readonly #intersections: Int32Array[] = [];

  constructor(opts: DisagreementOptions) {
    const { dims, voxelMl } = opts;
    if (dims.length !== 3 || dims.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new RangeError(`SampleDisagreement: dims must be [nx, ny, nz] of positive integers, got ${JSON.stringify(dims)}`);
    }
    if (voxelMl !== undefined && !(Number.isFinite(voxelMl) && voxelMl > 0)) {
      throw new RangeError(`SampleDisagreement: voxelMl must be a positive number, got ${voxelMl}`);
    }
    this.#dims = dims;
    this.#voxelMl = voxelMl;
  }

  get samples(): number {
    return this.#labels.length;
  }

  /** Adds one sample's segmentation (project classes 0..3, x fastest; kept, not copied). */
  add(labels: Uint8Array): void {
    const [nx, ny, nz] = this.#dims;
    const plane = nx * ny;
    if (labels.length !== plane * nz) {
      throw new RangeError(`SampleDisagreement.add: ${labels.length} labels, dims ${nx}×${ny}×${nz} need ${plane * nz}`);
    }
    const counts = new Int32Array(nz * S);
    for (let z = 0; z < nz; z++) {
      for (let i = z * plane; i < (z + 1) * plane; i++) {
        const l = labels[i];
        if (l === 0) continue;
        if (l > S) throw new RangeError(`SampleDisagreement.add: label ${l} at voxel ${i} is not a project class (0..${S})`);
        counts[z * S + l - 1]++;
      }
    }
    for (const prev of this.#labels) {
      const inter = new Int32Array(nz * S);
      for (let z = 0; z < nz; z++) {
        for (let i = z * plane; i < (z + 1) * plane; i++) {
          const l = labels[i];
          if (l !== 0 && prev[i] === l) inter[z * S + l - 1]++;
        }
      }
      this.#intersections.push(inter);
    }
    this.#labels.push(labels);
    this.#counts.push(counts);
  }

  /** @throws {Error} with fewer than 2 samples (no pair to compare) */
  result(): DisagreementResult {
    const k = this.samples;
    if (k < 2) throw new Error(`SampleDisagreement: disagreement needs at least 2 samples, got ${k}`);
    const nz = this.#dims[2];
    const slices: DisagreementScores[] = [];
    for (let z = 0; z < nz; z++) slices.push(this.#scores((a) => a[z * S], (a) => a[z * S + 1], (a) => a[z * S + 2]));
    const total = (s: number) => (a: Int32Array) => {
      let sum = 0;
      for (let z = 0; z < nz; z++) sum += a[z * S + s];
      return sum;
    };
    return {
      samples: k,
      volumeUnit: this.#voxelMl === undefined ? 'voxels' : 'ml',
      slices,
      volume: this.#scores(total(0), total(1), total(2)),
    };
  }

  /** Scores of one region, `of[s](array)` reading structure s's count from a per-sample or per-pair array. */
  #scores(...of: ((a: Int32Array) => number)[]): DisagreementScores {
    const k = this.samples;
    const unit = this.#voxelMl ?? 1;
    const dice: number[] = [];
    const std: number[] = [];
    for (let s = 0; s < S; s++) {
      let sum = 0;
      let pair = 0;
      for (let j = 1; j < k; j++) {
        for (let i = 0; i < j; i++, pair++) {
          const denominator = of[s](this.#counts[i]) + of[s](this.#counts[j]);
          sum += denominator === 0 ? 0 : 1 - (2 * of[s](this.#intersections[pair])) / denominator;
        }
      }
      dice.push(sum / pair);
      std.push(populationStd(this.#counts.map((c) => of[s](c) * unit)).std);
    }
    const heart = populationStd(this.#counts.map((c) => (of[0](c) + of[1](c) + of[2](c)) * unit));
    return {
      pairwiseDiceLV: dice[0],
      pairwiseDiceMYO: dice[1],
      pairwiseDiceRV: dice[2],
      pairwiseDice: (dice[0] + dice[1] + dice[2]) / S,
      volumeStdLV: std[0],
      volumeStdMYO: std[1],
      volumeStdRV: std[2],
      volumeCV: heart.mean === 0 ? 0 : heart.std / heart.mean,
    };
  }
}

function populationStd(values: readonly number[]): { mean: number; std: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length;
  return { mean, std: Math.sqrt(variance) };
}
