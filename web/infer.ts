/**
 * In-browser inference with the ONNX model of `hmcseg export`: the project's own preprocessing,
 * window fusion per branch, uncertainty accumulator, inverse mapping and scores
 * (src/export/recipe.ts `predictWithExport`, the code the tests run against `hmcseg predict`),
 * bundled, for centre-crop and sliding-window models alike; the network runs in onnxruntime-web
 * (wasm). Nothing is sent to the server.
 */
import * as ort from 'onnxruntime-web/wasm';
import { readOnnxMetadata } from '../src/export/onnx-graph.js';
import { predictWithExport, readExportInfo, type ExportInfo, type ExportPredictOptions } from '../src/export/recipe.js';
import type { Volume } from '../src/data/volume.js';
import type { VolumePrediction } from '../src/predict/predict.js';

export interface LoadedModel {
  readonly session: ort.InferenceSession;
  readonly info: ExportInfo;
  readonly method: string;
}

/** A volume segmented in the browser, on its own grid, as `hmcseg predict` gives it. */
export type BrowserPrediction = VolumePrediction;

/** onnxruntime-web's wasm files are served by the view server, never fetched from a CDN. */
ort.env.wasm.wasmPaths = new URL('ort/', location.href).href;
ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;

/**
 * Loads an exported model from `url`.
 *
 * @throws {Error} naming the URL: not found, not an hmcseg export (no or a bad recipe), no `branch_probs`
 */
export async function loadModel(url: string): Promise<LoadedModel> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: ${res.status} ${res.statusText}`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  const info = readExportInfo(readOnnxMetadata(bytes), url);
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  if (!session.outputNames.includes('branch_probs')) {
    throw new Error(`${url}: the model has no output branch_probs (outputs: ${session.outputNames.join(', ')}); export it again with this version`);
  }
  return { session, info, method: info.method };
}

/**
 * Segments `image` a few windows at a time; `progress(done, total)` in slices.
 *
 * @param source names the volume in errors (the dropped file's name)
 * @param o the warning score and post-processing, as `hmcseg predict`'s (defaults: its defaults)
 * @param batch windows per model run
 */
export function segmentVolume(
  model: LoadedModel,
  image: Volume<Float32Array>,
  source: string,
  o: Pick<ExportPredictOptions, 'warningScore' | 'postprocess'>,
  progress: (done: number, total: number) => void,
  batch = 4,
): Promise<BrowserPrediction> {
  const S = model.info.recipe.size;
  const run = async (windows: Float32Array, b: number): Promise<Float32Array> => {
    const input = new ort.Tensor('float32', windows, [b, 1, S, S]);
    try {
      // Only branch_probs is fetched (and computed); a CPU tensor's data is a plain array, kept by the fusion.
      return (await model.session.run({ image: input }, ['branch_probs'])).branch_probs.data as Float32Array;
    } finally {
      input.dispose();
    }
  };
  return predictWithExport(model.info, image, source, run, { ...o, batchSize: batch, progress });
}
