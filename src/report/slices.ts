/**
 * Example-slice pictures: the image with the ground truth, the image with the prediction (each a
 * translucent fill with a one-pixel contour per class) and the entropy heat map, side by side,
 * cropped around the heart and upscaled by pixel repetition.
 */
import { scheme } from 'vega';
import { decodeExampleArray, type ExampleSlice } from '../experiment/index.js';
import type { RasterImage } from './png.js';

/** Overlay colour per project class (Okabe–Ito: LV orange, MYO bluish green, RV sky blue). */
export const CLASS_COLOURS: Readonly<Record<1 | 2 | 3, readonly [number, number, number]>> = {
  1: [230, 159, 0],
  2: [0, 158, 115],
  3: [86, 180, 233],
};
const FILL_ALPHA = 0.35;
/** Gap between panels, in output pixels (white). */
const GAP = 6;

let heatLut: Uint8Array | undefined;
/** Vega's "inferno" colour scheme sampled at 256 levels (RGB). */
function heatColours(): Uint8Array {
  if (heatLut) return heatLut;
  const interpolate = scheme('inferno') as (t: number) => string;
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const m = /rgb\((\d+),\s*(\d+),\s*(\d+)\)/.exec(interpolate(i / 255));
    if (!m) throw new Error(`slices: unexpected colour ${interpolate(i / 255)} from vega's inferno scheme`);
    lut.set([Number(m[1]), Number(m[2]), Number(m[3])], i * 3);
  }
  heatLut = lut;
  return lut;
}

/** Margin around the structures when cropping, in slice pixels. */
const CROP_MARGIN = 12;
/** Longest panel side to aim for when upscaling, in output pixels. */
const PANEL_TARGET = 180;

/** A square window of a slice, in slice pixels. */
export interface CropBox {
  readonly x0: number;
  readonly y0: number;
  readonly size: number;
}

/**
 * The square window around the labelled structures of the ground truth and the prediction, widened
 * by a margin and kept inside the slice; the whole slice (its shorter side) when neither labels
 * anything.
 */
export function cropBox(target: Uint8Array, seg: Uint8Array, dims: readonly [number, number], margin = CROP_MARGIN): CropBox {
  const [nx, ny] = dims;
  let x0 = nx;
  let y0 = ny;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < ny; y++) {
    for (let x = 0; x < nx; x++) {
      if (target[y * nx + x] === 0 && seg[y * nx + x] === 0) continue;
      x0 = Math.min(x0, x);
      x1 = Math.max(x1, x);
      y0 = Math.min(y0, y);
      y1 = Math.max(y1, y);
    }
  }
  const limit = Math.min(nx, ny);
  if (x1 < 0) return { x0: Math.floor((nx - limit) / 2), y0: Math.floor((ny - limit) / 2), size: limit };
  const size = Math.min(limit, Math.max(x1 - x0, y1 - y0) + 1 + 2 * margin);
  const place = (lo: number, hi: number, n: number) => Math.max(0, Math.min(n - size, Math.round((lo + hi + 1 - size) / 2)));
  return { x0: place(x0, x1, nx), y0: place(y0, y1, ny), size };
}

/** Upscaling factor for a crop: the largest integer in 1..4 keeping the panel ≤ 180 pixels (at least 1). */
function exampleScale(size: number): number {
  return Math.max(1, Math.min(4, Math.floor(PANEL_TARGET / size)));
}

function decoded(ex: ExampleSlice, key: 'image' | 'target' | 'segmentation' | 'entropy', n: number, where: string): Uint8Array {
  const a = decodeExampleArray(ex[key]);
  if (a.length !== n) throw new RangeError(`${where}: ${key} holds ${a.length} values, dims ${ex.dims[0]}×${ex.dims[1]} need ${n}`);
  return a;
}

/** A rendered example: three panels side by side, and how they were cut and scaled. */
export interface ExampleRaster extends RasterImage {
  readonly crop: CropBox;
  readonly scale: number;
}

/**
 * Renders one example as three panels (ground truth, prediction, entropy), each the
 * {@link cropBox} of the slice upscaled by {@link exampleScale} (pixel repetition).
 *
 * @param where names the example in errors (file and index)
 * @throws {RangeError} when a decoded array does not fit `dims`, or a label is not a class 0..3
 */
export function renderExample(ex: ExampleSlice, where: string): ExampleRaster {
  const [nx, ny] = ex.dims;
  const n = nx * ny;
  const image = decoded(ex, 'image', n, where);
  const target = decoded(ex, 'target', n, where);
  const seg = decoded(ex, 'segmentation', n, where);
  const entropy = decoded(ex, 'entropy', n, where);
  for (const [name, labels] of [['target', target], ['segmentation', seg]] as const) {
    const bad = labels.findIndex((v) => v > 3);
    if (bad >= 0) throw new RangeError(`${where}: ${name} has label ${labels[bad]} at pixel ${bad}; expected classes 0..3`);
  }
  const crop = cropBox(target, seg, ex.dims);
  const scale = exampleScale(crop.size);
  const pw = crop.size * scale;
  const ph = pw;
  const width = 3 * pw + 2 * GAP;
  const out = new Uint8Array(width * ph * 3).fill(255);
  const lut = heatColours();
  const at = (X: number, Y: number) => (crop.y0 + Math.floor(Y / scale)) * nx + crop.x0 + Math.floor(X / scale);
  for (let Y = 0; Y < ph; Y++) {
    for (let X = 0; X < pw; X++) {
      const src = at(X, Y);
      const grey = image[src];
      for (let panel = 0; panel < 2; panel++) {
        const labels = panel === 0 ? target : seg;
        const c = labels[src] as 0 | 1 | 2 | 3;
        let rgb: readonly number[] = [grey, grey, grey];
        if (c !== 0) {
          const colour = CLASS_COLOURS[c];
          const edge =
            X === 0 || Y === 0 || X === pw - 1 || Y === ph - 1 ||
            labels[at(X - 1, Y)] !== c || labels[at(X + 1, Y)] !== c ||
            labels[at(X, Y - 1)] !== c || labels[at(X, Y + 1)] !== c;
          rgb = edge ? colour : colour.map((k) => Math.round(FILL_ALPHA * k + (1 - FILL_ALPHA) * grey));
        }
        out.set(rgb, (Y * width + panel * (pw + GAP) + X) * 3);
      }
      const h = entropy[src] * 3;
      out.set(lut.subarray(h, h + 3), (Y * width + 2 * (pw + GAP) + X) * 3);
    }
  }
  return { width, height: ph, channels: 3, data: out, crop, scale };
}
