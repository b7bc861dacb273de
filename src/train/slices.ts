/** Turns the cases of a data set split into preprocessed 2-D training slices. */
import { loadCase, type CaseRef, type Dataset } from '../data/datasets.js';
import type { Sample2D } from '../data/loader.js';
import { readNiftiImage } from '../data/nifti.js';
import { medianKnownSpacing, preprocessOptions, preprocessVolume, type PreprocessConfig } from '../data/preprocess.js';

/** The data part of a training config that decides preprocessing (`targetSpacing` may be 'median'). */
export interface PreprocessRequest {
  readonly size: number;
  readonly targetSpacing: number | 'median' | null;
  readonly window: 'centre' | 'sliding';
}

/**
 * The {@link PreprocessConfig} a store records: `targetSpacing: 'median'` becomes the median
 * in-plane spacing of `refs` over files with known spacing (null when none has: pixels are kept).
 */
export function resolvePreprocess(refs: readonly CaseRef[], r: PreprocessRequest): PreprocessConfig {
  const targetSpacing =
    r.targetSpacing === 'median' ? medianKnownSpacing(refs.map((ref) => readNiftiImage(ref.image).spacing)) : r.targetSpacing;
  return { size: r.size, targetSpacing, window: r.window };
}

/**
 * Loads and preprocesses every slice of `refs` (labels required). Slices keep their case id and z
 * in `id`, so a bad one can be named. With `window: 'sliding'` a slice is the whole resampled
 * slice (padded up to `size`), and the loader draws the training window.
 */
export function loadTrainingSlices(dataset: Dataset, refs: readonly CaseRef[], p: PreprocessConfig): Sample2D[] {
  const out: Sample2D[] = [];
  for (const ref of refs) {
    const c = loadCase(dataset, ref);
    if (!c.labels) throw new Error(`${ref.image}: training needs labels, and this case has no label file`);
    const vol = preprocessVolume(c.image, preprocessOptions(p, ref.image), c.labels.data);
    const [nx, ny] = vol.transform.slice.outputDims;
    const plane = nx * ny;
    for (let z = 0; z < vol.transform.nz; z++) {
      out.push({
        nx,
        ny,
        image: vol.image.slice(z * plane, (z + 1) * plane),
        labels: (vol.labels as Uint8Array).slice(z * plane, (z + 1) * plane),
        labelled: c.labelled,
        id: `${c.id} z=${z}`,
      });
    }
  }
  return out;
}
