/**
 * Summary of many {@link CaseEvaluation}s: mean ± std per structure (overall, per phase, per
 * group), pooled calibration, mean uncertainty–error metrics and failure detection at slice and
 * volume level. Plain JSON, with the NaN convention of `case.ts` (`null` + reason, or counts of
 * NaN by reason).
 */
import { failureDetection, reduce, riskCoverage, riskCoverageOfRisks, type MetricValue, type NanReason } from '../metrics/index.js';
import { DEFAULT_WARNING_SCORE, SCORE_NAMES, type ScoreName } from '../uncertainty/index.js';
import {
  fromJsonMetric,
  STRUCTURES,
  sumCalibrationBins,
  toJsonMetric,
  type CaseEvaluation,
  type MapErrorEvaluation,
  type MetricJson,
  type RegionCalibration,
  type StructureName,
} from './case.js';

/** Mean ± sample std of the non-NaN values; NaN ones are counted by reason, never averaged. */
export interface Stat {
  /** null exactly when `n` is 0. */
  readonly mean: number | null;
  /** Sample standard deviation (n − 1); null when `n` < 2. */
  readonly std: number | null;
  /** Values averaged. */
  readonly n: number;
  /** Values left out (NaN), and why. */
  readonly nan: number;
  readonly nanByReason: Readonly<Partial<Record<NanReason | 'unknown', number>>>;
}

export interface StructureSummary {
  readonly dice: Stat;
  readonly hd95: Stat;
  readonly assd: Stat;
}

/** Segmentation quality over a set of cases. */
export interface CohortSummary {
  readonly cases: number;
  readonly structures: Readonly<Record<StructureName, StructureSummary>>;
  /** Over the cases' mean Dice (each the mean of its labelled structures present). */
  readonly meanDice: Stat;
}

/** Calibration over the pixels of all cases together. */
export interface PooledCalibration {
  readonly pixels: number;
  /** From the summed reliability bins: `Σ_b |correct_b − confidenceSum_b| / Σ_b count_b`. */
  readonly ece: MetricJson;
  /** Max over the non-empty summed bins of |accuracy − mean confidence|. */
  readonly mce: MetricJson;
  /** Pixel-weighted means of the cases' values. */
  readonly nll: MetricJson;
  readonly brier: MetricJson;
}

export interface CalibrationSummary {
  /** Cases with probabilities. */
  readonly cases: number;
  readonly eceBins: number;
  readonly all: PooledCalibration;
  readonly roi: PooledCalibration;
}

/** Means over cases of one uncertainty map's pixel-level error metrics. */
export interface MapErrorSummary {
  readonly cases: number;
  readonly auroc: Stat;
  readonly aupr: Stat;
  readonly aurc: Stat;
  readonly eAurc: Stat;
  readonly bestOverlapDice: Stat;
}

/** Failure detection by a warning score (see {@link failureDetection}). */
export interface FailureSummary {
  /** Items (slices or cases) scored: with a score and a mean Dice. */
  readonly n: number;
  /** Items with a score but no labelled structure present (mean Dice null). */
  readonly excluded: number;
  /** Items without a score. */
  readonly unscored: number;
  readonly threshold: number;
  /** Scored items with mean Dice < threshold. */
  readonly failures: number;
  /** AUROC of the score for detecting failures. */
  readonly auroc: MetricJson;
  /** Spearman correlation of score and mean Dice (negative is good). */
  readonly spearman: MetricJson;
  /**
   * Risk–coverage curve of the score over the scored items ({@link riskCoverage}): keeping the
   * items with the lowest scores first, `risk[i]` is the fraction of failures among the share
   * `coverage[i]` kept; one point per distinct score, empty when no item is scored.
   */
  readonly riskCoverage: { readonly coverage: readonly number[]; readonly risk: readonly number[] };
  /**
   * AURC with risk = 1 − mean Dice per item, as the segmentation failure-detection benchmarks
   * (ValUES, Kahl et al. 2024; Zenk et al. 2025) define it ({@link riskCoverageOfRisks}); lower is better.
   */
  readonly aurc: MetricJson;
  /** AURC − the AURC of the oracle ranking by true risk (0 = perfect ranking). */
  readonly eAurc: MetricJson;
  /** That risk–coverage curve: `risk[i]` = mean (1 − Dice) of the share `coverage[i]` with the lowest scores. */
  readonly diceRiskCoverage: { readonly coverage: readonly number[]; readonly risk: readonly number[] };
}

/** Failure detection of one named score. */
export interface ScoreFailure {
  readonly slice: FailureSummary;
  readonly volume: FailureSummary;
}

export interface EvaluationSummary {
  readonly cases: number;
  /** Unit of every HD95 and ASSD. */
  readonly unit: 'mm' | 'px';
  readonly failureThreshold: number;
  readonly all: CohortSummary;
  /** Per cardiac phase (ED, ES), for the cases that have one. */
  readonly byPhase?: Readonly<Record<string, CohortSummary>>;
  /** Per diagnosis group, for the cases that have one. */
  readonly byGroup?: Readonly<Record<string, CohortSummary>>;
  /** Present when some case has probabilities. */
  readonly calibration?: CalibrationSummary;
  /** Present when some case has an uncertainty map. */
  readonly uncertainty?: {
    readonly entropy?: MapErrorSummary;
    readonly mutualInformation?: MapErrorSummary;
  };
  readonly failure: {
    /** Every slice of every case: slice score vs slice mean Dice. */
    readonly slice: FailureSummary;
    /** Every case: volume score vs case mean Dice. */
    readonly volume: FailureSummary;
    /**
     * Every named score that some case carries, in {@link SCORE_NAMES} order; an item where the
     * score is absent or not finite (e.g. entropy in an empty foreground) counts as unscored.
     */
    readonly scores?: Readonly<Partial<Record<ScoreName, ScoreFailure>>>;
  };
}

export interface SummaryOptions {
  /** Default: the threshold the cases were evaluated with (they must agree). */
  readonly failureThreshold?: number;
}

/**
 * Summarises case evaluations.
 *
 * @throws {RangeError} with no case, when cases mix distance units (mm and px) or ECE bin counts,
 *   or (without `failureThreshold`) were evaluated with different failure thresholds
 */
export function summarize(cases: readonly CaseEvaluation[], opts: SummaryOptions = {}): EvaluationSummary {
  if (cases.length === 0) throw new RangeError('summarize: no case to summarize');
  const unit = agreed(cases, (c) => c.unit, 'distance units (HD95/ASSD)');
  const threshold = opts.failureThreshold ?? agreed(cases, (c) => c.failureThreshold, 'failure thresholds');
  if (!Number.isFinite(threshold)) throw new RangeError(`summarize: failureThreshold must be finite, got ${threshold}`);

  const byPhase = cohorts(cases, (c) => c.phase);
  const byGroup = cohorts(cases, (c) => c.group);
  const calibration = summarizeCalibration(cases);
  const entropy = summarizeMap(cases, (c) => c.uncertainty?.entropy);
  const mutualInformation = summarizeMap(cases, (c) => c.uncertainty?.mutualInformation);

  const slices = cases.flatMap((c) => c.slices);
  const named = SCORE_NAMES.filter((n) => cases.some((c) => c.volumeScores?.[n] !== undefined || c.slices.some((s) => s.scores?.[n] !== undefined)));
  const scores = Object.fromEntries(
    named.map((n) => [
      n,
      {
        slice: failure(slices.map((s) => ({ score: s.scores?.[n], dice: s.meanDice })), threshold),
        volume: failure(cases.map((c) => ({ score: c.volumeScores?.[n], dice: c.meanDice })), threshold),
      },
    ]),
  ) as Partial<Record<ScoreName, ScoreFailure>>;
  return {
    cases: cases.length,
    unit,
    failureThreshold: threshold,
    all: cohort(cases),
    ...(byPhase === undefined ? {} : { byPhase }),
    ...(byGroup === undefined ? {} : { byGroup }),
    ...(calibration === undefined ? {} : { calibration }),
    ...(entropy === undefined && mutualInformation === undefined
      ? {}
      : {
          uncertainty: {
            ...(entropy === undefined ? {} : { entropy }),
            ...(mutualInformation === undefined ? {} : { mutualInformation }),
          },
        }),
    failure: {
      slice: failure(slices.map((s) => ({ score: s.score, dice: s.meanDice })), threshold),
      volume: failure(cases.map((c) => ({ score: c.volumeScore, dice: c.meanDice })), threshold),
      ...(named.length === 0 ? {} : { scores }),
    },
  };
}

function agreed<T>(cases: readonly CaseEvaluation[], get: (c: CaseEvaluation) => T, what: string): T {
  const first = get(cases[0]);
  const other = cases.find((c) => get(c) !== first);
  if (other !== undefined) {
    throw new RangeError(`summarize: cases mix ${what}: ${cases[0].id} has ${String(first)}, ${other.id} has ${String(get(other))}`);
  }
  return first;
}

/** {@link reduce} as JSON. */
export function stat(values: readonly (number | MetricValue)[]): Stat {
  const r = reduce(values, 'mean_std');
  return {
    mean: Number.isNaN(r.mean) ? null : r.mean,
    std: r.std === undefined || Number.isNaN(r.std) ? null : r.std,
    n: r.notNaN,
    nan: r.nan,
    nanByReason: r.nanByReason,
  };
}

function cohort(cases: readonly CaseEvaluation[]): CohortSummary {
  const of = (name: StructureName, key: 'dice' | 'hd95' | 'assd'): Stat =>
    stat(cases.map((c) => fromJsonMetric(c.structures[name][key])));
  const structures = Object.fromEntries(
    STRUCTURES.map((name) => [name, { dice: of(name, 'dice'), hd95: of(name, 'hd95'), assd: of(name, 'assd') }]),
  ) as Record<StructureName, StructureSummary>;
  return { cases: cases.length, structures, meanDice: stat(cases.map((c) => fromJsonMetric(c.meanDice))) };
}

function cohorts(cases: readonly CaseEvaluation[], key: (c: CaseEvaluation) => string | undefined): Record<string, CohortSummary> | undefined {
  const groups = new Map<string, CaseEvaluation[]>();
  for (const c of cases) {
    const k = key(c);
    if (k === undefined) continue;
    const list = groups.get(k);
    if (list === undefined) groups.set(k, [c]);
    else list.push(c);
  }
  if (groups.size === 0) return undefined;
  return Object.fromEntries([...groups.keys()].sort().map((k) => [k, cohort(groups.get(k) as CaseEvaluation[])]));
}

/** Pools reliability bins and pixel-weights NLL and Brier. */
function pool(regions: readonly RegionCalibration[], bins: number): PooledCalibration {
  const { count, confidenceSum, correct } = sumCalibrationBins(
    regions.map((r) => r.bins),
    bins,
  );
  let nllSum = 0;
  let brierSum = 0;
  let weighted = 0;
  for (const r of regions) {
    // NLL and Brier are null exactly when the region has no pixel.
    if (r.nll.value !== null && r.brier.value !== null) {
      nllSum += r.nll.value * r.pixels;
      brierSum += r.brier.value * r.pixels;
      weighted += r.pixels;
    }
  }
  let pixels = 0;
  let gapSum = 0;
  let mce = 0;
  for (let b = 0; b < bins; b++) {
    if (count[b] === 0) continue;
    pixels += count[b];
    gapSum += Math.abs(correct[b] - confidenceSum[b]);
    mce = Math.max(mce, Math.abs(correct[b] - confidenceSum[b]) / count[b]);
  }
  const empty: MetricJson = { value: null, reason: 'empty-input' };
  if (pixels === 0) return { pixels, ece: empty, mce: empty, nll: empty, brier: empty };
  return {
    pixels,
    ece: { value: gapSum / pixels },
    mce: { value: mce },
    nll: { value: nllSum / weighted },
    brier: { value: brierSum / weighted },
  };
}

function summarizeCalibration(cases: readonly CaseEvaluation[]): CalibrationSummary | undefined {
  const withProbs = cases.filter((c) => c.calibration !== undefined);
  if (withProbs.length === 0) return undefined;
  const bins = agreed(withProbs, (c) => c.calibration?.eceBins, 'ECE bin counts') as number;
  return {
    cases: withProbs.length,
    eceBins: bins,
    all: pool(
      withProbs.map((c) => c.calibration?.all as RegionCalibration),
      bins,
    ),
    roi: pool(
      withProbs.map((c) => c.calibration?.roi as RegionCalibration),
      bins,
    ),
  };
}

function summarizeMap(
  cases: readonly CaseEvaluation[],
  get: (c: CaseEvaluation) => MapErrorEvaluation | undefined,
): MapErrorSummary | undefined {
  const maps = cases.flatMap((c) => {
    const m = get(c);
    return m === undefined ? [] : [m];
  });
  if (maps.length === 0) return undefined;
  const of = (f: (m: MapErrorEvaluation) => MetricJson): Stat => stat(maps.map((m) => fromJsonMetric(f(m))));
  return {
    cases: maps.length,
    auroc: of((m) => m.auroc),
    aupr: of((m) => m.aupr),
    aurc: of((m) => m.aurc),
    eAurc: of((m) => m.eAurc),
    bestOverlapDice: of((m) => m.bestOverlap.dice),
  };
}

function failure(items: readonly { score?: number; dice: MetricJson }[], threshold: number): FailureSummary {
  const scored = items.filter((i) => i.score !== undefined);
  const fd = failureDetection(
    scored.map((i) => i.score as number),
    scored.map((i) => i.dice.value ?? NaN),
    { threshold },
  );
  const ranked = scored.filter((i) => i.dice.value !== null);
  const rc = riskCoverage(
    ranked.map((i) => i.score as number),
    ranked.map((i) => ((i.dice.value as number) < threshold ? 1 : 0)),
  );
  const byDice = riskCoverageOfRisks(
    ranked.map((i) => i.score as number),
    ranked.map((i) => 1 - (i.dice.value as number)),
  );
  return {
    n: fd.n,
    excluded: fd.excluded,
    unscored: items.length - scored.length,
    threshold,
    failures: fd.failures,
    auroc: toJsonMetric(fd.auroc),
    spearman: toJsonMetric(fd.spearman),
    riskCoverage: { coverage: [...rc.coverage], risk: [...rc.risk] },
    aurc: toJsonMetric(byDice.aurc),
    eAurc: toJsonMetric(byDice.eAurc),
    diceRiskCoverage: { coverage: [...byDice.coverage], risk: [...byDice.risk] },
  };
}

/** How {@link chooseWarningScore} chose, for the record. */
export interface WarningScoreChoice {
  readonly score: ScoreName;
  readonly rule: string;
  /** Why the default was kept, when no score was eligible. */
  readonly fallback?: string;
  /** Each eligible score's slice AUROC and AURC on the summary it was chosen on. */
  readonly candidates: readonly { readonly score: ScoreName; readonly auroc: number; readonly aurc: number | null }[];
}

/** {@link chooseWarningScore}'s rule in words, as results record it. */
export const WARNING_SCORE_RULE =
  'highest validation slice AUROC (Dice < τ) among scores defined on every slice; ties by lower slice AURC (risk 1 − Dice), then SCORE_NAMES order';

/** Scores whose slice AUROCs differ by less than this are tied. */
const AUROC_TIE = 1e-9;

/**
 * The warning-score rule, applied to a validation summary (never a test one): among the named
 * scores that score every slice (none unscored) and have a slice AUROC, the highest slice AUROC
 * for Dice < τ; ties (within 1e-9) go to the lower slice AURC (risk = 1 − Dice), then to the
 * earlier in {@link SCORE_NAMES}. Without any eligible score (no named scores, or every slice
 * passed or every slice failed), {@link DEFAULT_WARNING_SCORE}, saying why.
 */
export function chooseWarningScore(validation: EvaluationSummary): WarningScoreChoice {
  const rule = WARNING_SCORE_RULE;
  const candidates = SCORE_NAMES.flatMap((score) => {
    const f = validation.failure.scores?.[score]?.slice;
    if (f === undefined || f.unscored > 0 || f.auroc.value === null) return [];
    return [{ score, auroc: f.auroc.value, aurc: f.aurc.value }];
  });
  if (candidates.length === 0) {
    const why = validation.failure.scores === undefined ? 'the validation predictions carry no named scores' : 'no named score has a slice AUROC on every validation slice (all or no slices failed?)';
    return { score: DEFAULT_WARNING_SCORE, rule, fallback: why, candidates };
  }
  const best = candidates.reduce((a, b) => {
    if (b.auroc > a.auroc + AUROC_TIE) return b;
    if (Math.abs(b.auroc - a.auroc) <= AUROC_TIE && (b.aurc ?? Infinity) < (a.aurc ?? Infinity)) return b;
    return a;
  });
  return { score: best.score, rule, candidates };
}
