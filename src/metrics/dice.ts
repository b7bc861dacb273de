import type { StructureMetric, StructureOptions } from './types.js';
import { checkLabels, remapUnlabelled, resolveStructures } from './validate.js';

/**
 * Dice per structure between a predicted and a ground-truth label map (any shape: a slice, a
 * volume, flattened), `2|P∩G| / (|P| + |G|)`.
 *
 * Empty structures, explicitly:
 * - both empty → `NaN`, reason `both-empty` (not counted by {@link reduce}, which reports it);
 * - one empty → `0`;
 * - a class outside `labelled` → `NaN`, reason `unlabelled`; predicted pixels of unlabelled
 *   classes count as background.
 *
 * @param pred predicted labels (Uint8Array, values < numClasses)
 * @param target ground-truth labels, same length
 * @returns one entry per scored class, in the order of `opts.classes` (default 1..C-1)
 * @example
 * dice(pred, gt, { labelled: [0, 1, 2] }) // EMIDEC: RV → {cls: 3, value: NaN, reason: 'unlabelled'}
 */
export function dice(pred: Uint8Array, target: Uint8Array, opts: StructureOptions = {}): StructureMetric[] {
  const where = 'dice';
  const s = resolveStructures(opts, where);
  checkLabels(pred, s.numClasses, 'pred', where);
  checkLabels(target, s.numClasses, 'target', where, pred.length);
  const p = remapUnlabelled(pred, s.labelled);
  const inter = new Float64Array(s.numClasses);
  const predCount = new Float64Array(s.numClasses);
  const targetCount = new Float64Array(s.numClasses);
  for (let i = 0; i < p.length; i++) {
    const a = p[i];
    const b = target[i];
    predCount[a]++;
    targetCount[b]++;
    if (a === b) inter[a]++;
  }
  return s.classes.map((cls): StructureMetric => {
    if (s.labelled[cls] !== 1) return { cls, value: NaN, reason: 'unlabelled' };
    const denom = predCount[cls] + targetCount[cls];
    if (denom === 0) return { cls, value: NaN, reason: 'both-empty' };
    return { cls, value: (2 * inter[cls]) / denom };
  });
}
