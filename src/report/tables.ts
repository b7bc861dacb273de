/**
 * The results tables as data ({@link Table}), for the report (HTML and Markdown) and results.md.
 * Every number is read from the saved summaries; a missing, null or non-finite value shows as '–'.
 */
import type { MetricJson, Stat, StructureName } from '../evaluate/index.js';
import { STRUCTURES } from '../evaluate/index.js';
import type { ExperimentResults, ResultRow, StudyPoint } from '../experiment/index.js';
import { DEFAULT_WARNING_SCORE } from '../uncertainty/index.js';
import { warningFailureOf } from './derive.js';
import { finite, MISSING, num, textCell as label, type Cell, type Column, type Table } from './table.js';

/** `mean ± std` (std left out when null), or '–'. */
function meanStd(s: Stat | undefined, digits: number): Cell {
  if (!s || !finite(s.mean)) return { text: MISSING, value: null };
  return { text: finite(s.std) ? `${s.mean.toFixed(digits)} ± ${s.std.toFixed(digits)}` : s.mean.toFixed(digits), value: s.mean };
}

const metric = (m: MetricJson | undefined): number | null => m?.value ?? null;
/** The row's warning score; results written before the choice used the default. */
const warningScoreName = (r: ResultRow): string => (r as Partial<ResultRow>).warningScore ?? `${DEFAULT_WARNING_SCORE} (default)`;
const settingText = (p: StudyPoint) => Object.entries(p.setting).map(([k, v]) => `${k}=${String(v)}`).join(', ');

/** Segmentation quality and cost of each method on one domain. */
export function segmentationTable(rows: readonly ResultRow[], domain: string): Table {
  const unit = rows[0]?.summary.unit ?? 'mm';
  const dice = (s: StructureName): Column => ({ label: `Dice ${s}`, better: 'high' });
  const hd = (s: StructureName): Column => ({ label: `HD95 ${s} (${unit})`, better: 'low' });
  return {
    title: `${domain}: segmentation and cost`,
    columns: [
      { label: 'method', align: 'left' },
      ...STRUCTURES.map(dice),
      ...STRUCTURES.map(hd),
      { label: 'train s', better: 'low', note: 'wall-clock training seconds (all networks/samples of the method)' },
      { label: '× det.', better: 'low', note: 'training time relative to the deterministic network' },
      { label: 'ms/slice', better: 'low', note: 'prediction time per slice, all samples/passes' },
    ],
    rows: rows.map((r) => {
      const st = r.summary.all?.structures;
      return [
        label(r.method),
        ...STRUCTURES.map((s) => meanStd(st?.[s]?.dice, 3)),
        ...STRUCTURES.map((s) => meanStd(st?.[s]?.hd95, 1)),
        num(r.trainSeconds, 0),
        num(r.trainRatio, 2),
        num(r.predictMsPerSlice, 1),
      ];
    }),
  };
}

/** Calibration and uncertainty quality of each method on one domain. */
export function uncertaintyTable(rows: readonly ResultRow[], domain: string): Table {
  const bins = rows.find((r) => r.summary.calibration)?.summary.calibration?.eceBins;
  return {
    title: `${domain}: calibration and uncertainty`,
    columns: [
      { label: 'method', align: 'left' },
      { label: 'ECE', better: 'low', note: `expected calibration error over all pixels${bins ? `, ${bins} bins` : ''}, pooled over cases` },
      { label: 'ECE-ROI', better: 'low', note: 'ECE over the region of interest (foreground of prediction or truth, dilated)' },
      { label: 'NLL', better: 'low', note: 'negative log-likelihood per pixel, all pixels' },
      { label: 'Brier', better: 'low', note: 'Brier score per pixel, all pixels' },
      { label: 'px AUROC', better: 'high', note: 'pixel-level AUROC of the entropy for misclassified pixels (mean over cases)' },
      { label: 'px eAURC', better: 'low', note: 'pixel-level excess area under the risk–coverage curve of the entropy (mean over cases)' },
      { label: 'warning score', align: 'left', note: "the method's warning score, chosen on the validation split" },
      { label: 'slice AUROC', better: 'high', note: 'AUROC of the slice warning score for detecting failed slices' },
      { label: 'Spearman', better: 'low', note: 'Spearman correlation of slice score and slice mean Dice (negative is good)' },
      { label: 'failed slices', note: 'slices with mean Dice below the failure threshold / slices scored' },
    ],
    rows: rows.map((r) => {
      const s = r.summary;
      const slice = warningFailureOf(r)?.slice;
      return [
        label(r.method),
        num(metric(s.calibration?.all?.ece), 4),
        num(metric(s.calibration?.roi?.ece), 4),
        num(metric(s.calibration?.all?.nll), 4),
        num(metric(s.calibration?.all?.brier), 4),
        num(s.uncertainty?.entropy?.auroc?.mean, 3),
        num(s.uncertainty?.entropy?.eAurc?.mean, 4),
        label(warningScoreName(r)),
        num(metric(slice?.auroc), 3),
        num(metric(slice?.spearman), 3),
        slice ? label(`${slice.failures} / ${slice.n}`) : label(MISSING),
      ];
    }),
  };
}

/**
 * Failure detection of every named score of each method on one domain, slice and volume level:
 * AUROC for Dice < τ, AURC and e-AURC with risk = 1 − mean Dice. The method's warning score
 * (chosen on validation) is marked ★.
 */
export function failureScoresTable(rows: readonly ResultRow[], domain: string): Table {
  const threshold = rows.find((r) => r.summary.failureThreshold !== undefined)?.summary.failureThreshold;
  return {
    title: `${domain}: failure detection by score`,
    columns: [
      { label: 'method', align: 'left' },
      { label: 'score', align: 'left', note: '★ the warning score chosen on the validation split' },
      { label: 'slice AUROC', better: 'high', note: `AUROC for slices with mean Dice < ${threshold ?? 'τ'}` },
      { label: 'slice AURC', better: 'low', note: 'area under the risk–coverage curve, risk = 1 − slice mean Dice' },
      { label: 'slice e-AURC', better: 'low', note: 'AURC minus the AURC of the oracle ranking by true risk' },
      { label: 'vol AUROC', better: 'high' },
      { label: 'vol AURC', better: 'low' },
      { label: 'vol e-AURC', better: 'low' },
      { label: 'unscored slices', note: 'slices where the score does not exist (e.g. entropy inside an empty foreground)' },
    ],
    rows: rows.flatMap((r) =>
      Object.entries(r.summary.failure?.scores ?? {}).map(([name, f]) => [
        label(r.method),
        label(name === r.warningScore ? `${name} ★` : name),
        num(metric(f?.slice.auroc), 3),
        num(metric(f?.slice.aurc), 4),
        num(metric(f?.slice.eAurc), 4),
        num(metric(f?.volume.auroc), 3),
        num(metric(f?.volume.aurc), 4),
        num(metric(f?.volume.eAurc), 4),
        num(f?.slice.unscored, 0),
      ]),
    ),
  };
}

/** The study points as one table (validation split). */
export function studiesTable(results: ExperimentResults): Table {
  return {
    title: 'Studies (validation split)',
    columns: [
      { label: 'study', align: 'left' },
      { label: 'setting', align: 'left' },
      { label: 'method', align: 'left' },
      { label: 'mean Dice' },
      { label: 'ECE-ROI' },
      { label: 'slice AUROC' },
      { label: 'train s' },
    ],
    rows: results.studies.map((p) => [
      label(p.study),
      label(settingText(p)),
      label(p.method),
      meanStd(p.summary.all?.meanDice, 3),
      num(metric(p.summary.calibration?.roi?.ece), 4),
      num(metric(p.summary.failure?.slice?.auroc), 3),
      num(p.trainSeconds, 0),
    ]),
  };
}

/**
 * results.md's table of one domain: mean Dice per structure, HD95 (the mean of the structures'
 * mean HD95), calibration, pixel-level uncertainty quality, the warning score's slice failure
 * detection, and cost.
 */
export function resultsDomainTable(rows: readonly ResultRow[]): Table {
  const unit = rows[0]?.summary.unit ?? 'mm';
  const before = [...STRUCTURES.map((name) => `Dice ${name}`), `HD95 (${unit})`, 'ECE', 'ECE-ROI', 'NLL', 'Brier', 'px-AUROC (entropy)'];
  const after = ['slice failure AUROC', 'slice e-AURC', 'Spearman', 'train s', '× det.', 'ms/slice'];
  return {
    columns: [{ label: 'method', align: 'left' }, ...before.map((l) => ({ label: l })), { label: 'warning score', align: 'left' }, ...after.map((l) => ({ label: l }))],
    rows: rows.map((x) => {
      const s = x.summary;
      const st = s.all?.structures;
      const hd = STRUCTURES.map((name) => st?.[name]?.hd95?.mean).filter(finite);
      const slice = warningFailureOf(x)?.slice;
      return [
        label(x.method),
        ...STRUCTURES.map((name) => num(st?.[name]?.dice?.mean, 3)),
        num(hd.length ? hd.reduce((a, b) => a + b, 0) / hd.length : null, 1),
        num(metric(s.calibration?.all?.ece), 4),
        num(metric(s.calibration?.roi?.ece), 4),
        num(metric(s.calibration?.all?.nll), 4),
        num(metric(s.calibration?.all?.brier), 4),
        num(s.uncertainty?.entropy?.auroc?.mean, 3),
        label(warningScoreName(x)),
        num(metric(slice?.auroc), 3),
        num(metric(slice?.eAurc), 3),
        num(metric(slice?.spearman), 3),
        num(x.trainSeconds, 0),
        num(x.trainRatio, 2),
        num(x.predictMsPerSlice, 1),
      ];
    }),
  };
}

/** results.md's table of the study points: mean Dice per structure, ECE-ROI, slice failure AUROC of the default warning score. */
export function resultsStudiesTable(points: readonly StudyPoint[]): Table {
  return {
    columns: [
      { label: 'study', align: 'left' },
      { label: 'setting', align: 'left' },
      { label: 'method', align: 'left' },
      ...STRUCTURES.map((name) => ({ label: `Dice ${name}` })),
      { label: 'ECE-ROI' },
      { label: `slice failure AUROC (${DEFAULT_WARNING_SCORE})` },
    ],
    rows: points.map((p) => [
      label(p.study),
      label(settingText(p)),
      label(p.method),
      ...STRUCTURES.map((name) => num(p.summary.all?.structures?.[name]?.dice?.mean, 3)),
      num(metric(p.summary.calibration?.roi?.ece), 4),
      num(metric(p.summary.failure?.slice?.auroc), 3),
    ]),
  };
}
