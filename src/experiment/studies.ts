/**
 * The studies, each on the validation split: posterior temperature (with and without
 * augmentation), number of cycles, cycle layout, BatchNorm statistics, budget K, and the number of
 * samples used. A study point with the method and config of a store of the comparison reuses that
 * store and its one validation evaluation.
 */
import { join } from 'node:path';
import type { Method } from '../bayes/methods.js';
import { openSampleStore } from '../bayes/store.js';
import type { Splits } from '../data/index.js';
import { parseTrainConfig, type TrainConfig } from '../train/config.js';
import { checkStop, deepMerge, jsonText, trainedSeconds, trainTimed, type Context } from './context.js';
import { evaluateCached } from './evaluation-cache.js';
import type { CycleLayoutSetting, Preset, StudyName } from './presets.js';
import type { DomainSpec, StudyPoint } from './results.js';

/** A cycle layout in words, e.g. "first ×2, from cycle 2": the first cycle's length relative to the others, the first sampling cycle (1-based). */
const layoutLabel = (l: CycleLayoutSetting) => `first ×${l.firstCycleFactor}, from cycle ${l.sampleFromCycle + 1}`;

/** Runs (or resumes) the named studies in order and returns their points. */
export async function runStudies(ctx: Context, preset: Preset, names: readonly StudyName[], splits: Splits): Promise<StudyPoint[]> {
  const points: StudyPoint[] = [];
  const val: DomainSpec = { name: 'validation', dir: ctx.trainData, labels: ctx.config.data.labels, part: 'val', kind: 'in-domain' };
  const studyDir = join(ctx.out, 'studies');
  const point = async (study: StudyName, name: string, method: Method, config: TrainConfig, setting: StudyPoint['setting'], row: string = method) => {
    // A study point with the method and config of a store of the comparison reuses that store.
    const same = ctx.entries.find((e) => e.method === method && jsonText(e.config) === jsonText(config));
    const dir = same ? join(ctx.out, 'models', same.name) : join(studyDir, study, name);
    const seconds = await trainTimed(ctx, method, config, dir, `${study} ${name}`);
    // One validation evaluation per reused store, however many studies point at it.
    const evalPath = same ? join(studyDir, 'main', `${same.name}-val.json`) : join(dir, 'evaluation-val.json');
    const ev = evaluateCached(ctx, dir, val, splits, evalPath, {});
    points.push({ study, setting, method: row, domain: val.name, summary: ev.summary, trainSeconds: seconds });
  };
  const c = ctx.config;
  for (const study of names) {
    if (study === 'temperature') {
      for (const augment of [true, false]) {
        const data = { augment: augment ? c.data.augment || 1 : 0 };
        const tag = augment ? 'aug' : 'noaug';
        for (const t of preset.grid.temperatures) {
          const config = parseTrainConfig(deepMerge(c, { hmc: { temperature: t }, data }));
          await point(study, `T${t}-${tag}`, 'hmc', config, { temperature: t, augment });
        }
        // One deterministic network on the same data: what augmentation does without a sampler.
        await point(study, `deterministic-${tag}`, 'deterministic', parseTrainConfig(deepMerge(c, { data })), { augment });
      }
    } else if (study === 'cycles') {
      for (const m of preset.grid.cycles) {
        // Samples from the same fraction of the cycles as the preset's layout.
        const from = Math.floor((c.hmc.sampleFromCycle * m) / c.hmc.cycles);
        await point(study, `M${m}`, 'hmc', parseTrainConfig(deepMerge(c, { hmc: { cycles: m, sampleFromCycle: from } })), { cycles: m });
      }
    } else if (study === 'layout') {
      for (const l of preset.grid.layouts) {
        const config = parseTrainConfig(deepMerge(c, { hmc: l }));
        await point(study, `F${l.firstCycleFactor}-from${l.sampleFromCycle}`, 'hmc', config, { layout: layoutLabel(l), ...l });
      }
    } else if (study === 'batchnorm') {
      for (const n of preset.grid.bnBatches) {
        // 0 leaves the field out: the main comparison's config, whose store is reused.
        const config = parseTrainConfig(deepMerge(c, n > 0 ? { bnBatches: n } : {}));
        await point(study, `bn${n}`, 'hmc', config, { bnBatches: n });
      }
    } else if (study === 'budget') {
      // One network, the reference HMC-CP and every variant (e.g. the library's defaults) at K·f.
      const runs = [
        { name: 'deterministic', method: 'deterministic' as const, config: c },
        { name: 'hmc', method: 'hmc' as const, config: c },
        ...ctx.entries.filter((e) => preset.variants.some((v) => v.name === e.name)),
      ];
      for (const f of preset.grid.budgets) {
        for (const r of runs) {
          const config = parseTrainConfig(deepMerge(r.config, { optim: { steps: c.optim.steps * f }, checkpointEvery: c.checkpointEvery * f }));
          await point(study, `${r.name}-K${config.optim.steps}`, r.method, config, { steps: config.optim.steps }, r.name);
        }
      }
    } else if (study === 'samples') {
      for (const method of ['hmc', 'ensemble'] as const) {
        const dir = join(ctx.out, 'models', method);
        const available = openSampleStore(dir).manifest.samples.length;
        const counts = [...new Set([1, 2, 3, 4, 6, 8, 12, available].filter((k) => k <= available))];
        const seconds = trainedSeconds(dir);
        for (const k of counts) {
          const ev = evaluateCached(ctx, dir, val, splits, join(studyDir, 'samples', `${method}-last${k}.json`), { samples: k });
          points.push({ study, setting: { samples: k }, method, domain: val.name, summary: ev.summary, trainSeconds: seconds });
        }
      }
    }
    checkStop(ctx);
  }
  return points;
}
