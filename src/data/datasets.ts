import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, join, relative, resolve, sep } from 'node:path';
import { applyLabelMap, loadLabelMap, type LabelMap } from './labels.js';
import { readNiftiImage, readNiftiLabels } from './nifti.js';
import { isNnunetDataset, nnunetCases, nnunetLabelMap, readNnunetDatasetJson } from './nnunet.js';
import type { Volume } from './volume.js';

/**
 * Case discovery for the three on-disk layouts the project reads.
 *
 * - `acdc`: the official ACDC release, `patientNNN/patientNNN_frameFF.nii.gz` (+ `_gt`) and
 *   `patientNNN/Info.cfg` with `ED:`, `ES:` and `Group:`; one case per (patient, ED|ES).
 * - `folder`: `CASE/CASE.nii.gz` with an optional `CASE/CASE_gt.nii.gz` (EMIDEC, our own outputs).
 * - `nnunet`: an nnU-Net v2 raw data set, `dataset.json`, `imagesTr/CASE_0000.nii.gz` and
 *   `labelsTr/CASE.nii.gz`; the label map comes from `dataset.json`'s label names (see
 *   src/data/nnunet.ts, which also says how cases are grouped into patients).
 */
export type DatasetLayout = 'acdc' | 'folder' | 'nnunet';

export type CardiacPhase = 'ED' | 'ES';

/** One case on disk, not yet read. */
export interface CaseRef {
  /** Unique in the data set: `patient001_ED`, or the folder name. */
  readonly id: string;
  /** The unit that splits keep together. */
  readonly patient: string;
  readonly phase?: CardiacPhase;
  readonly frame?: number;
  /** ACDC diagnosis group (DCM, HCM, MINF, NOR, RV). */
  readonly group?: string;
  /** Absolute paths. */
  readonly image: string;
  readonly labels?: string;
}

export interface Dataset {
  readonly name: string;
  /** Absolute path of the data set's root directory. */
  readonly dir: string;
  readonly layout: DatasetLayout;
  readonly labelMap: LabelMap;
  /** Sorted by id. */
  readonly cases: readonly CaseRef[];
}

/** A case read into memory, labels already mapped to project classes. */
export interface Case {
  readonly id: string;
  readonly patient: string;
  readonly phase?: CardiacPhase;
  readonly group?: string;
  readonly image: Volume<Float32Array>;
  readonly labels?: Volume<Uint8Array>;
  /** Per project class: is it labelled in `labels`? All false without labels. */
  readonly labelled: readonly boolean[];
}

export interface OpenDatasetOptions {
  /**
   * Default `auto`: `acdc` when a subdirectory holds an Info.cfg, `nnunet` when the directory
   * holds a `dataset.json` beside `imagesTr/`, else `folder`.
   */
  readonly layout?: DatasetLayout | 'auto';
  /**
   * Label map, or a name/path for {@link loadLabelMap}. Default (also when `'auto'`): ACDC's for
   * the acdc layout; for the folder layout `labels.json` in the data set's directory, which must
   * exist when any case has labels; for the nnunet layout the label names of `dataset.json`.
   */
  readonly labels?: LabelMap | string;
  /** A case without a `_gt` file is an error. Default false. */
  readonly requireLabels?: boolean;
}

const NIFTI_EXT = ['.nii.gz', '.nii'];

function findNifti(dir: string, stem: string): string | undefined {
  for (const ext of NIFTI_EXT) {
    const p = join(dir, stem + ext);
    if (existsSync(p)) return p;
  }
  return undefined;
}

function subdirs(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
}

interface InfoCfg {
  readonly ED: number;
  readonly ES: number;
  readonly group?: string;
}

/** Parses an ACDC Info.cfg (`Key: value` lines); unknown keys (Height, Weight, NbFrame) are ignored. */
export function parseInfoCfg(text: string, file: string): InfoCfg {
  const kv = new Map<string, string>();
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    const m = /^\s*([A-Za-z]\w*)\s*:\s*(.*?)\s*$/.exec(line);
    if (!m) throw new Error(`${file}:${i + 1}: malformed line ${JSON.stringify(line)} (expected "Key: value")`);
    kv.set(m[1], m[2]);
  });
  const frame = (key: 'ED' | 'ES'): number => {
    const v = kv.get(key);
    if (v === undefined) throw new Error(`${file}: missing ${key} frame (expected a line "${key}: <frame number>")`);
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < 1) throw new Error(`${file}: ${key} frame ${JSON.stringify(v)} is not a positive integer`);
    return n;
  };
  const ED = frame('ED');
  const ES = frame('ES');
  if (ED === ES) throw new Error(`${file}: ED and ES are the same frame (${ED})`);
  const group = kv.get('Group');
  return { ED, ES, group: group === undefined || group === '' ? undefined : group };
}

function acdcCases(dir: string, requireLabels: boolean): CaseRef[] {
  const cases: CaseRef[] = [];
  for (const patient of subdirs(dir)) {
    const pdir = join(dir, patient);
    const cfgPath = join(pdir, 'Info.cfg');
    if (!existsSync(cfgPath)) throw new Error(`${pdir}: no Info.cfg (ACDC layout: every patient directory has one)`);
    const cfg = parseInfoCfg(readFileSync(cfgPath, 'utf8'), cfgPath);
    for (const phase of ['ED', 'ES'] as const) {
      const frame = cfg[phase];
      const stem = `${patient}_frame${String(frame).padStart(2, '0')}`;
      const image = findNifti(pdir, stem);
      if (!image) throw new Error(`${join(pdir, stem)}.nii.gz: missing ${phase} image (frame ${frame} per ${cfgPath})`);
      const labels = findNifti(pdir, `${stem}_gt`);
      if (!labels && requireLabels) throw new Error(`${join(pdir, stem)}_gt.nii.gz: missing labels for ${phase}`);
      cases.push({ id: `${patient}_${phase}`, patient, phase, frame, group: cfg.group, image, labels });
    }
  }
  return cases;
}

function folderCases(dir: string, requireLabels: boolean): CaseRef[] {
  const cases: CaseRef[] = [];
  for (const name of subdirs(dir)) {
    const cdir = join(dir, name);
    const image = findNifti(cdir, name);
    if (!image) throw new Error(`${join(cdir, name)}.nii.gz: missing image (folder layout: CASE/CASE.nii.gz)`);
    const labels = findNifti(cdir, `${name}_gt`);
    if (!labels && requireLabels) throw new Error(`${join(cdir, name)}_gt.nii.gz: missing labels`);
    cases.push({ id: name, patient: name, image, labels });
  }
  return cases;
}

function resolveLabelMap(dir: string, layout: DatasetLayout, labels: LabelMap | string | undefined, cases: CaseRef[]): LabelMap {
  if (typeof labels === 'object') return labels;
  if (typeof labels === 'string' && labels !== 'auto') return loadLabelMap(labels);
  if (layout === 'acdc') return loadLabelMap('acdc');
  if (layout === 'nnunet') return nnunetLabelMap(readNnunetDatasetJson(dir), basename(dir));
  const file = join(dir, 'labels.json');
  if (existsSync(file)) return loadLabelMap(file);
  if (cases.some((c) => c.labels)) {
    throw new Error(
      `${dir}: has label files but no label map: pass labels ('acdc', 'emidec', 'project' or a JSON file) or add ${file}`,
    );
  }
  return loadLabelMap('project');
}

/**
 * Finds the cases of a data set directory.
 *
 * @example
 * const ds = openDataset('../shared/data/emidec', { labels: 'emidec', requireLabels: true });
 * const c = loadCase(ds, ds.cases[0]);
 * @throws {Error} naming the directory or file: missing/empty directory, no cases, malformed
 *   Info.cfg, missing image or (with `requireLabels`) label file.
 */
export function openDataset(dir: string, options: OpenDatasetOptions = {}): Dataset {
  const root = resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new Error(`${root}: data set directory does not exist`);
  const entries = subdirs(root);
  if (entries.length === 0) throw new Error(`${root}: data set directory has no case subdirectories`);
  const layout =
    options.layout === undefined || options.layout === 'auto'
      ? entries.some((e) => existsSync(join(root, e, 'Info.cfg')))
        ? 'acdc'
        : isNnunetDataset(root)
          ? 'nnunet'
          : 'folder'
      : options.layout;
  const requireLabels = options.requireLabels ?? false;
  const cases =
    layout === 'acdc'
      ? acdcCases(root, requireLabels)
      : layout === 'nnunet'
        ? nnunetCases(root, readNnunetDatasetJson(root), requireLabels)
        : folderCases(root, requireLabels);
  if (cases.length === 0) throw new Error(`${root}: no cases found (${layout} layout)`);
  cases.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { name: basename(root), dir: root, layout, labelMap: resolveLabelMap(root, layout, options.labels, cases), cases };
}

/**
 * Reads a case's image and labels (mapped to project classes).
 *
 * @throws {Error} naming both files and shapes when the label dims differ from the image's.
 */
export function loadCase(dataset: Dataset, ref: CaseRef): Case {
  const image = readNiftiImage(ref.image);
  const base = { id: ref.id, patient: ref.patient, phase: ref.phase, group: ref.group, image };
  if (!ref.labels) return { ...base, labelled: dataset.labelMap.labelled.map(() => false) };
  const raw = readNiftiLabels(ref.labels);
  if (raw.dims.some((d, i) => d !== image.dims[i])) {
    throw new Error(
      `label dims ${raw.dims.join('×')} (${ref.labels}) do not match image dims ${image.dims.join('×')} (${ref.image})`,
    );
  }
  const labels: Volume<Uint8Array> = { ...raw, data: applyLabelMap(raw.data, dataset.labelMap, ref.labels) };
  return { ...base, labels, labelled: dataset.labelMap.labelled };
}

const FINGERPRINT_PREFIX_BYTES = 64 * 1024;

/** Files whose content defines the data set: images, labels, (ACDC) Info.cfg and (nnU-Net) dataset.json. */
function datasetFiles(dataset: Dataset): string[] {
  const files = new Set<string>(dataset.layout === 'nnunet' ? [join(dataset.dir, 'dataset.json')] : []);
  for (const c of dataset.cases) {
    files.add(c.image);
    if (c.labels) files.add(c.labels);
    if (dataset.layout === 'acdc') files.add(join(resolve(c.image, '..'), 'Info.cfg'));
  }
  return [...files];
}

/**
 * A reproducible identity for manifests: sha256 over the label map and, per file in sorted
 * relative-path order, the path, the size and the first 64 KiB (mtimes differ between clones).
 */
export function fingerprint(dataset: Dataset): string {
  const hash = createHash('sha256');
  hash.update(`hmcseg-dataset-v1\0${dataset.layout}\0${JSON.stringify(dataset.labelMap.map)}\0`);
  const files = datasetFiles(dataset)
    .map((abs) => ({ abs, rel: relative(dataset.dir, abs).split(sep).join('/') }))
    .sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  const buf = Buffer.alloc(FINGERPRINT_PREFIX_BYTES);
  for (const { abs, rel } of files) {
    const fd = openSync(abs, 'r');
    try {
      const size = fstatSync(fd).size;
      const n = readSync(fd, buf, 0, FINGERPRINT_PREFIX_BYTES, 0);
      hash.update(`${rel}\0${size}\0`);
      hash.update(buf.subarray(0, n));
    } finally {
      closeSync(fd);
    }
  }
  return hash.digest('hex');
}
