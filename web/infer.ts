/**
 * In-browser inference with the ONNX model of `hmcseg export`: the project's own preprocessing
 * (src/data/preprocess.ts), arg-max (src/metrics/calibration.ts), inverse mapping and slice scores
 * (src/uncertainty/scores.ts), bundled; the network runs in onnxruntime-web (wasm). Nothing is
 * sent to the server.
 */
import * as ort from 'onnxruntime-web/wasm';
import * as z from 'zod';
import { preprocessVolume } from '../src/data/preprocess.js';
import type { Volume } from '../src/data/volume.js';
import { readOnnxMetadata } from '../src/export/onnx-graph.js';
import type { PreprocessRecipe } from '../src/export/export.js';
import { assemblePrediction, copySlicesClassMajor, type GridPrediction } from '../src/predict/assemble.js';

/** The model's preprocessing recipe (metadata `hmcseg.preprocess`), as far as this page repeats it. */
const Recipe = z.looseObject({
  size: z.number().int().positive(),
  targetSpacing: z.number().positive().nullable(),
  unitSpacingIsUnknown: z.literal(true),
  clipPercentiles: z.tuple([z.number(), z.number()]),
  normalisation: z.literal('zscore-clipped-volume'),
  pad: z.literal('normalised-lower-clip'),
  centre: z.literal('image'),
  layout: z.literal('NCHW, H = y, W = x'),
}) satisfies z.ZodType<PreprocessRecipe>;

export interface LoadedModel {
  readonly session: ort.InferenceSession;
  readonly recipe: z.infer<typeof Recipe>;
  readonly classes: readonly string[];
  readonly method: string;
}

/** A volume segmented in the browser, on its own grid. */
export type BrowserPrediction = GridPrediction;

/** onnxruntime-web's wasm files are served by the view server, never fetched from a CDN. */
ort.env.wasm.wasmPaths = new URL('ort/', location.href).href;
ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;

/**
 * Loads an exported model from `url`.
 *
 * @throws {Error} naming the URL: not found, not an hmcseg export (no or a bad `hmcseg.preprocess`)
 */
export async function loadModel(url: string): Promise<LoadedModel> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: ${res.status} ${res.statusText}`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  const meta = readOnnxMetadata(bytes);
  const raw = meta['hmcseg.preprocess'];
  if (raw === undefined) throw new Error(`${url}: not an hmcseg export (no hmcseg.preprocess in its metadata)`);
  const parsed = Recipe.safeParse(JSON.parse(raw));
  if (!parsed.success) throw new Error(`${url}: hmcseg.preprocess is not a recipe this page knows\n${z.prettifyError(parsed.error)}`);
  const classes = z.array(z.string()).parse(JSON.parse(meta['hmcseg.classes'] ?? '[]'));
  if (classes.length < 2) throw new Error(`${url}: hmcseg.classes lists ${classes.length} classes`);
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  for (const name of ['probs', 'entropy', 'mutual_information']) {
    if (!session.outputNames.includes(name)) throw new Error(`${url}: the model has no output ${name} (outputs: ${session.outputNames.join(', ')})`);
  }
  return { session, recipe: parsed.data, classes, method: meta['hmcseg.method'] ?? '?' };
}

/**
 * Segments `image` slice batch by slice batch; `progress(done, total)` after each batch.
 *
 * @param source names the volume in errors (the dropped file's name)
 */
export async function segmentVolume(
  model: LoadedModel,
  image: Volume<Float32Array>,
  source: string,
  progress: (done: number, total: number) => void,
  batch = 4,
): Promise<BrowserPrediction> {
  const S = model.recipe.size;
  const C = model.classes.length;
  const pre = preprocessVolume(image, {
    size: [S, S],
    targetSpacing: model.recipe.targetSpacing,
    unitSpacingIsUnknown: model.recipe.unitSpacingIsUnknown,
    clipPercentiles: model.recipe.clipPercentiles,
    centre: model.recipe.centre,
    source,
  });
  const nz = pre.transform.nz;
  const plane = S * S;
  // Class-major over the volume: probs[c·nz·plane + z·plane + p].
  const probs = new Float32Array(C * nz * plane);
  const entropy = new Float32Array(nz * plane);
  const mi = new Float32Array(nz * plane);
  progress(0, nz);
  for (let z0 = 0; z0 < nz; z0 += batch) {
    const b = Math.min(batch, nz - z0);
    const input = new ort.Tensor('float32', pre.image.slice(z0 * plane, (z0 + b) * plane), [b, 1, S, S]);
    const out = await model.session.run({ image: input });
    copySlicesClassMajor(out.probs.data as Float32Array, b, C, plane, probs, nz, z0);
    entropy.set(out.entropy.data as Float32Array, z0 * plane);
    mi.set(out.mutual_information.data as Float32Array, z0 * plane);
    for (const t of Object.values(out)) t.dispose();
    input.dispose();
    progress(z0 + b, nz);
  }
  return assemblePrediction({ mean: probs, predictiveEntropy: entropy, mutualInformation: mi }, C, pre.transform, image.dims);
}
