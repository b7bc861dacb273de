/** Example slices for the report: compact, quantised copies of an image, its labels and uncertainty. */
import type { Case } from '../data/datasets.js';
import type { CaseEvaluation } from '../evaluate/index.js';
import type { VolumePrediction } from '../predict/index.js';

export interface ExampleSlice {
  readonly case: string;
  readonly z: number;
  readonly kind: 'failure' | 'correct';
  readonly meanDice: number;
  readonly score: number;
  /** [nx, ny], x fastest. */
  readonly dims: readonly [number, number];
  /** base64 of uint8 arrays: the image min–max scaled to 0–255, labels (project classes), entropy scaled by 255 / ln 4. */
  readonly image: string;
  readonly target: string;
  readonly segmentation: string;
  readonly entropy: string;
}

const b64 = (a: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');

/** Decodes a base64 field of an {@link ExampleSlice}. */
export function decodeExampleArray(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'base64'));
}

function quantise(values: Float32Array, lo: number, hi: number): Uint8Array {
  const out = new Uint8Array(values.length);
  const span = hi > lo ? hi - lo : 1;
  for (let i = 0; i < values.length; i++) out[i] = Math.max(0, Math.min(255, Math.round(((values[i] - lo) / span) * 255)));
  return out;
}

/**
 * The case's most uncertain failed slice and its most confident correct slice (mean Dice ≥ 0.9),
 * when it has them.
 */
export function collectExamples(c: Case, p: VolumePrediction, ev: CaseEvaluation): ExampleSlice[] {
  const [nx, ny] = c.image.dims;
  const plane = nx * ny;
  let failure: { z: number; score: number; dice: number } | undefined;
  let correct: { z: number; score: number; dice: number } | undefined;
  for (const s of ev.slices) {
    const dice = s.meanDice.value;
    const score = p.slices[s.z]?.score;
    if (dice === null || score === undefined || !Number.isFinite(score)) continue;
    if (s.failed && (!failure || score > failure.score)) failure = { z: s.z, score, dice };
    if (!s.failed && dice >= 0.9 && (!correct || score < correct.score)) correct = { z: s.z, score, dice };
  }
  const make = (kind: ExampleSlice['kind'], e: { z: number; score: number; dice: number }): ExampleSlice => {
    const at = (a: { subarray(s: number, e: number): unknown }) => a.subarray(e.z * plane, (e.z + 1) * plane);
    const image = at(c.image.data) as Float32Array;
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of image) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    return {
      case: c.id,
      z: e.z,
      kind,
      meanDice: e.dice,
      score: e.score,
      dims: [nx, ny],
      image: b64(quantise(image, lo, hi)),
      target: b64((c.labels as NonNullable<Case['labels']>).data.slice(e.z * plane, (e.z + 1) * plane)),
      segmentation: b64(p.segmentation.slice(e.z * plane, (e.z + 1) * plane)),
      entropy: b64(quantise(at(p.entropy) as Float32Array, 0, Math.log(4))),
    };
  };
  return [...(correct ? [make('correct', correct)] : []), ...(failure ? [make('failure', failure)] : [])];
}
