/**
 * The training configuration: every hyperparameter, validated with zod, with documented defaults.
 * A config file (JSON) may give any subset; the rest takes these defaults.
 */
import * as z from 'zod';
import {
  deterministicMethod,
  ensembleMethod,
  hmcMethod,
  mcDropoutMethod,
  sgdTrajectoryMethod,
  type Method,
  type TrainingMethod,
} from '../bayes/index.js';
import { NUM_CLASSES } from '../data/labels.js';
import type { UNetConfig } from '../models/index.js';
import { parseJson, readJsonFile } from '../util/json.js';

const positiveInt = z.number().int().positive();

export const TrainConfigSchema = z
  .object({
    /** Seed of everything random: weights, data order, augmentation, sampler noise, dropout. */
    seed: z.number().int().nonnegative().default(0),
    /** Bit-identical reruns and resumes (libtorch deterministic algorithms). */
    deterministic: z.boolean().default(true),
    /** libtorch intra-op threads; 0 = number of cores. */
    threads: z.number().int().nonnegative().default(0),
    data: z
      .object({
        /** Label map of the training data: 'auto' (the layout's default: ACDC's, the folder's labels.json, nnU-Net's dataset.json) | 'acdc' | 'emidec' | 'project' | a JSON file. */
        labels: z.string().default('auto'),
        /** Network input size (square): the centre crop, or the training window and the sliding window of prediction. */
        size: positiveInt.default(128),
        /**
         * In-plane spacing to resample to (mm): 'median' (default, as nnU-Net) is the training
         * split's median in-plane spacing over files whose spacing is known (pixdim 1 is unknown;
         * with none known the grid is kept, so the shared data, pixdim 1 everywhere, keep their
         * pixels); a number fixes it; null keeps every file's grid.
         */
        targetSpacing: z.union([z.number().positive(), z.literal('median')]).nullable().default('median'),
        /**
         * 'sliding' (default): the network sees whole slices (random training windows of `size`,
         * Gaussian-weighted overlapping windows at prediction), so no voxel of an input goes
         * unseen; 'centre': one `size` crop about the image centre, voxels outside it get
         * background with no uncertainty (what stores trained before this option do); the ONNX
         * export and the viewer's in-browser inference predict both as `hmcseg predict` does.
         */
        window: z.enum(['centre', 'sliding']).default('sliding'),
        batchSize: positiveInt.default(8),
        /** Augmentation worker threads (0: inline). */
        workers: z.number().int().nonnegative().default(1),
        /** Augmentation strength: 0 off, 1 the defaults of src/data/augment.ts. */
        augment: z.number().nonnegative().default(1),
      })
      .strict()
      .prefault({}),
    model: z
      .object({
        depth: positiveInt.default(4),
        baseWidth: positiveInt.default(16),
        norm: z.enum(['batch', 'instance', 'none']).default('batch'),
        /** Dropout rate; MC Dropout needs > 0 (its default is set by the method). */
        dropout: z.number().min(0).lt(1).default(0),
        dropoutPlacement: z.enum(['bottleneck', 'decoder', 'all']).default('decoder'),
      })
      .strict()
      .prefault({}),
    loss: z
      .object({
        ce: z.number().nonnegative().default(1),
        dice: z.number().nonnegative().default(1),
      })
      .strict()
      .prefault({}),
    optim: z
      .object({
        /** Total iterations K of one network (the budget of every method per member). */
        steps: positiveInt.default(800),
        /** Peak learning rate η0. */
        lr: z.number().positive().default(0.05),
        /** μ = 1 − α (friction α). */
        momentum: z.number().min(0).lt(1).default(0.9),
        /** Prior standard deviation σ of N(0, σ²I); weight decay is 1/(N·σ²), N the training slices. */
        priorStd: z.number().positive().default(1),
        /** Learning-rate schedule of the non-cyclical methods. */
        schedule: z.enum(['cosine', 'constant']).default('cosine'),
        /** Gradient-norm clip (0: off). */
        clipNorm: z.number().nonnegative().default(0),
        /** On a NaN/Inf loss, gradient or weight: stop (keeping the last checkpoint), or roll back to it with η halved (at most 3 times). */
        onDivergence: z.enum(['stop', 'rollback']).default('stop'),
      })
      .strict()
      .prefault({}),
    hmc: z
      .object({
        /**
         * Cycles M over the budget. The default, 1 (one cosine cycle whose last β samples), won the
         * cycles and cycle-layout studies on the ACDC validation split at K = 800 (README,
         * "Studies"); the reference protocol of the comparison uses 4.
         */
        cycles: positiveInt.default(1),
        /** Fraction β of each cycle that samples (the rest explores without noise). */
        beta: z.number().gt(0).max(1).default(0.25),
        /** Samples S per cycle, evenly spaced in its sampling phase, the last at the cycle's end. */
        samplesPerCycle: positiveInt.default(3),
        /**
         * Temperature T: the samples follow exp(−U(θ)/T), U = Σ over the N training slices of
         * (pixel-mean cross-entropy + soft-Dice loss) + ‖θ‖²/(2σ²). T = 1 is the posterior in which
         * each slice is one observation (the per-pixel likelihood tempered at H·W, plus a Dice
         * factor that is no normalised density: a Gibbs posterior; src/bayes/sghmc.ts); T < 1 colder
         * (prior included); 0 SGD with momentum.
         */
        temperature: z.number().nonnegative().default(0.01),
        /** Steps of a linear temperature ramp from 0 at the start of each sampling phase (0: none). */
        temperatureRamp: z.number().int().nonnegative().default(0),
        /** Length of the first cycle relative to the others (a warm-up cycle when > 1). */
        firstCycleFactor: z.number().positive().default(1),
        /** Collect samples only from this cycle on (0-based; below `cycles`); earlier cycles explore without noise. */
        sampleFromCycle: z.number().int().nonnegative().default(0),
      })
      .strict()
      .prefault({})
      .check((ctx) => {
        const h = ctx.value;
        if (h.sampleFromCycle >= h.cycles) {
          ctx.issues.push({
            code: 'custom',
            input: h.sampleFromCycle,
            path: ['sampleFromCycle'],
            message: `must be less than hmc.cycles (${h.cycles}): cycles are numbered from 0`,
          });
        }
      }),
    mcdropout: z
      .object({
        rate: z.number().gt(0).lt(1).default(0.2),
        /** Dropout passes at prediction. */
        passes: positiveInt.default(10),
      })
      .strict()
      .prefault({}),
    ensemble: z
      .object({
        members: positiveInt.default(5),
      })
      .strict()
      .prefault({}),
    /**
     * Batches of un-augmented training slices over which every weight sample's BatchNorm running
     * statistics are recomputed before it is stored (absent or 0: the running statistics of
     * training are stored). Training itself is unchanged. Optional without a default so that the
     * config hash of runs made before it existed stays the same.
     */
    bnBatches: z.number().int().nonnegative().optional(),
    /** Steps between checkpoints. */
    checkpointEvery: positiveInt.default(50),
  })
  .strict();

export type TrainConfig = z.infer<typeof TrainConfigSchema>;
export type TrainConfigInput = z.input<typeof TrainConfigSchema>;

/** Validates a config object; errors name the field and, when given, the file. */
export function parseTrainConfig(input: unknown, source = 'config'): TrainConfig {
  return parseJson(input ?? {}, TrainConfigSchema, 'training config', source);
}

/** Reads and validates a JSON config file. */
export function loadTrainConfig(path: string): TrainConfig {
  return readJsonFile(path, TrainConfigSchema, 'training config');
}

/** The value of `method` (src/bayes/methods.ts) that `config` sets: its schedules, samples and networks. */
export function methodFromConfig(method: Method, config: TrainConfig): TrainingMethod {
  const m = config.model;
  const network: UNetConfig = {
    inChannels: 1,
    numClasses: NUM_CLASSES,
    depth: m.depth,
    baseWidth: m.baseWidth,
    norm: m.norm,
    dropout: m.dropout,
    dropoutPlacement: m.dropoutPlacement,
    seed: config.seed,
  };
  const { steps, lr, schedule } = config.optim;
  const h = config.hmc;
  const cycles = {
    steps,
    lr,
    cycles: h.cycles,
    beta: h.beta,
    samplesPerCycle: h.samplesPerCycle,
    firstCycleFactor: h.firstCycleFactor,
    sampleFromCycle: h.sampleFromCycle,
    network,
  };
  switch (method) {
    case 'deterministic':
      return deterministicMethod({ steps, lr, schedule, network });
    case 'mcdropout':
      return mcDropoutMethod({ steps, lr, schedule, network, rate: config.mcdropout.rate, passes: config.mcdropout.passes });
    case 'ensemble':
      return ensembleMethod({ steps, lr, schedule, network, members: config.ensemble.members });
    case 'hmc':
      return hmcMethod({ ...cycles, temperature: h.temperature, temperatureRamp: h.temperatureRamp });
    case 'sgd-trajectory':
      return sgdTrajectoryMethod(cycles);
  }
}
