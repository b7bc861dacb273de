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
 * passes, not between overlapping windows of one pass). A model that returns several passes per
 * window (the branches of an ONNX export, `branch_probs`) is fused pass by pass by the same
 * {@link WindowFusion}, then averaged by `branches.ts`. Pure: no engine.
 */

/** Fraction of a window that its neighbour shares (nnU-Net's): prediction's, and the ONNX export's recipe's. */
export const SLIDING_OVERLAP = 0.5;
/** σ of the Gaussian importance map over the window size (nnU-Net's 1/8). */
export const GAUSSIAN_SIGMA_SCALE = 1 / 8;

/** Start offsets of windows of `w` pixels tiling `n` pixels with `overlap` in [0, 1) (n ≥ w). */
export function windowStarts(n: number, w: number, overlap = SLIDING_OVERLAP): number[] {
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
export function gaussianImportance(wx: number, wy: number, sigmaScale = GAUSSIAN_SIGMA_SCALE): Float32Array {
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

/** Options of {@link WindowFusion} and {@link slidingWindowSoftmax}. */
export interface SlidingWindowOptions {
  /** Window (network input) size [wx, wy]; every slice must be at least this large. */
  readonly window: readonly [number, number];
  readonly numClasses: number;
  /** Fraction of a window shared with its neighbour (default {@link SLIDING_OVERLAP}). */
  readonly overlap?: number;
  /** σ of the Gaussian importance map over the window size (default {@link GAUSSIAN_SIGMA_SCALE}). */
  readonly sigmaScale?: number;
  /** Windows per forward call (default 16). */
  readonly batchSize?: number;
  /**
   * Forward passes that each forward call returns per window (default 1): the branches of an
   * exported posterior, whose softmaxes are fused branch by branch.
   */
  readonly passes?: number;
}

/** The windows of one forward call: `count` windows of `wy × wx` values, x fastest. */
export interface WindowBatch {
  readonly input: Float32Array;
  readonly count: number;
}

/**
 * The tiling of `nz` slices of `mx × my` by windows, and the Gaussian-weighted sums of the
 * windows' softmaxes, pass by pass: a caller takes the batches of windows ({@link windows}), runs
 * its network on them (synchronously or not) and hands each batch's softmax back ({@link add});
 * {@link result} is then each pass's fused softmax. Memory: `passes × numClasses` planes per slice.
 */
export class WindowFusion {
  /** Number of window batches. */
  readonly batchCount: number;
  readonly #images: Float32Array;
  readonly #dims: readonly [number, number, number];
  readonly #window: readonly [number, number];
  readonly #C: number;
  readonly #passes: number;
  readonly #batch: number;
  readonly #tiles: readonly (readonly [number, number, number])[];
  readonly #g: Float32Array;
  readonly #sum: Float32Array[];
  readonly #weight: Float32Array;
  readonly #added: Uint8Array;
  #done = false;

  /** @param images `nz` slices of `mx × my`, x fastest */
  constructor(images: Float32Array, nz: number, mx: number, my: number, o: SlidingWindowOptions) {
    const [wx, wy] = o.window;
    const where = 'WindowFusion';
    if (mx < wx || my < wy) throw new RangeError(`${where}: slices of ${mx} × ${my} are smaller than the ${wx} × ${wy} window`);
    if (images.length !== nz * mx * my) throw new RangeError(`${where}: ${images.length} values is not ${nz} slices of ${mx} × ${my}`);
    const passes = o.passes ?? 1;
    const batch = o.batchSize ?? 16;
    for (const [name, v] of [['passes', passes], ['batchSize', batch], ['numClasses', o.numClasses]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`${where}: ${name} must be a positive integer, got ${v}`);
    }
    const xs = windowStarts(mx, wx, o.overlap);
    const ys = windowStarts(my, wy, o.overlap);
    const tiles: [number, number, number][] = [];
    for (let z = 0; z < nz; z++) for (const oy of ys) for (const ox of xs) tiles.push([z, ox, oy]);
    this.#images = images;
    this.#dims = [mx, my, nz];
    this.#window = [wx, wy];
    this.#C = o.numClasses;
    this.#passes = passes;
    this.#batch = batch;
    this.#tiles = tiles;
    // One window per slice overlaps nothing: weights of 1 give its softmax exactly.
    this.#g = xs.length === 1 && ys.length === 1 ? new Float32Array(wx * wy).fill(1) : gaussianImportance(wx, wy, o.sigmaScale);
    this.#sum = Array.from({ length: passes }, () => new Float32Array(o.numClasses * nz * mx * my));
    this.#weight = new Float32Array(nz * mx * my);
    this.batchCount = Math.ceil(tiles.length / batch);
    this.#added = new Uint8Array(this.batchCount);
  }

  /** Windows per slice. */
  get windowsPerSlice(): number {
    return this.#tiles.length / this.#dims[2];
  }

  /** The windows of batch `i` (0 ≤ i < {@link batchCount}). */
  windows(i: number): WindowBatch {
    const [t0, count] = this.#range(i, 'windows');
    const [mx, my] = this.#dims;
    const [wx, wy] = this.#window;
    const wplane = wx * wy;
    const input = new Float32Array(count * wplane);
    for (let k = 0; k < count; k++) {
      const [z, ox, oy] = this.#tiles[t0 + k];
      for (let y = 0; y < wy; y++) {
        const s = z * mx * my + (y + oy) * mx + ox;
        input.set(this.#images.subarray(s, s + wx), k * wplane + y * wx);
      }
    }
    return { input, count };
  }

  /**
   * Adds the softmax of batch `i`'s windows: `count × passes × numClasses × wy × wx` values,
   * [window][pass][class][y][x] (with one pass, NCHW).
   */
  add(i: number, probs: Float32Array): void {
    const [t0, count] = this.#range(i, 'add');
    if (this.#added[i]) throw new RangeError(`WindowFusion.add: batch ${i} was already added`);
    const [mx, my, nz] = this.#dims;
    const [wx, wy] = this.#window;
    const C = this.#C;
    const P = this.#passes;
    const wplane = wx * wy;
    if (probs.length !== count * P * C * wplane) {
      throw new RangeError(`WindowFusion.add: ${probs.length} values for ${count} windows × ${P} passes × ${C} classes × ${wx} × ${wy}`);
    }
    const g = this.#g;
    const plane = mx * my;
    for (let k = 0; k < count; k++) {
      const [z, ox, oy] = this.#tiles[t0 + k];
      for (let y = 0; y < wy; y++) {
        const row = z * plane + (y + oy) * mx + ox;
        for (let x = 0; x < wx; x++) this.#weight[row + x] += g[x + wx * y];
        for (let p = 0; p < P; p++) {
          const sum = this.#sum[p];
          for (let c = 0; c < C; c++) {
            const src = ((k * P + p) * C + c) * wplane + y * wx;
            const dst = c * nz * plane + row;
            for (let x = 0; x < wx; x++) sum[dst + x] += g[x + wx * y] * probs[src + x];
          }
        }
      }
    }
    this.#added[i] = 1;
  }

  /** Each pass's fused softmax, class-major over the slices: [class][z][y][x]. Once, after every batch. */
  result(): Float32Array[] {
    if (this.#done) throw new RangeError('WindowFusion.result: called twice');
    const missing = this.#added.indexOf(0);
    if (missing >= 0) throw new RangeError(`WindowFusion.result: batch ${missing} of ${this.batchCount} was not added`);
    const n = this.#weight.length;
    for (const sum of this.#sum) {
      for (let c = 0; c < this.#C; c++) for (let i = 0; i < n; i++) sum[c * n + i] /= this.#weight[i];
    }
    this.#done = true;
    return this.#sum;
  }

  #range(i: number, what: string): [number, number] {
    if (!Number.isInteger(i) || i < 0 || i >= this.batchCount) throw new RangeError(`WindowFusion.${what}: batch ${i} is not in 0..${this.batchCount - 1}`);
    const t0 = i * this.#batch;
    return [t0, Math.min(this.#batch, this.#tiles.length - t0)];
  }
}

/**
 * One pass of the network over whole slices by fused sliding windows ({@link WindowFusion}).
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
  o: Omit<SlidingWindowOptions, 'passes'>,
): Float32Array {
  const fusion = new WindowFusion(images, nz, mx, my, o);
  for (let i = 0; i < fusion.batchCount; i++) {
    const { input, count } = fusion.windows(i);
    fusion.add(i, forward(input, count));
  }
  return fusion.result()[0];
}
