/**
 * Engine benchmark: the U-Net (depth 4, widths 16-32-64-128, 8×1×128×128, 4 classes) forward
 * without gradients (eval mode) and one training step (train mode: forward, cross-entropy,
 * backward, SGD update on the flat buffer) and, in the same run, the identical PyTorch model
 * (bench/engine_torch.py --serve, a child process) at the same thread count. Runs of the two are
 * interleaved (ours, PyTorch, PyTorch, ours, …) so that load from other processes hits both alike.
 * Medians (and minima) over `--runs` after `--warmup` runs.
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/engine.js [--threads 2] [--runs 11] [--warmup 2] [--no-torch]
 *     [--device cpu|cuda|cuda:N] [--python /usr/bin/python3] [--out FILE]
 *
 * On a GPU both sides wait for the device at the end of each timed call (ours: a one-element read
 * of the weights; PyTorch: torch.cuda.synchronize).
 *
 * Writes bench/results/engine.json.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { checkDevice, crossEntropy, getNumThreads, noGrad, randint, randn, setNumThreads, tidy } from '../src/engine/index.js';
import { UNet, unetForwardGflop, type UNetConfig } from '../src/models/index.js';
import { writeFileAtomic } from '../src/util/index.js';
import { machine, median, repoRoot } from './util.js';

interface Timing {
  medianMs: number;
  minMs: number;
  runsMs: number[];
  /** Median process CPU time (all threads): less sensitive than wall time to other processes. */
  cpuMedianMs: number;
}

/** One run: wall-clock and process CPU milliseconds. */
type Sample = [wallMs: number, cpuMs: number];

interface TorchInfo {
  torch: string;
  python: string;
  threads: number;
  device: string;
  gpu: string | null;
  params: number;
  forward_gflop: number;
}

type Op = 'forward' | 'step';

function summary(samples: readonly Sample[]): Timing {
  const runsMs = samples.map((s) => s[0]);
  return { medianMs: median(runsMs), minMs: Math.min(...runsMs), runsMs, cpuMedianMs: median(samples.map((s) => s[1])) };
}

/** Median of run-by-run ratios: each pair ran back to back, so both saw about the same load. */
function pairedRatio(ours: Timing, torch: Timing): number {
  return median(ours.runsMs.map((ms, i) => ms / torch.runsMs[i]));
}

function timeMs(fn: () => void): Sample {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  fn();
  const c = process.cpuUsage(c0);
  return [performance.now() - t0, (c.user + c.system) / 1000];
}

/** bench/engine_torch.py --serve: one line per command, answered with the wall and CPU milliseconds it took. */
class TorchServer {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #lines: AsyncIterator<string>;
  readonly info: TorchInfo;

  private constructor(child: ChildProcessWithoutNullStreams, lines: AsyncIterator<string>, info: TorchInfo) {
    this.#child = child;
    this.#lines = lines;
    this.info = info;
  }

  static async start(python: string, threads: number, device: string): Promise<TorchServer | { unavailable: string }> {
    const script = join(repoRoot, 'bench', 'engine_torch.py');
    if (!existsSync(python)) return { unavailable: `${python} not found` };
    const child = spawn(python, [script, '--serve', '--threads', String(threads), '--device', device]);
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const first = await lines.next();
    if (first.done) {
      await new Promise((r) => child.once('close', r));
      return { unavailable: `${script} --serve exited: ${stderr.trim().split('\n').pop() ?? ''}` };
    }
    return new TorchServer(child, lines, JSON.parse(first.value) as TorchInfo);
  }

  async run(op: Op): Promise<Sample> {
    this.#child.stdin.write(`${op}\n`);
    const line = await this.#lines.next();
    const ms = line.done ? [] : line.value.split(' ').map(Number);
    if (ms.length !== 2 || !ms.every(Number.isFinite)) {
      throw new Error(`bench: PyTorch server answered '${String(line.value)}' to '${op}'`);
    }
    return [ms[0], ms[1]];
  }

  close(): void {
    this.#child.stdin.end();
  }
}

/** Warm-up, then `runs` timed runs of ours and PyTorch's, alternating which goes first. */
async function measure(op: Op, ours: () => void, torch: TorchServer | undefined, warmup: number, runs: number) {
  for (let i = 0; i < warmup; i++) {
    ours();
    await torch?.run(op);
  }
  const a: Sample[] = [];
  const b: Sample[] = [];
  for (let i = 0; i < runs; i++) {
    if (i % 2 === 0) a.push(timeMs(ours));
    if (torch) b.push(await torch.run(op));
    if (i % 2 === 1) a.push(timeMs(ours));
  }
  return { ours: summary(a), torch: torch ? summary(b) : undefined };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      threads: { type: 'string', default: '2' },
      runs: { type: 'string', default: '11' },
      warmup: { type: 'string', default: '2' },
      'no-torch': { type: 'boolean', default: false },
      device: { type: 'string', default: 'cpu' },
      python: { type: 'string', default: '/usr/bin/python3' },
      out: { type: 'string', default: join(repoRoot, 'bench', 'results', 'engine.json') },
    },
  });
  const threads = Number(values.threads);
  const runs = Number(values.runs);
  const warmup = Number(values.warmup);
  const device = checkDevice(values.device as string, 'bench');
  if (!(runs >= 5)) throw new RangeError(`--runs must be ≥ 5, got ${values.runs}`);

  const config: Partial<UNetConfig> = { inChannels: 1, numClasses: 4, depth: 4, baseWidth: 16, norm: 'batch', seed: 0 };
  const [batch, size, lr] = [8, 128, 1e-3];
  const gflop = unetForwardGflop(config, batch, size);
  const stepGflop = 3 * gflop; // forward + backward (input and weight gradients) ≈ 3 forwards

  setNumThreads(threads);
  const model = new UNet(config, { device });
  const x = randn([batch, 1, size, size], { device });
  const y = randint(0, 4, [batch, size, size], { device });
  const { flat, flatGrad } = model.params;
  // Off the CPU the calls return before the kernels finish: reading one weight waits for them.
  const sync = device === 'cpu' ? () => undefined : () => tidy(() => flat.narrow(0, 0, 1).item());

  const forward = () => {
    model.eval();
    noGrad(() => model.forward(x).dispose());
    sync();
  };
  const step = () => {
    model.train();
    model.params.zeroGrad();
    const loss = tidy(() => crossEntropy(model.forward(x), y));
    loss.backward();
    loss.dispose();
    noGrad(() => flat.add_(flatGrad, -lr));
    sync();
  };
  const loadBefore = loadavg()[0];
  const server = values['no-torch'] ? { unavailable: '--no-torch' } : await TorchServer.start(values.python as string, threads, device);
  const torch = server instanceof TorchServer ? server : undefined;
  if (torch && torch.info.params !== model.parameterCount) {
    throw new Error(`bench: PyTorch model has ${torch.info.params} parameters, ours ${model.parameterCount}; the models differ`);
  }
  const fwd = await measure('forward', forward, torch, warmup, runs);
  const stp = await measure('step', step, torch, warmup, runs);
  torch?.close();
  const ours = { threads: getNumThreads(), params: model.parameterCount };
  model.dispose();

  const m = { ...machine(), loadAverage1mBefore: loadBefore, device };
  const gfs = (g: number, ms: number) => g / (ms / 1000);
  const row = (what: string, t: Timing, g: number, ref?: Timing) =>
    `${what.padEnd(30)} ${t.medianMs.toFixed(1).padStart(8)} ms (min ${t.minMs.toFixed(1).padStart(7)}) ` +
    `${gfs(g, t.medianMs).toFixed(1).padStart(7)} GFLOP/s` +
    ` cpu ${t.cpuMedianMs.toFixed(0).padStart(6)} ms` +
    (ref
      ? `   ours/PyTorch ${(t.medianMs / ref.medianMs).toFixed(3)} ` +
        `(min ${(t.minMs / ref.minMs).toFixed(3)}, paired ${pairedRatio(t, ref).toFixed(3)}, cpu ${(t.cpuMedianMs / ref.cpuMedianMs).toFixed(3)})`
      : '');
  console.log(`U-Net depth 4, widths 16-32-64-128, ${batch}×1×${size}×${size}, 4 classes, batch norm; ${ours.params} parameters`);
  console.log(`forward ${gflop.toFixed(3)} GFLOP (2 × conv multiply-adds), step ≈ 3× = ${stepGflop.toFixed(3)} GFLOP`);
  console.log(`${m.cpu}, ${m.cores} cores, ${threads} threads, libtorch ${m.libtorchVersion}, node ${m.node}; median of ${runs} after ${warmup} warm-up, interleaved`);
  console.log(`load average (1 min) ${loadBefore.toFixed(2)} before, ${m.loadAverage1m.toFixed(2)} after: other processes share these cores`);
  console.log(row('hmcseg forward (eval, no grad)', fwd.ours, gflop, fwd.torch));
  console.log(row('hmcseg train step', stp.ours, stepGflop, stp.torch));
  if (torch && fwd.torch && stp.torch) {
    console.log(row(`PyTorch ${torch.info.torch} forward`, fwd.torch, gflop));
    console.log(row(`PyTorch ${torch.info.torch} train step`, stp.torch, stepGflop));
  } else if (!(server instanceof TorchServer)) {
    console.log(`PyTorch: unavailable (${server.unavailable})`);
  }

  const side = (f: Timing, s: Timing) => ({
    forwardMs: f.medianMs,
    forwardMinMs: f.minMs,
    forwardRunsMs: f.runsMs,
    forwardGflops: gfs(gflop, f.medianMs),
    stepMs: s.medianMs,
    stepMinMs: s.minMs,
    stepRunsMs: s.runsMs,
    stepGflops: gfs(stepGflop, s.medianMs),
    forwardCpuMs: f.cpuMedianMs,
    stepCpuMs: s.cpuMedianMs,
  });
  const result = {
    date: new Date().toISOString(),
    command: `npm run bench -- --threads ${threads} --runs ${runs} --warmup ${warmup}${device === 'cpu' ? '' : ` --device ${device}`}`,
    machine: m,
    config: {
      model: { ...config, dropout: 0 },
      input: [batch, 1, size, size],
      loss: 'cross-entropy (mean)',
      optimizer: `SGD lr ${lr} on the flat buffer (PyTorch: torch.optim.SGD)`,
      forwardMode: 'eval, no grad',
      stepMode: 'train (batch statistics): zero grad + forward + loss + backward + update',
      timing: 'runs of ours and PyTorch interleaved, alternating which goes first',
      threads,
      warmup,
      runs,
      forwardGflop: gflop,
      stepGflop,
    },
    hmcseg: { threads: ours.threads, params: ours.params, ...side(fwd.ours, stp.ours) },
    pytorch:
      torch && fwd.torch && stp.torch
        ? { version: torch.info.torch, python: torch.info.python, threads: torch.info.threads, params: torch.info.params, ...side(fwd.torch, stp.torch) }
        : server,
    ratio:
      fwd.torch && stp.torch
        ? {
            forward: fwd.ours.medianMs / fwd.torch.medianMs,
            step: stp.ours.medianMs / stp.torch.medianMs,
            forwardOfMinima: fwd.ours.minMs / fwd.torch.minMs,
            stepOfMinima: stp.ours.minMs / stp.torch.minMs,
            forwardPaired: pairedRatio(fwd.ours, fwd.torch),
            stepPaired: pairedRatio(stp.ours, stp.torch),
            forwardCpu: fwd.ours.cpuMedianMs / fwd.torch.cpuMedianMs,
            stepCpu: stp.ours.cpuMedianMs / stp.torch.cpuMedianMs,
          }
        : null,
  };
  writeFileAtomic(values.out as string, JSON.stringify(result, null, 2) + '\n');
  console.log(`wrote ${values.out}`);
}

await main();
