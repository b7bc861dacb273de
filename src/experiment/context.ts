/**
 * What the protocol, the evaluation cache and the studies share: the run's context, training a
 * store with its accumulated time, the JSON text every output file is written as, and the stop.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';
import type { Method } from '../bayes/methods.js';
import { openSampleStore } from '../bayes/store.js';
import type { TrainConfig } from '../train/config.js';
import { train, type TrainProgress } from '../train/trainer.js';
import { writeFileAtomic } from '../util/atomic.js';
import { readJsonFile } from '../util/json.js';

/** A trained store of the comparison: a method, or a preset's variant, under `models/NAME`. */
export interface Entry {
  readonly name: string;
  readonly method: Method;
  readonly config: TrainConfig;
}

/** The run as the protocol set it up. */
export interface Context {
  readonly out: string;
  readonly config: TrainConfig;
  readonly entries: readonly Entry[];
  readonly trainData: string;
  readonly splitsPath: string;
  readonly log: (m: string) => void;
  readonly onTrainProgress?: (label: string, p: TrainProgress) => void;
  readonly signal?: AbortSignal;
  /** Where training and prediction run ('cpu', 'cuda', 'cuda:N'); not part of any result's identity. */
  readonly device: string;
}

/** Raised when the run was asked to stop; everything done so far is kept and resumes. */
export class InterruptedError extends Error {
  constructor() {
    super('experiment interrupted; rerun the same command to resume');
    this.name = 'InterruptedError';
  }
}

/** Throws {@link InterruptedError} when the run was asked to stop. */
export function checkStop(ctx: Context): void {
  if (ctx.signal?.aborted) throw new InterruptedError();
}

/** JSON as the experiment writes it: indented, non-finite numbers as null. */
export const jsonText = (v: unknown): string =>
  JSON.stringify(v, (_k, x) => (typeof x === 'number' && !Number.isFinite(x) ? null : x), 2);

/** `over` merged into `base`, objects key by key (arrays and other values replace). */
export function deepMerge<T extends object>(base: T, over: object): T {
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' ? deepMerge(b as object, v as object) : v;
  }
  return out as T;
}

const TimingSchema = z.object({ seconds: z.number().nonnegative() });

/** The training seconds saved in a store's `timing.json`. */
export function trainedSeconds(dir: string): number {
  return readJsonFile(join(dir, 'timing.json'), TimingSchema, 'training time').seconds;
}

/** Trains (or resumes) one store; the training seconds of all calls add up in timing.json. */
export async function trainTimed(ctx: Context, method: Method, config: TrainConfig, dir: string, label: string): Promise<number> {
  const before = existsSync(join(dir, 'timing.json')) ? trainedSeconds(dir) : 0;
  if (existsSync(join(dir, 'manifest.json')) && openSampleStore(dir).manifest.complete) return before;
  ctx.log(`train: ${label}`);
  const onTrainProgress = ctx.onTrainProgress;
  const r = await train({
    method,
    config,
    data: ctx.trainData,
    splits: ctx.splitsPath,
    out: dir,
    device: ctx.device,
    signal: ctx.signal,
    onProgress: onTrainProgress ? (p) => onTrainProgress(label, p) : undefined,
  });
  const seconds = before + r.seconds;
  writeFileAtomic(join(dir, 'timing.json'), JSON.stringify({ seconds }));
  if (r.interrupted) throw new InterruptedError();
  return seconds;
}
