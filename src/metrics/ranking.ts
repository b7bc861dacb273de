/**
 * Ranking metrics over scores and binary labels: AUROC, average precision, risk–coverage (AURC)
 * and Spearman's rank correlation. Ties are handled as scikit-learn and scipy do. All run in
 * O(n log n) through native typed-array sorts, without per-element objects, so they suit
 * pixel-level use (millions of pixels).
 */
import type { MetricValue } from './types.js';
import { checkFinite, checkMask, checkSameLength } from './validate.js';

/** Options of the pixel-level ranking metrics. */
export interface RankingOptions {
  /** Only elements with `mask[i] !== 0` take part (e.g. a region of interest). */
  readonly mask?: Uint8Array;
}

/** Scores split by label, each ascending. Internal currency of this module. */
export interface SplitScores {
  /** Scores of the positives (label ≠ 0), ascending. */
  readonly pos: Float64Array;
  /** Scores of the negatives (label = 0), ascending. */
  readonly neg: Float64Array;
}

/** Splits scores by label (non-zero = positive) and sorts each part; checks the inputs. */
export function splitScores(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  opts: RankingOptions = {},
  where = 'splitScores',
): SplitScores {
  checkSameLength(scores, labels, 'scores and labels', where);
  checkFinite(scores, 'scores', where);
  checkMask(opts.mask, scores.length, where);
  const mask = opts.mask;
  let nPos = 0;
  let nNeg = 0;
  for (let i = 0; i < scores.length; i++) {
    if (mask !== undefined && mask[i] === 0) continue;
    if (labels[i] !== 0) nPos++;
    else nNeg++;
  }
  const pos = new Float64Array(nPos);
  const neg = new Float64Array(nNeg);
  for (let i = 0, a = 0, b = 0; i < scores.length; i++) {
    if (mask !== undefined && mask[i] === 0) continue;
    if (labels[i] !== 0) pos[a++] = scores[i];
    else neg[b++] = scores[i];
  }
  pos.sort();
  neg.sort();
  return { pos, neg };
}

/**
 * Visits the distinct scores in descending order with the cumulative counts of positives (tp)
 * and negatives (fp) scoring at least that much: the points of an ROC or PR curve.
 */
export function sweepDescending(s: SplitScores, visit: (threshold: number, tp: number, fp: number) => void): void {
  const { pos, neg } = s;
  let i = pos.length - 1;
  let j = neg.length - 1;
  let tp = 0;
  let fp = 0;
  while (i >= 0 || j >= 0) {
    const t = Math.max(i >= 0 ? pos[i] : -Infinity, j >= 0 ? neg[j] : -Infinity);
    while (i >= 0 && pos[i] === t) {
      tp++;
      i--;
    }
    while (j >= 0 && neg[j] === t) {
      fp++;
      j--;
    }
    visit(t, tp, fp);
  }
}

/** AUROC of split scores (see {@link auroc}). */
export function aurocOfSplit(s: SplitScores): MetricValue {
  const P = s.pos.length;
  const N = s.neg.length;
  if (P === 0 || N === 0) return { value: NaN, reason: 'single-class' };
  let area = 0;
  let tpPrev = 0;
  let fpPrev = 0;
  sweepDescending(s, (_t, tp, fp) => {
    area += (fp - fpPrev) * (tp + tpPrev);
    tpPrev = tp;
    fpPrev = fp;
  });
  return { value: area / (2 * P * N) };
}

/** Average precision of split scores (see {@link averagePrecision}). */
export function averagePrecisionOfSplit(s: SplitScores): MetricValue {
  const P = s.pos.length;
  if (P === 0) return { value: NaN, reason: 'no-positives' };
  let ap = 0;
  let tpPrev = 0;
  sweepDescending(s, (_t, tp, fp) => {
    if (tp > tpPrev) ap += ((tp - tpPrev) * tp) / (tp + fp);
    tpPrev = tp;
  });
  return { value: ap / P };
}

/**
 * Area under the ROC curve of `scores` for detecting `labels !== 0` (higher score = more likely
 * positive), as scikit-learn's `roc_auc_score`: trapezoids between the curve's points at the
 * distinct scores, so tied scores count one half (the Mann–Whitney U statistic / (P·N)).
 *
 * @returns NaN with reason `single-class` when only positives or only negatives are present
 *   (scikit-learn raises there)
 */
export function auroc(scores: ArrayLike<number>, labels: ArrayLike<number>, opts: RankingOptions = {}): MetricValue {
  return aurocOfSplit(splitScores(scores, labels, opts, 'auroc'));
}

/**
 * Average precision (area under the precision–recall curve as a step sum), scikit-learn's
 * `average_precision_score`: `AP = Σ_k (R_k − R_{k−1}) P_k` over the distinct scores in
 * descending order (tied scores enter together, no interpolation).
 *
 * @returns NaN with reason `no-positives` when no label is positive
 */
export function averagePrecision(scores: ArrayLike<number>, labels: ArrayLike<number>, opts: RankingOptions = {}): MetricValue {
  return averagePrecisionOfSplit(splitScores(scores, labels, opts, 'averagePrecision'));
}

/** A risk–coverage curve and its area. */
export interface RiskCoverage {
  /** Uncertainty thresholds, ascending: point k covers every element with uncertainty ≤ thresholds[k]. */
  readonly thresholds: Float64Array;
  /** Fraction of elements covered at each point. */
  readonly coverage: Float64Array;
  /** Error rate among the covered elements at each point. */
  readonly risk: Float64Array;
  /** Area under the risk–coverage curve (step integral, see {@link riskCoverage}); lower is better. */
  readonly aurc: MetricValue;
  /** AURC of the ideal ordering (all errors last), the lower bound for this error rate. */
  readonly optimalAurc: MetricValue;
  /** Excess AURC, `aurc − optimalAurc` (Geifman et al. 2019). */
  readonly eAurc: MetricValue;
}

/**
 * Risk–coverage curve of an uncertainty map for errors (selective prediction): sort elements by
 * uncertainty ascending, cover the most certain ones first, risk = error rate among the covered.
 * Tied uncertainties are covered together (one curve point per distinct value).
 *
 * `AURC = Σ_k (c_k − c_{k−1}) · r_k` over the curve points (c_0 = 0); without ties this is
 * `(1/n) Σ_{i=1..n} risk(i)`, the definition of Geifman et al., "Bias-Reduced Uncertainty
 * Estimation for Deep Neural Classifiers", ICLR 2019. `optimalAurc` is the same sum for the
 * perfect ordering.
 *
 * @param uncertainty per-element uncertainty (higher = less certain)
 * @param errors non-zero where the prediction is wrong (see {@link errorMask})
 * @returns curve and areas; the areas are NaN with reason `empty-input` when nothing is covered
 */
export function riskCoverage(uncertainty: ArrayLike<number>, errors: ArrayLike<number>, opts: RankingOptions = {}): RiskCoverage {
  return riskCoverageOfSplit(splitScores(uncertainty, errors, opts, 'riskCoverage'));
}

/** Risk–coverage of split uncertainties (positives = errors); see {@link riskCoverage}. */
export function riskCoverageOfSplit(s: SplitScores): RiskCoverage {
  const nErr = s.pos.length;
  const n = nErr + s.neg.length;
  if (n === 0) return emptyRiskCoverage();
  // Ascending uncertainty = descending negated uncertainty.
  const negated: SplitScores = { pos: negateReversed(s.pos), neg: negateReversed(s.neg) };
  const thresholds: number[] = [];
  const coverage: number[] = [];
  const risk: number[] = [];
  let aurc = 0;
  let coveredPrev = 0;
  sweepDescending(negated, (t, err, ok) => {
    const covered = err + ok;
    thresholds.push(-t);
    coverage.push(covered / n);
    risk.push(err / covered);
    aurc += ((covered - coveredPrev) / n) * (err / covered);
    coveredPrev = covered;
  });
  let optimal = 0;
  for (let i = n - nErr + 1; i <= n; i++) optimal += (i - (n - nErr)) / i;
  optimal /= n;
  return curveResult(thresholds, coverage, risk, aurc, optimal);
}

/**
 * Risk–coverage of per-item uncertainty scores for a continuous risk in [0, 1] per item, as the
 * segmentation failure-detection benchmarks define it (ValUES, Kahl et al., ICLR 2024: risk =
 * 1 − Dice per image): sort items by uncertainty ascending, cover the most certain first,
 * `risk[k]` = mean risk of the covered items. Tied uncertainties are covered together.
 *
 * `AURC = Σ_k (c_k − c_{k−1}) · r_k`; `optimalAurc` is the AURC of the oracle that ranks by the
 * true risk, `(1/n) Σ_{i=1..n} mean(r_(1..i))` with the risks ascending; `eAurc = aurc −
 * optimalAurc` ≥ 0. With 0/1 risks this is exactly {@link riskCoverage}.
 *
 * @param uncertainty per-item score (higher = less certain), finite
 * @param risks per-item risk, finite and in [0, 1]
 * @returns the areas are NaN with reason `empty-input` when there is no item
 */
export function riskCoverageOfRisks(uncertainty: ArrayLike<number>, risks: ArrayLike<number>): RiskCoverage {
  const where = 'riskCoverageOfRisks';
  checkSameLength(uncertainty, risks, 'uncertainty and risks', where);
  checkFinite(uncertainty, 'uncertainty', where);
  checkFinite(risks, 'risks', where);
  for (let i = 0; i < risks.length; i++) {
    if (risks[i] < 0 || risks[i] > 1) throw new RangeError(`${where}: risks[${i}] = ${risks[i]} is outside [0, 1]`);
  }
  const n = uncertainty.length;
  if (n === 0) return emptyRiskCoverage();
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => uncertainty[a] - uncertainty[b]);
  const thresholds: number[] = [];
  const coverage: number[] = [];
  const risk: number[] = [];
  let aurc = 0;
  let riskSum = 0;
  for (let i = 0; i < n; ) {
    const t = uncertainty[order[i]];
    const start = i;
    while (i < n && uncertainty[order[i]] === t) riskSum += risks[order[i++]];
    thresholds.push(t);
    coverage.push(i / n);
    risk.push(riskSum / i);
    aurc += ((i - start) / n) * (riskSum / i);
  }
  const sorted = Float64Array.from(risks).sort();
  let optimal = 0;
  let cumulative = 0;
  for (let i = 0; i < n; i++) {
    cumulative += sorted[i];
    optimal += cumulative / (i + 1);
  }
  optimal /= n;
  return curveResult(thresholds, coverage, risk, aurc, optimal);
}

/** The risk–coverage of no element: no curve, areas NaN `empty-input`. */
function emptyRiskCoverage(): RiskCoverage {
  const empty = { value: NaN, reason: 'empty-input' } as const;
  const none = new Float64Array(0);
  return { thresholds: none, coverage: none, risk: none, aurc: empty, optimalAurc: empty, eAurc: empty };
}

function negateReversed(a: Float64Array): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = -a[a.length - 1 - i];
  return out;
}

/**
 * Ranks 1..n with tied values given the mean of their ranks (scipy's `rankdata(method='average')`).
 */
export function rankData(values: ArrayLike<number>): Float64Array {
  checkFinite(values, 'values', 'rankData');
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a] - values[b]);
  const ranks = new Float64Array(n);
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && values[order[j + 1]] === values[order[i]]) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k]] = r;
    i = j + 1;
  }
  return ranks;
}

/**
 * Spearman's rank correlation: Pearson's correlation of the average ranks ({@link rankData}),
 * as scipy's `spearmanr`.
 *
 * @returns NaN with reason `constant-input` when either input is constant, `empty-input` with
 *   fewer than 2 elements
 */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): MetricValue {
  checkSameLength(a, b, 'a and b', 'spearman');
  if (a.length < 2) return { value: NaN, reason: 'empty-input' };
  return pearson(rankData(a), rankData(b));
}

function pearson(x: Float64Array, y: Float64Array): MetricValue {
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - mx;
    const dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return { value: NaN, reason: 'constant-input' };
  return { value: Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy))) };
}

/** A risk–coverage curve with its AURC, the oracle's (optimal) AURC and their difference e-AURC. */
function curveResult(thresholds: number[], coverage: number[], risk: number[], aurc: number, optimal: number) {
  return {
    thresholds: Float64Array.from(thresholds),
    coverage: Float64Array.from(coverage),
    risk: Float64Array.from(risk),
    aurc: { value: aurc },
    optimalAurc: { value: optimal },
    eAurc: { value: aurc - optimal },
  };
}
