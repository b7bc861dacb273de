/**
 * The comparison: train every method on the same training split and augmentation, evaluate each on
 * the in-domain test split and on every out-of-domain set, run the studies on the validation split,
 * and save the results as JSON (the report renders them; it never recomputes).
 *
 * Output directory:
 *   experiment.json            preset, config, data and its fingerprint, the domains
 *   data/                      generated phantom data sets
 *   splits.json                patient splits of the training data set
 *   models/METHOD/             sample stores (resumable) and timing.json
 *   evaluations/METHOD__DOMAIN.json   per-case evaluations and the summary
 *   evaluations/METHOD__validation.json   the validation split's, where the warning score is chosen
 *   examples/METHOD__DOMAIN.json      example slices for the report
 *   studies/STUDY/RUN/         the studies' sample stores
 *   results.json               everything the report needs
 *
 * Rerunning the same command skips what is complete and resumes what is not.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join, resolve } from 'node:path';
import * as z from 'zod';
import { METHODS } from '../bayes/methods.js';
import { fingerprint, makeSplits, openDataset, readSplits, splitCases, writePhantomDataset, writeSplits } from '../data/index.js';
import { checkDevice } from '../engine/device.js';
import { chooseWarningScore, WARNING_SCORE_RULE, type WarningScoreChoice } from '../evaluate/index.js';
import { DEFAULT_WARNING_SCORE } from '../uncertainty/index.js';
import { parseTrainConfig, type TrainConfig, type TrainConfigInput } from '../train/config.js';
import type { TrainProgress } from '../train/trainer.js';
import { writeFileAtomic } from '../util/atomic.js';
import { readJsonFile } from '../util/json.js';
import { checkStop, deepMerge, jsonText, trainTimed, type Context, type Entry } from './context.js';
import { evaluateCached } from './evaluation-cache.js';
import { PRESETS, type Preset, type StudyName } from './presets.js';
import type { DomainSpec, ExperimentResults, ResultRow } from './results.js';
import { runStudies } from './studies.js';

export interface ExperimentOptions {
  readonly preset: Preset['name'];
  readonly out: string;
  /** Training data set (dataset presets): an ACDC-layout directory. */
  readonly data?: string;
  /** Folder holding the real out-of-domain sets named by the preset (default: the parent of `data`). */
  readonly dataRoot?: string;
  /** Out-of-domain sets replacing the preset's real ones. */
  readonly ood?: readonly { name: string; dir: string; labels: string }[];
  /** Studies to run (default: the preset's). */
  readonly studies?: readonly StudyName[];
  /** Override K, the steps per network (e.g. a quick check). */
  readonly steps?: number;
  /** Fields of the training config to override (merged over the preset's). */
  readonly config?: TrainConfigInput;
  readonly seed?: number;
  readonly log?: (message: string) => void;
  readonly onTrainProgress?: (label: string, p: TrainProgress) => void;
  readonly signal?: AbortSignal;
  /** Where training and prediction run: 'cpu' (default), 'cuda' or 'cuda:N'. Resuming on another device is allowed. */
  readonly device?: string;
}

/** `experiment.json`: what makes an output directory this experiment's. */
const IdentitySchema = z.strictObject({
  preset: z.string(),
  config: z.record(z.string(), z.unknown()),
  trainData: z.string(),
  fingerprint: z.string(),
  domains: z.array(
    z.strictObject({ name: z.string(), dir: z.string(), labels: z.string(), part: z.string(), kind: z.enum(['in-domain', 'out-of-domain']) }),
  ),
});

/** The preset's training config with the experiment's overrides. */
function experimentConfig(preset: Preset, opts: Pick<ExperimentOptions, 'steps' | 'seed' | 'config'>): TrainConfig {
  let input: TrainConfigInput = opts.config ? deepMerge(preset.config, opts.config) : preset.config;
  if (opts.steps !== undefined) input = deepMerge(input, { optim: { steps: opts.steps }, checkpointEvery: Math.max(1, Math.ceil(opts.steps / 4)) });
  if (opts.seed !== undefined) input = deepMerge(input, { seed: opts.seed });
  return parseTrainConfig(input, `preset ${preset.name}`);
}

function preparePhantom(dir: string, contrast: 'ssfp' | 't1map' | 't2map', spec: { cases: number; size: number; seed: number }): void {
  if (existsSync(join(dir, 'dataset.json'))) return;
  writePhantomDataset({ out: dir, cases: spec.cases, contrast, seed: spec.seed, size: spec.size });
}

/**
 * Runs (or resumes) the experiment, writes `results.json` and returns the results.
 *
 * @throws {InterruptedError} when `signal` aborts (what is complete is kept; rerun to resume)
 * @throws {Error} naming the directory when `out` holds another experiment
 */
export async function runExperiment(opts: ExperimentOptions): Promise<ExperimentResults> {
  const preset = PRESETS[opts.preset];
  if (!preset) throw new RangeError(`experiment: unknown preset '${String(opts.preset)}'; expected demo, cpu or full`);
  checkDevice(opts.device ?? 'cpu', 'experiment');
  const out = resolve(opts.out);
  const log = opts.log ?? (() => undefined);
  mkdirSync(out, { recursive: true });
  const config = experimentConfig(preset, opts);

  // Data
  let trainData: string;
  if (preset.train.kind === 'phantom') {
    trainData = join(out, 'data', 'train-ssfp');
    log(`data: phantom training set in ${trainData}`);
    preparePhantom(trainData, 'ssfp', preset.train.phantom);
  } else {
    if (!opts.data) throw new Error(`experiment: preset ${preset.name} needs --data (an ACDC-layout directory)`);
    trainData = resolve(opts.data);
  }
  const dataset = openDataset(trainData, { labels: config.data.labels, requireLabels: true });
  const splitsPath = join(out, 'splits.json');
  if (!existsSync(splitsPath)) writeSplits(splitsPath, makeSplits(dataset, { seed: config.seed }));
  const splits = readSplits(splitsPath);
  const fp = fingerprint(dataset);
  if (splits.datasetFingerprint !== fp) throw new Error(`${splitsPath}: made for another training data set than ${trainData}`);

  const domains: DomainSpec[] = [{ name: 'in-domain', dir: trainData, labels: config.data.labels, part: 'test', kind: 'in-domain' }];
  for (const d of preset.phantomDomains) {
    const dir = join(out, 'data', d.name);
    preparePhantom(dir, d.contrast, d.spec);
    domains.push({ name: d.name, dir, labels: 'acdc', part: 'all', kind: 'out-of-domain' });
  }
  if (opts.ood) {
    for (const d of opts.ood) domains.push({ name: d.name, dir: resolve(d.dir), labels: d.labels, part: 'all', kind: 'out-of-domain' });
  } else if (preset.train.kind === 'dataset') {
    const root = opts.dataRoot ?? resolve(trainData, '..');
    for (const d of preset.realDomains) {
      const dir = join(root, d.path);
      if (existsSync(dir)) domains.push({ name: d.name, dir, labels: d.labels, part: 'all', kind: 'out-of-domain' });
      else log(`data: ${d.name} not found at ${dir}; skipped (give it with --ood ${d.name}=DIR)`);
    }
  }

  const experimentPath = join(out, 'experiment.json');
  const identity = { preset: preset.name, config, trainData, fingerprint: fp, domains };
  if (existsSync(experimentPath)) {
    const prev = readJsonFile(experimentPath, IdentitySchema, 'experiment identity');
    if (jsonText(prev) !== jsonText(identity)) {
      throw new Error(`${out}: holds an experiment with another preset, config or data; choose another --out`);
    }
  } else {
    writeFileAtomic(experimentPath, jsonText(identity));
  }

  const entries: Entry[] = [
    ...preset.methods.map((method) => ({ name: method as string, method, config })),
    ...preset.variants.map((v) => {
      if ((METHODS as readonly string[]).includes(v.name)) throw new Error(`preset ${preset.name}: variant '${v.name}' takes a method's name`);
      return { name: v.name, method: v.method, config: parseTrainConfig(deepMerge(config, v.config), `preset ${preset.name} variant ${v.name}`) };
    }),
  ];
  const ctx: Context = { out, config, entries, trainData, splitsPath, log, onTrainProgress: opts.onTrainProgress, signal: opts.signal, device: opts.device ?? 'cpu' };
  const rows: ResultRow[] = [];
  const examples: Record<string, string> = {};
  const trainTime = new Map<string, number>();
  for (const e of entries) {
    trainTime.set(e.name, await trainTimed(ctx, e.method, e.config, join(out, 'models', e.name), e.name));
    checkStop(ctx);
  }
  const base = trainTime.get('deterministic');
  // The warning score of each method, chosen on the validation split, never on test.
  const validation: DomainSpec = { name: 'validation', dir: trainData, labels: config.data.labels, part: 'val', kind: 'in-domain' };
  const hasValidation = splitCases(dataset, splits, 'val').length > 0;
  const warningScores: Record<string, WarningScoreChoice & { evaluation?: string }> = {};
  for (const { name: method } of entries) {
    if (!hasValidation) {
      warningScores[method] = { score: DEFAULT_WARNING_SCORE, rule: WARNING_SCORE_RULE, fallback: 'the splits hold no validation case', candidates: [] };
      continue;
    }
    const file = `evaluations/${method}__${validation.name}.json`;
    const ev = evaluateCached(ctx, join(out, 'models', method), validation, splits, join(out, file), {});
    warningScores[method] = { ...chooseWarningScore(ev.summary), evaluation: file };
    log(`warning score of ${method}: ${warningScores[method].score} (chosen on ${validation.name})`);
    checkStop(ctx);
  }
  for (const { name: method } of entries) {
    const warningScore = warningScores[method].score;
    for (const domain of domains) {
      const key = `${method}__${domain.name}`;
      const ev = evaluateCached(ctx, join(out, 'models', method), domain, splits, join(out, 'evaluations', `${key}.json`), {
        examplesPath: join(out, 'examples', `${key}.json`),
      });
      examples[key] = `examples/${key}.json`;
      const t = trainTime.get(method) ?? 0;
      rows.push({
        method,
        domain: domain.name,
        kind: domain.kind,
        summary: ev.summary,
        trainSeconds: t,
        trainRatio: base ? t / base : null,
        predictMsPerSlice: ev.msPerSlice,
        samples: ev.samples,
        passes: ev.passes,
        warningScore,
        ...(ev.summary.failure.scores?.[warningScore] === undefined ? {} : { warningFailure: ev.summary.failure.scores[warningScore] }),
      });
      checkStop(ctx);
    }
  }

  const studies = await runStudies(ctx, preset, opts.studies ?? preset.studies, splits);
  const results: ExperimentResults = {
    version: 1,
    preset: preset.name,
    description: preset.description,
    createdAt: new Date().toISOString(),
    machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: availableParallelism(), node: process.version, device: ctx.device },
    config,
    data: { train: trainData, fingerprint: fp, splits: splitsPath },
    domains,
    rows,
    studies,
    warningScores,
    examples,
  };
  writeFileAtomic(join(out, 'results.json'), jsonText(results));
  return results;
}
