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
 * Writes bench/results/distributed.json. Each measurement is a {@link Measure} that every rank
 * runs over its process group; the step-time comparison (1 process × 2 threads against 2 ranks ×
 * 1 thread, one training step with its allreduce) is one more of them once the trainer runs over
 * a process group.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, initProcessGroup, setNumThreads, zeros, type ProcessGroup } from '../src/engine/index.js';
import { UNET_DEFAULTS, UNet, type UNetConfig } from '../src/models/index.js';
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

/** A rank: joins the group from the environment, runs every measure, prints its times as JSON. */
function rankMain(threads: number, warmup: number, runs: number): void {
  setNumThreads(threads);
  const model = new UNet(MODEL);
  const params = model.params.flat.numel;
  model.dispose();
  const pg = initProcessGroup({ timeoutMs: 120_000, initTimeoutMs: 120_000 });
  const times: Record<string, number[]> = {};
  for (const [name, measure] of Object.entries(MEASURES)) times[name] = measure(pg, { warmup, runs, params });
  pg.shutdown();
  process.stdout.write(JSON.stringify({ rank: pg.rank, params, times }) + '\n');
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
      out: { type: 'string', default: join(repoRoot, 'bench', 'results', 'distributed.json') },
      'rank-worker': { type: 'boolean', default: false },
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
  if (values['rank-worker']) return rankMain(threads, warmup, runs);

  const outputs = await launchRanks(ranks, ['--threads', String(threads), '--runs', String(runs), '--warmup', String(warmup)]);
  const params = outputs[0]!.params;
  const host = machine();
  console.log(`${host.cpu}, ${host.cores} cores, load ${host.loadAverage1m.toFixed(1)}; ${ranks} ranks × ${threads} thread(s), Gloo on 127.0.0.1`);
  console.log(`U-Net depth ${MODEL.depth}, base width ${MODEL.baseWidth}: ${params} parameters (${(params * 4) / 1e6} MB float32)`);
  const measures: Record<string, { medianMs: number; perRank: RankTiming[] }> = {};
  for (const name of Object.keys(MEASURES)) {
    const perRank = outputs.map((o) => ({ rank: o.rank, medianMs: median(o.times[name]!), runsMs: o.times[name]! }));
    const slowest = Math.max(...perRank.map((r) => r.medianMs));
    measures[name] = { medianMs: slowest, perRank };
    console.log(`  ${name.padEnd(18)} ${slowest.toFixed(3).padStart(9)} ms  (rank medians ${perRank.map((r) => r.medianMs.toFixed(3)).join(', ')})`);
  }
  const result = {
    date: new Date().toISOString(),
    command: `npx tsc -p tsconfig.build.json && node dist/bench/distributed.js --ranks ${ranks} --threads ${threads} --runs ${runs} --warmup ${warmup}`,
    machine: host,
    config: { ranks, threads, runs, warmup, backend: 'gloo', model: MODEL, params },
    measures,
  };
  writeFileAtomic(values.out as string, JSON.stringify(result, null, 2) + '\n');
  console.log(`wrote ${values.out}`);
}

await main();
