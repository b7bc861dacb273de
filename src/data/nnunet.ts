/**
 * nnU-Net v2 raw data sets (`DatasetNNN_Name/`): `dataset.json`, `imagesTr/CASE_0000.nii.gz`,
 * `labelsTr/CASE.nii.gz` and an optional `imagesTs/` (MIC-DKFZ/nnUNet,
 * documentation/dataset_format.md).
 *
 * What is read: `channel_names` (exactly one channel, `"0"`: the project segments one modality),
 * `labels` (`{name: value}`; names mapped to the project's classes by {@link nnunetLabelMap}),
 * `numTraining` (must equal the number of images in `imagesTr`) and `file_ending` (`.nii.gz` or
 * `.nii`). Region-based labels (a name with a list of values, `regions_class_order`) and the
 * `ignore` label are refused with an error, as is a v1 `dataset.json` (`modality`, `training`).
 *
 * Patients: nnU-Net has no patient grouping, so each case is its own patient, except that case
 * ids of the form `PATIENT_frameNN` (how nnU-Net's own ACDC conversion names the ED and ES frames)
 * are grouped by `PATIENT`, so that splits never part two frames of one heart.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';
import { readJsonFile } from '../util/json.js';
import { CLASSES, defineLabelMap, type ClassName, type LabelMap } from './labels.js';

/** The fields of an nnU-Net v2 `dataset.json` that the project uses. */
export interface NnunetDatasetJson {
  /** The file read. */
  readonly file: string;
  /** Channel index → name; exactly one, `"0"`. */
  readonly channelNames: Readonly<Record<string, string>>;
  /** Label name → integer value in `labelsTr`. */
  readonly labels: Readonly<Record<string, number>>;
  readonly numTraining: number;
  /** `.nii.gz` or `.nii`. */
  readonly fileEnding: '.nii.gz' | '.nii';
}

const DatasetJsonFile = z.looseObject({
  channel_names: z.record(z.string(), z.string()).optional(),
  modality: z.unknown().optional(),
  labels: z.record(z.string(), z.union([z.int().min(0).max(255), z.array(z.int())])),
  numTraining: z.int().min(0),
  file_ending: z.string(),
  regions_class_order: z.unknown().optional(),
});

/** Whether `dir` looks like an nnU-Net raw data set: a `dataset.json` beside an `imagesTr/` folder. */
export function isNnunetDataset(dir: string): boolean {
  const images = join(dir, 'imagesTr');
  return existsSync(join(dir, 'dataset.json')) && existsSync(images) && statSync(images).isDirectory();
}

/**
 * Reads and checks `DIR/dataset.json`.
 *
 * @throws {Error} naming the file: unreadable or malformed, a v1 file, no or several channels,
 *   region-based labels, an `ignore` label, no background 0, a file ending other than NIfTI.
 */
export function readNnunetDatasetJson(dir: string): NnunetDatasetJson {
  const file = join(dir, 'dataset.json');
  const j = readJsonFile(file, DatasetJsonFile, 'nnU-Net dataset.json');
  if (j.channel_names === undefined) {
    throw new Error(
      j.modality === undefined
        ? `${file}: no channel_names (an nnU-Net v2 dataset.json has channel_names, labels, numTraining, file_ending)`
        : `${file}: an nnU-Net v1 dataset.json (modality, training); convert it with nnUNetv2_convert_old_nnUNet_dataset`,
    );
  }
  const channels = Object.keys(j.channel_names);
  if (channels.length !== 1 || channels[0] !== '0') {
    throw new Error(
      `${file}: ${channels.length} channels (${channels.map((c) => `${c} ${j.channel_names?.[c]}`).join(', ')}); hmcseg segments one modality, so channel_names must be {"0": NAME}`,
    );
  }
  const regions = Object.entries(j.labels).filter(([, v]) => Array.isArray(v));
  if (regions.length > 0 || j.regions_class_order !== undefined) {
    throw new Error(
      `${file}: region-based labels (${regions.map(([k]) => k).join(', ') || 'regions_class_order'}) are not supported; hmcseg's classes are exclusive (background, LV, MYO, RV)`,
    );
  }
  const labels = j.labels as Record<string, number>;
  if ('ignore' in labels) {
    throw new Error(`${file}: the "ignore" label (partly annotated cases) is not supported`);
  }
  if (labels.background !== 0) throw new Error(`${file}: labels must have "background": 0 (as nnU-Net requires)`);
  const values = Object.values(labels);
  if (new Set(values).size !== values.length) throw new Error(`${file}: two label names share a value (${JSON.stringify(labels)})`);
  if (j.file_ending !== '.nii.gz' && j.file_ending !== '.nii') {
    throw new Error(`${file}: file_ending ${JSON.stringify(j.file_ending)} is not supported (hmcseg reads NIfTI: .nii.gz or .nii)`);
  }
  return { file, channelNames: j.channel_names, labels, numTraining: j.numTraining, fileEnding: j.file_ending };
}

/** Label names (lower case, letters and digits only) → project class. Infarct and MVO are myocardium, as for EMIDEC. */
const CLASS_NAMES: Readonly<Record<string, ClassName>> = Object.fromEntries(
  (
    [
      ['background', ['background', 'bg', 'bckg']],
      ['LV', ['lv', 'lvc', 'leftventricle', 'lvcavity', 'lvbloodpool', 'leftventricularcavity', 'leftventriclecavity', 'lvendo']],
      ['MYO', ['myo', 'mlv', 'lvm', 'lvmyo', 'myocardium', 'lvmyocardium', 'leftventricularmyocardium', 'infarct', 'infarction', 'scar', 'mvo', 'noreflow', 'microvascularobstruction']],
      ['RV', ['rv', 'rvc', 'rightventricle', 'rvcavity', 'rvbloodpool', 'rightventricularcavity', 'rightventriclecavity']],
    ] as const
  ).flatMap(([cls, names]) => names.map((n) => [n, cls])),
);

/**
 * The label map of an nnU-Net data set, from the names in `dataset.json`'s `labels`: e.g.
 * "LV", "left ventricle", "LVC" → LV; "MYO", "myocardium", "MLV", "infarct" → MYO; "RV",
 * "right ventricle", "RVC" → RV (case, spaces, `_` and `-` ignored).
 *
 * @throws {Error} naming the file and the names it does not know, asking for a label-map JSON.
 */
export function nnunetLabelMap(info: NnunetDatasetJson, name: string): LabelMap {
  const map: Record<number, ClassName> = {};
  const unknown: string[] = [];
  for (const [label, value] of Object.entries(info.labels)) {
    const cls = CLASS_NAMES[label.toLowerCase().replace(/[^a-z0-9]/g, '')];
    if (cls === undefined) unknown.push(`${JSON.stringify(label)}: ${value}`);
    else map[value] = cls;
  }
  if (unknown.length > 0) {
    throw new Error(
      `${info.file}: label names ${unknown.join(', ')} are not project classes (${CLASSES.join(', ')}); pass a label map JSON ({"map": {"<value>": "<class>"}}) as the labels option`,
    );
  }
  return defineLabelMap(name, map);
}

/**
 * Project class → nnU-Net label value, for writing predictions in the data set's values: the one
 * value of each class the data set labels, 0 (background) for a class it does not label.
 *
 * @throws {Error} when a class has two values (e.g. myocardium and infarct both MYO): a
 *   prediction cannot say which one.
 */
export function projectToNnunetValues(labelMap: LabelMap, file: string): number[] {
  const values: number[][] = CLASSES.map(() => []);
  for (const [source, cls] of Object.entries(labelMap.map)) values[cls].push(Number(source));
  const ambiguous = CLASSES.filter((_, c) => values[c].length > 1);
  if (ambiguous.length > 0) {
    throw new Error(
      `${file}: class ${ambiguous.map((c) => `${c} has labels ${values[CLASSES.indexOf(c)].join(' and ')}`).join('; ')}, so a prediction cannot be written in the data set's label values`,
    );
  }
  return values.map((v) => v[0] ?? 0);
}

/** A case of an nnU-Net data set on disk. */
export interface NnunetCaseFiles {
  readonly id: string;
  readonly patient: string;
  readonly image: string;
  readonly labels?: string;
}

/** `patient001_frame01` → `patient001` (nnU-Net's ACDC naming); any other id is its own patient. */
export function nnunetPatient(id: string): string {
  return /^(.+)_frame\d+$/.exec(id)?.[1] ?? id;
}

/**
 * The cases of `imagesTr` (with `labelsTr`): one per `CASE_0000` + file ending.
 *
 * @throws {Error} naming the file: an image of another channel (`CASE_0001`), a file that is not
 *   `CASE_XXXX` + file ending, a case count other than `numTraining`, a missing label file when
 *   `requireLabels`.
 */
export function nnunetCases(dir: string, info: NnunetDatasetJson, requireLabels: boolean): NnunetCaseFiles[] {
  const imagesDir = join(dir, 'imagesTr');
  const labelsDir = join(dir, 'labelsTr');
  const ending = info.fileEnding;
  const cases: NnunetCaseFiles[] = [];
  for (const f of readdirSync(imagesDir).filter((n) => !n.startsWith('.')).sort()) {
    const m = new RegExp(`^(.+)_(\\d{4})${ending.replace(/\./g, '\\.')}$`).exec(f);
    if (!m) throw new Error(`${join(imagesDir, f)}: not CASE_XXXX${ending} (nnU-Net image naming, file_ending of ${info.file})`);
    if (m[2] !== '0000') throw new Error(`${join(imagesDir, f)}: channel ${Number(m[2])}, but ${info.file} declares one channel`);
    const id = m[1];
    const labels = join(labelsDir, `${id}${ending}`);
    const has = existsSync(labels);
    if (!has && requireLabels) throw new Error(`${labels}: missing labels of case ${id}`);
    cases.push({ id, patient: nnunetPatient(id), image: join(imagesDir, f), ...(has ? { labels } : {}) });
  }
  if (cases.length !== info.numTraining) {
    throw new Error(`${imagesDir}: ${cases.length} cases, but ${info.file} says numTraining ${info.numTraining}`);
  }
  return cases;
}

/** The nnU-Net case name of an image file `CASE_0000.nii.gz` → `CASE`, or undefined when it is not channel 0. */
export function nnunetCaseName(fileName: string): string | undefined {
  return /^(.+)_0000\.nii(\.gz)?$/.exec(fileName)?.[1];
}
