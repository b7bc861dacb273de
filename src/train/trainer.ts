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
 *
 * Given a process group of W > 1 ranks, the run is data-parallel (parallel.ts): every rank takes
 * its shard of each global batch and the gradients are summed, so that it is the one-process run up
 * to float rounding; rank 0 alone writes the store, the checkpoints and the log. The output
 * directory must be visible to every rank (one machine, or a shared file system): every rank reads
 * `run.json`, the manifest and the checkpoints to resume, with any world size.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import {
  addSample,
  chain,
  clipByGlobalNorm,
  completeSampleStore,
  createSampleStore,
  filterSamples,
  loadSample,
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
import { checkDevice, manualSeed, setDeterministic, setNumThreads, type ProcessGroup } from '../engine/index.js';
import { UNet } from '../models/index.js';
import { batchNormInputs, recomputedState } from './batchnorm.js';
import { fromB64, loadCheckpoint, saveCheckpoint, splitCheckpointTensors } from './checkpoint.js';
import { methodFromConfig, type TrainConfig } from './config.js';
import { trainLog, truncateTrainLog, type TrainLogLine } from './log.js';
import { DivergenceError, withRollback } from './rollback.js';
import { allreduceValues, checkSameWeights, reduceStep, shardCounts } from './parallel.js';
import { openRunFile } from './run-file.js';
import type { PreprocessConfig } from '../data/preprocess.js';
import { loadTrainingSlices, resolvePreprocess } from './slices.js';
import { removeStaleTemps } from '../util/atomic.js';
import { batchTensors, trainStep, type StepResult } from './step.js';

export interface TrainOptions {
  readonly method: Method;
  readonly config: TrainConfig;
  /** Data set directory (ACDC or folder layout). */
  readonly data: string;
  /** Splits file (from `makeSplits`); training uses its `train` patients. */
  readonly splits: string;
  /** Output directory: the sample store and the run's checkpoints. */
  readonly out: string;
  /**
   * Where weights, buffers, momenta, noise and batches live: 'cpu' (default), 'cuda' or 'cuda:N'.
   * A runtime option, not part of the run's identity (config hash, run.json, the store): a run
   * resumes on another device, and its store predicts on any.
   */
  readonly device?: string;
  /** Called after every step. */
  readonly onProgress?: (p: TrainProgress) => void;
  /** When aborted, the run writes a checkpoint after the current step and returns `interrupted`. */
  readonly signal?: AbortSignal;
  /**
   * Data-parallel training over this group (every rank calls `train` with the same options); a
   * group of one rank is a plain run. `onProgress` is called on rank 0 only.
   */
  readonly group?: ProcessGroup;
  /**
   * With a group: 'data' (default) splits every batch over the ranks; 'members' trains the
   * ensemble's members on different ranks at once (each rank one member at a time).
   */
  readonly parallel?: 'data' | 'members';
  /** libtorch threads of this process, overriding `config.threads` (not part of the run's config). */
  readonly threads?: number;
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
  checkDevice(opts.device ?? 'cpu', 'train');
  const out = resolve(opts.out);
  const group = opts.group !== undefined && opts.group.worldSize > 1 ? opts.group : undefined;
  const lead = (group?.rank ?? 0) === 0;
  mkdirSync(out, { recursive: true });
  // Rank 0 writes run.json and the manifest; the others read them once it has.
  const hash = lead ? openRunFile(out, opts) : '';

  const threads = opts.threads ?? config.threads;
  setNumThreads(threads === 0 ? availableParallelism() : threads);
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
  const newStore = (dir: string, configHash: string) =>
    createSampleStore(dir, {
      method: opts.method,
      model: { ...method.model(0) },
      preprocess: { ...pre },
      training: { configHash, ...config },
      passesPerSample: method.passesPerSample,
      data: {
        dir: resolve(opts.data),
        fingerprint: fp,
        splitsFingerprint: createHash('sha256').update(readFileSync(opts.splits)).digest('hex'),
        numTrainSlices: samples.length,
      },
    });
  const openStore = (dir: string, configHash: string) =>
    existsSync(join(dir, 'manifest.json')) ? openSampleStore(dir) : newStore(dir, configHash);
  if (lead) {
    removeStaleTemps(out); // of writes a kill cut short
    openStore(out, hash);
  }
  group?.barrier();
  const run: Run = {
    opts: { ...opts, out },
    method,
    samples,
    hash: lead ? hash : openRunFile(out, opts),
    log: lead ? trainLog(out) : () => undefined,
    started: performance.now(),
    group,
    lead,
  };
  let store = openSampleStore(out);
  if (store.manifest.complete) return { store, interrupted: false, seconds: 0 };
  if (group && opts.parallel === 'members') return trainMembersInParallel(run, group, (dir) => openStore(dir, run.hash));
  if (!lead) return trainFollower(run);

  for (let m = 0; m < method.members; m++) {
    const r = await trainMember(run, m, store);
    store = r.store;
    if (r.interrupted) return { store, interrupted: true, seconds: (performance.now() - run.started) / 1000 };
  }
  store = completeSampleStore(store);
  group?.barrier();
  return { store, interrupted: false, seconds: (performance.now() - run.started) / 1000 };
}

/**
 * Parallel members: rank r trains members r, r + W, … each on its own, as a one-member run in
 * `members/member-M/` (its samples, checkpoints and log; written by that rank alone, so no two
 * processes write one file). Once every rank is done, rank 0 assembles the store: every member's
 * samples in member order, as one process writes them one after another (the same seeds, so in
 * deterministic mode the same bits), their log lines into `train.jsonl`; then it removes
 * `members/`. The ranks meet only at the end: a rank that dies is noticed there (the others' members
 * are finished and kept, and `--resume` trains only what is missing, with any world size).
 */
async function trainMembersInParallel(
  run: Run,
  group: ProcessGroup,
  memberStore: (dir: string) => SampleStore,
): Promise<TrainResult> {
  const { out } = run.opts;
  const { members } = run.method;
  if (members < group.worldSize) {
    throw new Error(`parallel members: ${members} member(s) cannot keep ${group.worldSize} ranks busy; use fewer ranks or data-parallel training`);
  }
  const dirOf = (m: number) => join(out, 'members', `member-${m}`);
  let interrupted = false;
  for (let m = group.rank; m < members && !interrupted; m += group.worldSize) {
    mkdirSync(dirOf(m), { recursive: true });
    // Rank 0 alone reports progress (of its members).
    const opts = { ...run.opts, out: dirOf(m), onProgress: run.lead ? run.opts.onProgress : undefined };
    const one: Run = { ...run, opts, log: trainLog(dirOf(m)), group: undefined, lead: true };
    interrupted = (await trainMember(one, m, memberStore(dirOf(m)))).interrupted;
  }
  interrupted = allreduceValues(group, Float64Array.from([interrupted ? 1 : 0]), 'sum')[0] > 0;
  const seconds = () => (performance.now() - run.started) / 1000;
  if (interrupted) return { store: openSampleStore(out), interrupted: true, seconds: seconds() };
  if (run.lead) {
    let store = openSampleStore(out);
    for (let m = 0; m < members; m++) {
      const part = openSampleStore(dirOf(m));
      part.manifest.samples.forEach(({ file: _file, sha256: _sha, ...info }, i) => {
        const weights = loadSample(part, i);
        try {
          store = addSample(store, weights, info);
        } finally {
          for (const t of Object.values(weights)) t.dispose();
        }
      });
      const log = join(dirOf(m), 'train.jsonl');
      if (existsSync(log)) appendFileSync(join(out, 'train.jsonl'), readFileSync(log));
    }
    completeSampleStore(store);
    rmSync(join(out, 'members'), { recursive: true, force: true });
  }
  group.barrier();
  return { store: openSampleStore(out), interrupted: false, seconds: seconds() };
}

/**
 * A rank other than 0 of a data-parallel run: the same members and steps, writing nothing; returns
 * the store as rank 0 leaves it (read after the last barrier).
 */
async function trainFollower(run: Run): Promise<TrainResult> {
  const store = openSampleStore(run.opts.out);
  for (let m = 0; m < run.method.members; m++) {
    const r = await trainMember(run, m, store);
    if (r.interrupted) return { store: openSampleStore(run.opts.out), interrupted: true, seconds: (performance.now() - run.started) / 1000 };
  }
  run.group?.barrier();
  return { store: openSampleStore(run.opts.out), interrupted: false, seconds: (performance.now() - run.started) / 1000 };
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
  /** The data-parallel group (absent for one process). */
  readonly group?: ProcessGroup;
  /** Rank 0 (or the only process): writes the store, the checkpoints and the log. */
  readonly lead: boolean;
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
  const { opts, method, samples, hash, group, lead } = run;
  const { config } = opts;
  const K = config.optim.steps;
  const ckptDir = join(opts.out, 'checkpoints', `member-${member}`);
  const device = opts.device ?? 'cpu';
  const model = new UNet(method.model(member), { device });
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
    if (group) {
      // The same seeds give every rank the same weights; the broadcast makes sure, the check proves it.
      group.broadcast(model.params.flat, 0);
      checkSameWeights(group, model, start);
    }
    if (lead) {
      // Samples taken after the checkpoint are taken again.
      held.store = filterSamples(held.store, (s) => s.member !== member || s.step < start);
      if (first) truncateTrainLog(opts.out, member, start);
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
      ...(group && { shard: { rank: group.rank, worldSize: group.worldSize } }),
    });
    const bnInputs = lead ? await batchNormInputs(samples, config) : [];
    let lastCheckpoint: number | null = ckpt ? ckpt.meta.step : null;
    const checkpoint = (stepsDone: number) => {
      if (group) checkSameWeights(group, model, stepsDone);
      lastCheckpoint = stepsDone;
      if (!lead) return;
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
    };

    model.train();
    const memberStart = performance.now();
    for (let step = start; step < K; step++) {
      // Let the event loop run (signals, I/O): an inline loader resolves in microtasks only.
      await new Promise((r) => setImmediate(r));
      const batch = await loader.next();
      // Data-parallel, the ranks agree on stopping in the step's reduction.
      let stop = opts.signal?.aborted === true;
      const r: StepResult<SGHMCState> = trainStep({
        model,
        sampler,
        state,
        batch: () => batchTensors(batch, device),
        ceWeight: config.loss.ce,
        diceWeight: config.loss.dice,
        ...(group && {
          shardOf: shardCounts(batch),
          reduce: (flatGrad, local) => {
            const g = reduceStep(group, model, flatGrad, local, stop);
            stop = g.stop;
            return g.loss;
          },
        }),
      });
      state = r.state;
      if (r.notFinite) throw new DivergenceError(step, r.notFinite, lastCheckpoint, lrScale);
      const loss = r.loss;

      const info = sampler.stepInfo(step);
      if (lead && method.isSampleStep(step)) {
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
      if (lead) opts.onProgress?.(progress);
      if (stop && done < K) return true;
    }
    return false;
  } finally {
    await loader?.close();
    if (sampler && state) sampler.dispose(state);
    model.dispose();
  }
}
