/**
 * A seeded, resumable batch loader for preprocessed 2-D samples, with augmentation done ahead of
 * the training loop in `worker_threads`.
 *
 * Determinism: the sample order of epoch e is a shuffle seeded by (seed, e), and the sample at
 * position p of that order is augmented with a generator seeded by (seed, e, p). Nothing depends
 * on the number of workers, on timing or on prefetch depth, so `workers: 0` (inline) and any number
 * of workers give bit-identical batches, and a loader built from {@link BatchLoader.state} continues
 * exactly where the old one stopped.
 *
 * Samples larger than the batch's `nx × ny` (whole slices, for networks that predict by sliding
 * windows) give a random `nx × ny` window each time they are drawn, placed by a second generator
 * seeded from the same (seed, e, p), before augmentation: as deterministic and resumable as the
 * rest. Samples of exactly `nx × ny` are used whole, as before.
 *
 * Workers and TypeScript sources: a worker thread runs plain JavaScript, so it needs the compiled
 * `loader-worker.js`. From a build (`tsc -p tsconfig.build.json`, output in `dist/src/data/`) the
 * loader finds it next to itself. When running from `.ts` sources (vitest, or any TS runner) that
 * file does not exist; the loader then refuses to start workers with a clear error, and callers
 * either use `workers: 0` or pass `workerUrl` to a compiled copy (the tests transpile
 * `loader-worker.ts` and its imports with the TypeScript compiler into a temporary folder and pass
 * that, so the worker path runs the same source the inline path does).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Rng } from '../util/rng.js';
import { DEFAULT_AUGMENT, validateAugmentConfig, type AugmentConfig } from './augment.js';
import {
  buildBatch,
  LOADER_PROTOCOL,
  SampleError,
  type BatchJob,
  type SampleStore,
  type WorkerInit,
  type WorkerReply,
} from './loader-worker.js';

/** One preprocessed 2-D training sample. */
export interface Sample2D {
  /**
   * The sample's grid, at least the loader's `nx × ny` (default: exactly that). Larger samples
   * give a random window of the loader's size each time they are drawn.
   */
  readonly nx?: number;
  readonly ny?: number;
  /** `nx * ny` values, x fastest. */
  readonly image: Float32Array;
  /** `nx * ny` project classes. */
  readonly labels: Uint8Array;
  /** `labelled[c]`: whether the source labels class c (e.g. EMIDEC does not label the RV). */
  readonly labelled: readonly boolean[];
  /** Names the sample in errors (e.g. "patient001 frame01 z=3"). */
  readonly id?: string;
}

/** Where a loader stands: the next batch starts at `position` of epoch `epoch`'s order. */
export interface LoaderState {
  readonly epoch: number;
  readonly position: number;
}

/** Options of {@link createLoader}. */
export interface LoaderOptions {
  /** Batch slice size (samples are this size or larger, see {@link Sample2D.nx}). */
  readonly nx: number;
  readonly ny: number;
  readonly batchSize: number;
  /** Number of classes C (the length of every `labelled` mask). Default 4. */
  readonly numClasses?: number;
  /** Seed of the order and the augmentation. Default 0. */
  readonly seed?: number;
  /** Shuffle each epoch (default true); false keeps the sample order. */
  readonly shuffle?: boolean;
  /** Augmentation config, or null for none. Default {@link DEFAULT_AUGMENT}. */
  readonly augment?: AugmentConfig | null;
  /** Drop the last incomplete batch of each epoch (default true). */
  readonly dropLast?: boolean;
  /** Worker threads; 0 builds batches inline on `next()`. Default 1. */
  readonly workers?: number;
  /** Batches prepared ahead of the one being waited for (workers only). Default 2. */
  readonly prefetch?: number;
  /** Where to start (from {@link BatchLoader.state}). Default epoch 0, position 0. */
  readonly start?: LoaderState;
  /** The compiled worker entry. Default: `loader-worker.js` next to this module. */
  readonly workerUrl?: URL;
  /**
   * Data-parallel: yield only rank `rank`'s rows of each batch of `batchSize` (rows
   * ⌊rank·B/W⌋ to ⌊(rank+1)·B/W⌋), augmenting only those. The order, the positions and each row's
   * augmentation are the unsharded loader's, so the ranks' rows together are its batch.
   */
  readonly shard?: { readonly rank: number; readonly worldSize: number };
}

/** A batch, ready to become tensors. */
export interface Batch {
  /** `B × 1 × ny × nx` float32. */
  readonly images: Float32Array;
  /** `B × ny × nx` classes. */
  readonly labels: Uint8Array;
  /** `B × C`: 1 where the sample's source labels class c. */
  readonly labelled: Uint8Array;
  /** Index of each sample in the loader's sample list. */
  readonly indices: Int32Array;
  readonly imageShape: readonly [number, number, number, number];
  readonly labelShape: readonly [number, number, number];
  readonly labelledShape: readonly [number, number];
  /** Epoch and position of the batch's first sample. */
  readonly epoch: number;
  readonly position: number;
  /** With `shard`: the whole batch these rows are a shard of — its size and `B × C` labelled mask. */
  readonly shardOf?: { readonly size: number; readonly labelled: Uint8Array };
}

/** An endless stream of batches across epochs. */
export interface BatchLoader extends AsyncIterable<Batch>, AsyncDisposable {
  readonly sampleCount: number;
  readonly batchesPerEpoch: number;
  /** The next batch. Rejects naming the sample when one is bad, or when the loader is closed. */
  next(): Promise<Batch>;
  /** The state after the last batch returned by `next()` (prefetched batches do not count). */
  state(): LoaderState;
  /** Stops the workers; pending `next()` calls reject. Idempotent. */
  close(): Promise<void>;
}

function mix32(h: number): number {
  h = (h ^ (h >>> 16)) >>> 0;
  h = Math.imul(h, 0x7feb352d) >>> 0;
  h = (h ^ (h >>> 15)) >>> 0;
  h = Math.imul(h, 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** The augmentation seed of the sample at `position` of epoch `epoch`'s order. */
export function sampleSeed(seed: number, epoch: number, position: number): number {
  return mix32((mix32((mix32(seed >>> 0) + 0x632be5ab + epoch) >>> 0) ^ position) >>> 0);
}

/** The sample order of epoch `epoch`: a permutation of 0..count-1 (identity when not shuffling). */
export function epochOrder(count: number, seed: number, epoch: number, shuffle = true): Int32Array {
  const order = Array.from({ length: count }, (_, i) => i);
  if (shuffle) new Rng(mix32((mix32(seed >>> 0) ^ mix32((epoch + 0x9e3779b9) >>> 0)) >>> 0)).shuffle(order);
  return Int32Array.from(order);
}

interface Plan {
  readonly epoch: number;
  readonly position: number;
  /** The whole batch (sharded: the shard's rows are `indices`). */
  readonly batch: Int32Array;
  readonly indices: Int32Array;
  readonly seeds: Uint32Array;
  readonly next: LoaderState;
}

interface Job {
  readonly plan: Plan;
  readonly promise: Promise<{ images: Float32Array; labels: Uint8Array }>;
  readonly worker: number;
  settled: boolean;
  resolve(v: { images: Float32Array; labels: Uint8Array }): void;
  reject(e: Error): void;
}

function nonNegInt(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0) throw new RangeError(`createLoader: ${what} must be an integer >= 0, got ${v}`);
}

/**
 * Creates a loader over `samples` (copied once into shared memory; the caller's arrays may be
 * dropped afterwards). Shapes are checked here; sample values (finite images, labels below C) are
 * checked when a sample is first used, and a bad one rejects `next()` naming it.
 *
 * @example
 * const loader = createLoader(samples, { nx: 128, ny: 128, batchSize: 8, seed: 1 });
 * const batch = await loader.next();   // batch.images: 8×1×128×128
 * const saved = loader.state();        // store in the checkpoint
 * await loader.close();
 * const resumed = createLoader(samples, { nx: 128, ny: 128, batchSize: 8, seed: 1, start: saved });
 */
export function createLoader(samples: readonly Sample2D[], options: LoaderOptions): BatchLoader {
  return new Loader(samples, options);
}

class Loader implements BatchLoader {
  readonly sampleCount: number;
  readonly batchesPerEpoch: number;
  readonly #samples: readonly Sample2D[];
  readonly #store: SampleStore;
  readonly #batchSize: number;
  readonly #numClasses: number;
  readonly #seed: number;
  readonly #shuffle: boolean;
  readonly #dropLast: boolean;
  readonly #prefetch: number;
  readonly #shard: { readonly rank: number; readonly worldSize: number } | undefined;
  readonly #workers: { worker: Worker; awaited: number; inflight: number }[] = [];
  readonly #orders = new Map<number, Int32Array>();
  /** Jobs dispatched and not yet taken by `next()`, in order. */
  readonly #queue: Job[] = [];
  readonly #jobs = new Map<number, Job>();
  #nextJobId = 0;
  /** State after the last dispatched batch. */
  #planned: LoaderState;
  /** State after the last batch taken by `next()`. */
  #delivered: LoaderState;
  #failure: Error | null = null;
  #closing: Promise<void> | null = null;

  constructor(samples: readonly Sample2D[], o: LoaderOptions) {
    const { nx, ny, batchSize } = o;
    if (!Number.isInteger(nx) || nx < 1 || !Number.isInteger(ny) || ny < 1) {
      throw new RangeError(`createLoader: nx and ny must be positive integers, got ${nx} × ${ny}`);
    }
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(`createLoader: batchSize must be a positive integer, got ${batchSize}`);
    }
    const numClasses = o.numClasses ?? 4;
    if (!Number.isInteger(numClasses) || numClasses < 1 || numClasses > 256) {
      throw new RangeError(`createLoader: numClasses must be an integer in [1, 256], got ${numClasses}`);
    }
    const workers = o.workers ?? 1;
    nonNegInt(workers, 'workers');
    const prefetch = o.prefetch ?? 2;
    nonNegInt(prefetch, 'prefetch');
    const seed = o.seed ?? 0;
    if (!Number.isFinite(seed)) throw new RangeError(`createLoader: seed must be finite, got ${seed}`);
    const aug = o.augment === undefined ? DEFAULT_AUGMENT : o.augment;
    if (aug !== null) validateAugmentConfig(aug);
    this.#dropLast = o.dropLast ?? true;
    const n = samples.length;
    if (n === 0) throw new RangeError('createLoader: no samples');
    if (this.#dropLast && n < batchSize) {
      throw new RangeError(`createLoader: ${n} samples are fewer than batchSize ${batchSize} with dropLast`);
    }
    const dims = new Int32Array(2 * n);
    const starts = new Float64Array(n + 1);
    samples.forEach((s, i) => {
      const name = sampleName(s, i);
      const sx = s.nx ?? nx;
      const sy = s.ny ?? ny;
      if (!Number.isInteger(sx) || !Number.isInteger(sy) || sx < nx || sy < ny) {
        throw new RangeError(`createLoader: sample ${name} is ${sx} × ${sy}, smaller than the batch's ${nx} × ${ny} (or not integers)`);
      }
      if (s.image.length !== sx * sy) {
        throw new RangeError(`createLoader: sample ${name} image has ${s.image.length} values, expected ${sx}*${sy}`);
      }
      if (s.labels.length !== sx * sy) {
        throw new RangeError(`createLoader: sample ${name} labels have ${s.labels.length} values, expected ${sx}*${sy}`);
      }
      if (s.labelled.length !== numClasses) {
        throw new RangeError(
          `createLoader: sample ${name} labelled mask has ${s.labelled.length} entries, expected numClasses = ${numClasses}`,
        );
      }
      dims[2 * i] = sx;
      dims[2 * i + 1] = sy;
      starts[i + 1] = starts[i] + sx * sy;
    });
    const images = new Float32Array(new SharedArrayBuffer(4 * starts[n]));
    const labels = new Uint8Array(new SharedArrayBuffer(starts[n]));
    samples.forEach((s, i) => {
      images.set(s.image, starts[i]);
      labels.set(s.labels, starts[i]);
    });
    this.#samples = samples;
    this.#store = { images, labels, starts, dims, count: n, nx, ny, numClasses, augment: aug };
    this.#batchSize = batchSize;
    this.#numClasses = numClasses;
    this.#seed = Math.trunc(seed);
    this.#shuffle = o.shuffle ?? true;
    this.#prefetch = prefetch;
    if (o.shard !== undefined) {
      const { rank, worldSize } = o.shard;
      if (!Number.isInteger(worldSize) || worldSize < 1 || !Number.isInteger(rank) || rank < 0 || rank >= worldSize) {
        throw new RangeError(`createLoader: shard must have a worldSize ≥ 1 and a rank in 0..worldSize-1, got rank ${rank} of ${worldSize}`);
      }
      if (batchSize < worldSize) {
        throw new RangeError(`createLoader: batchSize ${batchSize} is smaller than the ${worldSize} ranks it is split over`);
      }
      if (!this.#dropLast) throw new RangeError('createLoader: shard needs dropLast (every batch split the same way)');
      this.#shard = { rank, worldSize };
    }
    this.sampleCount = n;
    this.batchesPerEpoch = this.#dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
    const start = o.start ?? { epoch: 0, position: 0 };
    nonNegInt(start.epoch, 'start.epoch');
    nonNegInt(start.position, 'start.position');
    if (start.position >= n) {
      throw new RangeError(`createLoader: start.position ${start.position} is past the ${n} samples`);
    }
    this.#planned = this.#normalize(start);
    this.#delivered = this.#planned;

    if (workers > 0) {
      const url = o.workerUrl ?? new URL('./loader-worker.js', import.meta.url);
      if (url.protocol === 'file:' && !existsSync(fileURLToPath(url))) {
        throw new Error(
          `createLoader: worker entry ${fileURLToPath(url)} not found. Worker threads run compiled JavaScript: ` +
            'build with `tsc -p tsconfig.build.json` and use dist/, pass options.workerUrl, or use workers: 0.',
        );
      }
      const init: WorkerInit = { ...this.#store, hmcsegLoader: LOADER_PROTOCOL };
      for (let k = 0; k < workers; k++) this.#startWorker(url, init, k);
      for (let i = 0; i < prefetch; i++) this.#dispatch();
    }
  }

  #startWorker(url: URL, init: WorkerInit, k: number): void {
    const worker = new Worker(url, { workerData: init });
    this.#workers.push({ worker, awaited: 0, inflight: 0 });
    worker.on('message', (reply: WorkerReply) => this.#onReply(reply));
    worker.on('error', (err) => this.#fail(new Error(`loader: worker ${k} failed: ${err.message}`, { cause: err })));
    worker.on('exit', (code) => {
      if (this.#closing === null) this.#fail(new Error(`loader: worker ${k} exited unexpectedly (code ${code})`));
    });
    // Idle workers must not keep the process alive; a worker is ref'd only while next() waits on it.
    // (After the listeners: attaching a 'message' listener refs the worker's port again.)
    worker.unref();
  }

  #normalize(s: LoaderState): LoaderState {
    const n = this.sampleCount;
    if (s.position >= n || (this.#dropLast && s.position + this.#batchSize > n)) {
      return { epoch: s.epoch + 1, position: 0 };
    }
    return s;
  }

  #order(epoch: number): Int32Array {
    let order = this.#orders.get(epoch);
    if (order === undefined) {
      order = epochOrder(this.sampleCount, this.#seed, epoch, this.#shuffle);
      this.#orders.set(epoch, order);
      for (const e of this.#orders.keys()) if (e < epoch - 1) this.#orders.delete(e);
    }
    return order;
  }

  #plan(): Plan {
    const { epoch, position } = this.#planned;
    const end = Math.min(this.sampleCount, position + this.#batchSize);
    const batch = this.#order(epoch).slice(position, end);
    let [lo, hi] = [0, batch.length];
    if (this.#shard) {
      const { rank, worldSize } = this.#shard;
      [lo, hi] = [Math.floor((rank * batch.length) / worldSize), Math.floor(((rank + 1) * batch.length) / worldSize)];
    }
    const indices = batch.slice(lo, hi);
    const seeds = new Uint32Array(hi - lo);
    for (let k = 0; k < seeds.length; k++) seeds[k] = sampleSeed(this.#seed, epoch, position + lo + k);
    const next = this.#normalize({ epoch, position: end });
    this.#planned = next;
    return { epoch, position, batch, indices, seeds, next };
  }

  /** Plans the next batch and sends it to the least busy worker. */
  #dispatch(): Job {
    const plan = this.#plan();
    const id = this.#nextJobId++;
    let w = 0;
    for (let k = 1; k < this.#workers.length; k++) if (this.#workers[k].inflight < this.#workers[w].inflight) w = k;
    let resolve!: Job['resolve'];
    let reject!: Job['reject'];
    const promise = new Promise<{ images: Float32Array; labels: Uint8Array }>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // A prefetched batch may fail before anyone awaits it; that is not an unhandled rejection.
    promise.catch(() => undefined);
    const job: Job = { plan, promise, worker: w, settled: false, resolve, reject };
    this.#queue.push(job);
    this.#jobs.set(id, job);
    this.#workers[w].inflight++;
    const msg: BatchJob = { id, indices: plan.indices, seeds: plan.seeds };
    this.#workers[w].worker.postMessage(msg);
    return job;
  }

  #settle(id: number): Job | undefined {
    const job = this.#jobs.get(id);
    if (job === undefined) return undefined;
    this.#jobs.delete(id);
    job.settled = true;
    this.#workers[job.worker].inflight--;
    return job;
  }

  #onReply(reply: WorkerReply): void {
    const job = this.#settle(reply.id);
    if (job === undefined) return;
    if (reply.type === 'batch') job.resolve({ images: reply.images, labels: reply.labels });
    else job.reject(this.#sampleFailure(job.plan, reply.sample, reply.message));
  }

  #sampleFailure(plan: Plan, sample: number, message: string): Error {
    if (sample < 0) return new Error(`loader: batch at epoch ${plan.epoch}, position ${plan.position} failed: ${message}`);
    const k = plan.indices.indexOf(sample);
    return new Error(
      `loader: sample ${sampleName(this.#samples[sample], sample)} (epoch ${plan.epoch}, position ${plan.position + k}) ` +
        `is unusable: ${message}`,
    );
  }

  /** A worker died: marks the loader failed, rejects everything pending and stops the workers. */
  #fail(err: Error): void {
    if (this.#failure !== null || this.#closing !== null) return;
    this.#failure = err;
    for (const [id] of this.#jobs) this.#settle(id)?.reject(err);
    void this.close();
  }

  async next(): Promise<Batch> {
    if (this.#failure !== null) throw this.#failure;
    if (this.#closing !== null) throw new Error('loader: closed');
    let data: { images: Float32Array; labels: Uint8Array };
    let plan: Plan;
    if (this.#workers.length === 0) {
      plan = this.#plan();
      try {
        data = buildBatch(this.#store, { id: 0, indices: plan.indices, seeds: plan.seeds });
      } catch (err) {
        this.#failure =
          err instanceof SampleError
            ? this.#sampleFailure(plan, err.sample, err.message)
            : new Error(`loader: batch at epoch ${plan.epoch}, position ${plan.position} failed: ${String(err)}`);
        throw this.#failure;
      }
      this.#delivered = plan.next;
    } else {
      if (this.#queue.length === 0) this.#dispatch();
      const job = this.#queue.shift() as Job;
      this.#delivered = job.plan.next;
      while (this.#queue.length < this.#prefetch) this.#dispatch();
      plan = job.plan;
      const slot = this.#workers[job.worker];
      const waiting = !job.settled;
      if (waiting && slot.awaited++ === 0) slot.worker.ref();
      try {
        data = await job.promise;
      } catch (err) {
        // A bad sample surfaces when its batch is reached, as it would inline; the loader then stops.
        if (this.#failure === null && this.#closing === null) {
          this.#failure = err as Error;
          void this.close();
        }
        throw err;
      } finally {
        if (waiting && --slot.awaited === 0) slot.worker.unref();
      }
    }
    return this.#assemble(plan, data);
  }

  #labelled(indices: Int32Array): Uint8Array {
    const c = this.#numClasses;
    const labelled = new Uint8Array(indices.length * c);
    for (let k = 0; k < indices.length; k++) {
      const mask = this.#samples[indices[k]].labelled;
      for (let j = 0; j < c; j++) labelled[k * c + j] = mask[j] ? 1 : 0;
    }
    return labelled;
  }

  #assemble(plan: Plan, data: { images: Float32Array; labels: Uint8Array }): Batch {
    const b = plan.indices.length;
    const c = this.#numClasses;
    const labelled = this.#labelled(plan.indices);
    const { nx, ny } = this.#store;
    return {
      images: data.images,
      labels: data.labels,
      labelled,
      indices: plan.indices,
      imageShape: [b, 1, ny, nx],
      labelShape: [b, ny, nx],
      labelledShape: [b, c],
      epoch: plan.epoch,
      position: plan.position,
      ...(this.#shard && { shardOf: { size: plan.batch.length, labelled: this.#labelled(plan.batch) } }),
    };
  }

  state(): LoaderState {
    return { ...this.#delivered };
  }

  close(): Promise<void> {
    if (this.#closing !== null) return this.#closing;
    const closed = new Error('loader: closed');
    for (const [id] of this.#jobs) this.#settle(id)?.reject(closed);
    this.#queue.length = 0;
    this.#closing = Promise.all(this.#workers.map((w) => w.worker.terminate())).then(() => undefined);
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Endless iteration; leaving a `for await` loop (break, return, throw) closes the loader. */
  [Symbol.asyncIterator](): AsyncIterator<Batch> {
    return {
      next: async () => ({ value: await this.next(), done: false }),
      return: async () => {
        await this.close();
        return { value: undefined, done: true };
      },
    };
  }
}

function sampleName(s: Sample2D | undefined, i: number): string {
  return s?.id !== undefined ? `"${s.id}" (#${i})` : `#${i}`;
}
