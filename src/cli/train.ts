/**
 * `hmcseg splits` and `hmcseg train`.
 *
 *   hmcseg splits --data DIR --out FILE [--seed S] [--labels MAP]
 *   hmcseg train --method hmc|mcdropout|ensemble|deterministic|sgd-trajectory --data DIR --splits FILE --out DIR [--config FILE]
 *   hmcseg train --resume DIR
 *   ... [--nproc N] [--threads T] [--dist-timeout S] [--device cpu|cuda|cuda:N] (runtime options)
 *
 * Under torchrun (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT in the environment) with
 * WORLD_SIZE > 1, `train` is one rank of a data-parallel run (src/train/parallel.ts); so under
 * Slurm's srun (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID; MASTER_ADDR and MASTER_PORT set by the
 * script). `--nproc N` launches N such ranks on this machine (launch.ts).
 */
import { availableParallelism } from 'node:os';
import { Command, Option } from 'commander';
import { METHODS, type Method } from '../bayes/index.js';
import { makeSplits, openDataset, writeSplits } from '../data/index.js';
import { loadTrainConfig, parseTrainConfig, readRunFile, train, type TrainProgress } from '../train/index.js';
import { initProcessGroup } from '../engine/index.js';
import { deviceOption, integerIn } from './args.js';
import { launchRanks, rankEnv } from './launch.js';
import { formatSeconds, progressBar } from './progress.js';

interface TrainCliOptions {
  readonly method?: Method;
  readonly data?: string;
  readonly splits?: string;
  readonly out?: string;
  readonly config?: string;
  readonly resume?: string;
  readonly nproc?: number;
  readonly threads?: number;
  readonly distTimeout: number;
  readonly parallel: 'data' | 'members';
  readonly device: string;
}

export function registerTrainCommands(program: Command): void {
  program
    .command('splits')
    .description('split a data set by patient (stratified by group, seeded) into train/val/test, as JSON')
    .requiredOption('--data <dir>', 'data set directory (ACDC, folder or nnU-Net raw layout)')
    .requiredOption('--out <file>', 'splits file to write')
    .option('--seed <s>', 'random seed', integerIn(0, 2 ** 32 - 1, 'must be an integer in 0..4294967295'), 0)
    .option('--labels <map>', "label map: 'acdc', 'emidec', 'project' or a JSON file")
    .action((o: { data: string; out: string; seed: number; labels?: string }) => {
      const dataset = openDataset(o.data, o.labels ? { labels: o.labels } : {});
      const splits = makeSplits(dataset, { seed: o.seed });
      writeSplits(o.out, splits);
      process.stdout.write(
        `${JSON.stringify({ out: o.out, train: splits.train.length, val: splits.val.length, test: splits.test.length })}\n`,
      );
    });

  program
    .command('train')
    .description('train a method and write its sample store (resumable: rerun with --resume DIR)')
    .addOption(new Option('--method <name>', 'method').choices(METHODS))
    .option('--data <dir>', 'training data set directory')
    .option('--splits <file>', 'splits file (hmcseg splits)')
    .option('--out <dir>', 'output directory (sample store, checkpoints, log)')
    .option('--config <file>', 'training config (JSON); every field optional, see src/train/config.ts')
    .option('--resume <dir>', 'continue the interrupted run in DIR')
    .option('--nproc <n>', 'data-parallel: run N ranks on this machine (c10d, Gloo), each with its share of the threads', integerIn(1, 1024, 'must be an integer in 1..1024'))
    .addOption(
      new Option('--parallel <mode>', "with several ranks: 'data' splits every batch over them, 'members' trains ensemble members on different ranks")
        .choices(['data', 'members'])
        .default('data'),
    )
    .option('--threads <n>', "libtorch threads of this process (default: the config's threads)", integerIn(1, 4096, 'must be an integer in 1..4096'))
    .option('--dist-timeout <s>', 'data-parallel: seconds a rank waits for the others in a collective before failing', integerIn(1, 86400, 'must be an integer in 1..86400'), 300)
    .addOption(deviceOption())
    .action(async (o: TrainCliOptions) => {
      let job: { method: Method; config: ReturnType<typeof parseTrainConfig>; data: string; splits: string; out: string };
      if (o.resume) {
        if (o.method || o.data || o.splits || o.out || o.config) {
          throw new Error('--resume takes the run directory only; its method, config and data are read from it');
        }
        const run = readRunFile(o.resume);
        job = { ...run, out: o.resume };
      } else {
        const missing = (['method', 'data', 'splits', 'out'] as const).filter((k) => !o[k]);
        if (missing.length > 0) throw new Error(`train: missing ${missing.map((k) => `--${k}`).join(', ')} (or use --resume DIR)`);
        const config = o.config ? loadTrainConfig(o.config) : parseTrainConfig({});
        job = { method: o.method as Method, config, data: o.data as string, splits: o.splits as string, out: o.out as string };
      }
      if (o.nproc !== undefined && o.nproc > 1) {
        if (process.env.WORLD_SIZE !== undefined) throw new Error('train: --nproc launches the ranks itself; under torchrun (WORLD_SIZE is set) leave it out');
        const cores = job.config.threads === 0 ? availableParallelism() : job.config.threads;
        const threads = o.threads ?? Math.max(1, Math.floor(cores / o.nproc));
        process.exitCode = await launchRanks({ nproc: o.nproc, args: withoutNproc(process.argv.slice(1)), threads });
        return;
      }
      const env = rankEnv(process.env);
      const worldSize = Number(env.WORLD_SIZE ?? 1);
      const group = worldSize > 1 ? initProcessGroup({ env, timeoutMs: o.distTimeout * 1000 }) : undefined;
      try {
        await runTraining({ ...job, device: o.device, parallel: o.parallel, ...(o.threads !== undefined && { threads: o.threads }), ...(group && { group }) });
      } finally {
        group?.shutdown();
      }
    });
}

/** The command line without `--nproc N` / `--nproc=N`. */
function withoutNproc(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--nproc') i++;
    else if (!args[i].startsWith('--nproc=')) out.push(args[i]);
  }
  return out;
}

/** Trains with a progress bar; SIGINT/SIGTERM write a checkpoint and stop (exit status 130). */
export async function runTraining(job: Parameters<typeof train>[0]): Promise<void> {
  const controller = new AbortController();
  const onSignal = () => {
    if (!controller.signal.aborted) process.stderr.write('\nstopping after this step (checkpoint)...\n');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const bar = progressBar(job.method);
  try {
    const result = await train({
      ...job,
      signal: controller.signal,
      onProgress: (p: TrainProgress) => {
        const member = p.members > 1 ? `member ${p.member + 1}/${p.members} ` : '';
        bar.update(
          p.step,
          p.steps,
          `${member}loss ${p.loss.toFixed(4)} η ${p.lr.toExponential(2)} T ${p.temperature} ${p.phase} ` +
            `samples ${p.samples} ETA ${formatSeconds(p.eta)}`,
        );
      },
    });
    bar.done();
    const m = result.store.manifest;
    if ((job.group?.rank ?? 0) === 0) process.stdout.write(
      `${JSON.stringify({ out: result.store.dir, method: m.method, samples: m.samples.length, complete: m.complete, interrupted: result.interrupted, seconds: Math.round(result.seconds) })}\n`,
    );
    if (result.interrupted) process.exitCode = 130;
  } finally {
    bar.done();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
