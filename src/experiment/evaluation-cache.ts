/**
 * The evaluation cache: predicts with a store on a domain, evaluates every case, and saves the
 * cases and their summary as `evaluations/METHOD__DOMAIN.json` (or a study's file). A saved file is
 * used again while it was made from the same store (a hash of its manifest) and holds everything
 * the current summary holds; otherwise the store is evaluated again.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';
import { loadCase, openDataset, spacingIsKnown, splitCases, type CaseRef, type Dataset, type Splits } from '../data/index.js';
import { evaluateCase, STRUCTURES, summarize, type CaseEvaluation, type EvaluationSummary } from '../evaluate/index.js';
import { PREDICTION_VERSION, Predictor } from '../predict/index.js';
import { SCORE_NAMES } from '../uncertainty/index.js';
import { writeFileAtomic } from '../util/atomic.js';
import { parseJson, readJsonFile } from '../util/json.js';
import { jsonText, type Context } from './context.js';
import { collectExamples, type ExampleSlice } from './examples.js';
import type { DomainSpec } from './results.js';

const count = z.number().int().nonnegative();
const NAN_REASONS = ['both-empty', 'unlabelled', 'missing', 'single-class', 'no-positives', 'constant-input', 'empty-input'] as const;
const Metric = z.object({ value: z.number().nullable(), reason: z.enum(NAN_REASONS).optional() });
const Stat = z.object({
  mean: z.number().nullable(),
  std: z.number().nullable(),
  n: count,
  nan: count,
  nanByReason: z.partialRecord(z.enum([...NAN_REASONS, 'unknown']), count),
});
const Structure = z.object({ dice: Stat, hd95: Stat, assd: Stat });
const Cohort = z.object({
  cases: count,
  structures: z.object(Object.fromEntries(STRUCTURES.map((s) => [s, Structure])) as Record<(typeof STRUCTURES)[number], typeof Structure>),
  meanDice: Stat,
});
const Pooled = z.object({ pixels: z.number().nonnegative(), ece: Metric, mce: Metric, nll: Metric, brier: Metric });
const MapError = z.object({ cases: count, auroc: Stat, aupr: Stat, aurc: Stat, eAurc: Stat, bestOverlapDice: Stat });
const Failure = z.object({
  n: count,
  excluded: count,
  unscored: count,
  threshold: z.number(),
  failures: count,
  auroc: Metric,
  spearman: Metric,
  riskCoverage: z.object({ coverage: z.array(z.number()), risk: z.array(z.number()) }),
  aurc: Metric,
  eAurc: Metric,
  diceRiskCoverage: z.object({ coverage: z.array(z.number()), risk: z.array(z.number()) }),
});

/** An {@link EvaluationSummary} as saved (keys in the order `summarize` writes them). */
const SummarySchema = z.object({
  cases: count,
  unit: z.enum(['mm', 'px']),
  failureThreshold: z.number(),
  all: Cohort,
  byPhase: z.record(z.string(), Cohort).optional(),
  byGroup: z.record(z.string(), Cohort).optional(),
  calibration: z.object({ cases: count, eceBins: z.number().int().positive(), all: Pooled, roi: Pooled }).optional(),
  uncertainty: z.object({ entropy: MapError.optional(), mutualInformation: MapError.optional() }).optional(),
  failure: z.object({
    slice: Failure,
    volume: Failure,
    scores: z.partialRecord(z.enum(SCORE_NAMES), z.object({ slice: Failure, volume: Failure })).optional(),
  }),
}) satisfies z.ZodType<EvaluationSummary>;

/** The saved file. Cases are checked as far as the report reads them (an id and slices). */
const CachedEvaluationSchema = z.object({
  summary: SummarySchema,
  cases: z.array(z.looseObject({ id: z.string(), slices: z.array(z.looseObject({ z: count })) })),
  msPerSlice: z.number().nonnegative(),
  samples: z.number().int().positive(),
  passes: z.number().int().positive(),
  store: z.string(),
  prediction: z.number().int().positive().optional(),
}) satisfies z.ZodType<CachedEvaluation>;

/** What every saved evaluation holds, however old: which store it was made from. */
const SavedHeader = z.looseObject({
  store: z.string(),
  passes: z.number().optional(),
  prediction: z.number().optional(),
  summary: z.looseObject({ failure: z.looseObject({ slice: z.looseObject({}) }) }),
});

/** An evaluation file (`evaluations/METHOD__DOMAIN.json`, a study's `…-val.json`). */
export interface CachedEvaluation {
  readonly summary: EvaluationSummary;
  /** {@link CaseEvaluation}s; read back, checked as far as the report reads them. */
  readonly cases: readonly { readonly id: string; readonly slices: readonly object[] }[];
  readonly msPerSlice: number;
  readonly samples: number;
  readonly passes: number;
  /** The evaluated store: a hash of its manifest (a retrained store invalidates the file). */
  readonly store: string;
  /** {@link PREDICTION_VERSION} of the prediction (absent: 1). */
  readonly prediction?: number;
}

const WHAT = 'saved evaluation';

const storeIdentity = (dir: string) => createHash('sha256').update(readFileSync(join(dir, 'manifest.json'))).digest('hex').slice(0, 16);

function domainCases(dataset: Dataset, domain: DomainSpec, splits: Splits): readonly CaseRef[] {
  return domain.part === 'all' ? dataset.cases : splitCases(dataset, splits, domain.part);
}

/** The saved evaluation at `path` if it was made from `store` by this version's prediction (where it differs) and summary. */
function readCached(ctx: Context, path: string, store: string): CachedEvaluation | undefined {
  const raw = readJsonFile(path, z.unknown(), WHAT);
  const head = parseJson(raw, SavedHeader, WHAT, path);
  if (head.store !== store) ctx.log(`evaluate: ${path} was made from another store; evaluating again`);
  else if ((head.passes ?? 1) > 1 && (head.prediction ?? 1) !== PREDICTION_VERSION) {
    ctx.log(`evaluate: ${path} was predicted with fresh dropout masks per slice (made by an older hmcseg); evaluating again`);
  } else if (!('riskCoverage' in head.summary.failure.slice) || !('aurc' in head.summary.failure.slice)) {
    ctx.log(`evaluate: ${path} has no slice risk–coverage curve or failure AURC (made by an older hmcseg); evaluating again`);
  } else return parseJson(raw, CachedEvaluationSchema, WHAT, path);
  return undefined;
}

/** Predicts and evaluates a store on a domain, unless a saved evaluation of this store is at `path`. */
export function evaluateCached(
  ctx: Context,
  storeDir: string,
  domain: DomainSpec,
  splits: Splits,
  path: string,
  opts: { samples?: number; examplesPath?: string },
): CachedEvaluation {
  const store = storeIdentity(storeDir);
  const cached = existsSync(path) ? readCached(ctx, path, store) : undefined;
  if (cached) return cached;
  ctx.log(`evaluate: ${storeDir.split('/').slice(-2).join('/')} on ${domain.name}${opts.samples ? ` (last ${opts.samples} samples)` : ''}`);
  const dataset = openDataset(domain.dir, { labels: domain.labels, requireLabels: true });
  const predictor = new Predictor(storeDir, { samples: opts.samples, device: ctx.device });
  const cases: CaseEvaluation[] = [];
  const exampleCandidates: ExampleSlice[][] = [];
  let slices = 0;
  let ms = 0;
  try {
    for (const ref of domainCases(dataset, domain, splits)) {
      const c = loadCase(dataset, ref);
      const t0 = performance.now();
      const p = predictor.predict(c.image, ref.image);
      ms += performance.now() - t0;
      slices += c.image.dims[2];
      const ev = evaluateCase({
        id: c.id,
        patient: c.patient,
        phase: c.phase,
        group: c.group,
        dims: c.image.dims,
        spacing: c.image.spacing,
        spacingKnown: spacingIsKnown(c.image.spacing),
        target: (c.labels as NonNullable<typeof c.labels>).data,
        labelled: c.labelled,
        segmentation: p.segmentation,
        probabilities: p.probabilities,
        entropy: p.entropy,
        mutualInformation: p.mutualInformation,
        sliceScores: p.slices,
        volumeScore: p.volume.score,
        volumeScores: p.volume,
      });
      cases.push(ev);
      if (opts.examplesPath) exampleCandidates.push(collectExamples(c, p, ev));
    }
  } finally {
    predictor.dispose();
  }
  if (cases.length === 0) throw new Error(`${domain.dir}: no cases to evaluate in ${domain.name}`);
  const result = {
    summary: summarize(cases),
    cases,
    msPerSlice: ms / slices,
    samples: predictor.sampleCount,
    passes: predictor.passes,
    store,
    prediction: PREDICTION_VERSION,
  };
  if (opts.examplesPath) writeFileAtomic(opts.examplesPath, jsonText(pickExamples(exampleCandidates.flat())));
  writeFileAtomic(path, jsonText(result));
  return result;
}

/** The most uncertain failures and the most confident correct slices (two of each). */
function pickExamples(all: ExampleSlice[]): ExampleSlice[] {
  const failures = all.filter((e) => e.kind === 'failure').sort((a, b) => b.score - a.score).slice(0, 2);
  const correct = all.filter((e) => e.kind === 'correct').sort((a, b) => a.score - b.score).slice(0, 2);
  return [...correct, ...failures];
}
