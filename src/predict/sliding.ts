/**
 * Sliding-window inference over whole slices, as nnU-Net does it: windows of the network's input
 * size tile each slice with a given overlap (the last window flush with the far edge), and each
 * window's softmax is weighted by a Gaussian importance map (σ = window / 8 per axis, peak 1), so
 * that pixels near a window's border, where the network saw little context, count less.
 *
 * The fused softmax of a pixel is Σ_w g_w(x) p_w(x) / Σ_w g_w(x): a convex combination, so it
 * sums to 1 over classes. It is computed per forward pass (one weight sample or dropout pass), and
 * only then does the accumulator over passes take it: the predictive entropy is then the entropy
 * of the mean over passes of fused softmaxes, and the mutual information is that minus the mean
 * over passes of each fused softmax's entropy, so MI keeps its meaning (disagreement between
 * passes, not between overlapping windows of one pass). Pure: no engine.
 */

/** Start offsets of windows of `w` pixels tiling `n` pixels with `overlap` in [0, 1) (n ≥ w). */
export function windowStarts(n: number, w: number, overlap = 0.5): number[] {
  if (!Number.isInteger(n) || !Number.isInteger(w) || w < 1 || n < w) {
    throw new RangeError(`windowStarts: need integers n >= w >= 1, got n = ${n}, w = ${w}`);
  }
  if (!(overlap >= 0 && overlap < 1)) throw new RangeError(`windowStarts: overlap must be in [0, 1), got ${overlap}`);
  if (n === w) return [0];
  const steps = Math.ceil((n - w) / (w * (1 - overlap))) + 1;
  const step = (n - w) / (steps - 1);
  return Array.from({ length: steps }, (_, i) => Math.round(i * step));
}

/** The Gaussian importance map of a `wx × wy` window (x fastest), peak 1 at the centre, σ = `sigmaScale` × size. */
export function gaussianImportance(wx: number, wy: number, sigmaScale = 1 / 8): Float32Array {
  if (!(sigmaScale > 0)) throw new RangeError(`gaussianImportance: sigmaScale must be > 0, got ${sigmaScale}`);
  const axis = (w: number): Float64Array => {
    const g = new Float64Array(w);
    const c = (w - 1) / 2;
    const s = w * sigmaScale;
    for (let i = 0; i < w; i++) g[i] = Math.exp(-((i - c) ** 2) / (2 * s * s));
    return g;
  };
  const gx = axis(wx);
  const gy = axis(wy);
  const out = new Float32Array(wx * wy);
  for (let y = 0; y < wy; y++) for (let x = 0; x < wx; x++) out[x + wx * y] = gx[x] * gy[y];
  return out;
}

/** Options of {@link slidingWindowSoftmax}. */
export interface SlidingWindowOptions {
  /** Window (network input) size [wx, wy]; every slice must be at least this large. */
  readonly window: readonly [number, number];
  readonly numClasses: number;
  /** Fraction of a window shared with its neighbour (default 0.5). */
  readonly overlap?: number;
  /** Windows per forward call (default 16). */
  readonly batchSize?: number;
}

/**
 * One pass of the network over whole slices by fused sliding windows.
 *
 * @param images `nz` slices of `mx × my`, x fastest
 * @param forward softmax of `b` windows (`b × wy × wx` values), returned NCHW: [window][class][y][x]
 * @returns the fused softmax, class-major over the volume: [class][z][y][x]
 */
export function slidingWindowSoftmax(
  images: Float32Array,
  nz: number,
  mx: number,
  my: number,
  forward: (windows: Float32Array, b: number) => Float32Array,
  o: SlidingWindowOptions,
): Float32Array {
  const [wx, wy] = o.window;
  const C = o.numClasses;
  if (mx < wx || my < wy) throw new RangeError(`slidingWindowSoftmax: slices of ${mx} × ${my} are smaller than the ${wx} × ${wy} window`);
  if (images.length !== nz * mx * my) throw new RangeError(`slidingWindowSoftmax: ${images.length} values is not ${nz} slices of ${mx} × ${my}`);
  const batch = o.batchSize ?? 16;
  const xs = windowStarts(mx, wx, o.overlap);
  const ys = windowStarts(my, wy, o.overlap);
  const g = gaussianImportance(wx, wy);
  const plane = mx * my;
  const wplane = wx * wy;
  const tiles: [number, number, number][] = [];
  for (let z = 0; z < nz; z++) for (const oy of ys) for (const ox of xs) tiles.push([z, ox, oy]);
  const sum = new Float32Array(C * nz * plane);
  const weight = new Float32Array(nz * plane);
  for (let t0 = 0; t0 < tiles.length; t0 += batch) {
    const b = Math.min(batch, tiles.length - t0);
    const input = new Float32Array(b * wplane);
    for (let k = 0; k < b; k++) {
      const [z, ox, oy] = tiles[t0 + k];
      for (let y = 0; y < wy; y++) {
        const s = z * plane + (y + oy) * mx + ox;
        input.set(images.subarray(s, s + wx), k * wplane + y * wx);
      }
    }
    const probs = forward(input, b);
    if (probs.length !== b * C * wplane) {
      throw new RangeError(`slidingWindowSoftmax: forward returned ${probs.length} values for ${b} windows × ${C} classes × ${wx} × ${wy}`);
    }
    for (let k = 0; k < b; k++) {
      const [z, ox, oy] = tiles[t0 + k];
      for (let y = 0; y < wy; y++) {
        const row = z * plane + (y + oy) * mx + ox;
        for (let x = 0; x < wx; x++) weight[row + x] += g[x + wx * y];
        for (let c = 0; c < C; c++) {
          const src = (k * C + c) * wplane + y * wx;
          const dst = c * nz * plane + row;
          for (let x = 0; x < wx; x++) sum[dst + x] += g[x + wx * y] * probs[src + x];
        }
      }
    }
  }
  for (let c = 0; c < C; c++) {
    const off = c * nz * plane;
    for (let i = 0; i < nz * plane; i++) sum[off + i] /= weight[i];
  }
  return sum;
}
