/** Turns the cases of a data set split into preprocessed 2-D training slices. */
import { loadCase, type CaseRef, type Dataset } from '../data/datasets.js';
import type { Sample2D } from '../data/loader.js';
import { preprocessOptions, preprocessVolume, type PreprocessConfig } from '../data/preprocess.js';

/**
 * Loads and preprocesses every slice of `refs` (labels required). Slices keep their case id and z
 * in `id`, so a bad one can be named.
 */
export function loadTrainingSlices(dataset: Dataset, refs: readonly CaseRef[], p: PreprocessConfig): Sample2D[] {
  const out: Sample2D[] = [];
  for (const ref of refs) {
    const c = loadCase(dataset, ref);
    if (!c.labels) throw new Error(`${ref.image}: training needs labels, and this case has no label file`);
    const vol = preprocessVolume(c.image, preprocessOptions(p, ref.image), c.labels.data);
    const plane = p.size * p.size;
    for (let z = 0; z < vol.transform.nz; z++) {
      out.push({
        image: vol.image.slice(z * plane, (z + 1) * plane),
        labels: (vol.labels as Uint8Array).slice(z * plane, (z + 1) * plane),
        labelled: c.labelled,
        id: `${c.id} z=${z}`,
      });
    }
  }
  return out;
}
