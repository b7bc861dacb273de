/**
 * `hmcseg train --nproc N`: runs N local ranks of one data-parallel run, as torchrun would — each a
 * child process of this one with RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR (127.0.0.1) and a free
 * MASTER_PORT set, and `--threads` its share of the cores. The parent forwards SIGINT and SIGTERM
 * to every rank, waits for all of them and fails naming the rank that failed first.
 */
import { spawn } from 'node:child_process';
import { freePort } from '../engine/index.js';

export interface LaunchOptions {
  readonly nproc: number;
  /** The command line of each rank after `node` (the CLI script and its arguments, without --nproc). */
  readonly args: readonly string[];
  /** libtorch threads of each rank. */
  readonly threads: number;
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The environment a rank joins its group from: torchrun's variables as they are; under Slurm
 * (`srun`, RANK unset) SLURM_PROCID, SLURM_NTASKS and SLURM_LOCALID as RANK, WORLD_SIZE and
 * LOCAL_RANK. MASTER_ADDR and MASTER_PORT are never guessed (set them in the batch script).
 */
export function rankEnv(env: Env): Env {
  if (env.RANK !== undefined || env.SLURM_PROCID === undefined) return env;
  return { ...env, RANK: env.SLURM_PROCID, WORLD_SIZE: env.SLURM_NTASKS, LOCAL_RANK: env.SLURM_LOCALID };
}

/** How a rank ended. */
interface Exit {
  readonly rank: number;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/**
 * Spawns the ranks and waits for them. Resolves with the common exit status (0, or 130 when every
 * rank was interrupted); rejects naming the first rank that failed.
 */
export async function launchRanks(o: LaunchOptions): Promise<number> {
  const port = await freePort('127.0.0.1');
  const exits: Exit[] = [];
  const children = Array.from({ length: o.nproc }, (_, rank) =>
    spawn(process.execPath, [...o.args, '--threads', String(o.threads)], {
      stdio: 'inherit',
      env: {
        ...process.env,
        RANK: String(rank),
        WORLD_SIZE: String(o.nproc),
        LOCAL_RANK: String(rank),
        MASTER_ADDR: '127.0.0.1',
        MASTER_PORT: String(port),
      },
    }),
  );
  const forward = (signal: NodeJS.Signals) => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill(signal);
  };
  const onInt = () => forward('SIGINT');
  const onTerm = () => forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    await Promise.all(
      children.map(
        (c, rank) =>
          new Promise<void>((res) => {
            c.once('error', (err) => {
              exits.push({ rank, code: 1, signal: null });
              process.stderr.write(`hmcseg: rank ${rank} could not start: ${err.message}\n`);
              res();
            });
            c.once('exit', (code, signal) => {
              exits.push({ rank, code, signal });
              res();
            });
          }),
      ),
    );
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
  if (exits.every((e) => e.code === 0)) return 0;
  if (exits.every((e) => e.code === 130)) return 130;
  // The first to end badly is the cause; the others' failures follow from it (a broken group).
  const first = exits.find((e) => e.code !== 0 && e.code !== 130) as Exit;
  const how = first.signal !== null ? `was killed by ${first.signal}` : `exited with status ${first.code}`;
  const rest = exits.filter((e) => e !== first && e.code !== 0).map((e) => e.rank);
  throw new Error(
    `train --nproc ${o.nproc}: rank ${first.rank} ${how}` +
      (rest.length > 0 ? ` (then rank${rest.length > 1 ? 's' : ''} ${rest.join(', ')} stopped)` : '') +
      '; continue with --resume from the last checkpoint',
  );
}
