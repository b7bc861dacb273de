/**
 * Synthetic cardiac short-axis cases: random anatomy, per-tissue relaxation times turned into a
 * bSSFP cine image or a T1/T2 map, then blur, bias field and noise. Everything is seeded.
 */
import { Rng } from '../../util/rng.js';
import { rasterizeSlice, sampleAnatomy, type Morphology, type Phase } from './anatomy.js';
import { addRicianNoise, applyBiasField, gaussianBlur2d, sampleBiasField } from './degrade.js';
import { bssfpSignal, MATERIALS, TISSUE_LABEL, TISSUE_PROPERTIES } from './tissues.js';

/** `ssfp`: bSSFP cine (the in-domain contrast); `t1map`, `t2map`: parametric maps in ms. */
export type PhantomContrast = 'ssfp' | 't1map' | 't2map';
export const PHANTOM_CONTRASTS: readonly PhantomContrast[] = ['ssfp', 't1map', 't2map'];
export const PHANTOM_PHASES: readonly Phase[] = ['ED', 'ES'];

export interface PhantomCaseOptions {
  /** Integer seed; the same seed gives the same anatomy for every contrast and phase. */
  readonly seed: number;
  readonly contrast: PhantomContrast;
  /** Pixels per side (square slices). Default 128. */
  readonly size?: number;
  /** Number of slices, base → apex. Default: drawn from 6–10 by the seed. */
  readonly slices?: number;
  /** Cardiac phase. Default 'ED'. */
  readonly phase?: Phase;
  /** Field of view in mm. Default 220 (a heart-centred crop); pixel size is fovMm / size. */
  readonly fovMm?: number;
}

/** The acquisition parameters drawn for a case (shared by its ED and ES frames). */
export interface PhantomAcquisition {
  /** bSSFP flip angle, degrees. */
  readonly flipAngleDeg: number;
  /** bSSFP SNR of the blood pool before the bias field (blood signal / noise σ). */
  readonly snr: number;
  /** Partial-volume blur, pixels (Gaussian σ). */
  readonly blurSigmaPx: number;
  /** T1-map noise σ in myocardium, ms (scaled by 1/√PD relative to myocardium elsewhere). */
  readonly t1NoiseMs: number;
  /** T2-map noise σ in myocardium, ms (scaled like t1NoiseMs). */
  readonly t2NoiseMs: number;
}

export interface PhantomCase {
  /** ssfp: intensities rescaled to [0, 1] over the volume; maps: ms. x fastest, then y, then z. */
  readonly image: Float32Array;
  /** Project classes: 0 background, 1 LV cavity, 2 LV myocardium, 3 RV cavity. */
  readonly labels: Uint8Array;
  /** Tissue codes (see `Tissue`), the ground truth the image was made from. */
  readonly tissues: Uint8Array;
  readonly dims: readonly [number, number, number];
  /** Voxel size in mm. */
  readonly spacing: readonly [number, number, number];
  readonly phase: Phase;
  readonly contrast: PhantomContrast;
  readonly group: 'PHANTOM';
  readonly morphology: Morphology;
  readonly acquisition: PhantomAcquisition;
}

function checkInteger(name: string, v: number, lo: number, hi: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    throw new TypeError(`generatePhantomCase: '${name}' must be an integer, got ${String(v)}`);
  }
  if (v < lo || v > hi) throw new RangeError(`generatePhantomCase: '${name}' must be in [${lo}, ${hi}], got ${v}`);
}

/** Throws a TypeError or RangeError naming the first bad option. */
export function validatePhantomOptions(opts: PhantomCaseOptions): void {
  checkInteger('seed', opts.seed, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  if (!PHANTOM_CONTRASTS.includes(opts.contrast)) {
    throw new RangeError(
      `generatePhantomCase: 'contrast' must be one of ${PHANTOM_CONTRASTS.join(', ')}, got ${String(opts.contrast)}`,
    );
  }
  if (opts.size !== undefined) checkInteger('size', opts.size, 16, 1024);
  if (opts.slices !== undefined) checkInteger('slices', opts.slices, 1, 64);
  if (opts.phase !== undefined && !PHANTOM_PHASES.includes(opts.phase)) {
    throw new RangeError(`generatePhantomCase: 'phase' must be ED or ES, got ${String(opts.phase)}`);
  }
  if (opts.fovMm !== undefined && !(Number.isFinite(opts.fovMm) && opts.fovMm >= 100 && opts.fovMm <= 500)) {
    throw new RangeError(`generatePhantomCase: 'fovMm' must be a number in [100, 500], got ${String(opts.fovMm)}`);
  }
}

/**
 * Generates one synthetic short-axis case.
 *
 * Random streams are split from the seed in a fixed order (anatomy, acquisition, ED noise, ES
 * noise), so a seed fixes the anatomy across contrasts and phases, and ED/ES differ only by the
 * cardiac motion and their own noise.
 *
 * @example
 * const ed = generatePhantomCase({ seed: 7, contrast: 'ssfp', size: 64 });
 * const es = generatePhantomCase({ seed: 7, contrast: 'ssfp', size: 64, phase: 'ES' });
 */
export function generatePhantomCase(opts: PhantomCaseOptions): PhantomCase {
  validatePhantomOptions(opts);
  const size = opts.size ?? 128;
  const phase = opts.phase ?? 'ED';
  const fovMm = opts.fovMm ?? 220;

  const master = new Rng(opts.seed);
  const anatomyRng = master.fork();
  const acqRng = master.fork();
  const noiseRngs = { ED: master.fork(), ES: master.fork() };
  const noiseRng = noiseRngs[phase];

  const anatomy = sampleAnatomy(anatomyRng, { slices: opts.slices, fovMm });
  const acquisition: PhantomAcquisition = {
    flipAngleDeg: acqRng.range(50, 60),
    snr: acqRng.range(18, 35),
    blurSigmaPx: acqRng.range(0.4, 0.7),
    t1NoiseMs: acqRng.range(20, 40),
    t2NoiseMs: acqRng.range(1.5, 3),
  };
  const bias = sampleBiasField(acqRng);

  const nz = anatomy.sliceZ.length;
  const npx = size * size;
  const image = new Float32Array(npx * nz);
  const labels = new Uint8Array(npx * nz);
  const tissues = new Uint8Array(npx * nz);

  const tissueValue =
    opts.contrast === 'ssfp'
      ? TISSUE_PROPERTIES.map((p) => bssfpSignal(p, acquisition.flipAngleDeg))
      : TISSUE_PROPERTIES.map((p) => (opts.contrast === 't1map' ? p.t1 : p.t2));
  const mapNoiseMs = opts.contrast === 't1map' ? acquisition.t1NoiseMs : acquisition.t2NoiseMs;
  const mapNoiseSd = TISSUE_PROPERTIES.map((p) =>
    p.pd > 0 ? mapNoiseMs * Math.sqrt(MATERIALS.myocardium.pd / p.pd) : 0,
  );
  const ssfpSigma = bssfpSignal(MATERIALS.blood, acquisition.flipAngleDeg) / acquisition.snr;

  for (let k = 0; k < nz; k++) {
    const t = rasterizeSlice(anatomy, phase, k, size);
    const slice = image.subarray(k * npx, (k + 1) * npx);
    tissues.set(t, k * npx);
    for (let p = 0; p < npx; p++) {
      labels[k * npx + p] = TISSUE_LABEL[t[p]];
      slice[p] = tissueValue[t[p]];
    }
    gaussianBlur2d(slice, size, size, acquisition.blurSigmaPx);
    if (opts.contrast === 'ssfp') {
      applyBiasField(slice, size, size, k, nz, bias);
      addRicianNoise(slice, ssfpSigma, noiseRng);
    } else {
      for (let p = 0; p < npx; p++) {
        const sd = mapNoiseSd[t[p]];
        slice[p] = sd > 0 ? Math.max(0, slice[p] + sd * noiseRng.normal()) : 0;
      }
    }
  }
  if (opts.contrast === 'ssfp') rescaleToUnit(image);

  return {
    image,
    labels,
    tissues,
    dims: [size, size, nz],
    spacing: [fovMm / size, fovMm / size, anatomy.sliceSpacingMm],
    phase,
    contrast: opts.contrast,
    group: 'PHANTOM',
    morphology: anatomy.morphology,
    acquisition,
  };
}

/** Min–max rescaling to [0, 1] in place (the shared ACDC copy is rescaled per volume like this). */
function rescaleToUnit(a: Float32Array): void {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of a) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const span = hi - lo || 1;
  for (let p = 0; p < a.length; p++) a[p] = (a[p] - lo) / span;
}
