/**
 * Sampler benchmark: one update over the whole U-Net's flat parameter buffer (depth 4, widths
 * 16-32-64-128 as in bench/engine.ts, and the 4× wider 32-256 with about 1.9 M parameters) —
 * SGHMC with noise (T = 1) and SGHMC at T = 0 (SGD with momentum and weight decay 1/(Nσ²), what
 * the baselines train with) — then, in the same run, PyTorch 1.13 (bench/sampler_torch.py) on the
 * same parameter shapes: `torch.optim.SGD(momentum=0.9)` over the per-parameter tensors and over
 * one flat tensor, and the same SGHMC update written in torch ops. Medians over `--runs`.
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/sampler.js [--threads 2] [--runs 51] [--warmup 5] [--no-torch]
 *
 * Writes bench/results/sampler.json.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Generator, getNumThreads, randn, setNumThreads } from '../src/engine/index.js';
import { UNet, type UNetConfig } from '../src/models/index.js';
import { sghmc } from '../src/bayes/index.js';
import { writeFileAtomic } from '../src/util/index.js';
import { repoRoot, timed } from './util.js';

const PYTHON = '/usr/bin/python3';

interface TorchResult {
  torch: string;
  python: string;
  threads: number;
  params: number;
  tensors: number;
  sgd_params_ms: number;
  sgd_flat_ms: number;
  sghmc_flat_ms: number;
  normal_ms: number;
}


function runTorch(shapes: number[][], threads: number, warmup: number, runs: number): TorchResult | { unavailable: string } {
  const script = join(repoRoot, 'bench', 'sampler_torch.py');
  if (!existsSync(PYTHON)) return { unavailable: `${PYTHON} not found` };
  const dir = mkdtempSync(join(tmpdir(), 'hmcseg-sampler-'));
  try {
    const shapesFile = join(dir, 'shapes.json');
    writeFileSync(shapesFile, JSON.stringify(shapes));
    const out = execFileSync(
      PYTHON,
      [script, '--shapes', shapesFile, '--threads', String(threads), '--warmup', String(warmup), '--runs', String(runs)],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    return JSON.parse(out.trim().split('\n').pop() as string) as TorchResult;
  } catch (err) {
    return { unavailable: `${script} failed: ${(err as Error).message.split('\n')[0]}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface SizeResult {
  model: Partial<UNetConfig>;
  params: number;
  tensors: number;
  hmcseg: {
    sghmcT1Ms: number;
    sghmcT1RunsMs: number[];
    sghmcT0Ms: number;
    sghmcT0RunsMs: number[];
    normalMs: number;
  };
  pytorch: TorchResult | { unavailable: string };
  ratio: Record<string, number> | null;
}

const [LR, MU, NUM_DATA] = [1e-3, 0.9, 1902];

/** Times the updates over one U-Net's flat buffer here, then the PyTorch twins on the same shapes. */
function benchSize(config: Partial<UNetConfig>, o: { threads: number; warmup: number; runs: number; torch: boolean }): SizeResult {
  const model = new UNet(config);
  const fp = model.params;
  const shapes = fp.slots.map((s) => [...s.shape]);
  const n = fp.size;
  fp.flatGrad.copy_(randn([n]));
  const time = (fn: () => void) => timed(fn, o.warmup, o.runs);

  const hot = sghmc({ lr: LR, momentum: MU, temperature: 1, numData: NUM_DATA, priorStd: 1 });
  let hs = hot.init(fp.flat, { seed: 0 });
  const sghmcT1 = time(() => void (hs = hot.update(hs, fp.flatGrad)));
  hot.dispose(hs);
  const cold = sghmc({ lr: LR, momentum: MU, temperature: 0, numData: NUM_DATA, priorStd: 1 });
  let cs = cold.init(fp.flat);
  const sghmcT0 = time(() => void (cs = cold.update(cs, fp.flatGrad)));
  cold.dispose(cs);
  const noise = randn([n]);
  const gen = new Generator(0);
  const normalOnly = time(() => void noise.normal_(0, 1, gen));
  gen.dispose();
  noise.dispose();
  model.dispose();

  const torch = o.torch ? runTorch(shapes, o.threads, o.warmup, o.runs) : { unavailable: '--no-torch' };
  const torchOk = 'sgd_params_ms' in torch;
  if (torchOk && torch.params !== n) throw new Error(`bench: PyTorch has ${torch.params} parameters, ours ${n}`);

  const row = (what: string, ms: number, ref?: number, refName = '') =>
    `  ${what.padEnd(44)} ${ms.toFixed(3).padStart(8)} ms` + (ref === undefined ? '' : `   ÷ ${refName} = ${(ms / ref).toFixed(2)}`);
  console.log(`U-Net depth ${config.depth}, base width ${config.baseWidth}: ${n} parameters in ${shapes.length} tensors`);
  const ref = torchOk ? torch.sgd_params_ms : undefined;
  console.log(row('hmcseg sghmc update (T = 1, with noise)', sghmcT1.medianMs, ref, 'torch SGD'));
  console.log(row('hmcseg sghmc update (T = 0, no noise)', sghmcT0.medianMs, ref, 'torch SGD'));
  console.log(row('hmcseg normal_ alone (noise draw)', normalOnly.medianMs));
  if (torchOk) {
    console.log(row(`torch ${torch.torch} optim.SGD, ${torch.tensors} tensors`, torch.sgd_params_ms));
    console.log(row('torch optim.SGD, one flat tensor', torch.sgd_flat_ms));
    console.log(row('torch SGHMC ops, one flat tensor', torch.sghmc_flat_ms));
    console.log(row('torch normal_ alone', torch.normal_ms));
  } else {
    console.log(`  PyTorch: unavailable (${torch.unavailable})`);
  }
  return {
    model: config,
    params: n,
    tensors: shapes.length,
    hmcseg: {
      sghmcT1Ms: sghmcT1.medianMs,
      sghmcT1RunsMs: sghmcT1.runsMs,
      sghmcT0Ms: sghmcT0.medianMs,
      sghmcT0RunsMs: sghmcT0.runsMs,
      normalMs: normalOnly.medianMs,
    },
    pytorch: torch,
    ratio: torchOk
      ? {
          sghmcT1OverTorchSgd: sghmcT1.medianMs / torch.sgd_params_ms,
          sghmcT0OverTorchSgd: sghmcT0.medianMs / torch.sgd_params_ms,
          sghmcT0OverTorchSgdFlat: sghmcT0.medianMs / torch.sgd_flat_ms,
          sghmcT1OverTorchSghmcFlat: sghmcT1.medianMs / torch.sghmc_flat_ms,
        }
      : null,
  };
}

function main(): void {
  const { values } = parseArgs({
    options: {
      threads: { type: 'string', default: '2' },
      runs: { type: 'string', default: '51' },
      warmup: { type: 'string', default: '5' },
      'no-torch': { type: 'boolean', default: false },
      out: { type: 'string', default: join(repoRoot, 'bench', 'results', 'sampler.json') },
    },
  });
  const threads = Number(values.threads);
  const runs = Number(values.runs);
  const warmup = Number(values.warmup);
  if (!(runs >= 5)) throw new RangeError(`--runs must be ≥ 5, got ${values.runs}`);
  setNumThreads(threads);
  const cpu = cpus()[0]?.model ?? 'unknown';
  console.log(`${cpu}, ${availableParallelism()} cores, ${getNumThreads()} threads; median of ${runs} after ${warmup} warm-up`);

  const o = { threads, warmup, runs, torch: !values['no-torch'] };
  const base: Partial<UNetConfig> = { inChannels: 1, numClasses: 4, depth: 4, norm: 'batch', seed: 0 };
  // The project's U-Net (widths 16-128) and the 4× wider one (32-256, about 1.9 M parameters).
  const sizes = [16, 32].map((baseWidth) => benchSize({ ...base, baseWidth }, o));

  const result = {
    date: new Date().toISOString(),
    command: 'npx tsc -p tsconfig.build.json && node dist/bench/sampler.js',
    machine: { cpu, cores: availableParallelism(), node: process.version },
    config: { lr: LR, momentum: MU, numData: NUM_DATA, priorStd: 1, threads, warmup, runs },
    sizes,
  };
  writeFileAtomic(values.out as string, JSON.stringify(result, null, 2) + '\n');
  console.log(`wrote ${values.out}`);
}

main();
