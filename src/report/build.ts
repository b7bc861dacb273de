/**
 * Turns loaded results into the report's content: tables, rendered figures (SVG) and example
 * pictures (PNG), grouped per domain plus the studies. Renderers for HTML and Markdown take it from
 * here.
 */
import type { ExampleSlice, ResultRow, StudyPoint } from '../experiment/index.js';
import {
  methodColour,
  reliabilitySpec,
  renderSvg,
  riskCoverageSpec,
  scoreRiskCoverageSpec,
  scatterSpec,
  studySpec,
  type ReliabilityDatum,
  type RiskCoverageDatum,
  type ScatterDatum,
  type StudyDatum,
  type StudySpecOptions,
} from './charts.js';
import { DEFAULT_WARNING_SCORE } from '../uncertainty/index.js';
import { coveragePoints, pooledReliability, slicePoints, warningFailureOf } from './derive.js';
import { rowKey, type ReportInput } from './load.js';
import { encodePng } from './png.js';
import { renderExample, type CropBox } from './slices.js';
import type { Table } from './table.js';
import { failureScoresTable, segmentationTable, studiesTable, uncertaintyTable } from './tables.js';

/** A rendered chart. */
export interface Figure {
  /** Unique in the report; also the figure's file name. */
  readonly id: string;
  readonly title: string;
  readonly caption: string;
  readonly svg: string;
}

/** One example slice as a PNG of three panels (truth, prediction, entropy). */
export interface ExampleImage {
  readonly example: Omit<ExampleSlice, 'image' | 'target' | 'segmentation' | 'entropy'>;
  readonly png: Buffer;
  readonly width: number;
  readonly height: number;
  readonly crop: CropBox;
  readonly scale: number;
}

export interface DomainSection {
  readonly name: string;
  readonly kind: string;
  readonly cases: number | null;
  readonly tables: readonly Table[];
  readonly figures: readonly Figure[];
  readonly examples: readonly { readonly method: string; readonly images: readonly ExampleImage[] }[];
}

export interface ReportModel {
  readonly preset: string;
  readonly description: string;
  readonly createdAt: string;
  readonly machine: string;
  readonly methods: readonly string[];
  readonly domains: readonly DomainSection[];
  readonly studies: { readonly figures: readonly Figure[]; readonly table: Table | null };
  /** Files named by the results but not found. */
  readonly missing: readonly string[];
  /** Saved evaluations without the slice risk–coverage curve (their curves are left out). */
  readonly withoutCurve: readonly string[];
}

const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');

const unique = <T>(xs: readonly T[]): T[] => [...new Set(xs)];

async function domainSection(input: ReportInput, name: string, kind: string, rows: readonly ResultRow[], methods: readonly string[]): Promise<DomainSection> {
  const id = slug(name);
  const evals = rows.flatMap((r) => {
    const ev = input.evaluations.get(rowKey(r.method, r.domain));
    return ev ? [{ method: r.method, ev, row: r }] : [];
  });
  const figures: Figure[] = [];

  const reliability: ReliabilityDatum[] = evals.flatMap(({ method, ev }) =>
    (['all', 'roi'] as const).flatMap((region) =>
      pooledReliability(ev.cases, region).map((b) => ({
        method,
        region: region === 'all' ? ('all pixels' as const) : ('ROI' as const),
        confidence: b.confidence,
        accuracy: b.accuracy,
        count: b.count,
      })),
    ),
  );
  if (reliability.length > 0) {
    const shown = methods.filter((m) => reliability.some((d) => d.method === m));
    figures.push({
      id: `${id}-reliability`,
      title: `Reliability diagrams — ${name}`,
      caption:
        'Accuracy vs mean confidence of the arg-max class per confidence bin, over all pixels and over the ROI; ' +
        "bins are the sums of the cases' saved bins (the ones the pooled ECE is computed from); empty bins are left out. " +
        'The dashed diagonal is perfect calibration.',
      svg: await renderSvg(reliabilitySpec(reliability, shown, `Reliability — ${name}`), `${id}-reliability`),
    });
  }

  const threshold = rows[0]?.summary.failureThreshold ?? 0.8;
  // Every slice plot shows the method's warning score (chosen on validation), as the tables do.
  const perMethod = evals.map(({ method, ev, row }) => ({ method, ev, row, points: slicePoints(ev.cases, row.warningScore) })).filter((m) => m.points.length > 0);
  if (perMethod.length > 0) {
    const scatter: ScatterDatum[] = perMethod.flatMap(({ method, points }) =>
      points.map((p) => ({ method, score: p.score, dice: p.dice, outcome: p.failed ? ('failed' as const) : ('correct' as const) })),
    );
    const shown = perMethod.map((m) => m.method);
    figures.push({
      id: `${id}-scatter`,
      title: `Uncertainty vs Dice — ${name}`,
      caption: `Each point is a slice with a labelled structure: its warning score vs its mean Dice; the dashed line is the failure threshold (${threshold}). A good score puts failures (below the line) on the right.`,
      svg: await renderSvg(scatterSpec(scatter, shown, threshold, `Slice warning score vs mean Dice — ${name}`), `${id}-scatter`),
    });
    // Evaluations saved before the summary held the curve have none (the report lists them).
    const withCurve = perMethod.flatMap(({ method, ev, row }) => {
      const curve = ev.sliceRiskCoverage === null ? undefined : warningFailureOf(row)?.slice.riskCoverage;
      return curve === undefined ? [] : [{ method, curve }];
    });
    if (withCurve.length > 0) {
      const curves: RiskCoverageDatum[] = withCurve.flatMap(({ method, curve }) => coveragePoints(curve).map((p) => ({ method, ...p })));
      const colour = methodColour(methods, withCurve.map((m) => m.method));
      figures.push({
        id: `${id}-risk-coverage`,
        title: `Slice-level risk–coverage — ${name}`,
        caption:
          'Derived from the saved per-slice (score, failed) pairs: keep the slices with the lowest warning scores first; ' +
          'the curve is the failure rate among those kept. Lower is better; at full coverage every curve ends at the overall failure rate.',
        svg: await renderSvg(riskCoverageSpec(curves, colour, `Slice-level risk–coverage — ${name}`), `${id}-risk-coverage`),
      });
    }
  }

  const byScore = rows.flatMap((r) =>
    Object.entries(r.summary.failure?.scores ?? {}).flatMap(([score, f]) =>
      f === undefined ? [] : coveragePoints(f.slice.diceRiskCoverage).map((p) => ({ method: r.method, score, ...p })),
    ),
  );
  if (byScore.length > 0) {
    figures.push({
      id: `${id}-score-risk-coverage`,
      title: `Risk–coverage of every score — ${name}`,
      caption:
        "From each summary's saved curves: keep the slices with the lowest score first; the risk is the mean (1 − Dice) of the slices kept, " +
        'as in the ValUES benchmark. Lower is better; AURC and e-AURC are in the table of failure detection by score.',
      svg: await renderSvg(scoreRiskCoverageSpec(byScore, `Slice risk–coverage by score — ${name}`), `${id}-score-risk-coverage`),
    });
  }

  const examples = rows.flatMap((r) => {
    const key = rowKey(r.method, r.domain);
    const list = input.examples.get(key) ?? [];
    if (list.length === 0) return [];
    const images = list.map((ex, i) => {
      const raster = renderExample(ex, `${input.results.examples[key]} example ${i}`);
      const { image: _i, target: _t, segmentation: _s, entropy: _e, ...meta } = ex;
      return { example: meta, png: encodePng(raster), width: raster.width, height: raster.height, crop: raster.crop, scale: raster.scale };
    });
    return [{ method: r.method, images }];
  });

  const cases = rows.find((r) => typeof r.summary.cases === 'number')?.summary.cases ?? null;
  return {
    name,
    kind,
    cases,
    tables: [
      segmentationTable(rows, name),
      uncertaintyTable(rows, name),
      ...(rows.some((r) => r.summary.failure?.scores !== undefined) ? [failureScoresTable(rows, name)] : []),
    ],
    figures,
    examples,
  };
}

interface StudyPlot {
  readonly study: StudyPoint['study'];
  readonly x: string;
  /** Lines other than one per method (methods are coloured as everywhere else in the report). */
  readonly series?: { readonly of: (p: StudyPoint) => string; readonly title: string };
  readonly options: Omit<StudySpecOptions, 'metrics' | 'seriesTitle'>;
  readonly caption: string;
}

const STUDY_PLOTS: readonly StudyPlot[] = [
  {
    study: 'temperature',
    x: 'temperature',
    series: { of: (p) => (p.setting.augment === false ? 'augmentation off' : 'augmentation on'), title: 'training data' },
    options: { title: 'Temperature study (HMC)', xTitle: 'posterior temperature T', xScale: 'ordinal' },
    caption: 'HMC at each posterior temperature T (T = 1 the untempered posterior of the training loss, T < 1 cold, T = 0 SGD with momentum), with and without augmentation.',
  },
  {
    study: 'cycles',
    x: 'cycles',
    options: { title: 'Cycles study (HMC)', xTitle: 'cycles M', xScale: 'ordinal' },
    caption: 'HMC with M cyclical-annealing cycles and the same total number of steps K.',
  },
  {
    study: 'layout',
    x: 'layout',
    options: { title: 'Cycle-layout study (HMC)', xTitle: 'cycle layout', xScale: 'ordinal' },
    caption: 'HMC with the same K and M: a first cycle longer than the others (warm-up) and samples taken only from a later cycle on.',
  },
  {
    study: 'batchnorm',
    x: 'bnBatches',
    options: { title: 'BatchNorm statistics study (HMC)', xTitle: 'BatchNorm batches per sample (0: stored)', xScale: 'ordinal' },
    caption: 'HMC samples with the running BatchNorm statistics of training, or statistics recomputed for each sample on fixed un-augmented training batches.',
  },
  {
    study: 'samples',
    x: 'samples',
    options: { title: 'Samples study', xTitle: 'samples used (the last ones saved)', xScale: 'linear' },
    caption: 'The same trained stores predicting with their last k samples (ensemble: k members).',
  },
  {
    study: 'budget',
    x: 'steps',
    options: { title: 'Budget study', xTitle: 'steps per network K', xScale: 'ordinal' },
    caption: 'One deterministic network, HMC-CP and its variants, each trained for multiples of the step budget K.',
  },
];

const STUDY_METRICS = ['mean Dice', 'ECE-ROI', 'slice failure AUROC'] as const;

async function studyFigures(points: readonly StudyPoint[], methods: readonly string[]): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const plot of STUDY_PLOTS) {
    const data: StudyDatum[] = points
      .filter((p) => p.study === plot.study && ['number', 'string'].includes(typeof p.setting[plot.x]))
      .flatMap((p) => {
        const base = { x: p.setting[plot.x] as number | string, series: plot.series ? plot.series.of(p) : p.method };
        const values = [p.summary.all?.meanDice?.mean, p.summary.calibration?.roi?.ece?.value, p.summary.failure?.slice?.auroc?.value];
        return STUDY_METRICS.map((metric, i) => ({ ...base, metric, value: Number.isFinite(values[i]) ? (values[i] as number) : null }));
      });
    if (data.length === 0) continue;
    const id = `study-${plot.study}`;
    figures.push({
      id,
      title: plot.options.title,
      caption: `${plot.caption} Validation split; mean Dice over cases, ECE over the ROI, AUROC of the slice ${DEFAULT_WARNING_SCORE} score (the default warning score, the same for every point) for failed slices.`,
      svg: await renderSvg(
        studySpec(data, {
          ...plot.options,
          metrics: STUDY_METRICS,
          seriesTitle: plot.series?.title ?? 'method',
          ...(plot.series ? {} : { colour: methodColour(methods, methods.filter((m) => data.some((d) => d.series === m))) }),
        }),
        id,
      ),
    });
  }
  return figures;
}

/** Builds the report content (renders every figure and picture). */
export async function buildReport(input: ReportInput): Promise<ReportModel> {
  const r = input.results;
  const methods = unique(r.rows.map((x) => x.method));
  const domainNames = unique([...r.domains.map((d) => d.name), ...r.rows.map((x) => x.domain)]);
  const domains: DomainSection[] = [];
  for (const name of domainNames) {
    const rows = r.rows.filter((x) => x.domain === name);
    if (rows.length === 0) continue;
    const kind = r.domains.find((d) => d.name === name)?.kind ?? rows[0].kind ?? 'unknown';
    domains.push(await domainSection(input, name, kind, rows, methods));
  }
  return {
    preset: String(r.preset),
    description: r.description ?? '',
    createdAt: r.createdAt ?? '',
    machine: r.machine ? `${r.machine.cpu}, ${r.machine.cores} cores, Node ${r.machine.node}${r.machine.device && r.machine.device !== 'cpu' ? `, ${r.machine.device}` : ''}` : '',
    methods,
    domains,
    studies: { figures: await studyFigures(r.studies, unique([...methods, ...r.studies.map((p) => p.method)])), table: r.studies.length > 0 ? studiesTable(r) : null },
    missing: input.missing,
    withoutCurve: input.withoutCurve,
  };
}
