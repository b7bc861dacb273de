/**
 * Coverage check: for every labelled volume of the shared ACDC and EMIDEC data, the number of
 * ground-truth heart voxels (any non-zero label) outside what the network sees, under the centre
 * crop of stores made before whole-image prediction (`window: 'centre'`) and under today's default
 * (`window: 'sliding'`: the whole slice, tiled by sliding windows). Only the label files are read,
 * and only to count.
 *
 *   npx tsc -p tsconfig.build.json && HMCSEG_DATA=/work/shared/data node dist/bench/coverage.js [--size 128]
 *
 * Writes bench/results/coverage.json.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readNiftiLabels } from '../src/data/nifti.js';
import { planSliceTransform, preprocessOptions, voxelsOutsideWindow, type PreprocessConfig } from '../src/data/preprocess.js';
import { writeFileAtomic } from '../src/util/index.js';
import { repoRoot } from './util.js';

const { values } = parseArgs({ options: { size: { type: 'string', default: '128' } } });
const size = Number(values.size);
const root = process.env.HMCSEG_DATA ?? join(repoRoot, '..', 'shared', 'data');

/** Label files of a data set folder: `<dir>/<case>/*_gt.nii.gz`. */
function labelFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) => readdirSync(join(dir, d.name)).filter((f) => f.endsWith('_gt.nii.gz')).map((f) => join(dir, d.name, f)))
    .sort();
}

interface ModeCount {
  /** Volumes with at least one heart voxel outside the window. */
  volumesMissed: number;
  /** Largest fraction of one volume's heart voxels outside. */
  worstFraction: number;
  worstVolume: string | null;
  voxelsOutside: number;
}

const modes = ['centre', 'sliding'] as const;
const result: Record<string, { volumes: number; heartVoxels: number } & Record<(typeof modes)[number], ModeCount>> = {};
for (const set of ['acdc', 'emidec']) {
  const files = labelFiles(join(root, set));
  const entry = { volumes: files.length, heartVoxels: 0 } as (typeof result)[string];
  for (const m of modes) entry[m] = { volumesMissed: 0, worstFraction: 0, worstVolume: null, voxelsOutside: 0 };
  for (const f of files) {
    const lab = readNiftiLabels(f);
    const [nx, ny] = lab.dims;
    let heart = 0;
    for (const v of lab.data) if (v !== 0) heart++;
    entry.heartVoxels += heart;
    for (const m of modes) {
      const pre: PreprocessConfig = { size, targetSpacing: null, window: m };
      const t = planSliceTransform(nx, ny, [lab.spacing[0], lab.spacing[1]], preprocessOptions(pre, f));
      const out = voxelsOutsideWindow(lab.data, t);
      const c = entry[m];
      c.voxelsOutside += out;
      if (out > 0) c.volumesMissed++;
      if (heart > 0 && out / heart > c.worstFraction) {
        c.worstFraction = out / heart;
        c.worstVolume = f.slice(root.length + 1);
      }
    }
  }
  result[set] = entry;
  for (const m of modes) {
    const c = entry[m];
    console.log(
      `${set} ${m.padEnd(7)} window ${size}: ${c.volumesMissed}/${files.length} volumes with heart voxels unseen, ` +
        `${c.voxelsOutside} voxels in all, worst ${(100 * c.worstFraction).toFixed(1)} % (${c.worstVolume ?? '-'})`,
    );
  }
}
writeFileAtomic(join(repoRoot, 'bench', 'results', 'coverage.json'), JSON.stringify({ size, data: root, result }, null, 2) + '\n');
