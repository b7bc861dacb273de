/**
 * Seeded data augmentation of preprocessed 2-D slices (image + labels).
 *
 * Two steps, so that the random part and the deterministic part can be tested apart:
 * {@link drawAugmentation} draws an {@link AugmentParams} record from an {@link Rng};
 * {@link applyAugmentation} applies it. {@link augment} does both.
 *
 * Spatial components (rotation, scaling, flips, elastic deformation) are composed into one
 * sampling grid, sampled once: bilinear for the image, nearest for labels, edge values held
 * outside the slice. Intensity components then act on the image only, in this order: bias field,
 * gamma, contrast, brightness, blur, noise.
 *
 * Layout: row-major with x fastest (`img[x + nx*y]`).
 */
import { Rng } from '../util/rng.js';

/** Probability `p` that a component is applied. */
interface Component {
  readonly p: number;
}

/** Per-component probability and range of {@link augment}. `strength` scales them all. */
export interface AugmentConfig {
  /**
   * Global scale: every magnitude is multiplied by `strength` (multiplicative factors f become
   * f^strength) and every probability by min(1, strength). 0 = off (exact identity), 1 = default.
   */
  readonly strength: number;
  /** In-plane rotation, uniform in ±maxDegrees. */
  readonly rotation: Component & { readonly maxDegrees: number };
  /** Isotropic zoom, log-uniform in [min, max]. */
  readonly scale: Component & { readonly range: readonly [number, number] };
  /** Mirror along x (left–right) and along y (up–down), independently. */
  readonly flip: { readonly pX: number; readonly pY: number };
  /**
   * Elastic deformation: a Gaussian-smoothed random displacement field (smoothing `sigma` px),
   * scaled to an RMS displacement of `magnitude` px.
   */
  readonly elastic: Component & { readonly magnitude: number; readonly sigma: number };
  /** Gamma on the image rescaled to [0, 1], log-uniform in [min, max]. */
  readonly gamma: Component & { readonly range: readonly [number, number] };
  /** Contrast about the image mean, factor log-uniform in [min, max]. */
  readonly contrast: Component & { readonly range: readonly [number, number] };
  /** Additive brightness shift (in z-score units), uniform in [min, max]. */
  readonly brightness: Component & { readonly range: readonly [number, number] };
  /** Additive Gaussian noise, standard deviation uniform in [0, maxStd]. */
  readonly noise: Component & { readonly maxStd: number };
  /** Gaussian blur, sigma (px) uniform in [min, max]. */
  readonly blur: Component & { readonly sigma: readonly [number, number] };
  /**
   * Multiplicative bias field exp(Σ c_ij X^i Y^j), 1 ≤ i+j ≤ 2, X, Y in [-1, 1], coefficients
   * uniform in ±maxCoefficient, applied above the image minimum.
   */
  readonly biasField: Component & { readonly maxCoefficient: number };
}

/** Default training augmentation (magnitudes in the range of nnU-Net's 2-D defaults). */
export const DEFAULT_AUGMENT: AugmentConfig = Object.freeze({
  strength: 1,
  rotation: { p: 0.5, maxDegrees: 20 },
  scale: { p: 0.3, range: [0.85, 1.25] as const },
  flip: { pX: 0.5, pY: 0.5 },
  elastic: { p: 0.2, magnitude: 2, sigma: 8 },
  gamma: { p: 0.3, range: [0.7, 1.5] as const },
  contrast: { p: 0.15, range: [0.75, 1.25] as const },
  brightness: { p: 0.15, range: [-0.2, 0.2] as const },
  noise: { p: 0.15, maxStd: 0.1 },
  blur: { p: 0.2, sigma: [0.5, 1.0] as const },
  biasField: { p: 0.3, maxCoefficient: 0.3 },
});

type DeepPartial<T> = { readonly [K in keyof T]?: T[K] extends object ? Partial<T[K]> : T[K] };

/**
 * A validated config: {@link DEFAULT_AUGMENT} with the given fields replaced.
 * @throws RangeError naming the first invalid field
 */
export function augmentConfig(overrides: DeepPartial<AugmentConfig> = {}): AugmentConfig {
  const d = DEFAULT_AUGMENT;
  const o = overrides;
  const c: AugmentConfig = {
    strength: o.strength ?? d.strength,
    rotation: { ...d.rotation, ...o.rotation },
    scale: { ...d.scale, ...o.scale },
    flip: { ...d.flip, ...o.flip },
    elastic: { ...d.elastic, ...o.elastic },
    gamma: { ...d.gamma, ...o.gamma },
    contrast: { ...d.contrast, ...o.contrast },
    brightness: { ...d.brightness, ...o.brightness },
    noise: { ...d.noise, ...o.noise },
    blur: { ...d.blur, ...o.blur },
    biasField: { ...d.biasField, ...o.biasField },
  };
  validateAugmentConfig(c);
  return c;
}

/** @throws RangeError naming the first invalid field of `c` */
export function validateAugmentConfig(c: AugmentConfig): void {
  const bad = (field: string, v: unknown, want: string): never => {
    throw new RangeError(`augment config: ${field} must be ${want}, got ${JSON.stringify(v)}`);
  };
  const prob = (field: string, v: number): void => {
    if (!(v >= 0 && v <= 1)) bad(field, v, 'a probability in [0, 1]');
  };
  const nonNeg = (field: string, v: number): void => {
    if (!(v >= 0 && Number.isFinite(v))) bad(field, v, 'a finite number >= 0');
  };
  const posRange = (field: string, r: readonly [number, number]): void => {
    if (!(r[0] > 0 && r[0] <= r[1] && Number.isFinite(r[1]))) bad(field, r, 'a range [min, max] with 0 < min <= max');
  };
  nonNeg('strength', c.strength);
  prob('rotation.p', c.rotation.p);
  nonNeg('rotation.maxDegrees', c.rotation.maxDegrees);
  prob('scale.p', c.scale.p);
  posRange('scale.range', c.scale.range);
  prob('flip.pX', c.flip.pX);
  prob('flip.pY', c.flip.pY);
  prob('elastic.p', c.elastic.p);
  nonNeg('elastic.magnitude', c.elastic.magnitude);
  if (!(c.elastic.sigma > 0 && Number.isFinite(c.elastic.sigma))) bad('elastic.sigma', c.elastic.sigma, '> 0');
  prob('gamma.p', c.gamma.p);
  posRange('gamma.range', c.gamma.range);
  prob('contrast.p', c.contrast.p);
  posRange('contrast.range', c.contrast.range);
  prob('brightness.p', c.brightness.p);
  const br = c.brightness.range;
  if (!(br[0] <= br[1] && Number.isFinite(br[0]) && Number.isFinite(br[1]))) {
    bad('brightness.range', br, 'a finite range [min, max] with min <= max');
  }
  prob('noise.p', c.noise.p);
  nonNeg('noise.maxStd', c.noise.maxStd);
  prob('blur.p', c.blur.p);
  const bs = c.blur.sigma;
  if (!(bs[0] >= 0 && bs[0] <= bs[1] && Number.isFinite(bs[1]))) bad('blur.sigma', bs, 'a range with 0 <= min <= max');
  prob('biasField.p', c.biasField.p);
  nonNeg('biasField.maxCoefficient', c.biasField.maxCoefficient);
}

/**
 * One draw of augmentation parameters. A component that is not applied has the neutral values of
 * {@link IDENTITY_AUGMENT}: rotation 0, scale 1, no flips, `elasticSeed` null, gamma/contrast 1,
 * brightness/noise/blur 0, `biasCoefficients` null.
 */
export interface AugmentParams {
  readonly rotationDegrees: number;
  readonly scale: number;
  readonly flipX: boolean;
  readonly flipY: boolean;
  /** Seed of the elastic displacement field, or null for none. */
  readonly elasticSeed: number | null;
  readonly elasticMagnitude: number;
  readonly elasticSigma: number;
  readonly gamma: number;
  readonly contrast: number;
  readonly brightness: number;
  readonly noiseStd: number;
  /** Seed of the noise image (used when `noiseStd > 0`). */
  readonly noiseSeed: number;
  readonly blurSigma: number;
  /** c_10, c_01, c_20, c_11, c_02 of the bias field, or null for none. */
  readonly biasCoefficients: readonly number[] | null;
}

/** The parameters that leave a slice unchanged. */
export const IDENTITY_AUGMENT: AugmentParams = Object.freeze({
  rotationDegrees: 0,
  scale: 1,
  flipX: false,
  flipY: false,
  elasticSeed: null,
  elasticMagnitude: 0,
  elasticSigma: 1,
  gamma: 1,
  contrast: 1,
  brightness: 0,
  noiseStd: 0,
  noiseSeed: 0,
  blurSigma: 0,
  biasCoefficients: null,
});

/**
 * Draws augmentation parameters. Every component consumes the same number of draws whether or not
 * it is applied, so changing one component's probability leaves the others' values unchanged.
 */
export function drawAugmentation(rng: Rng, config: AugmentConfig = DEFAULT_AUGMENT): AugmentParams {
  const s = config.strength;
  const ps = Math.min(1, s);
  const on = (p: number): boolean => rng.uniform() < p * ps;
  const logUniform = (r: readonly [number, number]): number => Math.exp(s * rng.range(Math.log(r[0]), Math.log(r[1])));

  const rotOn = on(config.rotation.p);
  const rot = rng.range(-1, 1) * config.rotation.maxDegrees * s;
  const scaleOn = on(config.scale.p);
  const scale = logUniform(config.scale.range);
  const flipX = on(config.flip.pX);
  const flipY = on(config.flip.pY);
  const elasticOn = on(config.elastic.p);
  const elasticSeed = rng.nextUint32();
  const gammaOn = on(config.gamma.p);
  const gamma = logUniform(config.gamma.range);
  const contrastOn = on(config.contrast.p);
  const contrast = logUniform(config.contrast.range);
  const brightOn = on(config.brightness.p);
  const brightness = s * rng.range(config.brightness.range[0], config.brightness.range[1]);
  const noiseOn = on(config.noise.p);
  const noiseStd = s * rng.range(0, config.noise.maxStd);
  const noiseSeed = rng.nextUint32();
  const blurOn = on(config.blur.p);
  const blurSigma = s * rng.range(config.blur.sigma[0], config.blur.sigma[1]);
  const biasOn = on(config.biasField.p);
  const bias: number[] = [];
  for (let i = 0; i < 5; i++) bias.push(s * rng.range(-1, 1) * config.biasField.maxCoefficient);

  const elasticMagnitude = s * config.elastic.magnitude;
  return {
    rotationDegrees: rotOn ? rot : 0,
    scale: scaleOn ? scale : 1,
    flipX,
    flipY,
    elasticSeed: elasticOn && elasticMagnitude > 0 ? elasticSeed : null,
    elasticMagnitude: elasticOn ? elasticMagnitude : 0,
    elasticSigma: elasticOn ? config.elastic.sigma : IDENTITY_AUGMENT.elasticSigma,
    gamma: gammaOn ? gamma : 1,
    contrast: contrastOn ? contrast : 1,
    brightness: brightOn ? brightness : 0,
    noiseStd: noiseOn ? noiseStd : 0,
    noiseSeed: noiseOn ? noiseSeed : 0,
    blurSigma: blurOn ? blurSigma : 0,
    biasCoefficients: biasOn && bias.some((c) => c !== 0) ? bias : null,
  };
}

/** A slice to augment: `nx * ny` values, x fastest. */
export interface AugmentInput {
  readonly image: Float32Array;
  readonly labels?: Uint8Array;
  readonly nx: number;
  readonly ny: number;
}

/** Augmented image (and labels when given). */
export interface AugmentOutput {
  readonly image: Float32Array;
  readonly labels?: Uint8Array;
}

/**
 * Draws parameters from `rng` and applies them. The same seed gives bit-identical outputs.
 * @param out optional destination arrays (e.g. views into a batch), `nx * ny` long each
 */
export function augment(
  input: AugmentInput,
  rng: Rng,
  config: AugmentConfig = DEFAULT_AUGMENT,
  out?: { image: Float32Array; labels?: Uint8Array },
): AugmentOutput {
  return applyAugmentation(input, drawAugmentation(rng, config), out);
}

/** cos and sin of an angle in degrees, exact at multiples of 90°. */
function cosSinDegrees(deg: number): [number, number] {
  const q = deg / 90;
  if (Number.isInteger(q)) {
    const k = ((q % 4) + 4) % 4;
    return [
      [1, 0],
      [0, 1],
      [-1, 0],
      [0, -1],
    ][k] as [number, number];
  }
  const r = (deg * Math.PI) / 180;
  return [Math.cos(r), Math.sin(r)];
}

/**
 * Applies `params` to a slice (deterministic).
 *
 * Geometry: with c the slice centre ((nx-1)/2, (ny-1)/2) and d the elastic displacement at the
 * output pixel p, the output at p samples the input at c + F·S⁻¹·R(-θ)·(p + d - c), where R(θ)
 * rotates by θ = `rotationDegrees` (from +x towards +y), S = `scale` (> 1 zooms in) and F the flips.
 * So a 90° rotation maps input (x, y) to output (c_x - (y - c_y), c_y + (x - c_x)) on a square slice.
 */
export function applyAugmentation(
  input: AugmentInput,
  params: AugmentParams,
  out?: { image: Float32Array; labels?: Uint8Array },
): AugmentOutput {
  const { nx, ny, image, labels } = input;
  const n = nx * ny;
  if (!Number.isInteger(nx) || !Number.isInteger(ny) || nx < 1 || ny < 1) {
    throw new RangeError(`augment: nx and ny must be positive integers, got ${nx} × ${ny}`);
  }
  if (image.length !== n) throw new RangeError(`augment: image has ${image.length} values, expected ${nx}*${ny}`);
  if (labels !== undefined && labels.length !== n) {
    throw new RangeError(`augment: labels have ${labels.length} values, expected ${nx}*${ny}`);
  }
  const outImage = out?.image ?? new Float32Array(n);
  const outLabels = labels === undefined ? undefined : (out?.labels ?? new Uint8Array(n));
  if (outImage.length !== n || (outLabels !== undefined && outLabels.length !== n)) {
    throw new RangeError(`augment: output arrays must have ${nx}*${ny} values`);
  }

  const spatial =
    params.rotationDegrees !== 0 || params.scale !== 1 || params.flipX || params.flipY || params.elasticSeed !== null;
  if (spatial) {
    sampleSpatial(input, params, outImage, outLabels);
  } else {
    outImage.set(image);
    if (labels !== undefined && outLabels !== undefined) outLabels.set(labels);
  }
  intensity(outImage, nx, ny, params);
  return { image: outImage, labels: outLabels };
}

function sampleSpatial(
  input: AugmentInput,
  params: AugmentParams,
  outImage: Float32Array,
  outLabels: Uint8Array | undefined,
): void {
  const { nx, ny, image, labels } = input;
  const cx = (nx - 1) / 2;
  const cy = (ny - 1) / 2;
  const [cos, sin] = cosSinDegrees(params.rotationDegrees);
  const inv = 1 / params.scale;
  const fx = params.flipX ? -1 : 1;
  const fy = params.flipY ? -1 : 1;
  // src - c = F · S⁻¹ · R(-θ) · q
  const a00 = fx * inv * cos;
  const a01 = fx * inv * sin;
  const a10 = -fy * inv * sin;
  const a11 = fy * inv * cos;
  const field =
    params.elasticSeed === null ? null : elasticField(nx, ny, params.elasticSeed, params.elasticMagnitude, params.elasticSigma);
  for (let y = 0; y < ny; y++) {
    for (let x = 0; x < nx; x++) {
      const i = x + nx * y;
      let qx = x - cx;
      let qy = y - cy;
      if (field !== null) {
        qx += field[2 * i];
        qy += field[2 * i + 1];
      }
      const sx = Math.min(nx - 1, Math.max(0, cx + a00 * qx + a01 * qy));
      const sy = Math.min(ny - 1, Math.max(0, cy + a10 * qx + a11 * qy));
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const x1 = x0 + 1 < nx ? x0 + 1 : x0;
      const y1 = y0 + 1 < ny ? y0 + 1 : y0;
      const tx = sx - x0;
      const ty = sy - y0;
      const r0 = nx * y0;
      const r1 = nx * y1;
      const a = image[r0 + x0];
      const top = a + tx * (image[r0 + x1] - a);
      const c = image[r1 + x0];
      const bot = c + tx * (image[r1 + x1] - c);
      outImage[i] = top + ty * (bot - top);
      if (labels !== undefined && outLabels !== undefined) {
        outLabels[i] = labels[(tx < 0.5 ? x0 : x1) + nx * (ty < 0.5 ? y0 : y1)];
      }
    }
  }
}

/** 1-D Gaussian kernel, radius ceil(3σ), normalised to sum 1. */
function gaussianKernel(sigma: number): Float64Array {
  const r = Math.max(1, Math.ceil(3 * sigma));
  const k = new Float64Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; i++) {
    k[i + r] = Math.exp(-(i * i) / (2 * sigma * sigma));
    sum += k[i + r];
  }
  for (let i = 0; i < k.length; i++) k[i] /= sum;
  return k;
}

/**
 * Separable Gaussian smoothing of `channels` interleaved planes (value of channel c at pixel i is
 * `a[channels*i + c]`), edges held. In place.
 */
function gaussianSmooth(a: Float32Array | Float64Array, nx: number, ny: number, sigma: number, channels: number): void {
  const k = gaussianKernel(sigma);
  const r = (k.length - 1) / 2;
  const tmp = new Float64Array(a.length);
  for (let y = 0; y < ny; y++) {
    for (let x = 0; x < nx; x++) {
      for (let c = 0; c < channels; c++) {
        let s = 0;
        for (let j = -r; j <= r; j++) {
          const xx = Math.min(nx - 1, Math.max(0, x + j));
          s += k[j + r] * a[channels * (xx + nx * y) + c];
        }
        tmp[channels * (x + nx * y) + c] = s;
      }
    }
  }
  for (let y = 0; y < ny; y++) {
    for (let x = 0; x < nx; x++) {
      for (let c = 0; c < channels; c++) {
        let s = 0;
        for (let j = -r; j <= r; j++) {
          const yy = Math.min(ny - 1, Math.max(0, y + j));
          s += k[j + r] * tmp[channels * (x + nx * yy) + c];
        }
        a[channels * (x + nx * y) + c] = s;
      }
    }
  }
}

/**
 * Elastic displacement field (dx, dy interleaved per pixel): white noise on a grid coarsened by
 * about sigma/2, Gaussian-smoothed there (sigma in coarse units), bilinearly upsampled, and scaled
 * to an RMS displacement of `magnitude` px. Working on the coarse grid keeps the cost small; the
 * field is smooth at scale sigma either way.
 */
export function elasticField(nx: number, ny: number, seed: number, magnitude: number, sigma: number): Float32Array {
  const g = Math.max(1, Math.round(sigma / 2));
  const gx = Math.ceil(nx / g) + 1;
  const gy = Math.ceil(ny / g) + 1;
  const rng = new Rng(seed);
  const coarse = new Float64Array(2 * gx * gy);
  for (let i = 0; i < coarse.length; i++) coarse[i] = rng.normal();
  gaussianSmooth(coarse, gx, gy, sigma / g, 2);
  const field = new Float32Array(2 * nx * ny);
  let ss = 0;
  for (let y = 0; y < ny; y++) {
    const cyf = y / g;
    const y0 = Math.floor(cyf);
    const ty = cyf - y0;
    for (let x = 0; x < nx; x++) {
      const cxf = x / g;
      const x0 = Math.floor(cxf);
      const tx = cxf - x0;
      for (let c = 0; c < 2; c++) {
        const v00 = coarse[2 * (x0 + gx * y0) + c];
        const v10 = coarse[2 * (x0 + 1 + gx * y0) + c];
        const v01 = coarse[2 * (x0 + gx * (y0 + 1)) + c];
        const v11 = coarse[2 * (x0 + 1 + gx * (y0 + 1)) + c];
        const v = (1 - ty) * (v00 + tx * (v10 - v00)) + ty * (v01 + tx * (v11 - v01));
        field[2 * (x + nx * y) + c] = v;
        ss += v * v;
      }
    }
  }
  const rms = Math.sqrt(ss / (nx * ny));
  const f = rms > 0 ? magnitude / rms : 0;
  for (let i = 0; i < field.length; i++) field[i] *= f;
  return field;
}

function intensity(img: Float32Array, nx: number, ny: number, p: AugmentParams): void {
  const n = img.length;
  if (p.biasCoefficients !== null || p.gamma !== 1) {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < n; i++) {
      lo = Math.min(lo, img[i]);
      hi = Math.max(hi, img[i]);
    }
    if (p.biasCoefficients !== null) {
      const [c10, c01, c20, c11, c02] = p.biasCoefficients;
      for (let y = 0; y < ny; y++) {
        const Y = ny > 1 ? (2 * y) / (ny - 1) - 1 : 0;
        for (let x = 0; x < nx; x++) {
          const X = nx > 1 ? (2 * x) / (nx - 1) - 1 : 0;
          const b = Math.exp(c10 * X + c01 * Y + c20 * X * X + c11 * X * Y + c02 * Y * Y);
          const i = x + nx * y;
          img[i] = lo + (img[i] - lo) * b;
        }
      }
      hi = -Infinity;
      for (let i = 0; i < n; i++) hi = Math.max(hi, img[i]);
    }
    const range = hi - lo;
    if (p.gamma !== 1 && range > 0) {
      for (let i = 0; i < n; i++) img[i] = lo + range * Math.pow((img[i] - lo) / range, p.gamma);
    }
  }
  if (p.contrast !== 1) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += img[i];
    mean /= n;
    for (let i = 0; i < n; i++) img[i] = mean + (img[i] - mean) * p.contrast;
  }
  if (p.brightness !== 0) {
    for (let i = 0; i < n; i++) img[i] += p.brightness;
  }
  if (p.blurSigma > 0) gaussianSmooth(img, nx, ny, p.blurSigma, 1);
  if (p.noiseStd > 0) {
    const rng = new Rng(p.noiseSeed);
    for (let i = 0; i < n; i++) img[i] += p.noiseStd * rng.normal();
  }
}
