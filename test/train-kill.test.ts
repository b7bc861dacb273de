// Interruption of the real command: kill -9 at an arbitrary moment loses at most the work since the
// last checkpoint and never corrupts a listed sample; SIGINT checkpoints and exits 130; resuming
// finishes with the same samples as an uninterrupted run. Seeded kill points of the default config
// (bench/kill9.ts runs 20 of each). Runs the compiled CLI (npm test builds it).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { phantomSet } from './helpers/phantom-set.js';
import { KILL_RUNS, killPoints, killTrial, prepareKillData, referenceRun, sampleBytes } from '../bench/kill9.js';
import { loadSample, openSampleStore } from '../src/bayes/index.js';
import { parseTrainConfig, train } from '../src/train/index.js';

const CLI = resolve(__dirname, '../dist/src/cli/main.js');
let root: string;
let data: string;
let splits: string;
let configPath: string;
const configInput = {
  seed: 5,
  threads: 1,
  data: { size: 32, batchSize: 2, workers: 0 },
  model: { depth: 2, baseWidth: 4 },
  optim: { steps: 300, lr: 0.05 },
  hmc: { cycles: 3, samplesPerCycle: 2, beta: 0.5, temperature: 0.2, sampleFromCycle: 0 },
  checkpointEvery: 23,
};

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npm run build:ts; npm test does it)`);
  ({ root, data, splits, configPath } = phantomSet('hmcseg-kill-', configInput));
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

function logLines(out: string): number {
  const path = join(out, 'train.jsonl');
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).length : 0;
}

/** Starts `hmcseg train`, sends `signal` once the log has `afterSteps` lines, resolves with the exit. */
function runAndSignal(args: string[], out: string, afterSteps: number, signal: NodeJS.Signals) {
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done, fail) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    const timer = setInterval(() => {
      if (logLines(out) >= afterSteps) {
        clearInterval(timer);
        child.kill(signal);
      }
    }, 5);
    child.on('error', fail);
    child.on('exit', (code, sig) => {
      clearInterval(timer);
      if (code !== null && code !== 0 && code !== 130) fail(new Error(`train exited ${code}: ${stderr}`));
      else done({ code, signal: sig });
    });
  });
}

function resume(out: string): Promise<number | null> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, 'train', '--resume', out], { stdio: 'ignore' });
    child.on('exit', (code) => done(code));
  });
}

describe('train interrupted', () => {
  it('kill -9 mid-run: listed samples intact, resume equals an uninterrupted run', async () => {
    const reference = join(root, 'reference');
    await train({ method: 'hmc', config: parseTrainConfig(configInput), data, splits, out: reference });

    const out = join(root, 'killed');
    const args = ['train', '--method', 'hmc', '--data', data, '--splits', splits, '--out', out, '--config', configPath];
    const exit = await runAndSignal(args, out, 101, 'SIGKILL');
    expect(exit.signal).toBe('SIGKILL');
    const store = openSampleStore(out);
    expect(store.manifest.complete).toBe(false);
    for (let i = 0; i < store.manifest.samples.length; i++) {
      for (const t of Object.values(loadSample(store, i))) t.dispose(); // checksum verified on load
    }
    expect(await resume(out)).toBe(0);
    const steps = readFileSync(join(out, 'train.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).step);
    expect(steps).toEqual(Array.from({ length: 300 }, (_, i) => i + 1)); // each step once, in order
    const a = sampleBytes(reference);
    const b = sampleBytes(out);
    expect(b.length).toBe(a.length);
    for (let i = 0; i < a.length; i++) expect(b[i].equals(a[i])).toBe(true);
  }, 60_000);

  it('SIGINT writes a checkpoint at the current step and exits 130; resume completes', async () => {
    const out = join(root, 'interrupted');
    const args = ['train', '--method', 'deterministic', '--data', data, '--splits', splits, '--out', out, '--config', configPath];
    const exit = await runAndSignal(args, out, 10, 'SIGINT');
    expect(exit.code).toBe(130);
    const meta = JSON.parse(readFileSync(join(out, 'checkpoints', 'member-0', 'checkpoint.json'), 'utf8'));
    expect(meta.step).toBe(logLines(out));
    expect(meta.step).toBeLessThan(300);
    expect(await resume(out)).toBe(0);
    expect(openSampleStore(out).manifest.complete).toBe(true);
  }, 60_000);
});

// One seeded kill of each run of bench/kill9.ts: the defaults during a checkpoint write, bnBatches
// around a sample write, the ensemble mid-step.
describe('train killed at seeded points (defaults, workers on)', () => {
  let kill: { data: string; splits: string };
  beforeAll(() => {
    kill = prepareKillData(join(root, 'seeded'));
  });

  it.each(KILL_RUNS.map((run, i) => ({ run, point: killPoints(run, 3, 11)[i] })))(
    '$run.name: kill -9 at $point.aim (line $point.lines + $point.delayMs ms), resume bit-identical, each step logged once',
    async ({ run, point }) => {
      const dir = join(root, 'seeded', run.name);
      const reference = await referenceRun(run, kill.data, kill.splits, join(dir, 'reference'));
      const t = await killTrial(run, kill.data, kill.splits, join(dir, 'killed'), point, reference);
      expect(t.error).toBeUndefined();
      expect(t.killed).toBe(true);
      expect(t.samplesAfterKill).toBeGreaterThanOrEqual(0);
      expect(t.identical).toBe(true);
      expect(t.logOnce).toBe(true);
      expect(t.tempFilesAfterResume).toBe(0);
    },
    240_000,
  );
});
