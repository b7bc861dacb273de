/**
 * `hmcseg smoke`: trains a small U-Net for a few steps on random images with a learnable target
 * and prints the loss falling — a quick end-to-end check of the native engine, autograd, the flat
 * parameter buffer, the loss and the sampler, through the training step the trainer uses.
 */
import type { Command } from 'commander';
import { sghmc } from '../bayes/index.js';
import { deviceOption, integerIn } from './args.js';
import { avgPool2d, checkDevice, Generator, randn, setNumThreads, tidy, where } from '../engine/index.js';
import { UNet } from '../models/index.js';
import { trainStep, type StepBatch } from '../train/index.js';

export interface SmokeOptions {
  /** Training steps (default 30). */
  readonly steps?: number;
  /** Seed of the weights and the data (default 0). */
  readonly seed?: number;
  /** Print the loss every this many steps (default 5; the first and last step are always printed). */
  readonly logEvery?: number;
  /** Where lines go (default console.log). */
  readonly log?: (line: string) => void;
  /** libtorch threads; left as they are when omitted. */
  readonly threads?: number;
  /** Where the network and batches live (default 'cpu'). */
  readonly device?: string;
}

export interface SmokeResult {
  /** Loss at each step, before that step's update. */
  readonly losses: number[];
  readonly seconds: number;
  readonly parameterCount: number;
}

const BATCH = 4;
const SIZE = 64;
/** A 5×5 box blur of N(0, 1) noise has σ = 1/5; thresholds at ±σ/2 give three similar-sized classes. */
const THRESHOLD = 0.1;

/** Random images and their target: class 0 / 1 / 2 where the blurred image is low / middle / high. */
function batch(gen: Generator, device: string): StepBatch {
  return tidy(() => {
    const x = randn([BATCH, 1, SIZE, SIZE], { generator: gen, device });
    const b = avgPool2d(x, 5, { stride: 1, padding: 2, countIncludePad: false }).squeeze(1);
    const y = where(b.gt(THRESHOLD), 2, where(b.lt(-THRESHOLD), 0, 1)).to('int64');
    return { x, y };
  });
}

/**
 * Trains a U-Net (depth 3, base width 8, batch norm, 3 classes) with SGD + momentum (the library's
 * sampler at T = 0, flat prior) on the flat parameter buffer through `trainStep`, a fresh random
 * 4×1×64×64 batch each step, loss = cross-entropy + soft Dice.
 *
 * @returns the loss history; it falls from ≈ 2.0 to below 1.0 in 30 steps (≈ 3 s on 2 cores) when the engine works.
 */
export function runSmoke(opts: SmokeOptions = {}): SmokeResult {
  const steps = opts.steps ?? 30;
  const seed = opts.seed ?? 0;
  const logEvery = opts.logEvery ?? 5;
  const log = opts.log ?? ((line: string) => console.log(line));
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`runSmoke: steps must be a positive integer, got ${steps}`);
  if (!Number.isInteger(logEvery) || logEvery < 1) throw new RangeError(`runSmoke: logEvery must be a positive integer, got ${logEvery}`);
  if (opts.threads !== undefined) setNumThreads(opts.threads);

  const [lr, momentum] = [0.05, 0.9];
  const device = checkDevice(opts.device ?? 'cpu', 'smoke');
  const model = new UNet({ depth: 3, baseWidth: 8, numClasses: 3, norm: 'batch', seed }, { device });
  const data = new Generator(seed + 1);
  const parameterCount = model.parameterCount;
  // A flat prior (no weight decay); numData then only scales the noise, which T = 0 leaves out.
  const sampler = sghmc({ lr, momentum, temperature: 0, numData: 1, priorStd: Infinity });
  let state = sampler.init(model.params.flat);
  const losses: number[] = [];
  const t0 = performance.now();
  log(`smoke: U-Net depth 3, base width 8, ${parameterCount} parameters; ${steps} steps of SGD-momentum on ${BATCH}×1×${SIZE}×${SIZE}, ${device}`);
  try {
    for (let step = 0; step < steps; step++) {
      const r = trainStep({ model, sampler, state, batch: () => batch(data, device) });
      if (r.notFinite) throw new Error(`smoke: ${r.notFinite} is not finite at step ${step + 1}`);
      state = r.state;
      losses.push(r.loss);
      if (step === 0 || step === steps - 1 || (step + 1) % logEvery === 0) {
        log(`step ${String(step + 1).padStart(4)}  loss ${losses[step].toFixed(4)}  ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      }
    }
  } finally {
    sampler.dispose(state);
    data.dispose();
    model.dispose();
  }
  return { losses, seconds: (performance.now() - t0) / 1000, parameterCount };
}

export function registerSmokeCommand(program: Command): void {
  program
    .command('smoke')
    .description('check the installation: train a small U-Net for a few steps on random data and print the loss falling')
    .option('--steps <n>', 'training steps', integerIn(1, 100000, 'must be a positive integer'), 30)
    .addOption(deviceOption())
    .action((o: { steps: number; device: string }) => {
      const r = runSmoke({ steps: o.steps, device: o.device });
      const [first, last] = [r.losses[0], r.losses[r.losses.length - 1]];
      if (!(last < first)) throw new Error(`smoke: the loss did not fall (${first.toFixed(4)} → ${last.toFixed(4)})`);
      process.stdout.write(`smoke: ok, loss ${first.toFixed(4)} → ${last.toFixed(4)} in ${r.seconds.toFixed(1)} s\n`);
    });
}
