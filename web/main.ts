/**
 * The `hmcseg view` page: NiiVue shows a case's image with its segmentation (LV / MYO / RV) and the
 * entropy and mutual-information maps as heat overlays, each with its own opacity; beside it every
 * slice of every case, sorted by warning score and flagged above the threshold (a click moves the
 * view there; per-slice Dice with --gt). A NIfTI dropped on the page, or picked, is segmented here
 * by onnxruntime-web with the exported model (see infer.ts), with the warning score and
 * post-processing of the listed cases (the server's `prediction`), and joins the list.
 *
 * `window.hmcsegView` exposes the state the browser tests read (see test/view-browser.test.ts).
 */
import { Niivue, NVImage } from '@niivue/niivue';
import { encodeNifti, NIFTI_DATATYPES, safeDecodeNifti } from '../src/data/nifti.js';
import type { Volume } from '../src/data/volume.js';
import type { BrowserPredictOptions, ServedFile, ViewCase } from '../src/view/cases.js';
import { CLASS_COLORS } from '../src/view/colors.js';
import type { ViewPageHooks } from '../src/view/page-hooks.js';
import { rankSlices, type SliceRanking } from '../src/view/ranking.js';
import { loadModel, segmentVolume, type LoadedModel } from './infer.js';

interface ViewConfig {
  readonly cases: ViewCase[];
  readonly threshold: number | null;
  readonly model: string | null;
  /** With a model: how to segment a dropped volume (the listed cases' settings). */
  readonly prediction: BrowserPredictOptions | null;
  readonly gt: boolean;
}

/** A case the page can show: served files, or volumes made in the browser. */
interface PageCase {
  readonly name: string;
  readonly scores: readonly (number | null)[];
  readonly dice?: ViewCase['dice'];
  readonly layers: readonly Layer[];
}

type LayerKind = 'image' | 'seg' | 'entropy' | 'mi';
interface Layer {
  readonly kind: LayerKind;
  /** A URL, with the file name NiiVue reads the format from. */
  readonly url: string;
  readonly name: string;
  readonly buffer?: ArrayBuffer;
}

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`page: element #${id} missing`);
  return el as T;
};

const LN4 = Math.log(4);
const LABELS = {
  R: [0, CLASS_COLORS.LV[0], CLASS_COLORS.MYO[0], CLASS_COLORS.RV[0]],
  G: [0, CLASS_COLORS.LV[1], CLASS_COLORS.MYO[1], CLASS_COLORS.RV[1]],
  B: [0, CLASS_COLORS.LV[2], CLASS_COLORS.MYO[2], CLASS_COLORS.RV[2]],
  A: [0, 255, 255, 255],
  I: [0, 1, 2, 3],
  labels: ['background', 'LV', 'MYO', 'RV'],
};

const status = $('status');
function say(text: string, error = false): void {
  status.textContent = text;
  status.classList.toggle('error', error);
}

function servedUrl(f: ServedFile): string {
  return `files/${f.root}/${f.path.split('/').map(encodeURIComponent).join('/')}`;
}

function serverCase(c: ViewCase): PageCase {
  const layer = (kind: LayerKind, f: ServedFile | null): Layer[] =>
    f === null ? [] : [{ kind, url: servedUrl(f), name: f.path.split('/').pop() as string }];
  return {
    name: c.name,
    scores: c.scores,
    ...(c.dice === undefined ? {} : { dice: c.dice }),
    layers: [...layer('image', c.image), ...layer('seg', c.segmentation), ...layer('entropy', c.entropy), ...layer('mi', c.mutualInformation)],
  };
}

const nv = new Niivue({
  backColor: [0, 0, 0, 1],
  show3Dcrosshair: false,
  dragAndDropEnabled: false,
  isColorbar: false,
  logLevel: 'error',
  crosshairWidth: 0,
});
const cases = new Map<string, PageCase>();
let ranking: SliceRanking = { threshold: Infinity, thresholdSource: 'quantile', slices: [] };
let current: { name: string; z: number } | null = null;
let layerIndex: Partial<Record<LayerKind, number>> = {};
let config: ViewConfig;
let model: Promise<LoadedModel> | null = null;

const opacity = { seg: $<HTMLInputElement>('op-seg'), entropy: $<HTMLInputElement>('op-entropy'), mi: $<HTMLInputElement>('op-mi') };

function applyOpacity(): void {
  for (const kind of ['seg', 'entropy', 'mi'] as const) {
    const i = layerIndex[kind];
    if (i !== undefined) nv.setOpacity(i, Number(opacity[kind].value));
  }
}

async function showCase(name: string, z: number): Promise<void> {
  const c = cases.get(name);
  if (c === undefined) throw new Error(`no case ${name}`);
  if (current?.name !== name) {
    say(`loading ${name}…`);
    while (nv.volumes.length > 0) nv.removeVolume(nv.volumes[0]);
    layerIndex = {};
    for (const l of c.layers) {
      const heat = l.kind === 'entropy' || l.kind === 'mi';
      const v = await NVImage.loadFromUrl({
        url: l.url,
        name: l.name,
        ...(l.buffer === undefined ? {} : { buffer: l.buffer }),
        colormap: l.kind === 'image' ? 'gray' : l.kind === 'entropy' ? 'hot' : l.kind === 'mi' ? 'winter' : 'gray',
        ...(heat ? { cal_min: 0.02, cal_max: LN4 } : {}),
        ...(l.kind === 'seg' ? { cal_min: 0, cal_max: 3 } : {}),
      });
      if (l.kind === 'seg') v.setColormapLabel(LABELS);
      layerIndex[l.kind] = nv.volumes.length;
      nv.addVolume(v);
    }
    applyOpacity();
    $('case-name').textContent = name;
    say('');
  }
  current = { name, z };
  const ref = nv.volumes[0];
  const [nx, ny] = [ref.dims?.[1] ?? 1, ref.dims?.[2] ?? 1];
  nv.scene.crosshairPos = nv.vox2frac([(nx - 1) / 2, (ny - 1) / 2, z]);
  nv.updateGLVolume();
  for (const tr of document.querySelectorAll<HTMLTableRowElement>('#slices tbody tr')) {
    tr.classList.toggle('current', tr.dataset.case === name && Number(tr.dataset.z) === z);
  }
}

function fmt(v: number | null | undefined, digits = 3): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits);
}

function renderList(): void {
  ranking = rankSlices(
    [...cases.values()].map((c) => ({ name: c.name, scores: c.scores })),
    config.threshold ?? undefined,
  );
  const withDice = [...cases.values()].some((c) => c.dice !== undefined);
  $('threshold').textContent =
    `${ranking.slices.filter((s) => s.flagged).length} of ${ranking.slices.length} slices flagged: warning score > ${fmt(ranking.threshold)}` +
    (ranking.thresholdSource === 'quantile' ? ' (90th percentile; set with --threshold)' : '');
  const thead = document.querySelector('#slices thead') as HTMLElement;
  thead.innerHTML = `<tr><th>case</th><th>z</th><th>score</th>${withDice ? '<th>mean Dice</th>' : ''}</tr>`;
  const tbody = document.querySelector('#slices tbody') as HTMLElement;
  tbody.replaceChildren(
    ...ranking.slices.map((s) => {
      const tr = document.createElement('tr');
      tr.dataset.case = s.case;
      tr.dataset.z = String(s.z);
      tr.dataset.score = String(s.score);
      tr.classList.toggle('flagged', s.flagged);
      const d = cases.get(s.case)?.dice?.[s.z];
      const cells = [s.case, String(s.z), fmt(s.score), ...(withDice ? [fmt(d?.meanDice)] : [])];
      for (const text of cells) {
        const td = document.createElement('td');
        td.textContent = text;
        tr.append(td);
      }
      if (d !== undefined) tr.title = `Dice LV ${fmt(d.dice.LV)}, MYO ${fmt(d.dice.MYO)}, RV ${fmt(d.dice.RV)}`;
      tr.addEventListener('click', () => void showCase(s.case, s.z).catch((e: Error) => say(e.message, true)));
      return tr;
    }),
  );
}

/** Gunzips (by the gzip magic bytes) in the browser, so that safeDecodeNifti never needs node:zlib. */
async function gunzipIfNeeded(bytes: Uint8Array): Promise<Uint8Array> {
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

let inferenceCount = 0;
async function segmentFile(file: File): Promise<void> {
  const progress = $<HTMLProgressElement>('progress');
  try {
    if (config.model === null) throw new Error('no model: start hmcseg view with --model model.onnx (from hmcseg export)');
    say(`reading ${file.name}…`);
    let bytes: Uint8Array;
    try {
      bytes = await gunzipIfNeeded(new Uint8Array(await file.arrayBuffer()));
    } catch (e) {
      throw new Error(`${file.name}: not a readable gzip file (${(e as Error).message})`);
    }
    const r = safeDecodeNifti(bytes, { as: 'float32' });
    if (!r.ok) throw new Error(`${file.name}: ${r.issues.map((i) => i.message).join('; ')}`);
    const image = r.volume;
    say('loading the model…');
    model ??= loadModel(config.model);
    const m = await model;
    progress.hidden = false;
    const started = performance.now();
    const pred = await segmentVolume(m, image, file.name, config.prediction ?? {}, (done, total) => {
      progress.max = total;
      progress.value = done;
      say(`segmenting ${file.name}: slice ${done} of ${total}`);
    });
    const seconds = (performance.now() - started) / 1000;
    const stem = file.name.replace(/\.nii(\.gz)?$/, '');
    const name = cases.has(stem) ? `${stem} (browser ${++inferenceCount})` : stem;
    const like = (data: Volume['data']): Volume => ({ dims: image.dims, spacing: image.spacing, affine: image.affine, header: image.header, data });
    const nifti = (data: Volume['data'], datatype: number): ArrayBuffer =>
      encodeNifti(like(data), { datatype: datatype as never, sclSlope: 1, sclInter: 0 }).slice().buffer as ArrayBuffer;
    const layers: Layer[] = [
      { kind: 'image', url: `${stem}.nii`, name: `${stem}.nii`, buffer: bytes.slice().buffer as ArrayBuffer },
      { kind: 'seg', url: `${stem}_seg.nii`, name: `${stem}_seg.nii`, buffer: nifti(pred.segmentation, NIFTI_DATATYPES.uint8) },
      { kind: 'entropy', url: `${stem}_entropy.nii`, name: `${stem}_entropy.nii`, buffer: nifti(pred.entropy, NIFTI_DATATYPES.float32) },
      { kind: 'mi', url: `${stem}_mi.nii`, name: `${stem}_mi.nii`, buffer: nifti(pred.mutualInformation, NIFTI_DATATYPES.float32) },
    ];
    cases.set(name, { name, scores: pred.slices.map((s) => (Number.isFinite(s.score) ? s.score : null)), layers });
    hooks.inference = { name, segmentation: Array.from(pred.segmentation), scores: pred.slices.map((s) => s.score), seconds };
    renderList();
    const top = ranking.slices.find((s) => s.case === name);
    await showCase(name, top?.z ?? 0);
    say(`${file.name}: segmented in the browser (${m.method}) in ${seconds.toFixed(1)} s`);
  } catch (e) {
    say((e as Error).message, true);
    hooks.errors.push((e as Error).message);
  } finally {
    progress.hidden = true;
  }
}

const hooks: ViewPageHooks = {
  ready: false,
  errors: [],
  inference: null,
  showCase,
  probe(x, y, z) {
    const pos = nv.frac2canvasPos(nv.vox2frac([x, y, z]));
    if (pos === null || nv.gl === null) return null;
    nv.drawScene();
    const gl = nv.gl;
    const px = new Uint8Array(4);
    gl.readPixels(Math.round(pos[0]), gl.canvas.height - 1 - Math.round(pos[1]), 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, px);
    return Array.from(px);
  },
};
(window as unknown as { hmcsegView: ViewPageHooks }).hmcsegView = hooks;

async function main(): Promise<void> {
  $('legend').innerHTML = (['LV', 'MYO', 'RV'] as const)
    .map((k) => `<span class="swatch" style="background:rgb(${CLASS_COLORS[k].join(',')})"></span>${k}`)
    .join(' &nbsp; ');
  const res = await fetch('api/view.json');
  if (!res.ok) throw new Error(`api/view.json: ${res.status}`);
  config = (await res.json()) as ViewConfig;
  for (const c of config.cases) cases.set(c.name, serverCase(c));
  await nv.attachToCanvas($<HTMLCanvasElement>('gl'));
  nv.setSliceType(nv.sliceTypeAxial);
  nv.setInterpolation(true);
  for (const input of Object.values(opacity)) input.addEventListener('input', applyOpacity);
  const pick = $<HTMLInputElement>('pick');
  pick.addEventListener('change', () => {
    const f = pick.files?.[0];
    if (f !== undefined) void segmentFile(f);
  });
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const f = e.dataTransfer?.files[0];
    if (f !== undefined) void segmentFile(f);
  });
  renderList();
  const first = ranking.slices[0];
  if (first !== undefined) await showCase(first.case, first.z);
  hooks.ready = true;
}

main().catch((e: Error) => {
  say(e.message, true);
  hooks.errors.push(e.message);
});
