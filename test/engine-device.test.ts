// Devices: 'cpu' by default and on request; 'cuda' / 'cuda:N' where libtorch has CUDA and a GPU is
// visible, otherwise an error that says which of the two is missing. The CUDA tests skip, saying
// why, where there is no GPU.
import { describe, expect, it } from 'vitest';
import {
  arange,
  bernoulli,
  Generator,
  cudaAvailable,
  cudaBuilt,
  cudaDeviceCount,
  defaultDevice,
  full,
  ones,
  rand,
  randint,
  randn,
  tensor,
  zeros,
  type Tensor,
  type TensorOptions,
} from '../src/engine/index.js';

const values = (t: Tensor) => Array.from(t.toArray() as Float32Array);

/** Every way to make a tensor on a device, by the name its errors carry. */
const MAKERS: Record<string, (o: TensorOptions) => Tensor> = {
  tensor: (o) => tensor([1, 2, 3], undefined, o),
  zeros: (o) => zeros([2, 3], o),
  ones: (o) => ones([2, 3], o),
  full: (o) => full([2], 7, o),
  arange: (o) => arange(0, 4, 1, o),
  rand: (o) => rand([3], o),
  randn: (o) => randn([3], o),
  randint: (o) => randint(0, 5, [3], o),
};

const gpuReason = !cudaBuilt() ? 'this libtorch has no CUDA support' : !cudaAvailable() ? 'no GPU is visible' : undefined;
if (gpuReason) console.log(`CUDA device tests skipped: ${gpuReason}`);

describe('devices', () => {
  it('the queries agree with each other', () => {
    expect(cudaAvailable()).toBe(cudaDeviceCount() > 0);
    expect(defaultDevice()).toBe(cudaAvailable() ? 'cuda' : 'cpu');
    if (!cudaBuilt()) expect(cudaDeviceCount()).toBe(0);
  });

  it('cpu is the default and can be asked for; to("cpu") keeps the values', () => {
    for (const [name, make] of Object.entries(MAKERS)) {
      expect(make({}).device, name).toBe('cpu');
      expect(make({ device: 'cpu' }).device, name).toBe('cpu');
    }
    const t = tensor([1.5, -2]);
    expect(values(t.to(undefined, 'cpu'))).toEqual([1.5, -2]);
    expect(Array.from(t.to('float64', 'cpu').toArray() as Float64Array)).toEqual([1.5, -2]);
  });

  it('a malformed device is a TypeError naming the op and the value', () => {
    for (const bad of ['gpu', 'tpu', 'CUDA', 'cuda:', 'cuda:01', 'cuda:-1', 'cuda:1.5', 'cpu:0', '']) {
      for (const [name, make] of Object.entries(MAKERS)) {
        expect(() => make({ device: bad }), `${name} ${bad}`).toThrow(TypeError);
        expect(() => make({ device: bad })).toThrow(`${name}: device must be 'cpu', 'cuda' or 'cuda:N', got ${JSON.stringify(bad)}`);
      }
      expect(() => ones([1]).to(undefined, bad)).toThrow(`to: device must be 'cpu', 'cuda' or 'cuda:N', got ${JSON.stringify(bad)}`);
    }
  });

  it.skipIf(cudaBuilt())('cuda on a libtorch without CUDA: an error that names what is missing, on every path', () => {
    for (const device of ['cuda', 'cuda:0', 'cuda:3']) {
      for (const [name, make] of Object.entries(MAKERS)) {
        expect(() => make({ device })).toThrow(new RegExp(`^${name}: device '${device}' needs a CUDA build of libtorch, and this one has no CUDA support`));
      }
      expect(() => ones([2]).to(undefined, device)).toThrow(new RegExp(`^to: device '${device}' needs a CUDA build of libtorch`));
    }
    // the engine is unharmed
    expect(ones([2]).add(1).sum().item()).toBe(4);
  });

  it.skipIf(!cudaBuilt() || cudaAvailable())('cuda on a CUDA libtorch without a visible GPU', () => {
    expect(() => zeros([1], { device: 'cuda' })).toThrow(/^zeros: device 'cuda': libtorch has CUDA but no GPU is visible/);
  });

  it.skipIf(gpuReason !== undefined)('on a GPU: creation, ops and round trips through cuda, and an index past the last GPU', () => {
    for (const [name, make] of Object.entries(MAKERS)) {
      expect(make({ device: 'cuda' }).device, name).toBe('cuda:0');
    }
    const host = tensor([[1, 2], [3, 4]]);
    const dev = host.to(undefined, 'cuda:0');
    expect(dev.device).toBe('cuda:0');
    const prod = dev.matmul(dev).add(1);
    expect(prod.device).toBe('cuda:0');
    expect(values(prod.to(undefined, 'cpu'))).toEqual([8, 11, 16, 23]);
    expect(values(prod)).toEqual([8, 11, 16, 23]);
    const n = cudaDeviceCount();
    expect(() => zeros([1], { device: `cuda:${n}` })).toThrow(new RegExp(`^zeros: device 'cuda:${n}' does not exist: ${n} CUDA device`));
  });

  it.skipIf(gpuReason !== undefined)('on a GPU: a generator draws the same numbers on cuda as on the cpu (a CPU stream, copied)', () => {
    const draw = (device: string) => {
      const g = new Generator(11);
      try {
        const a = randn([5], { generator: g, device });
        const b = rand([5], { generator: g, device });
        const c = randint(0, 9, [5], { generator: g, device }).to('float32');
        const d = bernoulli(zeros([5], { device }), 0.5, g);
        const e = zeros([5], { device }).normal_(0, 2, g);
        for (const t of [a, b, c, d, e]) expect(t.device).toBe(device === 'cpu' ? 'cpu' : 'cuda:0');
        return [a, b, c, d, e].flatMap(values);
      } finally {
        g.dispose();
      }
    };
    expect(draw('cuda')).toEqual(draw('cpu'));
  });
});
