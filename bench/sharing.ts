/**
 * Sharing the machine: two small trainings at once against the same two one after the other, under
 * the old and the new thread defaults, in the same run. Each training is a `hmcseg train` child
 * under `/usr/bin/time -v` (wall time, user and system CPU, involuntary context switches), with
 * the newcomer's defaults (`threads: 0`, all cores; one loader worker).
 *
 * - `old`: libgomp's own wait policy, spinning ~300,000 rounds after each parallel region
 *   (`GOMP_SPINCOUNT=300000` is its documented default when `OMP_WAIT_POLICY` is unset, and keeps
 *   the binding from choosing; src/engine/binding.ts).
 * - `new`: the binding's default, `OMP_WAIT_POLICY=PASSIVE`.
 *
 * The ratio is (makespan of the two at once) / (the two one after the other, summed): the same
 * work either way, so 1 when sharing the cores costs nothing and above 1 by what the two lose to
 * each other (spinning, preemption); lower is better. Variants alternate, round by round.
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/sharing.js [--steps 30] [--size 64] [--rounds 1]
 *
 * Data: phantom bSSFP in a temporary directory. Writes bench/results/sharing.json, with the load
 * average before and after (another engineer's job on the machine shows there).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { makeSplits, openDataset, writePhantomDataset, writeSplits } from '../src/data/index.js';
import { writeFileAtomic } from '../src/util/index.js';
import { machine, median, repoRoot } from './util.js';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '30' },
    size: { type: 'string', default: '64' },
    rounds: { type: 'string', default: '1' },
  },
});
const steps = Number(values.steps);
const size = Number(values.size);
const rounds = Number(values.rounds);

const VARIANTS: Record<string, Record<string, string>> = {
  old: { GOMP_SPINCOUNT: '300000' },
  new: {},
};

interface Usage {
  wallS: number;
  userS: number;
  systemS: number;
  involuntary: number;
  voluntary: number;
}

/** `/usr/bin/time -v` output → the figures kept. */
function parseTime(text: string): Usage {
  const field = (name: string) => {
    const m = new RegExp(`^\\s*${name}(?: \\([^)]*\\))?: (.+)$`, 'm').exec(text);
    if (!m) throw new Error(`sharing: /usr/bin/time -v printed no "${name}"`);
    return m[1].trim();
  };
  const clock = field('Elapsed \\(wall clock\\) time').split(':').map(Number);
  const wallS = clock.reduce((acc, v) => acc * 60 + v, 0);
  return {
    wallS,
    userS: Number(field('User time')),
    systemS: Number(field('System time')),
    involuntary: Number(field('Involuntary context switches')),
    voluntary: Number(field('Voluntary context switches')),
  };
}

/** One `hmcseg train` run under `/usr/bin/time -v` with `env` added; resolves with its usage. */
function trainChild(root: string, name: string, env: Record<string, string>): Promise<Usage> {
  const cli = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
  const args = ['-v', process.execPath, cli, 'train', '--method', 'deterministic', '--data', join(root, 'data')];
  args.push('--splits', join(root, 'splits.json'), '--config', join(root, 'config.json'), '--out', join(root, 'runs', name));
  const base = { ...process.env };
  delete base.OMP_WAIT_POLICY; // this process's own default must not leak into the children
  delete base.GOMP_SPINCOUNT;
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', args, { env: { ...base, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`sharing: training ${name} exited with ${code}:\n${err.slice(-2000)}`));
      else resolve(parseTime(err));
    });
  });
}

interface Trial {
  variant: string;
  round: number;
  sequentialS: number;
  concurrentS: number;
  ratio: number;
  sequential: Usage[];
  concurrent: Usage[];
}

const root = mkdtempSync(join(tmpdir(), 'hmcseg-bench-sharing-'));
const loadBefore = loadavg();
try {
  writePhantomDataset({ out: join(root, 'data'), cases: 6, contrast: 'ssfp', seed: 7, size });
  writeSplits(join(root, 'splits.json'), makeSplits(openDataset(join(root, 'data')), { seed: 0 }));
  const config = {
    threads: 0,
    data: { size, batchSize: 8, workers: 1 },
    model: { depth: 3, baseWidth: 16 },
    optim: { steps },
    checkpointEvery: 1000,
  };
  writeFileSync(join(root, 'config.json'), JSON.stringify(config));
  const trials: Trial[] = [];
  let n = 0;
  for (let round = 0; round < rounds; round++) {
    for (const [variant, env] of Object.entries(VARIANTS)) {
      const sequential = [await trainChild(root, `r${n++}`, env), await trainChild(root, `r${n++}`, env)];
      const t0 = performance.now();
      const concurrent = await Promise.all([trainChild(root, `r${n++}`, env), trainChild(root, `r${n++}`, env)]);
      const concurrentS = (performance.now() - t0) / 1000;
      const sequentialS = sequential[0].wallS + sequential[1].wallS;
      const trial = { variant, round, sequentialS, concurrentS, ratio: concurrentS / sequentialS, sequential, concurrent };
      trials.push(trial);
      const inv = (us: Usage[]) => us.reduce((a, u) => a + u.involuntary, 0);
      console.log(
        `${variant} round ${round}: one after the other ${sequentialS.toFixed(1)} s, at once ${concurrentS.toFixed(1)} s, ratio ${trial.ratio.toFixed(2)}; ` +
          `involuntary switches ${inv(sequential)} vs ${inv(concurrent)}; load ${loadavg()[0].toFixed(1)}`,
      );
    }
  }
  const summary = Object.fromEntries(
    Object.keys(VARIANTS).map((v) => {
      const ts = trials.filter((t) => t.variant === v);
      const sum = (us: Usage[], k: keyof Usage) => us.reduce((a, u) => a + u[k], 0);
      return [
        v,
        {
          env: VARIANTS[v],
          medianRatio: median(ts.map((t) => t.ratio)),
          medianSequentialS: median(ts.map((t) => t.sequentialS)),
          medianConcurrentS: median(ts.map((t) => t.concurrentS)),
          concurrentUserS: median(ts.map((t) => sum(t.concurrent, 'userS'))),
          concurrentInvoluntary: median(ts.map((t) => sum(t.concurrent, 'involuntary'))),
          sequentialInvoluntary: median(ts.map((t) => sum(t.sequential, 'involuntary'))),
        },
      ];
    }),
  );
  const result = {
    benchmark: 'sharing',
    createdAt: new Date().toISOString(),
    machine: machine(),
    loadAverageBefore: loadBefore,
    loadAverageAfter: loadavg(),
    setup: { steps, size, batchSize: 8, depth: 3, baseWidth: 16, threads: 'all cores', workers: 1, rounds, method: 'deterministic' },
    summary,
    trials,
  };
  writeFileAtomic(join(repoRoot, 'bench', 'results', 'sharing.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(summary, null, 2));
} finally {
  rmSync(root, { recursive: true, force: true });
}
