/**
 * Training checkpoints: everything needed to continue a run exactly — weights and batch-norm
 * statistics, the sampler's velocity and noise stream, the dropout stream, the data order, the step.
 *
 * Layout in the checkpoint directory: `ckpt-<step>.safetensors` (tensors) and `checkpoint.json`
 * (the rest, naming the tensor file and its checksum). The tensor file is written first, then the
 * JSON replaces the old one atomically, then the old tensor file is removed; after kill -9 at any
 * moment the JSON names a complete tensor file.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';
import { tensor, type Tensor, type TypedArray } from '../engine/index.js';
import { loadTensors, saveTensors } from '../engine/weights.js';
import { writeFileAtomic } from '../util/atomic.js';
import { readJsonFile } from '../util/json.js';

const CheckpointMetaSchema = z.object({
  version: z.literal(1),
  /** Ensemble member (0 for single-network methods). */
  member: z.number().int().nonnegative(),
  /** Updates done; the run continues at this step. */
  step: z.number().int().nonnegative(),
  loader: z.object({ epoch: z.number().int().nonnegative(), position: z.number().int().nonnegative() }),
  samplerRng: z.string(),
  modelRng: z.string(),
  /** Learning-rate factor after divergence roll-backs (1 normally). */
  lrScale: z.number().positive(),
  /** Hash of the training configuration; a resume with another config is refused. */
  configHash: z.string(),
  file: z.string().regex(/^ckpt-\d+\.safetensors$/),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
type CheckpointMeta = z.infer<typeof CheckpointMetaSchema>;

export interface Checkpoint {
  readonly meta: CheckpointMeta;
  /** Model state under its own names, plus `sampler.momentum`. The caller disposes them. */
  readonly tensors: Record<string, Tensor>;
}

const META = 'checkpoint.json';
const MOMENTUM = 'sampler.momentum';

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
export const fromB64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));

export interface CheckpointInput {
  readonly member: number;
  readonly step: number;
  readonly loader: { epoch: number; position: number };
  readonly samplerRng: Uint8Array;
  readonly modelRng: Uint8Array;
  readonly lrScale: number;
  readonly configHash: string;
  /** `model.state()` (parameters and buffers). Not disposed here. */
  readonly modelState: Record<string, Tensor>;
  readonly momentum: { data: Float32Array | Float64Array; shape: readonly number[] };
}

/** Writes a checkpoint into `dir` (created when missing). */
export function saveCheckpoint(dir: string, c: CheckpointInput): void {
  const file = `ckpt-${String(c.step).padStart(7, '0')}.safetensors`;
  const path = join(dir, file);
  const momentum = tensor(c.momentum.data as TypedArray, c.momentum.shape);
  try {
    saveTensors(path, { ...c.modelState, [MOMENTUM]: momentum }, { step: String(c.step) });
  } finally {
    momentum.dispose();
  }
  const meta: CheckpointMeta = {
    version: 1,
    member: c.member,
    step: c.step,
    loader: { epoch: c.loader.epoch, position: c.loader.position },
    samplerRng: b64(c.samplerRng),
    modelRng: b64(c.modelRng),
    lrScale: c.lrScale,
    configHash: c.configHash,
    file,
    sha256: createHash('sha256').update(readFileSync(path)).digest('hex'),
  };
  writeFileAtomic(join(dir, META), JSON.stringify(meta, null, 2));
  for (const f of readdirSync(dir)) {
    if (/^ckpt-\d+\.safetensors$/.test(f) && f !== file) rmSync(join(dir, f), { force: true });
  }
}

/** Reads the checkpoint in `dir`, or undefined when there is none. Corrupt files are errors naming them. */
export function loadCheckpoint(dir: string): Checkpoint | undefined {
  const metaPath = join(dir, META);
  if (!existsSync(metaPath)) return undefined;
  const meta = readJsonFile(metaPath, CheckpointMetaSchema, 'checkpoint');
  const path = join(dir, meta.file);
  if (!existsSync(path)) throw new Error(`${metaPath}: names ${meta.file}, which is missing`);
  const digest = createHash('sha256').update(readFileSync(path)).digest('hex');
  if (digest !== meta.sha256) throw new Error(`${path}: checksum mismatch (the checkpoint file is corrupt)`);
  const tensors = loadTensors(path);
  if (!(MOMENTUM in tensors)) throw new Error(`${path}: no '${MOMENTUM}' tensor`);
  return { meta, tensors };
}

/** Splits a checkpoint's tensors into the model state and the sampler momentum. */
export function splitCheckpointTensors(t: Record<string, Tensor>): { model: Record<string, Tensor>; momentum: Tensor } {
  const { [MOMENTUM]: momentum, ...model } = t;
  return { model, momentum };
}
