import { percentileSorted } from '../util/index.js';
import type { NanReason, StructureMetric, StructureOptions } from './types.js';
import { checkLabels, remapUnlabelled, resolveStructures } from './validate.js';

/** Grid size: `[nx, ny]` for a 2-D slice, `[nx, ny, nz]` for a volume; x fastest. */
export type GridDims = readonly [number, number] | readonly [number, number, number];

/**
 * Exact Euclidean distance transform (Felzenszwalb & Huttenlocher 2012, separable lower envelope
 * of parabolas, one pass per axis) with anisotropic spacing: for every voxel, the distance to the
 * nearest feature (non-zero) voxel, in the units of `spacing`. `Infinity` everywhere when there is
 * no feature. Equals scipy's `distance_transform_edt(features == 0, sampling=spacing)`.
 *
 * @param features voxels `[x + nx*(y + ny*z)]`, non-zero = feature
 * @param dims grid size (2-D or 3-D)
 * @param spacing voxel size per axis (default 1), same length as dims
 * @returns distances, Float64Array of the same length
 * @see P. F. Felzenszwalb, D. P. Huttenlocher, "Distance Transforms of Sampled Functions",
 *   Theory of Computing 8 (2012).
 */
export function distanceTransform(
  features: Uint8Array,
  dims: GridDims,
  spacing?: readonly number[],
): Float64Array {
  const where = 'distanceTransform';
  const d3 = checkGrid(dims, features.length, where);
  const sp = spacing ?? dims.map(() => 1);
  if (sp.length !== dims.length || sp.some((s) => !(s > 0) || !Number.isFinite(s))) {
    throw new RangeError(`${where}: spacing must be ${dims.length} positive numbers, got [${sp.join(', ')}]`);
  }
  const sq = new Float64Array(features.length);
  for (let i = 0; i < sq.length; i++) sq[i] = features[i] !== 0 ? 0 : Infinity;
  squaredEdtInPlace(sq, d3, [sp[0], sp[1], sp[2] ?? 1]);
  for (let i = 0; i < sq.length; i++) sq[i] = Math.sqrt(sq[i]);
  return sq;
}

/** Squared EDT in place: `sq` holds 0 at features and Infinity elsewhere on entry. */
function squaredEdtInPlace(sq: Float64Array, dims: readonly [number, number, number], spacing: readonly number[]): void {
  const [nx, ny, nz] = dims;
  const maxN = Math.max(nx, ny, nz);
  const f = new Float64Array(maxN);
  const out = new Float64Array(maxN);
  const v = new Int32Array(maxN);
  const z = new Float64Array(maxN + 1);
  const strides = [1, nx, nx * ny];
  const counts = [nx, ny, nz];
  for (let axis = 0; axis < 3; axis++) {
    const n = counts[axis];
    if (n === 1) continue;
    const stride = strides[axis];
    const h = spacing[axis];
    // The other two axes enumerate the lines along this one.
    const u = axis === 0 ? 1 : 0;
    const w = axis === 2 ? 1 : 2;
    for (let iw = 0; iw < counts[w]; iw++) {
      for (let iu = 0; iu < counts[u]; iu++) {
        const start = iu * strides[u] + iw * strides[w];
        for (let q = 0; q < n; q++) f[q] = sq[start + q * stride];
        if (lowerEnvelope(f, out, v, z, n, h)) {
          for (let q = 0; q < n; q++) sq[start + q * stride] = out[q];
        }
      }
    }
  }
}

/**
 * One-dimensional squared distance transform `out[q] = min_p (h(q − p))² + f[p]` over the finite
 * `f[p]`. Returns false (and leaves `out` alone) when no `f[p]` is finite.
 */
function lowerEnvelope(f: Float64Array, out: Float64Array, v: Int32Array, z: Float64Array, n: number, h: number): boolean {
  let k = -1;
  for (let q = 0; q < n; q++) {
    const fq = f[q];
    if (fq === Infinity) continue;
    const xq = h * q;
    if (k < 0) {
      k = 0;
      v[0] = q;
      z[0] = -Infinity;
      z[1] = Infinity;
      continue;
    }
    let s: number;
    for (;;) {
      const xv = h * v[k];
      s = (fq + xq * xq - (f[v[k]] + xv * xv)) / (2 * (xq - xv));
      if (s <= z[k]) k--;
      else break;
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = Infinity;
  }
  if (k < 0) return false;
  k = 0;
  for (let q = 0; q < n; q++) {
    const xq = h * q;
    while (z[k + 1] < xq) k++;
    const dx = xq - h * v[k];
    out[q] = dx * dx + f[v[k]];
  }
  return true;
}

/**
 * Surface (boundary) voxels of `mask`: voxels in the mask with a face neighbour (4-connected in
 * 2-D, 6-connected in 3-D) outside it; the outside of the image counts as background. This is
 * `binary_erosion(mask) ^ mask` with scipy's defaults, as in MONAI's `get_mask_edges`.
 */
export function surfaceVoxels(mask: Uint8Array, dims: GridDims): Uint8Array {
  const [nx, ny, nz] = checkGrid(dims, mask.length, 'surfaceVoxels');
  const is3d = dims.length === 3;
  const out = new Uint8Array(mask.length);
  const sxy = nx * ny;
  for (let zi = 0; zi < nz; zi++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++) {
        const i = x + nx * y + sxy * zi;
        if (mask[i] === 0) continue;
        const interior =
          x > 0 && mask[i - 1] !== 0 && x < nx - 1 && mask[i + 1] !== 0 &&
          y > 0 && mask[i - nx] !== 0 && y < ny - 1 && mask[i + nx] !== 0 &&
          (!is3d || (zi > 0 && mask[i - sxy] !== 0 && zi < nz - 1 && mask[i + sxy] !== 0));
        if (!interior) out[i] = 1;
      }
    }
  }
  return out;
}

/** Options of {@link surfaceDistances}. */
export interface SurfaceDistanceOptions extends StructureOptions {
  /** Grid size: `[nx, ny]` scores a 2-D slice, `[nx, ny, nz]` a volume (3-D surfaces). */
  readonly dims: GridDims;
  /** Voxel size in mm, `[dx, dy]` or `[dx, dy, dz]` (at least as many as dims). Required unless `spacingKnown` is false. */
  readonly spacing?: readonly number[];
  /**
   * False when the image carries no trustworthy spacing: distances are then in pixels (spacing 1,
   * any `spacing` given is ignored) and the result says `unit: 'px'`. Default true.
   */
  readonly spacingKnown?: boolean;
  /** Percentile of the directed surface distances for the Hausdorff distance. Default 95 (HD95); 100 is the maximum. */
  readonly percentile?: number;
}

/** Hausdorff distance and ASSD per structure. */
export interface SurfaceDistances {
  /** `mm` when spacing was known, else `px`. */
  readonly unit: 'mm' | 'px';
  readonly percentile: number;
  /** HD at `percentile` per structure: max of the two directed percentiles (MONAI's definition). */
  readonly hausdorff: StructureMetric[];
  /** Average symmetric surface distance per structure: mean of both directed distance sets together. */
  readonly assd: StructureMetric[];
}

/**
 * Hausdorff distance (HD95 by default) and average symmetric surface distance between the
 * surfaces of predicted and ground-truth structures, in millimetres (or pixels, see
 * `spacingKnown`).
 *
 * Definitions (those of MONAI's `compute_hausdorff_distance(percentile=95)` and
 * `compute_average_surface_distance(symmetric=True)`): with S_P, S_G the surface voxels
 * ({@link surfaceVoxels}) and d(a, S) the Euclidean distance from voxel a to the nearest voxel
 * of S, the directed sets are D_PG = {d(a, S_G) : a ∈ S_P} and D_GP = {d(b, S_P) : b ∈ S_G};
 * `HD = max(perc(D_PG, q), perc(D_GP, q))` with numpy's linear-interpolation percentile, and
 * `ASSD = mean(D_PG ∪ D_GP)` (a mean over all |S_P| + |S_G| distances).
 *
 * Empty structures: both empty → NaN `both-empty`; exactly one empty → NaN `missing` (the
 * distance is undefined; {@link reduce} counts it, it is never dropped); unlabelled → NaN
 * `unlabelled`.
 *
 * @example
 * surfaceDistances(pred, gt, { dims: [nx, ny, nz], spacing: [1.4, 1.4, 10] }).hausdorff
 */
export function surfaceDistances(pred: Uint8Array, target: Uint8Array, opts: SurfaceDistanceOptions): SurfaceDistances {
  const where = 'surfaceDistances';
  const s = resolveStructures(opts, where);
  const dims3 = checkGrid(opts.dims, pred.length, where);
  checkLabels(pred, s.numClasses, 'pred', where);
  checkLabels(target, s.numClasses, 'target', where, pred.length);
  const percentile = opts.percentile ?? 95;
  if (!(percentile >= 0 && percentile <= 100)) {
    throw new RangeError(`${where}: percentile must be in [0, 100], got ${percentile}`);
  }
  const known = opts.spacingKnown ?? true;
  let spacing: number[];
  if (known) {
    const sp = opts.spacing;
    if (sp === undefined) {
      throw new RangeError(`${where}: spacing (mm) is required; pass spacingKnown: false to get distances in pixels`);
    }
    if (sp.length < opts.dims.length || sp.slice(0, opts.dims.length).some((v) => !(v > 0) || !Number.isFinite(v))) {
      throw new RangeError(`${where}: spacing must hold ${opts.dims.length} positive numbers (mm), got [${sp.join(', ')}]`);
    }
    spacing = sp.slice(0, opts.dims.length);
  } else {
    spacing = opts.dims.map(() => 1);
  }
  const p = remapUnlabelled(pred, s.labelled);
  const hausdorff: StructureMetric[] = [];
  const assd: StructureMetric[] = [];
  const maskP = new Uint8Array(p.length);
  const maskG = new Uint8Array(p.length);
  for (const cls of s.classes) {
    const nan = (reason: NanReason): void => {
      hausdorff.push({ cls, value: NaN, reason });
      assd.push({ cls, value: NaN, reason });
    };
    if (s.labelled[cls] !== 1) {
      nan('unlabelled');
      continue;
    }
    let nP = 0;
    let nG = 0;
    for (let i = 0; i < p.length; i++) {
      nP += maskP[i] = p[i] === cls ? 1 : 0;
      nG += maskG[i] = target[i] === cls ? 1 : 0;
    }
    if (nP === 0 && nG === 0) {
      nan('both-empty');
      continue;
    }
    if (nP === 0 || nG === 0) {
      nan('missing');
      continue;
    }
    const [dPG, dGP] = directedSurfaceDistances(surfaceVoxels(maskP, opts.dims), surfaceVoxels(maskG, opts.dims), dims3, spacing);
    hausdorff.push({ cls, value: Math.max(percentileSorted(dPG, percentile), percentileSorted(dGP, percentile)) });
    let sum = 0;
    for (const d of dPG) sum += d;
    for (const d of dGP) sum += d;
    assd.push({ cls, value: sum / (dPG.length + dGP.length) });
  }
  return { unit: known ? 'mm' : 'px', percentile, hausdorff, assd };
}

/**
 * {@link surfaceDistances} on each z slice of a volume as a 2-D image: `dims` is `[nx, ny, nz]`
 * and the result has one entry per slice (2-D surfaces, in-plane spacing).
 */
export function surfaceDistancesPerSlice(
  pred: Uint8Array,
  target: Uint8Array,
  opts: SurfaceDistanceOptions & { readonly dims: readonly [number, number, number] },
): SurfaceDistances[] {
  const [nx, ny, nz] = checkGrid(opts.dims, pred.length, 'surfaceDistancesPerSlice');
  if (target.length !== pred.length) {
    throw new RangeError(`surfaceDistancesPerSlice: target has ${target.length} voxels, expected ${pred.length}`);
  }
  const n = nx * ny;
  const out: SurfaceDistances[] = [];
  for (let zi = 0; zi < nz; zi++) {
    out.push(
      surfaceDistances(pred.subarray(zi * n, (zi + 1) * n), target.subarray(zi * n, (zi + 1) * n), {
        ...opts,
        dims: [nx, ny],
        spacing: opts.spacing?.slice(0, 2),
      }),
    );
  }
  return out;
}

/**
 * Sorted directed distances from surface A to surface B and from B to A. The distance transforms
 * run on the bounding box of A ∪ B only: every query voxel and every feature lies inside it, so
 * the result is exact.
 */
function directedSurfaceDistances(
  a: Uint8Array,
  b: Uint8Array,
  dims: readonly [number, number, number],
  spacing: readonly number[],
): [Float64Array, Float64Array] {
  const [nx, ny, nz] = dims;
  const lo = [nx, ny, nz];
  const hi = [-1, -1, -1];
  for (let zi = 0, i = 0; zi < nz; zi++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++, i++) {
        if (a[i] === 0 && b[i] === 0) continue;
        if (x < lo[0]) lo[0] = x;
        if (x > hi[0]) hi[0] = x;
        if (y < lo[1]) lo[1] = y;
        if (y > hi[1]) hi[1] = y;
        if (zi < lo[2]) lo[2] = zi;
        if (zi > hi[2]) hi[2] = zi;
      }
    }
  }
  const box: [number, number, number] = [hi[0] - lo[0] + 1, hi[1] - lo[1] + 1, hi[2] - lo[2] + 1];
  const m = box[0] * box[1] * box[2];
  const sqA = new Float64Array(m);
  const sqB = new Float64Array(m);
  for (let zi = 0, j = 0; zi < box[2]; zi++) {
    for (let y = 0; y < box[1]; y++) {
      const row = lo[0] + nx * (lo[1] + y + ny * (lo[2] + zi));
      for (let x = 0; x < box[0]; x++, j++) {
        sqA[j] = a[row + x] !== 0 ? 0 : Infinity;
        sqB[j] = b[row + x] !== 0 ? 0 : Infinity;
      }
    }
  }
  const sp3 = [spacing[0], spacing[1], spacing[2] ?? 1];
  squaredEdtInPlace(sqA, box, sp3);
  squaredEdtInPlace(sqB, box, sp3);
  const fromA: number[] = [];
  const fromB: number[] = [];
  for (let j = 0; j < m; j++) {
    // A voxel of A is a feature of A (sqA = 0) and reads its distance to B from sqB.
    if (sqA[j] === 0) fromA.push(Math.sqrt(sqB[j]));
    if (sqB[j] === 0) fromB.push(Math.sqrt(sqA[j]));
  }
  return [Float64Array.from(fromA).sort(), Float64Array.from(fromB).sort()];
}

function checkGrid(dims: GridDims, n: number, where: string): [number, number, number] {
  if (!Array.isArray(dims) || (dims.length !== 2 && dims.length !== 3) || dims.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new RangeError(`${where}: dims must be [nx, ny] or [nx, ny, nz] of positive integers, got ${JSON.stringify(dims)}`);
  }
  const d3: [number, number, number] = [dims[0], dims[1], dims.length === 3 ? dims[2] : 1];
  if (d3[0] * d3[1] * d3[2] !== n) {
    throw new RangeError(`${where}: dims [${dims.join(', ')}] hold ${d3[0] * d3[1] * d3[2]} voxels, but the array has ${n}`);
  }
  return d3;
}
