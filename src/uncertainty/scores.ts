/**
 * Slice- and volume-level uncertainty scores for failure detection: summaries of a pixel map
 * (predictive entropy, mutual information) over the predicted heart and a band around its boundary,
 * where a segmentation's errors are.
 */
import { distanceTransform } from '../metrics/hausdorff.js';
import type { DisagreementScores } from './disagreement.js';

export interface RegionScores {
  /** Predicted foreground pixels (any class ≠ 0). */
  readonly foregroundPixels: number;
  /** Mean predictive entropy / mutual information inside the predicted foreground (NaN when empty). */
  readonly entropyForeground: number;
  readonly miForeground: number;
  /** The same in the band of pixels within `band` px of the predicted boundary (NaN when empty). */
  readonly entropyBand: number;
  readonly miBand: number;
  /** Fraction of the region (foreground dilated by `band`) whose predictive entropy exceeds `threshold`. */
  readonly uncertainFraction: number;
  /** Mean predictive entropy over the whole image. */
  readonly imageEntropy: number;
  /**
   * Mean predictive entropy over the region (foreground dilated by `band`), or over the whole
   * image when nothing is predicted (a missed heart must still be able to warn).
   */
  readonly entropyRegion: number;
  /** The warning score: the value of the score named by the prediction's `warningScore` ({@link DEFAULT_WARNING_SCORE} unless chosen otherwise). */
  readonly score: number;
}

/**
 * Every named slice/volume score a prediction can carry, in report order: the entropy and MI
 * region summaries (every method) and the sample-disagreement scores of
 * {@link DisagreementScores} (only with ≥ 2 samples or passes; one network has none).
 */
export const SCORE_NAMES = [
  'entropyRegion',
  'entropyForeground',
  'miForeground',
  'entropyBand',
  'miBand',
  'uncertainFraction',
  'imageEntropy',
  'pairwiseDice',
  'pairwiseDiceLV',
  'pairwiseDiceMYO',
  'pairwiseDiceRV',
  'volumeCV',
  'volumeStdLV',
  'volumeStdMYO',
  'volumeStdRV',
] as const;

export type ScoreName = (typeof SCORE_NAMES)[number];

/** The warning score when nothing else is chosen (an experiment chooses one on validation). */
export const DEFAULT_WARNING_SCORE: ScoreName = 'entropyRegion';

/** The warning score and the named scores, as a file stores them (null: not finite, e.g. no foreground). */
export type NamedScores = { readonly score: number } & Readonly<Partial<Record<ScoreName, number | null>>>;

/** A slice's or volume's scores: the region ones, and the disagreement ones when there are ≥ 2 samples. */
export type SliceScores = RegionScores & Partial<DisagreementScores>;

/**
 * Merges the disagreement scores into the region scores and sets `score` to the value of
 * `warningScore`.
 *
 * @throws {Error} when `warningScore` does not exist for this prediction (e.g. `pairwiseDice` with one sample)
 */
export function withWarningScore(
  region: RegionScores,
  disagreement: DisagreementScores | undefined,
  warningScore: ScoreName,
): SliceScores {
  const merged: SliceScores = { ...region, ...disagreement };
  const value = merged[warningScore];
  if (value === undefined) {
    throw new Error(`warning score ${warningScore} needs at least 2 samples or passes; this prediction has one (choose one of ${Object.keys(region).filter((k) => k !== 'score' && k !== 'foregroundPixels').join(', ')})`);
  }
  return { ...merged, score: value };
}

export interface ScoreOptions {
  /** Band half-width in pixels (default 3). */
  readonly band?: number;
  /** Entropy threshold in nats for `uncertainFraction` (default 0.5). */
  readonly threshold?: number;
}

interface Sums {
  eRegion: number;
  fg: number;
  eFg: number;
  miFg: number;
  bandN: number;
  eBand: number;
  miBand: number;
  region: number;
  uncertain: number;
  eAll: number;
  all: number;
}

const zero = (): Sums => ({ eRegion: 0, fg: 0, eFg: 0, miFg: 0, bandN: 0, eBand: 0, miBand: 0, region: 0, uncertain: 0, eAll: 0, all: 0 });

function add(a: Sums, b: Sums): Sums {
  const out = zero();
  for (const k of Object.keys(out) as (keyof Sums)[]) out[k] = a[k] + b[k];
  return out;
}

function finish(s: Sums): RegionScores {
  const imageEntropy = s.all > 0 ? s.eAll / s.all : NaN;
  const entropyRegion = s.region > 0 ? s.eRegion / s.region : imageEntropy;
  return {
    foregroundPixels: s.fg,
    entropyForeground: s.fg > 0 ? s.eFg / s.fg : NaN,
    miForeground: s.fg > 0 ? s.miFg / s.fg : NaN,
    entropyBand: s.bandN > 0 ? s.eBand / s.bandN : NaN,
    miBand: s.bandN > 0 ? s.miBand / s.bandN : NaN,
    uncertainFraction: s.region > 0 ? s.uncertain / s.region : 0,
    imageEntropy,
    entropyRegion,
    score: entropyRegion,
  };
}

function sliceSums(
  seg: Uint8Array,
  entropy: Float32Array,
  mi: Float32Array,
  nx: number,
  ny: number,
  off: number,
  band: number,
  threshold: number,
): Sums {
  const n = nx * ny;
  const fg = new Uint8Array(n);
  const bg = new Uint8Array(n);
  let any = false;
  for (let i = 0; i < n; i++) {
    fg[i] = seg[off + i] !== 0 ? 1 : 0;
    bg[i] = 1 - fg[i];
    any ||= fg[i] === 1;
  }
  const s = zero();
  for (let i = 0; i < n; i++) {
    s.eAll += entropy[off + i];
    s.all++;
  }
  if (!any) return s;
  const outside = distanceTransform(fg, [nx, ny]); // distance to the foreground, 0 inside
  const inside = distanceTransform(bg, [nx, ny]); // distance to the background, 0 outside
  for (let i = 0; i < n; i++) {
    const e = entropy[off + i];
    const u = mi[off + i];
    const isFg = fg[i] === 1;
    if (isFg) {
      s.fg++;
      s.eFg += e;
      s.miFg += u;
    }
    const inRegion = outside[i] <= band;
    const inBand = isFg ? inside[i] <= band : outside[i] <= band;
    if (inBand) {
      s.bandN++;
      s.eBand += e;
      s.miBand += u;
    }
    if (inRegion) {
      s.region++;
      s.eRegion += e;
      if (e > threshold) s.uncertain++;
    }
  }
  return s;
}

/**
 * Scores per slice and for the whole volume.
 *
 * @param seg predicted labels, `nx × ny × nz` (x fastest)
 * @param entropy predictive entropy, same grid
 * @param mi mutual information, same grid
 */
export function uncertaintyScores(
  seg: Uint8Array,
  entropy: Float32Array,
  mi: Float32Array,
  dims: readonly [number, number, number],
  opts: ScoreOptions = {},
): { slices: RegionScores[]; volume: RegionScores } {
  const [nx, ny, nz] = dims;
  const n = nx * ny * nz;
  if (seg.length !== n || entropy.length !== n || mi.length !== n) {
    throw new RangeError(
      `uncertaintyScores: dims ${nx}×${ny}×${nz} hold ${n} pixels; seg, entropy and mi have ${seg.length}, ${entropy.length}, ${mi.length}`,
    );
  }
  const band = opts.band ?? 3;
  const threshold = opts.threshold ?? 0.5;
  const slices: RegionScores[] = [];
  let total = zero();
  for (let z = 0; z < nz; z++) {
    const s = sliceSums(seg, entropy, mi, nx, ny, z * nx * ny, band, threshold);
    slices.push(finish(s));
    total = add(total, s);
  }
  return { slices, volume: finish(total) };
}
