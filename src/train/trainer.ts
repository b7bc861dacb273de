/**
 * Trains a method and writes its sample store. All methods run the same loop with the same sampler
 * (SGHMC over the flat parameter buffer); they differ in the learning-rate and temperature
 * schedules and in where weight samples are taken:
 * - `deterministic`, `mcdropout`, each `ensemble` member: T = 0 (SGD with momentum and weight
 *   decay 1/(Nσ²)), cosine or constant learning rate, one sample at the end;
 * - `hmc`: cyclical cosine learning rate, T > 0 in the sampling phase of each cycle, S samples per cycle;
 * - `sgd-trajectory`: the same cycles at T = 0.
 *
 * Output directory: the sample store (`manifest.json`, `sample-*.safetensors`), `run.json` (method,
 * config, data, splits: what `--resume` needs), `train.jsonl` (one JSON line per step) and
 * `checkpoints/member-M/`. A run interrupted (signal, kill -9) resumes from its last checkpoint; in
 * deterministic mode the result is bit-identical to an uninterrupted run.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { cosine, constant, cycleLayout, cyclicalCosine, cyclicalTemperature, type CycleLayout } from '../bayes/schedules.js';
import { sghmc, type SGHMC, type SGHMCState } from '../bayes/sghmc.js';
import { chain, clipByGlobalNorm } from '../bayes/transforms.js';
import type { Method } from '../bayes/methods.js';
import {
  addSample,
  completeSampleStore,
  createSampleStore,
  openSampleStore,
  filterSamples,
  type SampleStore,
} from '../bayes/store.js';
import { openDataset, fingerprint } from '../data/datasets.js';
import { createLoader, type Batch, type BatchLoader, type Sample2D } from '../data/loader.js';
import { augmentConfig } from '../data/augment.js';
import { readSplits, splitCases } from '../data/splits.js';
import { NUM_CLASSES } from '../data/labels.js';
import { manualSeed, setDeterministic, setNumThreads, tensor, tidy, type Tensor } from '../engine/index.js';
import { segmentationLoss } from '../models/loss.js';
import { UNet, type UNetConfig } from '../models/unet.js';
import { writeFileAtomic } from '../util/atomic.js';
import { fromB64, loadCheckpoint, saveCheckpoint, splitCheckpointTensors } from './checkpoint.js';
import { parseTrainConfig, type TrainConfig } from './config.js';
import type { PreprocessConfig } from '../data/preprocess.js';
import { loadTrainingSlices } from './slices.js';

export interface TrainOptions {
  readonly method: Method;
  readonly config: TrainConfig;
  /** Data set directory (ACDC or folder layout). */
  readonly data: string;
  /** Splits file (from `makeSplits`); training uses its `train` patients. */
  readonly splits: string;
  /** Output directory: the sample store and the run's checkpoints. */
  readonly out: string;
  /** Called after every step. */
  readonly onProgress?: (p: TrainProgress) => void;
  /** When aborted, the run writes a checkpoint after the current step and returns `interrupted`. */
  readonly signal?: AbortSignal;
}

export interface TrainProgress {
  readonly member: number;
  readonly members: number;
  readonly step: number;
  readonly steps: number;
  readonly loss: number;
  readonly lr: number;
  readonly temperature: number;
  readonly phase: 'explore' | 'sample';
  readonly samples: number;
  /** Seconds since this process started training. */
  readonly elapsed: number;
  /** Estimated seconds left for the whole run. */
  readonly eta: number;
}

export interface TrainResult {
  readonly store: SampleStore;
  readonly interrupted: boolean;
  /** Training seconds spent in this call (not counting earlier, interrupted calls). */
  readonly seconds: number;
}

/** A NaN or infinite loss, gradient or weight. */
export class DivergenceError extends Error {
  constructor(
    readonly step: number,
    readonly what: string,
    readonly checkpointStep: number | null,
  ) {
    super(
      `training diverged at step ${step}: ${what} is not finite` +
        (checkpointStep === null ? ' (no checkpoint was written yet)' : `; the last good checkpoint (step ${checkpointStep}) is kept`),
    );
    this.name = 'DivergenceError';
  }
}

interface RunFile {
  readonly method: Method;
  readonly config: TrainConfig;
  readonly data: string;
  readonly splits: string;
}

const RUN = 'run.json';

/** The method, config, data and splits of the run in `out` (for `--resume`). */
export function readRunFile(out: string): RunFile {
  const path = join(out, RUN);
  if (!existsSync(path)) throw new Error(`${out}: no ${RUN}; this is not a training output directory`);
  let raw: { method: Method; config: unknown; data: string; splits: string };
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message})`);
  }
  return { method: raw.method, config: parseTrainConfig(raw.config, path), data: raw.data, splits: raw.splits };
}

function configHash(method: Method, config: TrainConfig): string {
  return createHash('sha256').update(JSON.stringify({ method, config })).digest('hex').slice(0, 16);
}

/** The network each method trains. */
export function modelConfig(method: Method, config: TrainConfig, member: number): UNetConfig {
  return {
    inChannels: 1,
    numClasses: NUM_CLASSES,
    depth: config.model.depth,
    baseWidth: config.model.baseWidth,
    norm: config.model.norm,
    dropout: method === 'mcdropout' ? config.mcdropout.rate : config.model.dropout,
    dropoutPlacement: config.model.dropoutPlacement,
    seed: config.seed + 1000 * member,
  };
}

/** The schedules and sample steps of a method over K steps. */
export interface Plan {
  readonly lr: (step: number) => number;
  readonly temperature: (step: number) => number;
  readonly noise: (step: number) => boolean;
  readonly sampleSteps: ReadonlySet<number>;
  readonly phase: (step: number) => 'explore' | 'sample';
  readonly cycle: (step: number) => number;
  readonly layout?: CycleLayout;
}

export function methodPlan(method: Method, config: TrainConfig): Plan {
  const K = config.optim.steps;
  if (method === 'hmc' || method === 'sgd-trajectory') {
    const h = config.hmc;
    const layout = cycleLayout({
      totalSteps: K,
      cycles: h.cycles,
      beta: h.beta,
      samplesPerCycle: h.samplesPerCycle,
      firstSampleCycle: h.sampleFromCycle,
      ...(h.firstCycleFactor !== 1 && h.cycles > 1
        ? { firstCycleLength: Math.round((h.firstCycleFactor * K) / h.cycles) }
        : {}),
    });
    const temperature =
      method === 'hmc'
        ? cyclicalTemperature({ value: h.temperature, layout, rampSteps: h.temperatureRamp })
        : constant(0);
    return {
      lr: cyclicalCosine({ lr0: config.optim.lr, layout }),
      temperature,
      noise: method === 'hmc' ? layout.isSamplingPhase : () => false,
      sampleSteps: new Set(layout.sampleSteps),
      phase: layout.phaseOf,
      cycle: (s) => layout.cyclePosition(s).cycle,
      layout,
    };
  }
  return {
    lr: config.optim.schedule === 'cosine' ? cosine({ init: config.optim.lr, decaySteps: K }) : constant(config.optim.lr),
    temperature: constant(0),
    noise: () => false,
    sampleSteps: new Set([K - 1]),
    phase: () => 'explore',
    cycle: () => 0,
  };
}

/**
 * Trains `method` into `out`. When `out` holds an unfinished run of the same method and config, it
 * resumes from the last checkpoint of each member; a finished one is returned as it is.
 */
export async function train(opts: TrainOptions): Promise<TrainResult> {
  const { method, config } = opts;
  const out = resolve(opts.out);
  const hash = configHash(method, config);
  mkdirSync(out, { recursive: true });
  const runPath = join(out, RUN);
  if (existsSync(runPath)) {
    const prev = readRunFile(out);
    if (prev.method !== method || configHash(prev.method, prev.config) !== hash) {
      throw new Error(`${out}: holds a run with another method or config (${prev.method}); choose another --out`);
    }
  } else {
    writeFileAtomic(runPath, JSON.stringify({ method, config, data: resolve(opts.data), splits: resolve(opts.splits) }, null, 2));
  }

  setNumThreads(config.threads === 0 ? availableParallelism() : config.threads);
  setDeterministic(config.deterministic);
  manualSeed(config.seed);

  const dataset = openDataset(opts.data, { labels: config.data.labels, requireLabels: true });
  const splits = readSplits(opts.splits);
  const fp = fingerprint(dataset);
  if (splits.datasetFingerprint !== fp) {
    throw new Error(`${opts.splits}: these splits were made for another data set than ${opts.data} (fingerprints differ)`);
  }
  const pre: PreprocessConfig = { size: config.data.size, targetSpacing: config.data.targetSpacing };
  const samples = loadTrainingSlices(dataset, splitCases(dataset, splits, 'train'), pre);
  if (samples.length === 0) throw new Error(`${opts.splits}: the training split has no slices`);

  const members = method === 'ensemble' ? config.ensemble.members : 1;
  let store: SampleStore = existsSync(join(out, 'manifest.json'))
    ? openSampleStore(out)
    : createSampleStore(out, {
        method,
        model: { ...modelConfig(method, config, 0) },
        preprocess: { ...pre },
        training: { configHash: hash, ...config },
        passesPerSample: method === 'mcdropout' ? config.mcdropout.passes : 1,
        data: {
          dir: resolve(opts.data),
          fingerprint: fp,
          splitsFingerprint: createHash('sha256').update(readFileSync(opts.splits)).digest('hex'),
          numTrainSlices: samples.length,
        },
      });
  if (store.manifest.complete) return { store, interrupted: false, seconds: 0 };

  const plan = methodPlan(method, config);
  const started = performance.now();
  const log = (line: object) => appendFileSync(join(out, 'train.jsonl'), `${JSON.stringify(line)}\n`);
  const K = config.optim.steps;
  for (let m = 0; m < members; m++) {
    const run = await trainMember({ ...opts, out }, m, members, samples, plan, hash, store, log, started, K);
    store = run.store;
    if (run.interrupted) return { store, interrupted: true, seconds: (performance.now() - started) / 1000 };
  }
  store = completeSampleStore(store);
  return { store, interrupted: false, seconds: (performance.now() - started) / 1000 };
}

const MAX_ROLLBACKS = 3;

async function trainMember(
  opts: TrainOptions,
  member: number,
  members: number,
  samples: readonly Sample2D[],
  plan: Plan,
  hash: string,
  storeIn: SampleStore,
  log: (line: object) => void,
  started: number,
  K: number,
): Promise<{ store: SampleStore; interrupted: boolean }> {
  const { method, config } = opts;
  let store = storeIn;
  const memberSamples = () => store.manifest.samples.filter((s) => s.member === member);
  const expected = plan.sampleSteps.size;
  if (memberSamples().length >= expected) return { store, interrupted: false };

  const ckptDir = join(opts.out, 'checkpoints', `member-${member}`);
  // On divergence with `onDivergence: 'rollback'`: back to the last checkpoint with η halved.
  for (let rollbacks = 0, factor = 1; ; rollbacks++, factor /= 2) {
    try {
      return await runMember(factor);
    } catch (err) {
      if (!(err instanceof DivergenceError) || config.optim.onDivergence !== 'rollback' || rollbacks >= MAX_ROLLBACKS) throw err;
      log({ event: 'divergence', member, step: err.step, what: err.what, rollback: rollbacks + 1, lrFactor: factor / 2 });
    }
  }

  async function runMember(lrFactor: number): Promise<{ store: SampleStore; interrupted: boolean }> {
    const model = new UNet(modelConfig(method, config, member));
    const sizeN = samples.length;
    let loader: BatchLoader | undefined;
    let sampler: SGHMC | undefined;
    let state: SGHMCState | undefined;
    try {
      const ckpt = loadCheckpoint(ckptDir);
      if (ckpt && ckpt.meta.configHash !== hash) throw new Error(`${ckptDir}: checkpoint of another config`);
      // The factor of earlier roll-backs is kept in the checkpoint.
      const lrScale = (ckpt?.meta.lrScale ?? 1) * lrFactor;
      const base = sghmc({
        lr: (s) => lrScale * plan.lr(s),
        momentum: config.optim.momentum,
        temperature: plan.temperature,
        numData: sizeN,
        priorStd: config.optim.priorStd,
        noise: plan.noise,
      });
      sampler = config.optim.clipNorm > 0 ? chain(base, clipByGlobalNorm(config.optim.clipNorm)) : base;
      let start = 0;
      if (ckpt) {
        const { model: modelState, momentum } = splitCheckpointTensors(ckpt.tensors);
        model.loadState(modelState);
        model.generator.setState(fromB64(ckpt.meta.modelRng));
        state = sampler.init(model.params.flat, {
          resume: {
            step: ckpt.meta.step,
            momentum: momentum.toArray() as Float32Array,
            shape: momentum.shape,
            rngState: fromB64(ckpt.meta.samplerRng),
          },
        });
        for (const t of Object.values(ckpt.tensors)) t.dispose();
        start = ckpt.meta.step;
        store = dropSamplesAfter(store, member, start);
      } else {
        state = sampler.init(model.params.flat, { seed: config.seed + 7919 * (member + 1) });
        store = dropSamplesAfter(store, member, 0);
      }
      const augment = config.data.augment === 0 ? null : augmentConfig({ strength: config.data.augment });
      loader = createLoader(samples, {
        nx: config.data.size,
        ny: config.data.size,
        batchSize: Math.min(config.data.batchSize, samples.length),
        seed: config.seed + 104729 * member,
        augment,
        workers: config.data.workers,
        start: ckpt?.meta.loader,
      });
      const bnInputs = await batchNormInputs(samples, config);
      let lastCheckpoint: number | null = ckpt ? ckpt.meta.step : null;
      const checkpoint = (stepsDone: number) => {
        const modelState = model.state();
        const sc = (sampler as SGHMC).checkpoint(state as SGHMCState);
        try {
          saveCheckpoint(ckptDir, {
            member,
            step: stepsDone,
            loader: (loader as BatchLoader).state(),
            samplerRng: sc.rngState,
            modelRng: model.generator.getState(),
            lrScale,
            configHash: hash,
            modelState,
            momentum: { data: sc.momentum, shape: sc.shape },
          });
        } finally {
          for (const t of Object.values(modelState)) t.dispose();
        }
        lastCheckpoint = stepsDone;
      };

      model.train();
      if (method === 'mcdropout') model.setDropoutActive(true);
      const flatGrad = model.params.flatGrad;
      const memberStart = performance.now();
      for (let step = start; step < K; step++) {
        // Let the event loop run (signals, I/O): an inline loader resolves in microtasks only.
        await new Promise((r) => setImmediate(r));
        const batch = await loader.next();
        model.params.zeroGrad();
        const loss = tidy(() => {
          const x = tensor(batch.images, batch.imageShape);
          const y = tensor(batch.labels, batch.labelShape, { dtype: 'uint8' }).to('int64');
          const labelled = tensor(batch.labelled, batch.labelledShape, { dtype: 'uint8' });
          const l = segmentationLoss(model.forward(x), y, {
            labelled,
            ceWeight: config.loss.ce,
            diceWeight: config.loss.dice,
          });
          l.backward();
          return l.item();
        });
        const fail = (what: string): never => {
          throw new DivergenceError(step, what, lastCheckpoint);
        };
        if (!Number.isFinite(loss)) fail('the loss');
        if (!flatGrad.allFinite()) fail('the gradient');
        state = sampler.update(state, flatGrad);
        if (!model.params.flat.allFinite()) fail('a weight');

        const info = sampler.stepInfo(step);
        if (plan.sampleSteps.has(step)) {
          const weights = bnInputs.length > 0 ? recomputedState(model, bnInputs) : model.state();
          try {
            store = addSample(store, weights, {
              step,
              cycle: plan.cycle(step),
              member,
              lr: info.lr,
              temperature: info.temperature,
              loss,
            });
          } finally {
            for (const t of Object.values(weights)) t.dispose();
          }
        }
        const done = step + 1;
        const stop = opts.signal?.aborted === true;
        if (done % config.checkpointEvery === 0 || stop || done === K) checkpoint(done);

        const elapsed = (performance.now() - started) / 1000;
        const perStep = (performance.now() - memberStart) / 1000 / (done - start);
        const left = K - done + (members - member - 1) * K;
        const progress: TrainProgress = {
          member,
          members,
          step: done,
          steps: K,
          loss,
          lr: info.lr,
          temperature: info.temperature,
          phase: plan.phase(step),
          samples: store.manifest.samples.length,
          elapsed,
          eta: perStep * left,
        };
        log({ ...progress, epoch: batch.epoch });
        opts.onProgress?.(progress);
        if (stop && done < K) return { store, interrupted: true };
      }
      return { store, interrupted: false };
    } finally {
      await loader?.close();
      if (sampler && state) sampler.dispose(state);
      model.dispose();
    }
  }
}

/** Seed offset of the fixed batches that BatchNorm statistics are recomputed on. */
const BN_SEED = 524287;

/** The `config.bnBatches` fixed batches of un-augmented training slices (none when off or without BatchNorm). */
async function batchNormInputs(samples: readonly Sample2D[], config: TrainConfig): Promise<Batch[]> {
  const count = config.bnBatches ?? 0;
  if (count === 0 || config.model.norm !== 'batch') return [];
  const loader = createLoader(samples, {
    nx: config.data.size,
    ny: config.data.size,
    batchSize: Math.min(config.data.batchSize, samples.length),
    seed: config.seed + BN_SEED,
    augment: null,
    workers: 0,
  });
  try {
    const out: Batch[] = [];
    for (let i = 0; i < count; i++) out.push(await loader.next());
    return out;
  } finally {
    await loader.close();
  }
}

/**
 * A copy of the model's state with BatchNorm statistics recomputed on `inputs`; the model itself
 * keeps its running statistics, so training goes on as it would without recomputation.
 */
function recomputedState(model: UNet, inputs: readonly Batch[]): Record<string, Tensor> {
  const training = model.state();
  try {
    tidy(() => model.recomputeBatchNorm(inputs.map((b) => tensor(b.images, b.imageShape))));
    return model.state();
  } finally {
    model.loadState(training);
    for (const t of Object.values(training)) t.dispose();
  }
}

/** Keeps the samples of other members, and this member's taken before `stepsDone` updates. */
function dropSamplesAfter(store: SampleStore, member: number, stepsDone: number): SampleStore {
  return filterSamples(store, (s) => s.member !== member || s.step < stepsDone);
}
