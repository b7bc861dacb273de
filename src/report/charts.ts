/**
 * The report's figures as Vega-Lite specs (pure builders over plot data) and their rendering to
 * standalone SVG with Vega's headless `View.toSVG()` (no canvas: text widths are estimated).
 */
import { parse, scheme, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

const CONFIG = {
  font: 'Helvetica, Arial, sans-serif',
  background: 'white',
  padding: 6,
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', grid: true, gridColor: '#e6e6e6' },
  header: { labelFontSize: 12, titleFontSize: 12, labelFontWeight: 'bold' },
  legend: { labelFontSize: 11, titleFontSize: 12, orient: 'bottom', direction: 'horizontal' },
  title: { fontSize: 13, anchor: 'start' },
  view: { stroke: '#bbb' },
  range: { category: { scheme: 'tableau10' } },
} as const;

/** Vega's "tableau10" category colours. */
const TABLEAU10 = scheme('tableau10') as readonly string[];

/**
 * A colour scale for the methods `shown` in a chart that gives each method the colour of its place
 * in `all`, so a method keeps its colour across charts that show different subsets.
 */
export function methodColour(all: readonly string[], shown: readonly string[]): { domain: string[]; range: string[] } {
  return { domain: [...shown], range: shown.map((m) => TABLEAU10[Math.max(0, all.indexOf(m)) % TABLEAU10.length]) };
}

const PANEL = 170;

/** Reliability diagram rows: pooled bins of one method and region. */
export interface ReliabilityDatum {
  readonly method: string;
  readonly region: 'all pixels' | 'ROI';
  readonly confidence: number;
  readonly accuracy: number;
  readonly count: number;
}

/** One panel per method: accuracy vs mean confidence of the pooled bins, all pixels and ROI, with the diagonal. */
export function reliabilitySpec(data: readonly ReliabilityDatum[], methods: readonly string[], title: string): TopLevelSpec {
  return {
    title,
    data: { values: data as ReliabilityDatum[] },
    facet: { field: 'method', type: 'nominal', title: null, sort: [...methods] },
    columns: Math.min(methods.length, 5),
    spec: {
      width: PANEL,
      height: PANEL,
      layer: [
        {
          mark: { type: 'rule', color: '#999', strokeDash: [4, 3] },
          encoding: { x: { datum: 0, type: 'quantitative' }, y: { datum: 0, type: 'quantitative' }, x2: { datum: 1 }, y2: { datum: 1 } },
        },
        {
          mark: { type: 'line', point: { size: 28 }, strokeWidth: 1.5 },
          encoding: {
            x: { field: 'confidence', type: 'quantitative', title: 'mean confidence', scale: { domain: [0, 1] } },
            y: { field: 'accuracy', type: 'quantitative', title: 'accuracy', scale: { domain: [0, 1] } },
            color: { field: 'region', type: 'nominal', title: 'pixels', scale: { domain: ['all pixels', 'ROI'], range: ['#4c78a8', '#e45756'] } },
            order: { field: 'confidence', type: 'quantitative' },
          },
        },
      ],
    },
    config: CONFIG,
  } as TopLevelSpec;
}

/** A slice of the uncertainty-vs-Dice scatter. */
export interface ScatterDatum {
  readonly method: string;
  readonly score: number;
  readonly dice: number;
  readonly outcome: 'failed' | 'correct';
}

/** One panel per method: slice warning score vs slice mean Dice, the failure threshold as a rule. */
export function scatterSpec(data: readonly ScatterDatum[], methods: readonly string[], threshold: number, title: string): TopLevelSpec {
  return {
    title,
    data: { values: data as ScatterDatum[] },
    facet: { field: 'method', type: 'nominal', title: null, sort: [...methods] },
    columns: Math.min(methods.length, 5),
    resolve: { scale: { x: 'independent' } },
    spec: {
      width: PANEL,
      height: PANEL,
      layer: [
        {
          mark: { type: 'point', filled: true, size: 14, opacity: 0.55 },
          encoding: {
            x: { field: 'score', type: 'quantitative', title: 'slice warning score', scale: { zero: false, nice: true } },
            y: { field: 'dice', type: 'quantitative', title: 'slice mean Dice', scale: { domain: [0, 1] } },
            color: {
              field: 'outcome',
              type: 'nominal',
              title: 'slice',
              scale: { domain: ['correct', 'failed'], range: ['#4c78a8', '#e45756'] },
              legend: { labelExpr: `datum.label === 'failed' ? 'failed (Dice < ${threshold})' : 'correct (Dice ≥ ${threshold})'`, labelLimit: 200 },
            },
          },
        },
        {
          mark: { type: 'rule', color: '#333', strokeDash: [4, 3] },
          encoding: { y: { datum: threshold, type: 'quantitative' } },
        },
      ],
    },
    config: CONFIG,
  } as TopLevelSpec;
}

/** A point of a method's slice-level risk–coverage curve. */
export interface RiskCoverageDatum {
  readonly method: string;
  readonly coverage: number;
  readonly risk: number;
}

/** Risk (failure rate among the kept slices) vs coverage, one line per method. */
export function riskCoverageSpec(data: readonly RiskCoverageDatum[], colour: ReturnType<typeof methodColour>, title: string): TopLevelSpec {
  return {
    title,
    width: 340,
    height: 240,
    data: { values: data as RiskCoverageDatum[] },
    mark: { type: 'line', interpolate: 'step-before', strokeWidth: 1.8 },
    encoding: {
      x: { field: 'coverage', type: 'quantitative', title: 'coverage (slices kept, lowest score first)', scale: { domain: [0, 1] } },
      y: { field: 'risk', type: 'quantitative', title: 'failure rate of kept slices' },
      color: { field: 'method', type: 'nominal', title: 'method', scale: colour },
      order: { field: 'coverage', type: 'quantitative' },
    },
    config: { ...CONFIG, legend: { ...CONFIG.legend, orient: 'right', direction: 'vertical' } },
  } as TopLevelSpec;
}

/** A point of one score's slice risk–coverage curve (risk = 1 − Dice) for one method. */
export interface ScoreRiskCoverageDatum {
  readonly method: string;
  readonly score: string;
  readonly coverage: number;
  readonly risk: number;
}

/** Mean (1 − Dice) of the kept slices vs coverage: one panel per method, one line per score. */
export function scoreRiskCoverageSpec(data: readonly ScoreRiskCoverageDatum[], title: string): TopLevelSpec {
  return {
    title,
    data: { values: data as ScoreRiskCoverageDatum[] },
    facet: { column: { field: 'method', type: 'nominal', title: null } },
    spec: {
      width: 220,
      height: 180,
      mark: { type: 'line', interpolate: 'step-before', strokeWidth: 1.5 },
      encoding: {
        x: { field: 'coverage', type: 'quantitative', title: 'coverage (lowest score first)', scale: { domain: [0, 1] } },
        y: { field: 'risk', type: 'quantitative', title: 'mean 1 − Dice of kept slices' },
        color: { field: 'score', type: 'nominal', title: 'score' },
        order: { field: 'coverage', type: 'quantitative' },
      },
    },
    config: { ...CONFIG, legend: { ...CONFIG.legend, orient: 'right', direction: 'vertical' } },
  } as TopLevelSpec;
}

/** A point of a study: one setting (x), one series, one metric. */
export interface StudyDatum {
  /** The setting: a number, or a label on an ordinal axis. */
  readonly x: number | string;
  readonly series: string;
  readonly metric: string;
  readonly value: number | null;
}

export interface StudySpecOptions {
  readonly title: string;
  readonly xTitle: string;
  /** `ordinal` for grids (one evenly spaced tick per setting, also for T = 0), `linear` for counts. */
  readonly xScale: 'linear' | 'ordinal';
  readonly seriesTitle: string;
  /** Metric panels, in order. */
  readonly metrics: readonly string[];
  /** Colours of the series, e.g. {@link methodColour} when the series are methods. */
  readonly colour?: ReturnType<typeof methodColour>;
}

/** One panel per metric (independent y), the study's setting on x, one line per series. */
export function studySpec(data: readonly StudyDatum[], opts: StudySpecOptions): TopLevelSpec {
  // Labels (e.g. cycle layouts) keep the grid's order and are slanted to fit.
  const labels = data.some((d) => typeof d.x === 'string');
  const x =
    opts.xScale === 'ordinal'
      ? {
          field: 'x',
          type: 'ordinal',
          title: opts.xTitle,
          sort: labels ? null : 'ascending',
          axis: labels ? { labelAngle: -30, labelAlign: 'right', labelLimit: 200 } : { labelAngle: 0 },
        }
      : { field: 'x', type: 'quantitative', title: opts.xTitle, scale: { zero: false } };
  return {
    title: opts.title,
    data: { values: data as StudyDatum[] },
    facet: { column: { field: 'metric', type: 'nominal', title: null, sort: [...opts.metrics] } },
    resolve: { scale: { y: 'independent' } },
    spec: {
      width: 220,
      height: 160,
      mark: { type: 'line', point: { size: 36 }, strokeWidth: 1.8 },
      encoding: {
        x,
        y: { field: 'value', type: 'quantitative', title: null, scale: { zero: false }, axis: { format: '.4~g' } },
        color: { field: 'series', type: 'nominal', title: opts.seriesTitle, ...(opts.colour ? { scale: opts.colour } : {}) },
      },
    },
    config: CONFIG,
  } as TopLevelSpec;
}

/**
 * Makes the SVG's element ids unique (`clip1` → `PREFIX-clip1`) so that many inline SVGs can share
 * one HTML document without one chart's `url(#clip1)` resolving to another chart's clip path.
 */
export function prefixSvgIds(svg: string, prefix: string): string {
  return svg
    .replace(/\bid="([^"]+)"/g, (_m, id: string) => `id="${prefix}-${id}"`)
    .replace(/url\(#([^)]+)\)/g, (_m, id: string) => `url(#${prefix}-${id})`)
    .replace(/href="#([^"]+)"/g, (_m, id: string) => `href="#${prefix}-${id}"`);
}

/**
 * Compiles a Vega-Lite spec and renders it to SVG headlessly.
 *
 * @param idPrefix made part of every element id (see {@link prefixSvgIds})
 * @throws {Error} naming the chart when Vega-Lite or Vega rejects the spec
 */
export async function renderSvg(spec: TopLevelSpec, idPrefix: string): Promise<string> {
  const warnings: string[] = [];
  const logger = {
    level: (_?: number) => logger as never,
    info: () => logger as never,
    debug: () => logger as never,
    warn: (...args: readonly unknown[]) => {
      warnings.push(args.map(String).join(' '));
      return logger as never;
    },
    error: (...args: readonly unknown[]) => {
      throw new Error(`chart ${idPrefix}: ${args.map(String).join(' ')}`);
    },
  };
  let vg;
  try {
    vg = compile(spec, { logger }).spec;
  } catch (err) {
    throw new Error(`chart ${idPrefix}: Vega-Lite could not compile the spec (${(err as Error).message})`);
  }
  if (warnings.length > 0) throw new Error(`chart ${idPrefix}: Vega-Lite warned: ${warnings.join('; ')}`);
  const view = new View(parse(vg), { renderer: 'none' });
  try {
    return prefixSvgIds(await view.toSVG(), idPrefix);
  } finally {
    view.finalize();
  }
}
