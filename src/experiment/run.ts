/**
 * The comparison: train every method on the same training split and augmentation, evaluate each on
 * the in-domain test split and on every out-of-domain set, run the studies on the validation split,
 * and write the results as JSON and Markdown (the report renders them; it never recomputes).
 *
 * Output directory:
 *   experiment.json            preset, options, seeds, data fingerprints, the exact training config
 *   data/                      generated phantom data sets
 *   splits.json                patient splits of the training data set
 *   models/METHOD/             sample stores (resumable) and timing.json
 *   evaluations/METHOD__DOMAIN.json   per-case evaluations and the summary
 *   examples/METHOD__DOMAIN.json      example slices for the report
 *   studies/STUDY/RUN/         the studies' sample stores
 *   results.json, results.md   everything the report needs
 *
 * Rerunning the same command skips what is complete and resumes what is not.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { METHODS, type Method } from '../bayes/methods.js';
import { openSampleStore } from '../bayes/store.js';
import {
  fingerprint,
  loadCase,
  makeSplits,
  openDataset,
  readSplits,
  spacingIsKnown,
  splitCases,
  writePhantomDataset,
  writeSplits,
  type CaseRef,
  type Dataset,
  type SplitPart,
} from '../data/index.js';
import { evaluateCase, summarize, type CaseEvaluation, type EvaluationSummary } from '../evaluate/index.js';
import { Predictor } from '../predict/index.js';
import { parseTrainConfig, type TrainConfig, type TrainConfigInput } from '../train/config.js';
import { train, type TrainProgress } from '../train/trainer.js';
import { writeFileAtomic } from '../util/atomic.js';
import { collectExamples, type ExampleSlice } from './examples.js';
import { PRESETS, type CycleLayoutSetting, type Preset, type StudyName } from './presets.js';

export interface DomainSpec {
  readonly name: string;
  readonly dir: string;
  readonly labels: string;
  /** A split part of the training data set, or every case. */
  readonly part: SplitPart | 'all';
  readonly kind: 'in-domain' | 'out-of-domain';
}

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
}

/** One row of the results table: a method on a domain. */
export interface ResultRow {
  /** The method, or the name of a preset's variant. */
  readonly method: string;
  readonly domain: string;
  readonly kind: DomainSpec['kind'];
  readonly summary: EvaluationSummary;
  readonly trainSeconds: number;
  readonly trainRatio: number | null;
  readonly predictMsPerSlice: number;
  readonly samples: number;
  readonly passes: number;
}

export interface StudyPoint {
  readonly study: StudyName;
  /** What varied, e.g. { temperature: 0.01, augment: true }. */
  readonly setting: Readonly<Record<string, number | boolean | string>>;
  /** The method, or the name of a preset's variant. */
  readonly method: string;
  readonly domain: string;
  readonly summary: EvaluationSummary;
  readonly trainSeconds: number;
}

export interface ExperimentResults {
  readonly version: 1;
  readonly preset: Preset['name'];
  readonly description: string;
  readonly createdAt: string;
  readonly machine: { readonly cpu: string; readonly cores: number; readonly node: string };
  readonly config: TrainConfig;
  readonly data: { readonly train: string; readonly fingerprint: string; readonly splits: string };
  readonly domains: readonly DomainSpec[];
  readonly rows: readonly ResultRow[];
  readonly studies: readonly StudyPoint[];
  /** Files of example slices per method and domain, relative to the output directory. */
  readonly examples: Readonly<Record<string, string>>;
}

/** A trained store of the comparison: a method, or a preset's variant, under `models/NAME`. */
interface Entry {
  readonly name: string;
  readonly method: Method;
  readonly config: TrainConfig;
}

interface Context {
  readonly out: string;
  readonly config: TrainConfig;
  readonly entries: readonly Entry[];
  readonly trainData: string;
  readonly splitsPath: string;
  readonly log: (m: string) => void;
  readonly opts: ExperimentOptions;
}

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;
const jsonText = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'number' && !Number.isFinite(x) ? null : x), 2);

function deepMerge<T extends object>(base: T, over: object): T {
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' ? deepMerge(b as object, v as object) : v;
  }
  return out as T;
}

/** The preset's training config with the experiment's overrides. */
export function experimentConfig(preset: Preset, opts: Pick<ExperimentOptions, 'steps' | 'seed' | 'config'>): TrainConfig {
  let input: TrainConfigInput = opts.config ? deepMerge(preset.config, opts.config) : preset.config;
  if (opts.steps !== undefined) input = deepMerge(input, { optim: { steps: opts.steps }, checkpointEvery: Math.max(1, Math.ceil(opts.steps / 4)) });
  if (opts.seed !== undefined) input = deepMerge(input, { seed: opts.seed });
  return parseTrainConfig(input, `preset ${preset.name}`);
}

function preparePhantom(dir: string, contrast: 'ssfp' | 't1map' | 't2map', spec: { cases: number; size: number; seed: number }): void {
  if (existsSync(join(dir, 'dataset.json'))) return;
  writePhantomDataset({ out: dir, cases: spec.cases, contrast, seed: spec.seed, size: spec.size });
}

/** Runs (or resumes) the experiment and returns its results. */
export async function runExperiment(opts: ExperimentOptions): Promise<ExperimentResults> {
  const preset = PRESETS[opts.preset];
  if (!preset) throw new RangeError(`experiment: unknown preset '${String(opts.preset)}'; expected demo, cpu or full`);
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
    const prev = readJson<typeof identity>(experimentPath);
    if (jsonText({ ...prev }) !== jsonText(identity)) {
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
  const ctx: Context = { out, config, entries, trainData, splitsPath, log, opts };
  const rows: ResultRow[] = [];
  const examples: Record<string, string> = {};
  const trainTime = new Map<string, number>();
  for (const e of entries) {
    const seconds = await trainTimed(ctx, e.method, e.config, join(out, 'models', e.name), e.name);
    trainTime.set(e.name, seconds);
    if (opts.signal?.aborted) throw new InterruptedError();
  }
  const base = trainTime.get('deterministic');
  for (const { name: method } of entries) {
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
      });
      if (opts.signal?.aborted) throw new InterruptedError();
    }
  }

  const studies = await runStudies(ctx, preset, opts.studies ?? preset.studies, splits);
  const results: ExperimentResults = {
    version: 1,
    preset: preset.name,
    description: preset.description,
    createdAt: new Date().toISOString(),
    machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: availableParallelism(), node: process.version },
    config,
    data: { train: trainData, fingerprint: fp, splits: splitsPath },
    domains,
    rows,
    studies,
    examples,
  };
  writeFileAtomic(join(out, 'results.json'), jsonText(results));
  writeFileAtomic(join(out, 'results.md'), resultsMarkdown(results));
  return results;
}

/** Raised when the run was asked to stop; everything done so far is kept and resumes. */
export class InterruptedError extends Error {
  constructor() {
    super('experiment interrupted; rerun the same command to resume');
    this.name = 'InterruptedError';
  }
}

/** Trains (or resumes) one store; the training seconds of all calls add up in timing.json. */
async function trainTimed(ctx: Context, method: Method, config: TrainConfig, dir: string, label: string): Promise<number> {
  const timingPath = join(dir, 'timing.json');
  const before = existsSync(timingPath) ? readJson<{ seconds: number }>(timingPath).seconds : 0;
  if (existsSync(join(dir, 'manifest.json')) && openSampleStore(dir).manifest.complete) return before;
  ctx.log(`train: ${label}`);
  const r = await train({
    method,
    config,
    data: ctx.trainData,
    splits: ctx.splitsPath,
    out: dir,
    signal: ctx.opts.signal,
    onProgress: ctx.opts.onTrainProgress ? (p) => ctx.opts.onTrainProgress?.(label, p) : undefined,
  });
  const seconds = before + r.seconds;
  writeFileAtomic(timingPath, JSON.stringify({ seconds }));
  if (r.interrupted) throw new InterruptedError();
  return seconds;
}

/** The file `evaluations/METHOD__DOMAIN.json`. */
export interface CachedEvaluation {
  readonly summary: EvaluationSummary;
  readonly cases: readonly CaseEvaluation[];
  readonly msPerSlice: number;
  readonly samples: number;
  readonly passes: number;
  /** The evaluated store: a hash of its manifest (a retrained store invalidates the file). */
  readonly store: string;
}

const storeIdentity = (dir: string) => createHash('sha256').update(readFileSync(join(dir, 'manifest.json'))).digest('hex').slice(0, 16);

function domainCases(dataset: Dataset, domain: DomainSpec, splits: ReturnType<typeof readSplits>): readonly CaseRef[] {
  return domain.part === 'all' ? dataset.cases : splitCases(dataset, splits, domain.part);
}

/** Predicts and evaluates a store on a domain, unless the evaluation file exists and was made from this store. */
function evaluateCached(
  ctx: Context,
  storeDir: string,
  domain: DomainSpec,
  splits: ReturnType<typeof readSplits>,
  path: string,
  opts: { samples?: number; examplesPath?: string },
): CachedEvaluation {
  const store = storeIdentity(storeDir);
  if (existsSync(path)) {
    const cached = readJson<CachedEvaluation>(path);
    if (cached.store === store) return cached;
    ctx.log(`evaluate: ${path} was made from another store; evaluating again`);
  }
  ctx.log(`evaluate: ${storeDir.split('/').slice(-2).join('/')} on ${domain.name}${opts.samples ? ` (last ${opts.samples} samples)` : ''}`);
  const dataset = openDataset(domain.dir, { labels: domain.labels, requireLabels: true });
  const predictor = new Predictor(storeDir, { samples: opts.samples });
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
      });
      cases.push(ev);
      if (opts.examplesPath) exampleCandidates.push(collectExamples(c, p, ev));
    }
  } finally {
    predictor.dispose();
  }
  if (cases.length === 0) throw new Error(`${domain.dir}: no cases to evaluate in ${domain.name}`);
  const result: CachedEvaluation = {
    summary: summarize(cases),
    cases,
    msPerSlice: ms / slices,
    samples: predictor.sampleCount,
    passes: predictor.passes,
    store,
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

async function runStudies(
  ctx: Context,
  preset: Preset,
  names: readonly StudyName[],
  splits: ReturnType<typeof readSplits>,
): Promise<StudyPoint[]> {
  const points: StudyPoint[] = [];
  const val: DomainSpec = { name: 'validation', dir: ctx.trainData, labels: ctx.config.data.labels, part: 'val', kind: 'in-domain' };
  const studyDir = join(ctx.out, 'studies');
  const point = async (study: StudyName, name: string, method: Method, config: TrainConfig, setting: StudyPoint['setting'], row: string = method) => {
    // A study point with the method and config of a store of the comparison reuses that store.
    const same = ctx.entries.find((e) => e.method === method && jsonText(e.config) === jsonText(config));
    const dir = same ? join(ctx.out, 'models', same.name) : join(studyDir, study, name);
    const seconds = await trainTimed(ctx, method, config, dir, `${study} ${name}`);
    // One validation evaluation per reused store, however many studies point at it.
    const evalPath = same ? join(studyDir, 'main', `${same.name}-val.json`) : join(dir, 'evaluation-val.json');
    const ev = evaluateCached(ctx, dir, val, splits, evalPath, {});
    points.push({ study, setting, method: row, domain: val.name, summary: ev.summary, trainSeconds: seconds });
  };
  const c = ctx.config;
  for (const study of names) {
    if (study === 'temperature') {
      for (const augment of [true, false]) {
        const data = { augment: augment ? c.data.augment || 1 : 0 };
        const tag = augment ? 'aug' : 'noaug';
        for (const t of preset.grid.temperatures) {
          const config = parseTrainConfig(deepMerge(c, { hmc: { temperature: t }, data }));
          await point(study, `T${t}-${tag}`, 'hmc', config, { temperature: t, augment });
        }
        // One deterministic network on the same data: what augmentation does without a sampler.
        await point(study, `deterministic-${tag}`, 'deterministic', parseTrainConfig(deepMerge(c, { data })), { augment });
      }
    } else if (study === 'cycles') {
      for (const m of preset.grid.cycles) {
        // Samples from the same fraction of the cycles as the preset's layout.
        const from = Math.floor((c.hmc.sampleFromCycle * m) / c.hmc.cycles);
        await point(study, `M${m}`, 'hmc', parseTrainConfig(deepMerge(c, { hmc: { cycles: m, sampleFromCycle: from } })), { cycles: m });
      }
    } else if (study === 'layout') {
      for (const l of preset.grid.layouts) {
        const config = parseTrainConfig(deepMerge(c, { hmc: l }));
        await point(study, `F${l.firstCycleFactor}-from${l.sampleFromCycle}`, 'hmc', config, { layout: layoutLabel(l), ...l });
      }
    } else if (study === 'batchnorm') {
      for (const n of preset.grid.bnBatches) {
        // 0 leaves the field out: the main comparison's config, whose store is reused.
        const config = parseTrainConfig(deepMerge(c, n > 0 ? { bnBatches: n } : {}));
        await point(study, `bn${n}`, 'hmc', config, { bnBatches: n });
      }
    } else if (study === 'budget') {
      // One network, the reference HMC-CP and every variant (e.g. the library's defaults) at K·f.
      const runs = [
        { name: 'deterministic', method: 'deterministic' as const, config: c },
        { name: 'hmc', method: 'hmc' as const, config: c },
        ...ctx.entries.filter((e) => preset.variants.some((v) => v.name === e.name)),
      ];
      for (const f of preset.grid.budgets) {
        for (const r of runs) {
          const config = parseTrainConfig(deepMerge(r.config, { optim: { steps: c.optim.steps * f }, checkpointEvery: c.checkpointEvery * f }));
          await point(study, `${r.name}-K${config.optim.steps}`, r.method, config, { steps: config.optim.steps }, r.name);
        }
      }
    } else if (study === 'samples') {
      for (const method of ['hmc', 'ensemble'] as const) {
        const dir = join(ctx.out, 'models', method);
        const available = openSampleStore(dir).manifest.samples.length;
        const counts = [...new Set([1, 2, 3, 4, 6, 8, 12, available].filter((k) => k <= available))];
        const seconds = readJson<{ seconds: number }>(join(dir, 'timing.json')).seconds;
        for (const k of counts) {
          const ev = evaluateCached(ctx, dir, val, splits, join(studyDir, 'samples', `${method}-last${k}.json`), { samples: k });
          points.push({ study, setting: { samples: k }, method, domain: val.name, summary: ev.summary, trainSeconds: seconds });
        }
      }
    }
    if (ctx.opts.signal?.aborted) throw new InterruptedError();
  }
  return points;
}

/** A cycle layout in words, e.g. "first ×2, from cycle 2": the first cycle's length relative to the others, the first sampling cycle (1-based). */
export const layoutLabel = (l: CycleLayoutSetting) => `first ×${l.firstCycleFactor}, from cycle ${l.sampleFromCycle + 1}`;

const fmt = (x: number | null | undefined, digits = 3) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits));

/** The results tables as Markdown, one per domain. */
export function resultsMarkdown(r: ExperimentResults): string {
  const lines: string[] = [`# hmcseg experiment: preset ${r.preset}`, '', r.description, ''];
  for (const d of r.domains) {
    const rows = r.rows.filter((x) => x.domain === d.name);
    if (rows.length === 0) continue;
    const unit = rows[0].summary.unit;
    lines.push(`## ${d.name} (${d.kind}, ${rows[0].summary.cases} cases)`, '');
    lines.push(
      `| method | Dice LV | Dice MYO | Dice RV | HD95 (${unit}) | ECE | ECE-ROI | NLL | Brier | px-AUROC (entropy) | slice failure AUROC | Spearman | train s | × det. | ms/slice |`,
      '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    );
    for (const x of rows) {
      const s = x.summary;
      const st = s.all.structures;
      const hd = [st.LV.hd95.mean, st.MYO.hd95.mean, st.RV.hd95.mean].filter((v): v is number => v !== null);
      lines.push(
        `| ${x.method} | ${fmt(st.LV.dice.mean)} | ${fmt(st.MYO.dice.mean)} | ${fmt(st.RV.dice.mean)} | ${fmt(hd.length ? hd.reduce((a, b) => a + b, 0) / hd.length : null, 1)} | ` +
          `${fmt(s.calibration?.all.ece.value ?? null, 4)} | ${fmt(s.calibration?.roi.ece.value ?? null, 4)} | ${fmt(s.calibration?.all.nll.value ?? null, 4)} | ` +
          `${fmt(s.calibration?.all.brier.value ?? null, 4)} | ${fmt(s.uncertainty?.entropy?.auroc.mean ?? null)} | ${fmt(s.failure.slice.auroc.value ?? null)} | ` +
          `${fmt(s.failure.slice.spearman.value ?? null)} | ${fmt(x.trainSeconds, 0)} | ${fmt(x.trainRatio, 2)} | ${fmt(x.predictMsPerSlice, 1)} |`,
      );
    }
    lines.push('');
  }
  if (r.studies.length > 0) {
    lines.push('## Studies (validation split)', '', '| study | setting | method | Dice LV | Dice MYO | Dice RV | ECE-ROI | slice failure AUROC |', '|---|---|---|---|---|---|---|---|');
    for (const p of r.studies) {
      const st = p.summary.all.structures;
      lines.push(
        `| ${p.study} | ${Object.entries(p.setting).map(([k, v]) => `${k}=${v}`).join(', ')} | ${p.method} | ${fmt(st.LV.dice.mean)} | ${fmt(st.MYO.dice.mean)} | ${fmt(st.RV.dice.mean)} | ` +
          `${fmt(p.summary.calibration?.roi.ece.value ?? null, 4)} | ${fmt(p.summary.failure.slice.auroc.value ?? null)} |`,
      );
    }
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
}
