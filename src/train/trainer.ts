/**
 * Trains a method and writes its sample store. Every method runs this loop with the same sampler
 * (SGHMC over the flat parameter buffer, src/bayes/sghmc.ts); what differs — the learning-rate and
 * temperature schedules, the noise gate, where weight samples are taken, the networks — is the
 * method's value ({@link methodFromConfig}, src/bayes/methods.ts), which the loop only consumes.
 *
 * Output directory: the sample store (`manifest.json`, `sample-*.safetensors`), `run.json` (method,
 * config, data, splits: what `--resume` needs; run-file.ts), `train.jsonl` (one JSON line per
 * step; log.ts) and `checkpoints/member-M/` (checkpoint.ts). A run interrupted (signal, kill -9)
 * resumes from its last checkpoint; in deterministic mode the result is bit-identical to an
 * uninterrupted run. A divergence stops the run or rolls it back (rollback.ts).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import {
  addSample,
  chain,
  clipByGlobalNorm,
  completeSampleStore,
  createSampleStore,
  filterSamples,
  openSampleStore,
  sghmc,
  type Method,
  type Phase,
  type SampleStore,
  type SGHMC,
  type SGHMCState,
  type TrainingMethod,
} from '../bayes/index.js';
import { openDataset, fingerprint } from '../data/datasets.js';
import { createLoader, type BatchLoader, type Sample2D } from '../data/loader.js';
import { augmentConfig } from '../data/augment.js';
import { readSplits, splitCases } from '../data/splits.js';
import { manualSeed, setDeterministic, setNumThreads, tensor } from '../engine/index.js';
import { UNet } from '../models/index.js';
import { batchNormInputs, recomputedState } from './batchnorm.js';
import { fromB64, loadCheckpoint, saveCheckpoint, splitCheckpointTensors } from './checkpoint.js';
import { methodFromConfig, type TrainConfig } from './config.js';
import { trainLog, truncateTrainLog, type TrainLogLine } from './log.js';
import { DivergenceError, withRollback } from './rollback.js';
import { openRunFile } from './run-file.js';
import type { PreprocessConfig } from '../data/preprocess.js';
import { loadTrainingSlices, resolvePreprocess } from './slices.js';
import { trainStep, type StepResult } from './step.js';

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
  readonly phase: Phase;
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

/**
 * Trains `method` into `out`. When `out` holds an unfinished run of the same method and config, it
 * resumes from the last checkpoint of each member; a finished one is returned as it is.
 */
export async function train(opts: TrainOptions): Promise<TrainResult> {
  const { config } = opts;
  const out = resolve(opts.out);
  mkdirSync(out, { recursive: true });
  const hash = openRunFile(out, opts);

  setNumThreads(config.threads === 0 ? availableParallelism() : config.threads);
  setDeterministic(config.deterministic);
  manualSeed(config.seed);

  const dataset = openDataset(opts.data, { labels: config.data.labels, requireLabels: true });
  const splits = readSplits(opts.splits);
  const fp = fingerprint(dataset);
  if (splits.datasetFingerprint !== fp) {
    throw new Error(`${opts.splits}: these splits were made for another data set than ${opts.data} (fingerprints differ)`);
  }
  const trainRefs = splitCases(dataset, splits, 'train');
  const existing = existsSync(join(out, 'manifest.json')) ? openSampleStore(out) : undefined;
  // A resumed store keeps the preprocessing it recorded (same config hash, so the same request).
  const pre: PreprocessConfig = existing
    ? (existing.manifest.preprocess as unknown as PreprocessConfig)
    : resolvePreprocess(trainRefs, config.data);
  const samples = loadTrainingSlices(dataset, trainRefs, pre);
  if (samples.length === 0) throw new Error(`${opts.splits}: the training split has no slices`);

  const method = methodFromConfig(opts.method, config);
  let store: SampleStore = existing
    ?? createSampleStore(out, {
        method: opts.method,
        model: { ...method.model(0) },
        preprocess: { ...pre },
        training: { configHash: hash, ...config },
        passesPerSample: method.passesPerSample,
        data: {
          dir: resolve(opts.data),
          fingerprint: fp,
          splitsFingerprint: createHash('sha256').update(readFileSync(opts.splits)).digest('hex'),
          numTrainSlices: samples.length,
        },
      });
  if (store.manifest.complete) return { store, interrupted: false, seconds: 0 };

  const run: Run = { opts: { ...opts, out }, method, samples, hash, log: trainLog(out), started: performance.now() };
  for (let m = 0; m < method.members; m++) {
    const r = await trainMember(run, m, store);
    store = r.store;
    if (r.interrupted) return { store, interrupted: true, seconds: (performance.now() - run.started) / 1000 };
  }
  store = completeSampleStore(store);
  return { store, interrupted: false, seconds: (performance.now() - run.started) / 1000 };
}

/** What every member of a run shares. */
interface Run {
  readonly opts: TrainOptions;
  readonly method: TrainingMethod;
  readonly samples: readonly Sample2D[];
  readonly hash: string;
  readonly log: (line: TrainLogLine) => void;
  /** `performance.now()` when this call started training. */
  readonly started: number;
}

/** Trains member `member` (skipped when its samples are all in the store), with roll-backs on divergence. */
async function trainMember(run: Run, member: number, store: SampleStore): Promise<{ store: SampleStore; interrupted: boolean }> {
  const taken = store.manifest.samples.filter((s) => s.member === member).length;
  if (taken >= run.method.sampleSteps.length) return { store, interrupted: false };
  // The store as the last attempt left it (samples before its last checkpoint stay).
  const held = { store };
  const interrupted = await withRollback(
    (lrScale, first) => runMember(run, member, held, lrScale, first),
    run.opts.config.optim.onDivergence === 'rollback',
    (err, rollbacks, lrScale) =>
      run.log({ event: 'divergence', member, step: err.step, what: err.what, rollback: rollbacks, lrFactor: lrScale }),
  );
  return { store: held.store, interrupted };
}

/**
 * One attempt at member `member`: from its checkpoint (or step 0) to the end, an interruption
 * (returns true) or a divergence (throws), keeping `held.store` up to date. `lrScaleIn` overrides
 * the checkpoint's η scale (after a roll-back); the first attempt of a call cuts the log back to
 * the checkpoint.
 */
async function runMember(
  run: Run,
  member: number,
  held: { store: SampleStore },
  lrScaleIn: number | undefined,
  first: boolean,
): Promise<boolean> {
  const { opts, method, samples, hash } = run;
  const { config } = opts;
  const K = config.optim.steps;
  const ckptDir = join(opts.out, 'checkpoints', `member-${member}`);
  const model = new UNet(method.model(member));
  let loader: BatchLoader | undefined;
  let sampler: SGHMC | undefined;
  let state: SGHMCState | undefined;
  try {
    const ckpt = loadCheckpoint(ckptDir);
    if (ckpt && ckpt.meta.configHash !== hash) throw new Error(`${ckptDir}: checkpoint of another config`);
    // The scale of earlier roll-backs is kept in the checkpoint.
    const lrScale = lrScaleIn ?? ckpt?.meta.lrScale ?? 1;
    const base = sghmc({
      lr: (s) => lrScale * method.lr(s),
      momentum: config.optim.momentum,
      temperature: method.temperature,
      numData: samples.length,
      priorStd: config.optim.priorStd,
      noise: method.noise,
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
    } else {
      state = sampler.init(model.params.flat, { seed: config.seed + 7919 * (member + 1) });
    }
    // Samples taken after the checkpoint are taken again.
    held.store = filterSamples(held.store, (s) => s.member !== member || s.step < start);
    if (first) truncateTrainLog(opts.out, member, start);
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
    const memberStart = performance.now();
    for (let step = start; step < K; step++) {
      // Let the event loop run (signals, I/O): an inline loader resolves in microtasks only.
      await new Promise((r) => setImmediate(r));
      const batch = await loader.next();
      const r: StepResult<SGHMCState> = trainStep({
        model,
        sampler,
        state,
        batch: () => ({
          x: tensor(batch.images, batch.imageShape),
          y: tensor(batch.labels, batch.labelShape, { dtype: 'uint8' }).to('int64'),
          labelled: tensor(batch.labelled, batch.labelledShape, { dtype: 'uint8' }),
        }),
        ceWeight: config.loss.ce,
        diceWeight: config.loss.dice,
      });
      state = r.state;
      if (r.notFinite) throw new DivergenceError(step, r.notFinite, lastCheckpoint, lrScale);
      const loss = r.loss;

      const info = sampler.stepInfo(step);
      if (method.isSampleStep(step)) {
        const weights = bnInputs.length > 0 ? recomputedState(model, bnInputs) : model.state();
        try {
          held.store = addSample(held.store, weights, {
            step,
            cycle: method.cycle(step),
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
      const elapsed = (performance.now() - run.started) / 1000;
      const perStep = (performance.now() - memberStart) / 1000 / (done - start);
      const left = K - done + (method.members - member - 1) * K;
      const progress: TrainProgress = {
        member,
        members: method.members,
        step: done,
        steps: K,
        loss,
        lr: info.lr,
        temperature: info.temperature,
        phase: method.phase(step),
        samples: held.store.manifest.samples.length,
        elapsed,
        eta: perStep * left,
      };
      run.log({ ...progress, epoch: batch.epoch });
      if (done % config.checkpointEvery === 0 || stop || done === K) checkpoint(done);
      opts.onProgress?.(progress);
      if (stop && done < K) return true;
    }
    return false;
  } finally {
    await loader?.close();
    if (sampler && state) sampler.dispose(state);
    model.dispose();
  }
}
