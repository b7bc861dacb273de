/**
 * Batch assembly for the 2-D loader, shared by the inline path and the worker threads, and the
 * `worker_threads` entry point itself.
 *
 * This module is imported by `loader.ts` (for {@link buildBatch}) and is also the file each worker
 * runs. Its message handler is installed only in a worker started by the loader (recognised by
 * `workerData.hmcsegLoader`), so importing it anywhere else has no side effects.
 *
 * Workers must run JavaScript: from a build this file is `dist/src/data/loader-worker.js`, next to
 * `loader.js`, and the loader finds it there. See `loader.ts` for running from TypeScript sources.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Rng } from '../util/rng.js';
import { augment, type AugmentConfig } from './augment.js';

/** Marker and protocol version in `workerData`. */
export const LOADER_PROTOCOL = 1;

/**
 * All samples packed into two (shared) arrays: sample i is the `dims[2i] × dims[2i+1]` plane at
 * `starts[i]`; batches are `nx × ny` (windows of larger samples).
 */
export interface SampleStore {
  readonly images: Float32Array;
  readonly labels: Uint8Array;
  readonly starts: Float64Array;
  readonly dims: Int32Array;
  readonly count: number;
  readonly nx: number;
  readonly ny: number;
  readonly numClasses: number;
  /** Augmentation applied to every sample, or null for none. */
  readonly augment: AugmentConfig | null;
}

/** One batch to build: sample indices and one augmentation seed per sample. */
export interface BatchJob {
  readonly id: number;
  readonly indices: Int32Array;
  readonly seeds: Uint32Array;
}

/** A failure tied to one sample (an index into the store). */
export class SampleError extends Error {
  constructor(
    readonly sample: number,
    message: string,
  ) {
    super(message);
    this.name = 'SampleError';
  }
}

/** Checks that a sample's values are usable: finite image, labels below `numClasses`. */
function checkSample(image: Float32Array, labels: Uint8Array, nx: number, numClasses: number): void {
  for (let i = 0; i < image.length; i++) {
    if (!Number.isFinite(image[i])) {
      throw new Error(`image value at (x=${i % nx}, y=${Math.floor(i / nx)}) is not finite (${image[i]})`);
    }
  }
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] >= numClasses) {
      throw new Error(
        `label ${labels[i]} at (x=${i % nx}, y=${Math.floor(i / nx)}) is not a class (numClasses = ${numClasses})`,
      );
    }
  }
}

/** Seed of the window placement of a sample augmented with `seed` (independent of the augmentation's stream). */
function windowSeed(seed: number): number {
  return (Math.imul(seed ^ 0x85ebca6b, 0xc2b2ae35) ^ 0x27d4eb2f) >>> 0;
}

/**
 * The `nx × ny` window of sample `idx` that a job with `seed` uses: the whole sample when it has
 * that size, else a uniformly placed window drawn with a generator seeded from `seed`.
 */
export function sampleWindow(store: SampleStore, idx: number, seed: number): { image: Float32Array; labels: Uint8Array } {
  const { nx, ny } = store;
  const sx = store.dims[2 * idx];
  const sy = store.dims[2 * idx + 1];
  const start = store.starts[idx];
  const image = store.images.subarray(start, start + sx * sy);
  const labels = store.labels.subarray(start, start + sx * sy);
  if (sx === nx && sy === ny) return { image, labels };
  const rng = new Rng(windowSeed(seed));
  const ox = rng.int(sx - nx + 1);
  const oy = rng.int(sy - ny + 1);
  const wi = new Float32Array(nx * ny);
  const wl = new Uint8Array(nx * ny);
  for (let y = 0; y < ny; y++) {
    const s = (y + oy) * sx + ox;
    wi.set(image.subarray(s, s + nx), y * nx);
    wl.set(labels.subarray(s, s + nx), y * nx);
  }
  return { image: wi, labels: wl };
}

/**
 * Builds one batch: for each sample, takes its window ({@link sampleWindow}), checks its values
 * and augments it with `new Rng(seed)` (or copies it when augmentation is off) into the batch arrays.
 *
 * @returns images `B × ny × nx` and labels `B × ny × nx`
 * @throws SampleError naming the store index of the first bad sample
 */
export function buildBatch(
  store: SampleStore,
  job: BatchJob,
): { images: Float32Array<ArrayBuffer>; labels: Uint8Array<ArrayBuffer> } {
  const { nx, ny } = store;
  const plane = nx * ny;
  const b = job.indices.length;
  const images = new Float32Array(b * plane);
  const labels = new Uint8Array(b * plane);
  for (let k = 0; k < b; k++) {
    const idx = job.indices[k];
    const { image, labels: lab } = sampleWindow(store, idx, job.seeds[k]);
    const outImage = images.subarray(k * plane, (k + 1) * plane);
    const outLabels = labels.subarray(k * plane, (k + 1) * plane);
    try {
      checkSample(image, lab, nx, store.numClasses);
      if (store.augment === null) {
        outImage.set(image);
        outLabels.set(lab);
      } else {
        augment({ image, labels: lab, nx, ny }, new Rng(job.seeds[k]), store.augment, {
          image: outImage,
          labels: outLabels,
        });
      }
    } catch (err) {
      throw new SampleError(idx, err instanceof Error ? err.message : String(err));
    }
  }
  return { images, labels };
}

/** Messages from a worker to the loader. */
export type WorkerReply =
  | { readonly type: 'batch'; readonly id: number; readonly images: Float32Array; readonly labels: Uint8Array }
  | { readonly type: 'error'; readonly id: number; readonly sample: number; readonly message: string };

/** `workerData` of a loader worker. */
export interface WorkerInit extends SampleStore {
  readonly hmcsegLoader: typeof LOADER_PROTOCOL;
}

function isLoaderWorker(data: unknown): data is WorkerInit {
  return typeof data === 'object' && data !== null && (data as WorkerInit).hmcsegLoader === LOADER_PROTOCOL;
}

if (!isMainThread && parentPort !== null && isLoaderWorker(workerData)) {
  const port = parentPort;
  const store: SampleStore = workerData;
  port.on('message', (job: BatchJob) => {
    let reply: WorkerReply;
    try {
      const { images, labels } = buildBatch(store, job);
      reply = { type: 'batch', id: job.id, images, labels };
      port.postMessage(reply, [images.buffer, labels.buffer]);
    } catch (err) {
      reply = {
        type: 'error',
        id: job.id,
        sample: err instanceof SampleError ? err.sample : -1,
        message: err instanceof Error ? err.message : String(err),
      };
      port.postMessage(reply);
    }
  });
}
