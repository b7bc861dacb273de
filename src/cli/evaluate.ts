/**
 * `hmcseg evaluate`: scores a prediction directory against a ground-truth data set.
 *
 *   hmcseg evaluate --pred DIR --gt DIR [--labels MAP] [--failure-threshold 0.8] --out FILE.json
 *
 * Writes FILE.json (cases + summary; a NaN metric is `{"value": null, "reason": ...}`),
 * FILE.cases.csv (one row per case) and FILE.slices.csv (one row per slice), where an empty cell
 * is a NaN metric (the JSON says why), and prints mean ± std per structure.
 */
import { Command, InvalidArgumentError } from 'commander';
import {
  evaluateDirectory,
  STRUCTURES,
  type CaseEvaluation,
  type DirectoryEvaluation,
  type MetricJson,
  type Stat,
} from '../evaluate/index.js';
import { tableText, textCell, type Table } from '../report/index.js';
import { writeFileAtomic } from '../util/index.js';

export interface EvaluateCliOptions {
  readonly pred: string;
  readonly gt: string;
  readonly labels?: string;
  readonly failureThreshold: number;
  readonly out: string;
}

/** What {@link runEvaluate} did. */
export interface EvaluateRun {
  readonly result: DirectoryEvaluation;
  /** The files written: JSON, cases CSV, slices CSV. */
  readonly files: readonly [string, string, string];
  /** The text table printed by the command. */
  readonly table: string;
}

function parseThreshold(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !(n >= 0 && n <= 1)) throw new InvalidArgumentError(`must be a number in [0, 1], got "${value}".`);
  return n;
}

function csvCell(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'boolean') return v ? '1' : '0';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function csv(header: readonly string[], rows: readonly (readonly (string | number | boolean | null | undefined)[])[]): string {
  return [header, ...rows].map((r) => r.map(csvCell).join(',')).join('\n') + '\n';
}

const value = (m: MetricJson | undefined): number | null => m?.value ?? null;

/** One row per case: id, patient, group, phase, per-structure Dice/HD95/ASSD, mean Dice, calibration, score. */
export function casesCsv(cases: readonly CaseEvaluation[]): string {
  const header = [
    'id',
    'patient',
    'group',
    'phase',
    ...STRUCTURES.flatMap((s) => [`${s}_dice`, `${s}_hd95`, `${s}_assd`]),
    'mean_dice',
    'failed',
    'unit',
    'ece',
    'ece_roi',
    'nll',
    'brier',
    'score',
  ];
  const rows = cases.map((c) => [
    c.id,
    c.patient,
    c.group,
    c.phase,
    ...STRUCTURES.flatMap((s) => [value(c.structures[s].dice), value(c.structures[s].hd95), value(c.structures[s].assd)]),
    value(c.meanDice),
    c.failed,
    c.unit,
    value(c.calibration?.all.ece),
    value(c.calibration?.roi.ece),
    value(c.calibration?.all.nll),
    value(c.calibration?.all.brier),
    c.volumeScore,
  ]);
  return csv(header, rows);
}

/** One row per slice: case, z, Dice per structure, mean Dice, score, failure (0/1, empty when no structure). */
export function slicesCsv(cases: readonly CaseEvaluation[]): string {
  const header = ['case', 'z', ...STRUCTURES.map((s) => `${s}_dice`), 'mean_dice', 'score', 'failure'];
  const rows = cases.flatMap((c) =>
    c.slices.map((s) => [c.id, s.z, ...STRUCTURES.map((name) => value(s.dice[name])), value(s.meanDice), s.score, s.failed]),
  );
  return csv(header, rows);
}

function formatStat(s: Stat, digits: number): string {
  if (s.mean === null) return `n/a (${Object.entries(s.nanByReason).map(([r, k]) => `${r} ×${k}`).join(', ')})`;
  const std = s.std === null ? '' : ` ± ${s.std.toFixed(digits)}`;
  const skipped = s.nan > 0 ? ` [${s.nan} NaN]` : '';
  return `${s.mean.toFixed(digits)}${std} (n=${s.n})${skipped}`;
}

/** The short text table: mean ± std per structure, then calibration and failure detection. */
export function formatTable(r: DirectoryEvaluation): string {
  const s = r.summary;
  const unit = s.unit;
  const structures: Table = {
    columns: ['structure', 'Dice', `HD95 (${unit})`, `ASSD (${unit})`].map((label) => ({ label, align: 'left' as const })),
    rows: [
      ...STRUCTURES.map((name) => {
        const st = s.all.structures[name];
        return [name, formatStat(st.dice, 3), formatStat(st.hd95, 2), formatStat(st.assd, 2)].map(textCell);
      }),
      ['mean', formatStat(s.all.meanDice, 3)].map(textCell),
    ],
  };
  const lines = [`${s.cases} cases evaluated, ${r.missing.length} without a prediction; labels ${r.labels}; distances in ${unit}`, tableText(structures)];
  if (s.calibration) {
    const f = (m: MetricJson): string => (m.value === null ? 'n/a' : m.value.toFixed(4));
    const { all, roi } = s.calibration;
    lines.push(`calibration: ECE ${f(all.ece)} (ROI ${f(roi.ece)}), NLL ${f(all.nll)}, Brier ${f(all.brier)}`);
  }
  const fd = (name: string, x: DirectoryEvaluation['summary']['failure']['slice']): string =>
    `${name} AUROC ${x.auroc.value === null ? `n/a (${x.auroc.reason})` : x.auroc.value.toFixed(3)}, ${x.failures}/${x.n} failed`;
  lines.push(`failure detection (Dice < ${s.failureThreshold}): ${fd('slices', s.failure.slice)}; ${fd('volumes', s.failure.volume)}`);
  return lines.join('\n') + '\n';
}

/**
 * Evaluates and writes FILE.json, FILE.cases.csv and FILE.slices.csv (each atomically); the CSV
 * names replace a trailing `.json` of `out`.
 */
export function runEvaluate(o: EvaluateCliOptions): EvaluateRun {
  const result = evaluateDirectory({
    pred: o.pred,
    gt: o.gt,
    failureThreshold: o.failureThreshold,
    ...(o.labels === undefined ? {} : { labels: o.labels }),
  });
  const base = o.out.replace(/\.json$/i, '');
  const files = [o.out, `${base}.cases.csv`, `${base}.slices.csv`] as const;
  const { cases, summary, ...rest } = result;
  writeFileAtomic(files[0], `${JSON.stringify({ ...rest, summary, cases }, null, 1)}\n`);
  writeFileAtomic(files[1], casesCsv(cases));
  writeFileAtomic(files[2], slicesCsv(cases));
  return { result, files, table: formatTable(result) };
}

/** Adds the `evaluate` subcommand to `program`. */
export function registerEvaluateCommand(program: Command): void {
  program
    .command('evaluate')
    .description('score predictions (NAME_seg.nii.gz, uncertainty maps and scores) against a ground-truth data set')
    .requiredOption('--pred <dir>', 'prediction directory (hmcseg predict output)')
    .requiredOption('--gt <dir>', 'ground-truth data set (ACDC, folder or nnU-Net raw layout)')
    .option('--labels <map>', "ground-truth label map: 'acdc', 'emidec', 'project' or a JSON file (default per layout)")
    .option('--failure-threshold <dice>', 'a slice or case fails when its mean Dice is below this', parseThreshold, 0.8)
    .requiredOption('--out <file.json>', 'results file; FILE.cases.csv and FILE.slices.csv are written beside it')
    .action((o: EvaluateCliOptions) => {
      const run = runEvaluate(o);
      process.stdout.write(run.table);
      process.stdout.write(`wrote ${run.files.join(', ')}\n`);
    });
}
