// A device everywhere: training and prediction take a device, stores stay device-free (a store
// trained on one device predicts on another), and asking for CUDA where there is none is an error
// naming what is missing, through the library and the command line. The CUDA half skips, saying
// why, where there is no GPU.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCase, makeSplits, openDataset, writePhantomDataset, writeSplits } from '../src/data/index.js';
import { cudaAvailable, cudaBuilt } from '../src/engine/index.js';
import { setLoadTimeDefaults } from '../src/engine/binding.js';
import { Predictor, type VolumePrediction } from '../src/predict/index.js';
import { parseTrainConfig } from '../src/train/config.js';
import { train } from '../src/train/trainer.js';

const CLI = resolve(__dirname, '../dist/src/cli/main.js');
const gpuReason = !cudaBuilt() ? 'this libtorch has no CUDA support' : !cudaAvailable() ? 'no GPU is visible' : undefined;
if (gpuReason) console.log(`cross-device training/prediction tests skipped: ${gpuReason}`);

let root: string;
let data: string;
let splits: string;
let testData: string;
// BatchNorm recomputation and dropout (a generator's draws) are on the path of every device.
const config = parseTrainConfig({
  seed: 3,
  threads: 1,
  data: { labels: 'acdc', size: 32, targetSpacing: 6, batchSize: 2, workers: 0, augment: 0 },
  model: { depth: 2, baseWidth: 4, dropout: 0.2 },
  optim: { steps: 3 },
  hmc: { cycles: 1, samplesPerCycle: 2, beta: 1 },
  bnBatches: 1,
  checkpointEvery: 2,
});

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'hmcseg-devstores-'));
  data = join(root, 'train');
  writePhantomDataset({ out: data, cases: 2, contrast: 'ssfp', seed: 5, size: 32, slices: 2 });
  testData = join(root, 'test');
  writePhantomDataset({ out: testData, cases: 1, contrast: 'ssfp', seed: 9, size: 32, slices: 2 });
  splits = join(root, 'splits.json');
  writeSplits(splits, makeSplits(openDataset(data), { seed: 0, fractions: { train: 0.5, val: 0, test: 0.5 } }));
}, 60_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

function predictOn(store: string, device: string | undefined): VolumePrediction {
  const ds = openDataset(testData);
  const predictor = new Predictor(store, { device });
  try {
    return predictor.predict(loadCase(ds, ds.cases[0]).image, ds.cases[0].image);
  } finally {
    predictor.dispose();
  }
}

/** Every text a store directory holds: JSON files and the JSON headers of its safetensors files. */
function storeTexts(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.json')) out.set(p, readFileSync(p, 'utf8'));
      else if (e.name.endsWith('.safetensors')) {
        const buf = readFileSync(p);
        const n = Number(buf.readBigUInt64LE(0));
        out.set(p, buf.subarray(8, 8 + n).toString('utf8'));
      }
    }
  };
  walk(dir);
  return out;
}

function cli(args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stderr: r.stderr };
}

describe('a store trained on the CPU', () => {
  let store: string;
  beforeAll(async () => {
    store = join(root, 'cpu-store');
    await train({ method: 'mcdropout', config, data, splits, out: store, device: 'cpu' });
  }, 60_000);

  it('is loaded and predicts, the same on an explicit cpu as by default', () => {
    const a = predictOn(store, 'cpu');
    const b = predictOn(store, undefined);
    expect(a.passes).toBeGreaterThan(1);
    expect(a.segmentation.length).toBe(32 * 32 * 2);
    expect(Array.from(a.probabilities)).toEqual(Array.from(b.probabilities));
  });

  it('holds no device in any of its files (manifest, run file, checkpoints, tensor headers)', () => {
    const texts = storeTexts(store);
    expect([...texts.keys()].some((p) => p.endsWith('manifest.json'))).toBe(true);
    expect([...texts.keys()].some((p) => p.endsWith('run.json'))).toBe(true);
    expect([...texts.keys()].some((p) => p.endsWith('checkpoint.json'))).toBe(true);
    expect([...texts.keys()].some((p) => p.endsWith('.safetensors'))).toBe(true);
    for (const [p, text] of texts) expect(text, p).not.toMatch(/"device"|cuda|"cpu"/i);
  });

  it.skipIf(gpuReason !== undefined)('predicts on cuda as on cpu', () => {
    const cpu = predictOn(store, 'cpu');
    const gpu = predictOn(store, 'cuda');
    // The dropout masks come from the store's CPU stream on both devices; only rounding differs.
    const diff = cpu.probabilities.reduce((m, v, i) => Math.max(m, Math.abs(v - gpu.probabilities[i])), 0);
    expect(diff).toBeLessThan(1e-3);
  });
});

describe.skipIf(gpuReason !== undefined)('a store trained on cuda', () => {
  it('predicts on the cpu as on cuda, and resumes on the cpu', async () => {
    const store = join(root, 'cuda-store');
    const stop = new AbortController();
    const first = await train({
      method: 'hmc',
      config,
      data,
      splits,
      out: store,
      device: 'cuda',
      signal: stop.signal,
      onProgress: (p) => (p.step === 2 ? stop.abort() : undefined),
    });
    expect(first.interrupted).toBe(true);
    const resumed = await train({ method: 'hmc', config, data, splits, out: store, device: 'cpu' });
    expect(resumed.store.manifest.complete).toBe(true);
    const cpu = predictOn(store, 'cpu');
    const gpu = predictOn(store, 'cuda');
    const diff = cpu.probabilities.reduce((m, v, i) => Math.max(m, Math.abs(v - gpu.probabilities[i])), 0);
    expect(diff).toBeLessThan(1e-3);
    for (const [p, text] of storeTexts(store)) expect(text, p).not.toMatch(/"device"|cuda|"cpu"/i);
  }, 120_000);
});

describe.skipIf(cudaAvailable())('cuda where there is none, through the command line', () => {
  const missing = cudaBuilt() ? /device 'cuda': libtorch has CUDA but no GPU is visible/ : /device 'cuda' needs a CUDA build of libtorch/;

  it('train, predict, experiment and smoke exit 1 with the reason, before writing anything', () => {
    const out = join(root, 'cli-train');
    const t = cli(['train', '--method', 'hmc', '--data', data, '--splits', splits, '--out', out, '--device', 'cuda']);
    expect(t.status).toBe(1);
    expect(t.stderr).toMatch(/^hmcseg: train: /);
    expect(t.stderr).toMatch(missing);
    expect(existsSync(out)).toBe(false);

    const p = cli(['predict', '--model', join(root, 'cpu-store'), '--input', testData, '--out', join(root, 'cli-pred'), '--device', 'cuda']);
    expect(p.status).toBe(1);
    expect(p.stderr).toMatch(/^hmcseg: predict: /);
    expect(p.stderr).toMatch(missing);
    expect(existsSync(join(root, 'cli-pred'))).toBe(false);

    const e = cli(['experiment', '--preset', 'demo', '--out', join(root, 'cli-exp'), '--device', 'cuda']);
    expect(e.status).toBe(1);
    expect(e.stderr).toMatch(/^hmcseg: experiment: /);
    expect(e.stderr).toMatch(missing);
    expect(existsSync(join(root, 'cli-exp'))).toBe(false);

    const s = cli(['smoke', '--steps', '1', '--device', 'cuda']);
    expect(s.status).toBe(1);
    expect(s.stderr).toMatch(/^hmcseg: smoke: /);
    expect(s.stderr).toMatch(missing);
  }, 120_000);

  it('a malformed device is named, with what is accepted', () => {
    const r = cli(['smoke', '--steps', '1', '--device', 'gpu']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`smoke: device must be 'cpu', 'cuda' or 'cuda:N', got "gpu"`);
  }, 60_000);
});

describe('load-time defaults for libtorch', () => {
  it('OMP_WAIT_POLICY=PASSIVE unless the user chose a wait policy or a spin count', () => {
    const env: NodeJS.ProcessEnv = {};
    setLoadTimeDefaults(env);
    expect(env.OMP_WAIT_POLICY).toBe('PASSIVE');
    expect(env.CUBLAS_WORKSPACE_CONFIG).toBe(':4096:8');
    const active: NodeJS.ProcessEnv = { OMP_WAIT_POLICY: 'ACTIVE', CUBLAS_WORKSPACE_CONFIG: ':16:8' };
    setLoadTimeDefaults(active);
    expect(active).toEqual({ OMP_WAIT_POLICY: 'ACTIVE', CUBLAS_WORKSPACE_CONFIG: ':16:8' });
    const spin: NodeJS.ProcessEnv = { GOMP_SPINCOUNT: '300000' };
    setLoadTimeDefaults(spin);
    expect(spin.OMP_WAIT_POLICY).toBeUndefined();
  });
});
