/**
 * Post-processing of a volume's segmentation: keep only the largest connected component of the
 * heart (every foreground class together, 3-D, face connectivity), as nnU-Net's post-processing
 * does when it helps on validation. Networks that see whole slices (sliding windows) also predict
 * small heart-like islands far from the heart (22–103 foreground components per ACDC validation
 * volume for one `cpu` network; README); the heart itself is one connected structure. Pure: no engine, no files, so the browser bundle can use it.
 */

/** `'none'`: the arg-max as it is. `'largest-component'`: see the file comment. */
export const POSTPROCESS_MODES = ['none', 'largest-component'] as const;
export type Postprocess = (typeof POSTPROCESS_MODES)[number];

/**
 * Applies `mode` to `labels` (x fastest, `dims` = [nx, ny, nz]) in place and returns it: with
 * `'largest-component'`, foreground voxels outside the largest face-connected foreground component
 * become background (0); on a tie the component reached first in memory order is kept.
 *
 * @throws {RangeError} when `labels` does not hold nx·ny·nz values
 */
export function postprocessSegmentation(labels: Uint8Array, dims: readonly [number, number, number], mode: Postprocess): Uint8Array {
  const [nx, ny, nz] = dims;
  const n = nx * ny * nz;
  if (labels.length !== n) throw new RangeError(`segmentation of ${labels.length} voxels for dims ${nx}×${ny}×${nz}`);
  if (mode === 'none') return labels;
  const component = new Int32Array(n);
  const queue = new Int32Array(n);
  const plane = nx * ny;
  let best = 0;
  let bestSize = 0;
  let id = 0;
  let tail = 0;
  const visit = (u: number) => {
    if (labels[u] !== 0 && component[u] === 0) {
      component[u] = id;
      queue[tail++] = u;
    }
  };
  for (let seed = 0; seed < n; seed++) {
    if (labels[seed] === 0 || component[seed] !== 0) continue;
    id++;
    tail = 0;
    visit(seed);
    for (let head = 0; head < tail; head++) {
      const v = queue[head];
      const x = v % nx;
      const y = Math.floor(v / nx) % ny;
      const z = Math.floor(v / plane);
      if (x > 0) visit(v - 1);
      if (x < nx - 1) visit(v + 1);
      if (y > 0) visit(v - nx);
      if (y < ny - 1) visit(v + nx);
      if (z > 0) visit(v - plane);
      if (z < nz - 1) visit(v + plane);
    }
    if (tail > bestSize) {
      bestSize = tail;
      best = id;
    }
  }
  for (let v = 0; v < n; v++) if (component[v] !== best) labels[v] = 0;
  return labels;
}
