/**
 * Distributed benchmark: what data parallelism costs per step on this machine. Launches `--ranks`
 * processes × `--threads` libtorch threads (torchrun's environment on 127.0.0.1 and a free port,
 * Gloo) and times, on every rank, the allreduce-mean of one flat buffer of the U-Net's parameter
 * count (the `cpu` preset's model: depth 4, base width 16), the broadcast of the weights from
 * rank 0 and an empty barrier; medians over `--runs` after `--warmup`. The reported time of a
 * collective is the slowest rank's median (every rank waits for the last).
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/distributed.js [--ranks 2] [--threads 1] [--runs 51] [--warmup 5]
 *
 * Then the training step (src/train/step.ts) of the same model on one global batch of `--batch`
 * synthetic `--size`² slices: first in one process with ranks × threads libtorch threads, then in
 * the ranks, each on its shard with the data-parallel reduction (src/train/parallel.ts: the
 * gradient allreduce, the loss and BatchNorm-buffer allreduce); medians over `--steps` after
 * `--warmup`. Their ratio is what the split and the allreduce cost against the same cores used
 * by one process. One process with `--threads` threads on the whole batch is timed too, as a
 * control: on a loaded machine libtorch's intra-op threads can slow down far more than the cores
 * they share (the ratio then says more about the load than about data parallelism).
 *
 * Writes bench/results/distributed.json. Each collective measurement is a {@link Measure} that
 * every rank runs over its process group.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sghmc } from '../src/bayes/index.js';
import { freePort, initProcessGroup, manualSeed, randn, setDeterministic, setNumThreads, tensor, zeros, type ProcessGroup } from '../src/engine/index.js';
import { UNET_DEFAULTS, UNet, type UNetConfig } from '../src/models/index.js';
import { reduceStep } from '../src/train/parallel.js';
import { trainStep } from '../src/train/step.js';
import { writeFileAtomic } from '../src/util/atomic.js';
import { machine, median, repoRoot } from './util.js';

/** The `cpu` preset's U-Net (src/experiment/presets.ts: model depth 4, base width 16). */
const MODEL: UNetConfig = { ...UNET_DEFAULTS, depth: 4, baseWidth: 16 };

interface RankTiming {
  rank: number;
  medianMs: number;
  runsMs: number[];
}

/** One measurement, run by every rank over its group: the times of `runs` repeats after `warmup`. */
type Measure = (pg: ProcessGroup, o: { warmup: number; runs: number; params: number }) => number[];

function repeat(fn: () => void, pg: ProcessGroup, warmup: number, runs: number): number[] {
  for (let i = 0; i < warmup; i++) fn();
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    pg.barrier(); // every repeat starts together: the time is the collective's, not a rank's lag
    const t0 = performance.now();
    fn();
    out.push(performance.now() - t0);
  }
  return out;
}

const MEASURES: Record<string, Measure> = {
  allreduceMean: (pg, o) => {
    const grad = zeros([o.params]).add(pg.rank + 1);
    const times = repeat(() => void pg.allreduce(grad, 'mean'), pg, o.warmup, o.runs);
    grad.dispose();
    return times;
  },
  broadcastWeights: (pg, o) => {
    const weights = zeros([o.params]).add(pg.rank);
    const times = repeat(() => void pg.broadcast(weights, 0), pg, o.warmup, o.runs);
    weights.dispose();
    return times;
  },
  barrier: (pg, o) => repeat(() => pg.barrier(), pg, o.warmup, o.runs),
};

interface StepBench {
  readonly size: number;
  readonly batch: number;
  readonly warmup: number;
  readonly steps: number;
}

/**
 * Times of training steps on a fixed synthetic global batch: the whole batch without `pg`, else
 * this rank's rows ⌊r·B/W⌋ … ⌊(r+1)·B/W⌋ with the data-parallel reduction.
 */
function stepTimes(pg: ProcessGroup | undefined, o: StepBench): number[] {
  manualSeed(1);
  const model = new UNet({ ...MODEL, seed: 1 }).train();
  const sampler = sghmc({ lr: 0.01, momentum: 0.9, temperature: 0, numData: 1000, priorStd: 1 });
  let state = sampler.init(model.params.flat, { seed: 2 });
  const [rank, world] = pg ? [pg.rank, pg.worldSize] : [0, 1];
  const [lo, hi] = [Math.floor((rank * o.batch) / world), Math.floor(((rank + 1) * o.batch) / world)];
  const plane = o.size * o.size;
  const images = randn([o.batch, 1, o.size, o.size]).toArray() as Float32Array;
  const labels = Uint8Array.from({ length: o.batch * plane }, (_, i) => (i * 7919) % 4);
  const rows = hi - lo;
  const times: number[] = [];
  for (let i = 0; i < o.warmup + o.steps; i++) {
    pg?.barrier();
    const t0 = performance.now();
    const r = trainStep({
      model,
      sampler,
      state,
      batch: () => ({
        x: tensor(images.subarray(lo * plane, hi * plane), [rows, 1, o.size, o.size]),
        y: tensor(labels.subarray(lo * plane, hi * plane), [rows, o.size, o.size], { dtype: 'uint8' }).to('int64'),
      }),
      ...(pg && {
        shardOf: { samples: o.batch, labelledPairs: o.batch * 3 },
        reduce: (g, loss) => reduceStep(pg, model, g, loss, false).loss,
      }),
    });
    state = r.state;
    if (i >= o.warmup) times.push(performance.now() - t0);
  }
  sampler.dispose(state);
  model.dispose();
  return times;
}

/** A rank: joins the group from the environment, runs every measure, prints its times as JSON. */
function rankMain(threads: number, warmup: number, runs: number, step: StepBench): void {
  setNumThreads(threads);
  setDeterministic(true);
  const model = new UNet(MODEL);
  const params = model.params.flat.numel;
  model.dispose();
  const pg = initProcessGroup({ timeoutMs: 120_000, initTimeoutMs: 120_000 });
  const times: Record<string, number[]> = {};
  for (const [name, measure] of Object.entries(MEASURES)) times[name] = measure(pg, { warmup, runs, params });
  times.trainStep = stepTimes(pg, step);
  pg.shutdown();
  process.stdout.write(JSON.stringify({ rank: pg.rank, params, times }) + '\n');
}

/** The one-process reference: the whole batch's steps with `threads` threads, as JSON. */
function singleMain(threads: number, step: StepBench): void {
  setNumThreads(threads);
  setDeterministic(true);
  process.stdout.write(JSON.stringify({ times: stepTimes(undefined, step) }) + '\n');
}

/** Runs this script once more as one plain process (no group) and returns its step times. */
function runSingle(args: string[]): Promise<number[]> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--single-worker', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => {
      if (code !== 0) rej(new Error(`bench: the single process exited with ${code}`));
      else res((JSON.parse(out.trim().split('\n').pop() as string) as { times: number[] }).times);
    });
  });
}

interface RankOutput {
  rank: number;
  params: number;
  times: Record<string, number[]>;
}

/** Starts `ranks` copies of this script as ranks of one group; resolves with their outputs. */
async function launchRanks(ranks: number, args: string[]): Promise<RankOutput[]> {
  const port = await freePort();
  const self = fileURLToPath(import.meta.url);
  const runs = Array.from(
    { length: ranks },
    (_, rank) =>
      new Promise<RankOutput>((res, rej) => {
        const env = {
          ...process.env,
          RANK: String(rank),
          LOCAL_RANK: String(rank),
          WORLD_SIZE: String(ranks),
          MASTER_ADDR: '127.0.0.1',
          MASTER_PORT: String(port),
        };
        const child = spawn(process.execPath, [self, '--rank-worker', ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.on('exit', (code) => {
          if (code !== 0) rej(new Error(`bench: rank ${rank} exited with ${code}`));
          else res(JSON.parse(out.trim().split('\n').pop() as string) as RankOutput);
        });
      }),
  );
  return Promise.all(runs);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      ranks: { type: 'string', default: '2' },
      threads: { type: 'string', default: '1' },
      runs: { type: 'string', default: '51' },
      warmup: { type: 'string', default: '5' },
      size: { type: 'string', default: '64' },
      batch: { type: 'string', default: '8' },
      steps: { type: 'string', default: '10' },
      out: { type: 'string', default: join(repoRoot, 'bench', 'results', 'distributed.json') },
      'rank-worker': { type: 'boolean', default: false },
      'single-worker': { type: 'boolean', default: false },
    },
  });
  const ranks = Number(values.ranks);
  const threads = Number(values.threads);
  const runs = Number(values.runs);
  const warmup = Number(values.warmup);
  if (!Number.isInteger(ranks) || ranks < 2) throw new RangeError(`--ranks must be an integer ≥ 2, got ${values.ranks}`);
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`--threads must be a positive integer, got ${values.threads}`);
  if (!Number.isInteger(runs) || runs < 5) throw new RangeError(`--runs must be an integer ≥ 5, got ${values.runs}`);
  if (!Number.isInteger(warmup) || warmup < 0) throw new RangeError(`--warmup must be a non-negative integer, got ${values.warmup}`);
  const step: StepBench = { size: Number(values.size), batch: Number(values.batch), warmup: Math.min(warmup, 2), steps: Number(values.steps) };
  if (!Number.isInteger(step.size) || step.size < 16) throw new RangeError(`--size must be an integer ≥ 16, got ${values.size}`);
  if (!Number.isInteger(step.batch) || step.batch < ranks) throw new RangeError(`--batch must be an integer ≥ --ranks, got ${values.batch}`);
  if (!Number.isInteger(step.steps) || step.steps < 1) throw new RangeError(`--steps must be a positive integer, got ${values.steps}`);
  const stepArgs = ['--size', String(step.size), '--batch', String(step.batch), '--steps', String(step.steps), '--warmup', String(warmup)];
  if (values['single-worker']) return singleMain(threads, step);
  if (values['rank-worker']) return rankMain(threads, warmup, runs, step);

  // The one process first, alone on the machine, with the cores the ranks will share.
  const single = await runSingle(['--threads', String(ranks * threads), '--ranks', String(ranks), ...stepArgs]);
  const control = await runSingle(['--threads', String(threads), '--ranks', String(ranks), ...stepArgs]);
  const outputs = await launchRanks(ranks, ['--threads', String(threads), '--runs', String(runs), '--ranks', String(ranks), ...stepArgs]);
  const params = outputs[0]!.params;
  const host = machine();
  console.log(`${host.cpu}, ${host.cores} cores, load ${host.loadAverage1m.toFixed(1)}; ${ranks} ranks × ${threads} thread(s), Gloo on 127.0.0.1`);
  console.log(`U-Net depth ${MODEL.depth}, base width ${MODEL.baseWidth}: ${params} parameters (${(params * 4) / 1e6} MB float32)`);
  const measures: Record<string, { medianMs: number; perRank: RankTiming[] }> = {};
  for (const name of [...Object.keys(MEASURES), 'trainStep']) {
    const perRank = outputs.map((o) => ({ rank: o.rank, medianMs: median(o.times[name]!), runsMs: o.times[name]! }));
    const slowest = Math.max(...perRank.map((r) => r.medianMs));
    measures[name] = { medianMs: slowest, perRank };
    console.log(`  ${name.padEnd(18)} ${slowest.toFixed(3).padStart(9)} ms  (rank medians ${perRank.map((r) => r.medianMs.toFixed(3)).join(', ')})`);
  }
  const oneProcess = { threads: ranks * threads, medianMs: median(single), runsMs: single };
  const oneProcessFewThreads = { threads, medianMs: median(control), runsMs: control };
  const ratio = (measures.trainStep as { medianMs: number }).medianMs / oneProcess.medianMs;
  console.log(
    `  trainStep, 1 process × ${ranks * threads} threads: ${oneProcess.medianMs.toFixed(1)} ms; ${ranks} ranks × ${threads}: ` +
      `${(measures.trainStep as { medianMs: number }).medianMs.toFixed(1)} ms (ratio ${ratio.toFixed(2)}; batch ${step.batch} of ${step.size}², ${step.steps} steps)`,
  );
  console.log(`  control, 1 process × ${threads} thread(s), the whole batch: ${oneProcessFewThreads.medianMs.toFixed(1)} ms`);
  const result = {
    date: new Date().toISOString(),
    command:
      `npx tsc -p tsconfig.build.json && node dist/bench/distributed.js --ranks ${ranks} --threads ${threads} --runs ${runs} --warmup ${warmup}` +
      ` --size ${step.size} --batch ${step.batch} --steps ${step.steps}`,
    machine: host,
    config: { ranks, threads, runs, warmup, backend: 'gloo', model: MODEL, params, step },
    measures,
    oneProcessTrainStep: oneProcess,
    oneProcessFewThreadsTrainStep: oneProcessFewThreads,
    trainStepRatio: ratio,
  };
  writeFileAtomic(values.out as string, JSON.stringify(result, null, 2) + '\n');
  console.log(`wrote ${values.out}`);
}

await main();
