/**
 * Argument checks shared by the metrics (internal: not re-exported). Each throws a TypeError or
 * RangeError that names the function and the argument.
 */
import type { StructureOptions } from './types.js';

/** Resolved {@link StructureOptions}. */
export interface Structures {
  readonly numClasses: number;
  readonly classes: readonly number[];
  /** `labelled[c] === 1` when the ground truth labels class c. */
  readonly labelled: Uint8Array;
}

export function resolveStructures(opts: StructureOptions, where: string): Structures {
  const numClasses = opts.numClasses ?? 4;
  if (!Number.isInteger(numClasses) || numClasses < 2 || numClasses > 256) {
    throw new RangeError(`${where}: numClasses must be an integer in [2, 256], got ${numClasses}`);
  }
  const classes = opts.classes ?? Array.from({ length: numClasses - 1 }, (_, i) => i + 1);
  for (const c of classes) checkClass(c, numClasses, 'classes', where);
  const labelled = new Uint8Array(numClasses);
  if (opts.labelled === undefined) labelled.fill(1);
  else {
    for (const c of opts.labelled) {
      checkClass(c, numClasses, 'labelled', where);
      labelled[c] = 1;
    }
    labelled[0] = 1; // background is always labelled
  }
  return { numClasses, classes, labelled };
}

function checkClass(c: number, numClasses: number, name: string, where: string): void {
  if (!Number.isInteger(c) || c < 0 || c >= numClasses) {
    throw new RangeError(`${where}: ${name} holds ${c}, not a class index in [0, ${numClasses - 1}]`);
  }
}

/** Checks a label map: a Uint8Array of length `n` (when given) with every value < numClasses. */
export function checkLabels(labels: Uint8Array, numClasses: number, name: string, where: string, n?: number): void {
  if (!(labels instanceof Uint8Array)) {
    throw new TypeError(`${where}: ${name} must be a Uint8Array label map, got ${describe(labels)}`);
  }
  if (n !== undefined && labels.length !== n) {
    throw new RangeError(`${where}: ${name} has ${labels.length} pixels, expected ${n}`);
  }
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] >= numClasses) {
      throw new RangeError(`${where}: ${name}[${i}] = ${labels[i]} is not a class in [0, ${numClasses - 1}]`);
    }
  }
}

/** Checks that two arrays have the same length. */
export function checkSameLength(a: ArrayLike<number>, b: ArrayLike<number>, names: string, where: string): void {
  if (a.length !== b.length) {
    throw new RangeError(`${where}: ${names} must have the same length, got ${a.length} and ${b.length}`);
  }
}

/**
 * Checks class-major probabilities `probs[c*P + p]` and returns P. `probs.length` must be a
 * multiple of numClasses and every value finite.
 */
export function checkProbs(probs: Float32Array | Float64Array, numClasses: number, where: string): number {
  if (!(probs instanceof Float32Array || probs instanceof Float64Array)) {
    throw new TypeError(`${where}: probs must be a Float32Array or Float64Array, got ${describe(probs)}`);
  }
  if (probs.length === 0 || probs.length % numClasses !== 0) {
    throw new RangeError(`${where}: probs has ${probs.length} values, not a positive multiple of numClasses = ${numClasses}`);
  }
  for (let i = 0; i < probs.length; i++) {
    if (!Number.isFinite(probs[i])) throw new RangeError(`${where}: probs[${i}] = ${probs[i]} is not finite`);
  }
  return probs.length / numClasses;
}

/** Checks an optional pixel mask of length n. */
export function checkMask(mask: Uint8Array | undefined, n: number, where: string): void {
  if (mask === undefined) return;
  if (!(mask instanceof Uint8Array)) throw new TypeError(`${where}: mask must be a Uint8Array, got ${describe(mask)}`);
  if (mask.length !== n) throw new RangeError(`${where}: mask has ${mask.length} pixels, expected ${n}`);
}

/** Checks that every value is finite (scores must be ranked, so NaN cannot be placed). */
export function checkFinite(values: ArrayLike<number>, name: string, where: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw new RangeError(`${where}: ${name}[${i}] = ${values[i]} is not finite`);
  }
}

/** The prediction with unlabelled classes set to background (the input itself when all are labelled). */
export function remapUnlabelled(pred: Uint8Array, labelled: Uint8Array): Uint8Array {
  if (labelled.every((v) => v === 1)) return pred;
  const out = new Uint8Array(pred.length);
  for (let i = 0; i < pred.length; i++) out[i] = labelled[pred[i]] === 1 ? pred[i] : 0;
  return out;
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (typeof x === 'object') return (x as object).constructor?.name ?? 'object';
  return typeof x;
}
