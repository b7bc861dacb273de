/**
 * Preprocessing of short-axis slices for the 2-D networks, with an exact record of what was done so
 * that predictions can be mapped back onto the original voxel grid.
 *
 * Pipeline per volume: percentile clip + z-score over the whole volume ({@link normalizeIntensity}),
 * then per slice an optional in-plane resampling to a target spacing and a crop/pad to a fixed size
 * about a centre, or (`fit: 'whole'`) a pad of the whole slice up to at least that size
 * ({@link preprocessSlice}). {@link invertProbabilities} and {@link invertMap} undo
 * the geometric part.
 *
 * Layout: a slice is row-major with x fastest (`img[x + nx*y]`, NIfTI order, see `volume.ts`);
 * volumes are slice stacks along z.
 */
import { percentileSorted } from '../util/index.js';
import type { Volume } from './volume.js';

/** Options of {@link normalizeIntensity}. */
export interface NormalizeOptions {
  /** Lower and upper clipping percentiles in [0, 100] (numpy's linear interpolation). Default [0.5, 99.5]. */
  readonly clipPercentiles?: readonly [number, number];
  /** Names the data in error messages (a file path, a case id). */
  readonly source?: string;
}

/** What {@link normalizeIntensity} did: `out = (clamp(v, lo, hi) - mean) / std`. */
export interface IntensityTransform {
  readonly lo: number;
  readonly hi: number;
  /** Mean of the clipped values. */
  readonly mean: number;
  /** Population standard deviation of the clipped values (> 0). */
  readonly std: number;
}

/** Options of {@link preprocessSlice} and {@link preprocessVolume}. */
export interface PreprocessOptions extends NormalizeOptions {
  /**
   * In-plane target spacing in mm, or `null` (default) for no resampling. Resampling uses the
   * input's spacing, which must then be known (see {@link unitSpacingIsUnknown} and {@link spacingIsKnown}).
   */
  readonly targetSpacing?: number | null;
  /**
   * Treat an in-plane spacing of exactly 1.0 × 1.0 as "not kept by the file" and skip resampling
   * (default true: converted copies such as the shared ACDC/EMIDEC data write pixdim 1).
   */
  readonly unitSpacingIsUnknown?: boolean;
  /** Output size [nx, ny] after crop/pad (with `fit: 'whole'`, the least output size). Default [128, 128]. */
  readonly size?: readonly [number, number];
  /**
   * Centre of the crop/pad window in ORIGINAL voxel coordinates [x, y], or `'image'` (default)
   * for the image centre. Never derive it from labels for data that will be predicted; a
   * label-free choice is a two-pass one (predict on the image-centred crop, re-centre on the
   * predicted heart). A bright-pixel centroid heuristic was tried and placed the crop worse than
   * the image centre on ACDC and EMIDEC, so none is offered.
   */
  readonly centre?: 'image' | readonly [number, number];
  /**
   * `'crop'` (default): the output is `size`, cropped/padded about `centre`. `'whole'`: the output
   * is the whole resampled grid, padded (about `centre`) up to at least `size` on each axis and
   * never cropped, so that every input voxel reaches the network (see {@link PreprocessConfig.window}).
   */
  readonly fit?: 'crop' | 'whole';
}

/**
 * The geometric record of a preprocessed slice: enough to map an output-grid prediction back onto
 * the input grid exactly.
 */
export interface SliceTransform {
  /** Input grid [nx, ny]. */
  readonly originalDims: readonly [number, number];
  /** Input in-plane spacing [dx, dy] in mm (as given; may be the placeholder 1.0). */
  readonly spacing: readonly [number, number];
  /** Grid after resampling [nx, ny]; equal to `originalDims` when no resampling happened. */
  readonly resampledDims: readonly [number, number];
  /** Output grid [nx, ny]. */
  readonly outputDims: readonly [number, number];
  /**
   * Offset of the output window in the resampled grid: output pixel (x, y) is resampled pixel
   * (x + offset[0], y + offset[1]). Negative where the window extends past the image (padding).
   */
  readonly offset: readonly [number, number];
}

/** The record of a preprocessed volume: the slice geometry shared by every slice, plus intensity. */
export interface VolumeTransform {
  readonly slice: SliceTransform;
  /** Number of slices. */
  readonly nz: number;
  readonly intensity: IntensityTransform;
}

/** A 2-D input slice for {@link preprocessSlice}. */
export interface SliceInput {
  /** `nx * ny` values, x fastest. */
  readonly image: ArrayLike<number>;
  readonly nx: number;
  readonly ny: number;
  /** In-plane spacing [dx, dy] in mm. Default [1, 1]. */
  readonly spacing?: readonly [number, number];
  /** Labels on the same grid (optional). */
  readonly labels?: Uint8Array;
}

/** A preprocessed slice: image (and labels) on the `outputDims` grid. */
export interface PreprocessedSlice {
  readonly image: Float32Array;
  readonly labels?: Uint8Array;
  readonly transform: SliceTransform;
}

/** A preprocessed volume: `nz` slices of `outputDims`, stacked along z. */
export interface PreprocessedVolume {
  readonly image: Float32Array;
  readonly labels?: Uint8Array;
  readonly transform: VolumeTransform;
}

/**
 * Whether a volume's in-plane spacing is real. The shared ACDC/EMIDEC copies write pixdim 1 for
 * "not kept", so an in-plane spacing of exactly 1 × 1 counts as unknown: preprocessing then skips
 * resampling (unless `unitSpacingIsUnknown: false`) and evaluation gives distances in pixels.
 * The one place of this rule.
 */
export function spacingIsKnown(spacing: readonly number[]): boolean {
  return !(spacing[0] === 1 && spacing[1] === 1);
}

/**
 * The preprocessing a model is trained with, stored in its sample store's manifest so that
 * prediction repeats it (training and prediction both build their options with
 * {@link preprocessOptions}).
 */
export interface PreprocessConfig {
  /** Square network input size after crop/pad. */
  readonly size: number;
  /** In-plane spacing to resample to (mm), or null to keep the grid. */
  readonly targetSpacing: number | null;
  /**
   * How the network sees a slice. `'centre'` (absent: stores made before this field, which keep
   * predicting as they were trained): one `size` window about the image centre; voxels outside
   * get background. `'sliding'`: the whole (resampled) slice, padded up to `size` where smaller;
   * training draws a random `size` window of it per sample, prediction fuses overlapping windows
   * with Gaussian weights (`src/predict/sliding.ts`).
   */
  readonly window?: 'centre' | 'sliding';
}

/** The {@link PreprocessOptions} of a stored {@link PreprocessConfig}; `source` names the volume in errors. */
export function preprocessOptions(p: PreprocessConfig, source: string): PreprocessOptions {
  const fit = (p.window ?? 'centre') === 'sliding' ? 'whole' : 'crop';
  return { size: [p.size, p.size], targetSpacing: p.targetSpacing, fit, source };
}

/**
 * The median in-plane spacing (mm) over volumes whose spacing is known ({@link spacingIsKnown};
 * both in-plane axes pooled), or null when none is: the default target spacing of training
 * (nnU-Net's rule), so data without real spacing keep their pixels.
 */
export function medianKnownSpacing(spacings: readonly (readonly number[])[]): number | null {
  const known: number[] = [];
  for (const s of spacings) if (spacingIsKnown(s)) known.push(s[0], s[1]);
  if (known.length === 0) return null;
  known.sort((a, b) => a - b);
  return percentileSorted(known, 50);
}

const DEFAULT_SIZE: readonly [number, number] = [128, 128];
const DEFAULT_PERCENTILES: readonly [number, number] = [0.5, 99.5];

function where(source: string | undefined): string {
  return source === undefined ? 'preprocess' : source;
}

/**
 * Percentile clipping then z-scoring, with statistics over all voxels given (a whole volume).
 *
 * @throws Error "empty volume" when every voxel is 0, "constant volume" when all voxels are equal,
 *   and an error when the clipped range is empty or a value is not finite. The message names
 *   `options.source`.
 * @returns the normalised values (float32) and the {@link IntensityTransform} applied.
 */
export function normalizeIntensity(
  data: ArrayLike<number>,
  options: NormalizeOptions = {},
): { data: Float32Array; intensity: IntensityTransform } {
  const src = where(options.source);
  const [pLo, pHi] = options.clipPercentiles ?? DEFAULT_PERCENTILES;
  if (!(pLo >= 0 && pHi <= 100 && pLo <= pHi)) {
    throw new RangeError(`${src}: clipPercentiles must satisfy 0 <= lo <= hi <= 100, got [${pLo}, ${pHi}]`);
  }
  const n = data.length;
  if (n === 0) throw new RangeError(`${src}: volume has no voxels`);
  const sorted = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = data[i];
    if (!Number.isFinite(v)) throw new RangeError(`${src}: voxel ${i} is not finite (${v})`);
    sorted[i] = v;
  }
  sorted.sort();
  if (sorted[0] === sorted[n - 1]) {
    if (sorted[0] === 0) throw new Error(`${src}: empty volume (every voxel is 0)`);
    throw new Error(`${src}: constant volume (every voxel is ${sorted[0]}); cannot z-score`);
  }
  const lo = percentileSorted(sorted, pLo);
  const hi = percentileSorted(sorted, pHi);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.min(hi, Math.max(lo, sorted[i]));
  const mean = sum / n;
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const d = Math.min(hi, Math.max(lo, sorted[i])) - mean;
    ss += d * d;
  }
  const std = Math.sqrt(ss / n);
  if (!(std > 0)) {
    throw new Error(
      `${src}: intensities clipped to the ${pLo}–${pHi} percentiles [${lo}, ${hi}] are constant; ` +
        'cannot z-score (widen clipPercentiles)',
    );
  }
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (Math.min(hi, Math.max(lo, data[i])) - mean) / std;
  return { data: out, intensity: { lo, hi, mean, std } };
}

/** Size of a grid resampled from `n` voxels of `spacing` mm to `target` mm (at least 1). */
function resampledLength(n: number, spacing: number, target: number): number {
  return Math.max(1, Math.round((n * spacing) / target));
}

/**
 * Source coordinate, in a grid of `from` voxels, of voxel centre `i` of a grid of `to` voxels
 * covering the same field of view (pixel-centre alignment, like `align_corners=False`).
 */
function sourceCoord(i: number, from: number, to: number): number {
  return ((i + 0.5) * from) / to - 0.5;
}

/** Nearest source voxel of voxel `i` (see {@link sourceCoord}); ties go up; clamped to the grid. */
function nearestIndex(i: number, from: number, to: number): number {
  return Math.min(from - 1, Math.floor(((i + 0.5) * from) / to));
}

/**
 * Bilinear resampling of a plane from `[nx, ny]` to `[mx, my]` (pixel-centre aligned, edge
 * values held outside the grid).
 */
function resampleBilinear(
  src: ArrayLike<number>,
  nx: number,
  ny: number,
  mx: number,
  my: number,
): Float32Array {
  const out = new Float32Array(mx * my);
  const x0 = new Int32Array(mx);
  const x1 = new Int32Array(mx);
  const fx = new Float64Array(mx);
  for (let x = 0; x < mx; x++) {
    const s = Math.min(nx - 1, Math.max(0, sourceCoord(x, nx, mx)));
    x0[x] = Math.floor(s);
    x1[x] = Math.min(nx - 1, x0[x] + 1);
    fx[x] = s - x0[x];
  }
  for (let y = 0; y < my; y++) {
    const sy = Math.min(ny - 1, Math.max(0, sourceCoord(y, ny, my)));
    const y0 = Math.floor(sy);
    const y1 = Math.min(ny - 1, y0 + 1);
    const fy = sy - y0;
    const r0 = y0 * nx;
    const r1 = y1 * nx;
    for (let x = 0; x < mx; x++) {
      const a = src[r0 + x0[x]];
      const b = src[r0 + x1[x]];
      const top = a + fx[x] * (b - a);
      const cc = src[r1 + x0[x]];
      const d = src[r1 + x1[x]];
      const bot = cc + fx[x] * (d - cc);
      out[x + mx * y] = top + fy * (bot - top);
    }
  }
  return out;
}

/** Nearest-neighbour resampling of a label plane from `[nx, ny]` to `[mx, my]`. */
function resampleNearest(src: Uint8Array, nx: number, ny: number, mx: number, my: number): Uint8Array {
  const out = new Uint8Array(mx * my);
  const xi = new Int32Array(mx);
  for (let x = 0; x < mx; x++) xi[x] = nearestIndex(x, nx, mx);
  for (let y = 0; y < my; y++) {
    const row = nearestIndex(y, ny, my) * nx;
    for (let x = 0; x < mx; x++) out[x + mx * y] = src[row + xi[x]];
  }
  return out;
}

/** Copies the window `[ox, ox+mx) × [oy, oy+my)` of a plane, with `fill` outside the plane. */
function cropPad<T extends Float32Array | Uint8Array>(
  src: ArrayLike<number>,
  nx: number,
  ny: number,
  out: T,
  mx: number,
  my: number,
  ox: number,
  oy: number,
  fill: number,
): T {
  out.fill(fill);
  const xa = Math.max(0, -ox);
  const xb = Math.min(mx, nx - ox);
  for (let y = Math.max(0, -oy); y < Math.min(my, ny - oy); y++) {
    const s = (y + oy) * nx + ox;
    const o = y * mx;
    for (let x = xa; x < xb; x++) out[o + x] = src[s + x];
  }
  return out;
}

function checkPositiveInt(v: number, what: string, src: string): void {
  if (!Number.isInteger(v) || v <= 0) throw new RangeError(`${src}: ${what} must be a positive integer, got ${v}`);
}

/**
 * Plans the geometry (resampling and window) for an `nx × ny` grid with the given spacing; the
 * same plan applies to every slice of a volume.
 */
export function planSliceTransform(
  nx: number,
  ny: number,
  spacing: readonly [number, number],
  options: PreprocessOptions = {},
): SliceTransform {
  const src = where(options.source);
  checkPositiveInt(nx, 'nx', src);
  checkPositiveInt(ny, 'ny', src);
  const [dx, dy] = spacing;
  const size = options.size ?? DEFAULT_SIZE;
  checkPositiveInt(size[0], 'size[0]', src);
  checkPositiveInt(size[1], 'size[1]', src);
  const target = options.targetSpacing ?? null;
  let rx = nx;
  let ry = ny;
  if (target !== null) {
    if (!(target > 0 && Number.isFinite(target))) {
      throw new RangeError(`${src}: targetSpacing must be a positive number of mm or null, got ${target}`);
    }
    if (!(dx > 0 && dy > 0 && Number.isFinite(dx) && Number.isFinite(dy))) {
      throw new RangeError(`${src}: cannot resample, in-plane spacing is [${dx}, ${dy}]`);
    }
    if (!((options.unitSpacingIsUnknown ?? true) && !spacingIsKnown(spacing))) {
      rx = resampledLength(nx, dx, target);
      ry = resampledLength(ny, dy, target);
    }
  }
  let cx: number;
  let cy: number;
  const centre = options.centre ?? 'image';
  if (centre === 'image') {
    cx = (rx - 1) / 2;
    cy = (ry - 1) / 2;
  } else {
    const [px, py] = centre;
    if (!Number.isFinite(px) || !Number.isFinite(py)) {
      throw new RangeError(`${src}: centre must be finite voxel coordinates, got [${px}, ${py}]`);
    }
    cx = sourceCoordInverse(px, nx, rx);
    cy = sourceCoordInverse(py, ny, ry);
  }
  const fit = options.fit ?? 'crop';
  if (fit !== 'crop' && fit !== 'whole') throw new RangeError(`${src}: fit must be 'crop' or 'whole', got ${String(fit)}`);
  const mx = fit === 'whole' ? Math.max(rx, size[0]) : size[0];
  const my = fit === 'whole' ? Math.max(ry, size[1]) : size[1];
  return {
    originalDims: [nx, ny],
    spacing: [dx, dy],
    resampledDims: [rx, ry],
    outputDims: [mx, my],
    offset: [windowOffset(cx, rx, mx), windowOffset(cy, ry, my)],
  };
}

/** Coordinate in a grid of `to` voxels of coordinate `c` in a grid of `from` voxels (same field of view). */
function sourceCoordInverse(c: number, from: number, to: number): number {
  return ((c + 0.5) * to) / from - 0.5;
}

/**
 * Offset of an `m`-voxel window centred on `c` in an `n`-voxel grid, kept inside the grid when the
 * grid is larger (crop) and covering the whole grid when it is smaller (pad).
 */
function windowOffset(c: number, n: number, m: number): number {
  const o = Math.floor(c + 0.5 - m / 2);
  return Math.min(Math.max(0, n - m), Math.max(Math.min(0, n - m), o));
}

/** Applies a planned transform to one plane of image values. */
function applyToImage(image: ArrayLike<number>, t: SliceTransform, padValue: number): Float32Array {
  const [nx, ny] = t.originalDims;
  const [rx, ry] = t.resampledDims;
  const [mx, my] = t.outputDims;
  const r = rx === nx && ry === ny ? image : resampleBilinear(image, nx, ny, rx, ry);
  return cropPad(r, rx, ry, new Float32Array(mx * my), mx, my, t.offset[0], t.offset[1], padValue);
}

/** Applies a planned transform to one plane of labels (nearest, background outside). */
function applyToLabels(labels: Uint8Array, t: SliceTransform): Uint8Array {
  const [nx, ny] = t.originalDims;
  const [rx, ry] = t.resampledDims;
  const [mx, my] = t.outputDims;
  const r = rx === nx && ry === ny ? labels : resampleNearest(labels, nx, ny, rx, ry);
  return cropPad(r, rx, ry, new Uint8Array(mx * my), mx, my, t.offset[0], t.offset[1], 0);
}

/**
 * Geometric preprocessing of one slice: optional resampling (bilinear for the image, nearest for
 * labels) and crop/pad to `options.size` about `options.centre`. Intensities are not normalised
 * here (see {@link preprocessVolume}); padding uses `padValue` (default: the slice minimum).
 */
export function preprocessSlice(
  input: SliceInput,
  options: PreprocessOptions & { readonly padValue?: number } = {},
): PreprocessedSlice {
  const src = where(options.source);
  const { nx, ny } = input;
  const transform = planSliceTransform(nx, ny, input.spacing ?? [1, 1], options);
  if (input.image.length !== nx * ny) {
    throw new RangeError(`${src}: image has ${input.image.length} values, expected nx*ny = ${nx}*${ny}`);
  }
  if (input.labels !== undefined && input.labels.length !== nx * ny) {
    throw new RangeError(`${src}: labels have ${input.labels.length} values, expected nx*ny = ${nx}*${ny}`);
  }
  let padValue = options.padValue;
  if (padValue === undefined) {
    padValue = Infinity;
    for (let i = 0; i < input.image.length; i++) padValue = Math.min(padValue, input.image[i]);
  }
  return {
    image: applyToImage(input.image, transform, padValue),
    labels: input.labels === undefined ? undefined : applyToLabels(input.labels, transform),
    transform,
  };
}

/**
 * Full preprocessing of a volume: intensity normalisation over the whole volume, then the same
 * geometric transform for every slice. Padding takes the normalised lower clip value (the darkest
 * normalised intensity).
 *
 * @param image the image volume (any voxel type; `spacing[0..1]` is the in-plane spacing)
 * @param labels optional labels on the same grid (project classes)
 * @returns `nz` slices of `size`, stacked along z, and the {@link VolumeTransform}
 */
export function preprocessVolume(
  image: Volume,
  options: PreprocessOptions = {},
  labels?: Uint8Array,
): PreprocessedVolume {
  const src = where(options.source);
  const [nx, ny, nz] = image.dims;
  checkPositiveInt(nz, 'nz', src);
  const plane = nx * ny;
  if (image.data.length !== plane * nz) {
    throw new RangeError(`${src}: image has ${image.data.length} voxels, expected ${nx}*${ny}*${nz}`);
  }
  if (labels !== undefined && labels.length !== plane * nz) {
    throw new RangeError(`${src}: labels have ${labels.length} voxels, image has ${nx}*${ny}*${nz}`);
  }
  const transform = planSliceTransform(nx, ny, [image.spacing[0], image.spacing[1]], options);
  const { data, intensity } = normalizeIntensity(image.data, options);
  const padValue = (intensity.lo - intensity.mean) / intensity.std;
  const [mx, my] = transform.outputDims;
  const outPlane = mx * my;
  const outImage = new Float32Array(outPlane * nz);
  const outLabels = labels === undefined ? undefined : new Uint8Array(outPlane * nz);
  for (let z = 0; z < nz; z++) {
    outImage.set(applyToImage(data.subarray(z * plane, (z + 1) * plane), transform, padValue), z * outPlane);
    if (labels !== undefined && outLabels !== undefined) {
      outLabels.set(applyToLabels(labels.subarray(z * plane, (z + 1) * plane), transform), z * outPlane);
    }
  }
  return { image: outImage, labels: outLabels, transform: { slice: transform, nz, intensity } };
}

function sliceOf(t: SliceTransform | VolumeTransform): { slice: SliceTransform; nz: number | null } {
  return 'slice' in t ? { slice: t.slice, nz: t.nz } : { slice: t, nz: null };
}

function countSlices(length: number, perSlice: number, nz: number | null, what: string): number {
  const k = length / perSlice;
  if (!Number.isInteger(k) || k < 1) {
    throw new RangeError(`${what}: ${length} values is not a whole number of ${perSlice}-value slices`);
  }
  if (nz !== null && k !== nz) throw new RangeError(`${what}: got ${k} slices, the transform has nz = ${nz}`);
  return k;
}

/**
 * Maps class probabilities on the output grid back onto the original grid (bilinear, class by
 * class). Original voxels outside the output window get probability 1 for background (class 0)
 * and 0 otherwise. The arg-max of the result is the segmentation on the original grid (see
 * `src/predict/predict.ts`).
 *
 * @param probs class-major: `numClasses` blocks of `k` slices of `outputDims`, layout
 *   [class][slice][y][x] (k = `nz` for a {@link VolumeTransform}), as the metrics read them
 * @returns class-major on the original grid: [class][slice][y][x] over `originalDims`
 */
export function invertProbabilities(
  probs: Float32Array,
  numClasses: number,
  transform: SliceTransform | VolumeTransform,
): Float32Array {
  const what = 'invertProbabilities';
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new RangeError(`${what}: numClasses must be a positive integer, got ${numClasses}`);
  }
  if (probs.length % numClasses !== 0) {
    throw new RangeError(`${what}: ${probs.length} values is not a whole number of ${numClasses} classes`);
  }
  const per = probs.length / numClasses;
  const parts = Array.from({ length: numClasses }, (_, c) =>
    invertPlanes(probs.subarray(c * per, (c + 1) * per), transform, c === 0 ? 1 : 0, what),
  );
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  parts.forEach((p, c) => out.set(p, c * p.length));
  return out;
}

/**
 * Maps a scalar map (e.g. an uncertainty map) on the output grid back onto the original grid
 * (bilinear); original voxels outside the output window get `fill`.
 *
 * @param values `k` slices of `outputDims`
 * @returns `k` slices of `originalDims`
 */
export function invertMap(values: Float32Array, transform: SliceTransform | VolumeTransform, fill = 0): Float32Array {
  return invertPlanes(values, transform, fill, 'invertMap');
}

function invertPlanes(values: Float32Array, transform: SliceTransform | VolumeTransform, fill: number, what: string): Float32Array {
  const { slice: t, nz } = sliceOf(transform);
  const [nx, ny] = t.originalDims;
  const [rx, ry] = t.resampledDims;
  const [mx, my] = t.outputDims;
  const k = countSlices(values.length, mx * my, nz, what);
  const resampled = rx !== nx || ry !== ny;
  const out = new Float32Array(nx * ny * k);
  const window = new Float32Array(rx * ry);
  for (let z = 0; z < k; z++) {
    // Inverse of the crop/pad: a window of the resampled grid at -offset.
    cropPad(values.subarray(z * mx * my, (z + 1) * mx * my), mx, my, window, rx, ry, -t.offset[0], -t.offset[1], fill);
    out.set(resampled ? resampleBilinear(window, rx, ry, nx, ny) : window, z * nx * ny);
  }
  return out;
}

/**
 * The number of labelled (non-zero) voxels of a label volume on the original grid that fall
 * outside the output window of `transform`, i.e. that the network never sees (each voxel is
 * placed at its nearest resampled pixel). 0 for every volume is what whole-image preprocessing
 * (`fit: 'whole'`) guarantees; a centre crop can miss heart voxels.
 *
 * @param labels `k` slices of `originalDims`
 */
export function voxelsOutsideWindow(labels: Uint8Array, transform: SliceTransform | VolumeTransform): number {
  const { slice: t, nz } = sliceOf(transform);
  const [nx, ny] = t.originalDims;
  const [rx, ry] = t.resampledDims;
  const [mx, my] = t.outputDims;
  const k = countSlices(labels.length, nx * ny, nz, 'voxelsOutsideWindow');
  const inX = Uint8Array.from({ length: nx }, (_, x) => {
    const r = nearestIndex(x, rx, nx) - t.offset[0];
    return r >= 0 && r < mx ? 1 : 0;
  });
  const inY = Uint8Array.from({ length: ny }, (_, y) => {
    const r = nearestIndex(y, ry, ny) - t.offset[1];
    return r >= 0 && r < my ? 1 : 0;
  });
  let outside = 0;
  for (let z = 0; z < k; z++) {
    for (let y = 0; y < ny; y++) {
      const row = (z * ny + y) * nx;
      for (let x = 0; x < nx; x++) if (labels[row + x] !== 0 && !(inX[x] && inY[y])) outside++;
    }
  }
  return outside;
}
