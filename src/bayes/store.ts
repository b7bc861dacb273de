/**
 * The sample store: what every method hands to prediction. A directory with `manifest.json`
 * (model config, method, sampler and schedule settings, data and split fingerprints, and per sample
 * its step, cycle, learning rate, temperature and training loss) and one safetensors file per
 * weight sample (parameters plus batch-norm running statistics). Files are written atomically
 * (temporary file, fsync, rename) and the manifest lists a sample only after its file is complete,
 * so an interrupted run never leaves a listed sample corrupt.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';
import { loadTensors, saveTensors } from '../engine/weights.js';
import type { Tensor } from '../engine/index.js';
import { writeFileAtomic } from '../util/atomic.js';
import { readJsonFile } from '../util/json.js';
import { METHODS } from './methods.js';


const SampleInfoSchema = z.object({
  file: z.string().regex(/^[\w.-]+\.safetensors$/),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  step: z.number().int().nonnegative(),
  cycle: z.number().int().nonnegative(),
  member: z.number().int().nonnegative(),
  lr: z.number(),
  temperature: z.number().nonnegative(),
  loss: z.number(),
});
export type SampleInfo = z.infer<typeof SampleInfoSchema>;

export const ManifestSchema = z.object({
  format: z.literal('hmcseg-samples'),
  version: z.literal(1),
  method: z.enum(METHODS),
  /** The U-Net's configuration (see src/models/unet.ts). */
  model: z.record(z.string(), z.unknown()),
  /** Preprocessing that prediction must repeat (size, spacing, normalisation). */
  preprocess: z.record(z.string(), z.unknown()),
  /** Settings of the sampler and the schedule, as trained. */
  training: z.record(z.string(), z.unknown()),
  /** Dropout passes per weight sample at prediction (MC Dropout); 1 otherwise. */
  passesPerSample: z.number().int().positive(),
  data: z.object({
    dir: z.string(),
    fingerprint: z.string(),
    splitsFingerprint: z.string(),
    numTrainSlices: z.number().int().nonnegative(),
  }),
  samples: z.array(SampleInfoSchema),
  complete: z.boolean(),
  createdAt: z.string(),
});
export type Manifest = z.infer<typeof ManifestSchema>;

export interface SampleStore {
  readonly dir: string;
  readonly manifest: Manifest;
}

const MANIFEST = 'manifest.json';

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Reads and validates a store's manifest; every listed sample file must exist. */
export function openSampleStore(dir: string): SampleStore {
  const path = join(dir, MANIFEST);
  if (!existsSync(path)) throw new Error(`${dir}: not a sample store (no ${MANIFEST})`);
  const manifest = readJsonFile(path, ManifestSchema, 'sample-store manifest');
  for (const s of manifest.samples) {
    if (!existsSync(join(dir, s.file))) throw new Error(`${path}: lists ${s.file}, which is missing`);
  }
  return { dir, manifest };
}

/** Loads one weight sample, checking its checksum against the manifest. */
export function loadSample(store: SampleStore, index: number, opts: { device?: string } = {}): Record<string, Tensor> {
  const info = store.manifest.samples[index];
  if (!info) throw new RangeError(`${store.dir}: no sample ${index} (the store has ${store.manifest.samples.length})`);
  const path = join(store.dir, info.file);
  const digest = sha256(readFileSync(path));
  if (digest !== info.sha256) throw new Error(`${path}: checksum mismatch (the file is corrupt or was replaced)`);
  return loadTensors(path, opts);
}

/** Starts a new, empty store in `dir` (a resumed run reopens its store with `openSampleStore`). */
export function createSampleStore(dir: string, base: Omit<Manifest, 'samples' | 'complete' | 'createdAt' | 'format' | 'version'>): SampleStore {
  const manifest: Manifest = {
    format: 'hmcseg-samples',
    version: 1,
    ...base,
    samples: [],
    complete: false,
    createdAt: new Date().toISOString(),
  };
  writeFileAtomic(join(dir, MANIFEST), JSON.stringify(manifest, null, 2));
  return { dir, manifest };
}

/** Keeps the samples for which `keep` is true (e.g. those taken before a resumed checkpoint). */
export function filterSamples(store: SampleStore, keep: (s: SampleInfo) => boolean): SampleStore {
  const samples = store.manifest.samples.filter(keep);
  if (samples.length === store.manifest.samples.length) return store;
  const manifest = { ...store.manifest, samples, complete: false };
  writeFileAtomic(join(store.dir, MANIFEST), JSON.stringify(manifest, null, 2));
  return { dir: store.dir, manifest };
}

/** Writes a weight sample (file first, then the manifest that lists it). */
export function addSample(
  store: SampleStore,
  weights: Record<string, Tensor>,
  info: Omit<SampleInfo, 'file' | 'sha256'>,
): SampleStore {
  const file = `sample-m${info.member}-s${String(info.step).padStart(7, '0')}.safetensors`;
  const path = join(store.dir, file);
  saveTensors(path, weights, { step: String(info.step), member: String(info.member) });
  const digest = sha256(readFileSync(path));
  const samples = store.manifest.samples.filter((s) => s.file !== file);
  const manifest: Manifest = { ...store.manifest, samples: [...samples, { ...info, file, sha256: digest }] };
  writeFileAtomic(join(store.dir, MANIFEST), JSON.stringify(manifest, null, 2));
  return { dir: store.dir, manifest };
}

/** Marks the store complete (all methods' samples collected). */
export function completeSampleStore(store: SampleStore): SampleStore {
  const manifest = { ...store.manifest, complete: true };
  writeFileAtomic(join(store.dir, MANIFEST), JSON.stringify(manifest, null, 2));
  return { dir: store.dir, manifest };
}
