/**
 * Writes phantom cases to disk in the ACDC layout, so that the phantom goes through exactly the
 * code paths of the real data.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { Rng } from '../../util/rng.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { ACDC_LABELS } from '../labels.js';
import { NIFTI_DATATYPES, writeNifti } from '../nifti.js';
import type { Volume } from '../volume.js';
import type { Morphology, Phase } from './anatomy.js';
import { generatePhantomCase, validatePhantomOptions, type PhantomCase, type PhantomContrast } from './generate.js';

/** Version of the generator; bump when the same seed starts to give different data. */
export const PHANTOM_GENERATOR_VERSION = 1;

/** Project class → ACDC label (project: 1 LV, 2 MYO, 3 RV; ACDC: 1 RV, 2 MYO, 3 LV): the inverse of the reader's map. */
const PROJECT_TO_ACDC: readonly number[] = (() => {
  const inv: number[] = [];
  for (const [source, cls] of Object.entries(ACDC_LABELS.map)) inv[cls] = Number(source);
  return inv;
})();

export interface PhantomDatasetOptions {
  /** Output directory; created. Must not exist or be empty unless `overwrite`. */
  readonly out: string;
  /** Number of patients (each with an ED and an ES frame). */
  readonly cases: number;
  readonly contrast: PhantomContrast;
  readonly seed: number;
  /** Pixels per side. Default 128. */
  readonly size?: number;
  /** Slices per case. Default: drawn per case from 6–10. */
  readonly slices?: number;
  /** Replace an existing non-empty `out`. Default false. */
  readonly overwrite?: boolean;
}

/** One written patient, as recorded in `dataset.json`. */
export interface PhantomDatasetCase {
  readonly patient: string;
  readonly seed: number;
  readonly esFrame: number;
  readonly morphology: Morphology;
  readonly dims: readonly [number, number, number];
  readonly spacing: readonly [number, number, number];
}

export interface PhantomDatasetSummary {
  readonly generator: 'hmcseg-phantom';
  readonly version: number;
  readonly seed: number;
  readonly contrast: PhantomContrast;
  readonly caseCount: number;
  readonly size: number;
  readonly slices: number | null;
  readonly labelConvention: 'acdc';
  readonly cases: readonly PhantomDatasetCase[];
}

function toVolume<T extends Float32Array | Uint8Array>(c: PhantomCase, data: T): Volume<T> {
  const [dx, dy, dz] = c.spacing;
  return {
    dims: c.dims,
    spacing: c.spacing,
    affine: [dx, 0, 0, 0, 0, dy, 0, 0, 0, 0, dz, 0, 0, 0, 0, 1],
    data,
  };
}

function toAcdcLabels(labels: Uint8Array): Uint8Array {
  const out = new Uint8Array(labels.length);
  for (let i = 0; i < labels.length; i++) out[i] = PROJECT_TO_ACDC[labels[i]];
  return out;
}

/**
 * Generates `cases` patients and writes them in the ACDC layout:
 * `OUT/patientNNN/patientNNN_frame01.nii.gz` (ED), `patientNNN_frameKK.nii.gz` (ES), each with a
 * `_gt.nii.gz` label file in the ACDC convention (1 RV, 2 MYO, 3 LV), `Info.cfg` (`ED: 1`,
 * `ES: KK`, `Group: PHANTOM`), and `OUT/dataset.json` ({@link PhantomDatasetSummary}).
 *
 * Images are float32 (ssfp in [0, 1], maps in ms), labels uint8. Patient i's data depend only on
 * (seed, i), not on the number of cases. The data set is built in a hidden sibling directory and
 * renamed into place at the end, so an interrupted run leaves no partial data set at `out`.
 *
 * @throws {RangeError} on bad options or when `out` exists, is not empty and `overwrite` is not set.
 */
export function writePhantomDataset(opts: PhantomDatasetOptions): PhantomDatasetSummary {
  if (!Number.isInteger(opts.cases) || opts.cases < 1 || opts.cases > 999) {
    throw new RangeError(`writePhantomDataset: 'cases' must be an integer in [1, 999], got ${String(opts.cases)}`);
  }
  validatePhantomOptions({ seed: opts.seed, contrast: opts.contrast, size: opts.size, slices: opts.slices });
  const out = resolve(opts.out);
  if (existsSync(out)) {
    if (!statSync(out).isDirectory()) throw new RangeError(`writePhantomDataset: ${out} exists and is not a directory`);
    if (readdirSync(out).length > 0 && !opts.overwrite) {
      throw new RangeError(`writePhantomDataset: ${out} exists and is not empty (pass overwrite to replace it)`);
    }
  }
  mkdirSync(dirname(out), { recursive: true });
  const tmp = join(dirname(out), `.${basename(out)}.tmp-${process.pid}-${Date.now()}`);
  mkdirSync(tmp);
  try {
    const rng = new Rng(opts.seed);
    const cases: PhantomDatasetCase[] = [];
    for (let i = 1; i <= opts.cases; i++) {
      const caseSeed = rng.nextUint32();
      const esFrame = 8 + rng.int(9);
      const patient = `patient${String(i).padStart(3, '0')}`;
      const pdir = join(tmp, patient);
      mkdirSync(pdir);
      let first: PhantomCase | undefined;
      for (const [phase, frame] of [['ED', 1], ['ES', esFrame]] as [Phase, number][]) {
        const c = generatePhantomCase({
          seed: caseSeed,
          contrast: opts.contrast,
          size: opts.size,
          slices: opts.slices,
          phase,
        });
        first ??= c;
        const stem = join(pdir, `${patient}_frame${String(frame).padStart(2, '0')}`);
        writeNifti(`${stem}.nii.gz`, toVolume(c, c.image), { datatype: NIFTI_DATATYPES.float32 });
        writeNifti(`${stem}_gt.nii.gz`, toVolume(c, toAcdcLabels(c.labels)), { datatype: NIFTI_DATATYPES.uint8 });
      }
      writeFileAtomic(join(pdir, 'Info.cfg'), `ED: 1\nES: ${esFrame}\nGroup: PHANTOM\n`);
      const f = first as PhantomCase;
      cases.push({ patient, seed: caseSeed, esFrame, morphology: f.morphology, dims: f.dims, spacing: f.spacing });
    }
    const summary: PhantomDatasetSummary = {
      generator: 'hmcseg-phantom',
      version: PHANTOM_GENERATOR_VERSION,
      seed: opts.seed,
      contrast: opts.contrast,
      caseCount: opts.cases,
      size: opts.size ?? 128,
      slices: opts.slices ?? null,
      labelConvention: 'acdc',
      cases,
    };
    writeFileAtomic(join(tmp, 'dataset.json'), `${JSON.stringify(summary, null, 2)}\n`);
    if (existsSync(out)) {
      const old = join(dirname(out), `.${basename(out)}.old-${process.pid}-${Date.now()}`);
      renameSync(out, old);
      renameSync(tmp, out);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(tmp, out);
    }
    return summary;
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}
