/**
 * The results tables as data (formatted cells plus the number behind each), shared by the HTML and
 * Markdown renderers. Every number is read from the saved summaries; a missing, null or non-finite
 * value shows as '–'.
 */
import type { MetricJson, Stat, StructureName } from '../evaluate/index.js';
import { STRUCTURES } from '../evaluate/index.js';
import type { ExperimentResults, ResultRow } from '../experiment/run.js';

/** Shown for a value that is missing, null or not finite. */
export const MISSING = '–';

/** A formatted cell; `value` is what "best" is judged on (null: not comparable). */
export interface Cell {
  readonly text: string;
  readonly value: number | null;
}

export interface Column {
  readonly label: string;
  /** Which way is better, for highlighting the best row; absent: no highlight. */
  readonly better?: 'high' | 'low';
  /** A one-line explanation (HTML title, Markdown footnote). */
  readonly note?: string;
  /** Text columns are left-aligned; numbers (the default) right-aligned. */
  readonly align?: 'left' | 'right';
}

export interface Table {
  readonly title: string;
  readonly columns: readonly Column[];
  /** First cell of each row is the row label. */
  readonly rows: readonly (readonly Cell[])[];
}

const finite = (x: number | null | undefined): x is number => typeof x === 'number' && Number.isFinite(x);

/** A number with fixed digits, or '–'. */
export function fmt(x: number | null | undefined, digits: number): string {
  return finite(x) ? x.toFixed(digits) : MISSING;
}

/** A number cell. */
export function num(x: number | null | undefined, digits: number): Cell {
  return { text: fmt(x, digits), value: finite(x) ? x : null };
}

/** `mean ± std` (std left out when null), or '–'. */
export function meanStd(s: Stat | undefined, digits: number): Cell {
  if (!s || !finite(s.mean)) return { text: MISSING, value: null };
  return { text: finite(s.std) ? `${s.mean.toFixed(digits)} ± ${s.std.toFixed(digits)}` : s.mean.toFixed(digits), value: s.mean };
}

const metric = (m: MetricJson | undefined): number | null => m?.value ?? null;
const label = (text: string): Cell => ({ text, value: null });

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
      { label: 'slice AUROC', better: 'high', note: 'AUROC of the slice warning score for detecting failed slices' },
      { label: 'Spearman', better: 'low', note: 'Spearman correlation of slice score and slice mean Dice (negative is good)' },
      { label: 'failed slices', note: 'slices with mean Dice below the failure threshold / slices scored' },
    ],
    rows: rows.map((r) => {
      const s = r.summary;
      const slice = s.failure?.slice;
      return [
        label(r.method),
        num(metric(s.calibration?.all?.ece), 4),
        num(metric(s.calibration?.roi?.ece), 4),
        num(metric(s.calibration?.all?.nll), 4),
        num(metric(s.calibration?.all?.brier), 4),
        num(s.uncertainty?.entropy?.auroc?.mean, 3),
        num(s.uncertainty?.entropy?.eAurc?.mean, 4),
        num(metric(slice?.auroc), 3),
        num(metric(slice?.spearman), 3),
        slice ? label(`${slice.failures} / ${slice.n}`) : label(MISSING),
      ];
    }),
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
      label(Object.entries(p.setting).map(([k, v]) => `${k}=${String(v)}`).join(', ')),
      label(p.method),
      meanStd(p.summary.all?.meanDice, 3),
      num(metric(p.summary.calibration?.roi?.ece), 4),
      num(metric(p.summary.failure?.slice?.auroc), 3),
      num(p.trainSeconds, 0),
    ]),
  };
}

/** Rows holding the best value of each column (empty where the column has no direction, or fewer than 2 rows). */
export function bestRows(table: Table): Set<number>[] {
  return table.columns.map((col, j) => {
    const rows = new Set<number>();
    if (!col.better || table.rows.length < 2) return rows;
    const values = table.rows.map((row) => row[j]?.value ?? null).filter((v): v is number => v !== null);
    if (values.length === 0) return rows;
    const best = col.better === 'high' ? Math.max(...values) : Math.min(...values);
    table.rows.forEach((row, i) => {
      if (row[j]?.value === best) rows.add(i);
    });
    return rows;
  });
}

/** The explained columns of some tables, each label once, in order of appearance. */
export function columnNotes(tables: readonly Table[]): { readonly label: string; readonly note: string }[] {
  const seen = new Map<string, string>();
  for (const t of tables) for (const c of t.columns) if (c.note && !seen.has(c.label)) seen.set(c.label, c.note);
  return [...seen].map(([label, note]) => ({ label, note }));
}
