/**
 * Image degradations of the phantom: partial-volume blur, a smooth coil bias field and Rician
 * noise. All act on one slice (x fastest) in place or return a new array; all randomness comes
 * from the caller's `Rng`.
 */
import type { Rng } from '../../util/rng.js';

/**
 * Separable Gaussian blur of an nx × ny slice (edge pixels repeated), in place.
 *
 * @param sigmaPx - standard deviation in pixels; 0 leaves the slice unchanged.
 */
export function gaussianBlur2d(slice: Float32Array, nx: number, ny: number, sigmaPx: number): void {
  if (sigmaPx <= 0) return;
  const radius = Math.max(1, Math.ceil(3 * sigmaPx));
  const kernel = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let k = -radius; k <= radius; k++) {
    const w = Math.exp((-0.5 * k * k) / (sigmaPx * sigmaPx));
    kernel[k + radius] = w;
    sum += w;
  }
  for (let k = 0; k < kernel.length; k++) kernel[k] /= sum;
  const tmp = new Float64Array(nx * ny);
  for (let j = 0; j < ny; j++) {
    for (let i = 0; i < nx; i++) {
      let acc = 0;
      for (let k = -radius; k <= radius; k++) {
        const ii = Math.min(nx - 1, Math.max(0, i + k));
        acc += kernel[k + radius] * slice[ii + nx * j];
      }
      tmp[i + nx * j] = acc;
    }
  }
  for (let j = 0; j < ny; j++) {
    for (let i = 0; i < nx; i++) {
      let acc = 0;
      for (let k = -radius; k <= radius; k++) {
        const jj = Math.min(ny - 1, Math.max(0, j + k));
        acc += kernel[k + radius] * tmp[i + nx * jj];
      }
      slice[i + nx * j] = acc;
    }
  }
}

/** Coefficients of a smooth multiplicative bias field (a receive-coil sensitivity). */
export interface BiasField {
  /** Coefficients of x, y, x², y², xy and z over coordinates normalised to [−1, 1]. */
  readonly coef: readonly [number, number, number, number, number, number];
}

/**
 * Draws a bias field exp(c · [x, y, x², y², xy, z]) with coefficients N(0, sd²).
 *
 * @param sd - spread of the coefficients; 0.12 gives roughly ±25 % across the field of view.
 */
export function sampleBiasField(rng: Rng, sd = 0.12): BiasField {
  const c = () => sd * rng.normal();
  return { coef: [c(), c(), c(), c(), c(), c()] };
}

/** Multiplies slice `k` of `nz` by the bias field, in place. */
export function applyBiasField(slice: Float32Array, nx: number, ny: number, k: number, nz: number, b: BiasField): void {
  const [cx, cy, cxx, cyy, cxy, cz] = b.coef;
  const z = nz > 1 ? (2 * k) / (nz - 1) - 1 : 0;
  for (let j = 0; j < ny; j++) {
    const y = ny > 1 ? (2 * j) / (ny - 1) - 1 : 0;
    for (let i = 0; i < nx; i++) {
      const x = nx > 1 ? (2 * i) / (nx - 1) - 1 : 0;
      slice[i + nx * j] *= Math.exp(cx * x + cy * y + cxx * x * x + cyy * y * y + cxy * x * y + cz * z);
    }
  }
}

/**
 * Rician noise: the magnitude of the signal plus complex Gaussian noise,
 * |S + σ·(n₁ + i·n₂)| with n₁, n₂ ~ N(0, 1), in place.
 */
export function addRicianNoise(slice: Float32Array, sigma: number, rng: Rng): void {
  for (let p = 0; p < slice.length; p++) {
    const re = slice[p] + sigma * rng.normal();
    const im = sigma * rng.normal();
    slice[p] = Math.hypot(re, im);
  }
}
