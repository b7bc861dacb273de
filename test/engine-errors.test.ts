/**
 * BAD CALL tests (after onnxruntime's node tests): wrong shapes, dtypes and arguments each throw
 * a JS Error/TypeError/RangeError naming the op (and, for libtorch errors, the input shapes and
 * dtypes); none aborts the process.
 */
import { describe, expect, it } from 'vitest';
import {
  arange,
  bernoulli,
  cat,
  conv2d,
  crossEntropy,
  defaultDevice,
  dropout,
  FlatParameters,
  Generator,
  interpolate,
  manualSeed,
  maxPool2d,
  ones,
  randint,
  setNumThreads,
  stack,
  tensor,
  zeros,
  type DType,
  type Tensor,
} from '../src/engine/index.js';

type ErrorCtor = typeof Error | typeof TypeError | typeof RangeError;

/** Asserts that `fn` throws exactly an instance of `ctor` with a message matching `message`. */
function expectThrow(fn: () => unknown, ctor: ErrorCtor, message: RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown, 'should have thrown').toBeInstanceOf(ctor);
  expect((thrown as Error).constructor).toBe(ctor);
  expect((thrown as Error).message).toMatch(message);
}

const bad = <T>(v: unknown) => v as T;
const long = (data: number[]) => tensor(data, undefined, { dtype: 'int64' });

describe('BAD CALL - wrong shapes (libtorch errors name the op and the input shapes)', () => {
  it('matmul of [2,3] by [2,3]', () => {
    expectThrow(() => zeros([2, 3]).matmul(zeros([2, 3])), Error, /^matmul failed for inputs \[2,3\] Float, \[2,3\] Float: mat1 and mat2 shapes cannot be multiplied \(2x3 and 2x3\)/);
  });

  it('conv2d with the wrong number of input channels', () => {
    expectThrow(() => conv2d(zeros([1, 2, 5, 5]), zeros([4, 3, 3, 3])), Error, /^conv2d failed for inputs \[1,2,5,5\] Float, \[4,3,3,3\] Float: .*expected input\[1, 2, 5, 5\] to have 3 channels, but got 2/);
  });

  it('conv2d with a 3-D weight', () => {
    expectThrow(() => conv2d(zeros([1, 1, 5, 5]), zeros([1, 3, 3])), Error, /^conv2d failed for inputs \[1,1,5,5\] Float, \[1,3,3\] Float: /);
  });

  it('view of a non-contiguous tensor', () => {
    expectThrow(() => zeros([2, 3]).transpose(0, 1).view([6]), Error, /^view failed for inputs \[3,2\] Float: view size is not compatible .*Use \.reshape/);
  });

  it('cat and stack of mismatched tensors', () => {
    expectThrow(() => cat([zeros([2, 3]), zeros([2, 4])]), Error, /^cat failed for inputs \(\[2,3\] Float, \[2,4\] Float\): Sizes of tensors must match except in dimension 0/);
    expectThrow(() => stack([zeros([2]), zeros([3])]), Error, /^stack failed for inputs \(\[2\] Float, \[3\] Float\): stack expects each tensor to be equal size/);
  });

  it('broadcasting incompatible shapes, in place or not', () => {
    expectThrow(() => zeros([2, 3]).add(zeros([4])), Error, /^add failed for inputs \[2,3\] Float, \[4\] Float: The size of tensor a \(3\) must match the size of tensor b \(4\)/);
    expectThrow(() => zeros([3]).add_(zeros([2, 3])), Error, /^add_ failed for inputs \[3\] Float, \[2,3\] Float: output with shape \[3\] doesn't match the broadcast shape \[2, 3\]/);
  });

  it('reshape to a different element count; expand to an incompatible shape', () => {
    expectThrow(() => zeros([2, 3]).reshape([4, 2]), Error, /^reshape failed for inputs \[2,3\] Float: shape '\[4, 2\]' is invalid for input of size 6/);
    expectThrow(() => zeros([2]).expand([3, 3]), Error, /^expand failed for inputs \[2\] Float: /);
  });

  it('dims, indices and slices out of range', () => {
    expectThrow(() => zeros([2, 3]).sum(2), Error, /^sum failed for inputs \[2,3\] Float: Dimension out of range/);
    expectThrow(() => zeros([3]).narrow(0, 2, 5), Error, /^narrow failed for inputs \[3\] Float: start \(2\) \+ length \(5\) exceeds dimension size \(3\)/);
    expectThrow(() => zeros([3, 2]).indexSelect(0, long([0, 3])), Error, /^indexSelect failed for inputs \[3,2\] Float, \[2\] Long: index out of range/);
    expectThrow(() => zeros([2, 4]).gather(1, tensor([[0, 5]], undefined, { dtype: 'int64' })), Error, /^gather failed for inputs \[2,4\] Float, \[1,2\] Long: index 5 is out of bounds for dimension 1 with size 4/);
    expectThrow(() => long([0, 3]).oneHot(3), Error, /^oneHot failed for inputs \[2\] Long: Class values must be smaller than num_classes/);
  });

  it('pads that reflection cannot make; a pool window larger than the input', () => {
    expectThrow(() => zeros([1, 1, 3, 3]).pad([3, 3, 0, 0], 'reflect'), Error, /^pad failed for inputs \[1,1,3,3\] Float: .*Padding size should be less than the corresponding input dimension/);
    expectThrow(() => zeros([1, 1, 3, 3]).pad([1, 1], 'reflect'), TypeError, /^pad: argument 1 reflect\/replicate padding takes 4 pads of an N×C×H×W tensor/);
    expectThrow(() => maxPool2d(zeros([1, 1, 2, 2]), 3), Error, /^maxPool2d failed for inputs \[1,1,2,2\] Float: .*Output size is too small/);
  });

  it('crossEntropy with a target class out of range', () => {
    expectThrow(() => crossEntropy(zeros([2, 4]), long([1, 7])), Error, /^crossEntropy failed for inputs \[2,4\] Float, \[2\] Long: Target 7 is out of bounds/);
  });

  it('backward of a non-scalar without a gradient; of a tensor outside any graph', () => {
    const x = ones([3]).requiresGrad_();
    expectThrow(() => x.mul(2).backward(), TypeError, /^backward: argument 0 is not a scalar: pass a gradient of its shape/);
    expectThrow(() => ones([1]).backward(), TypeError, /^backward: argument 0 does not require grad/);
    expectThrow(() => x.mul(2).backward(ones([2])), Error, /^backward failed for inputs \[3\] Float, \[2\] Float: invalid gradient at index 0 - got \[2\] but expected shape compatible with \[3\]/);
  });

  it('an in-place op on a leaf that requires grad', () => {
    expectThrow(() => ones([2]).requiresGrad_().add_(1), Error, /^add_ failed for inputs \[2\] Float: a leaf Variable that requires grad is being used in an in-place operation/);
  });
});

describe('BAD CALL - wrong dtypes', () => {
  it('crossEntropy with float or int32 targets', () => {
    expectThrow(() => crossEntropy(zeros([2, 3]), zeros([2])), TypeError, /^crossEntropy: target must be an int64 tensor of class indices, got float32 \[2\]/);
    // a float target shaped like the logits would otherwise be read as class probabilities
    expectThrow(() => crossEntropy(zeros([2, 3]), zeros([2, 3])), TypeError, /^crossEntropy: target .* got float32 \[2, 3\]/);
    expectThrow(() => crossEntropy(zeros([2, 3]), zeros([2], { dtype: 'int32' })), TypeError, /^crossEntropy: target .* got int32 \[2\]/);
    expectThrow(() => crossEntropy(zeros([2, 3]), bad<Tensor>([0, 1])), TypeError, /^crossEntropy: target .* got object/);
  });

  it('matmul of float32 by float64; ops that need floats or indices', () => {
    expectThrow(() => zeros([2, 2]).matmul(zeros([2, 2], { dtype: 'float64' })), Error, /^matmul failed for inputs \[2,2\] Float, \[2,2\] Double: expected scalar type Float but found Double/);
    expectThrow(() => arange(4).std(), Error, /^std failed for inputs \[4\] Long: std and var only support floating point/);
    expectThrow(() => zeros([3]).oneHot(3), Error, /^oneHot failed for inputs \[3\] Float: one_hot is only applicable to index tensor/);
    expectThrow(() => zeros([3]).indexSelect(0, zeros([1])), Error, /^indexSelect failed for inputs \[3\] Float, \[1\] Float: /);
  });

  it('an unknown dtype name', () => {
    expectThrow(() => zeros([2], { dtype: bad<DType>('float16') }), TypeError, /^unknown dtype 'float16'; expected one of float32, float64, int64, int32, uint8, bool, int16/);
  });
});

describe('BAD CALL - bad arguments', () => {
  it('non-integer dims, sizes and shapes', () => {
    expectThrow(() => zeros([2, 3]).sum(1.5), TypeError, /^sum: argument 1 element 0 is not an integer/);
    expectThrow(() => zeros([2, 3]).transpose(0, 0.5), TypeError, /^transpose: argument 2 must be an integer, got 0\.5/);
    expectThrow(() => zeros([2, 3]).softmax(Number.NaN), TypeError, /^softmax: argument 1 must be an integer/);
    expectThrow(() => zeros([2.5]), TypeError, /^zeros: argument 0 element 0 is not an integer/);
    expectThrow(() => zeros([6]).reshape([2, bad<number>('3')]), TypeError, /^reshape: argument 1 element 1 is not a number/);
    expectThrow(() => conv2d(zeros([1, 1, 3, 3]), zeros([1, 1, 1, 1]), undefined, { stride: 1.5 }), RangeError, /^conv2d: stride must be an integer or \[h, w\], got 1\.5/);
    expectThrow(() => maxPool2d(zeros([1, 1, 4, 4]), [2, 2, 2] as never), RangeError, /^maxPool2d: kernel must be an integer or \[h, w\]/);
  });

  it('negative shapes', () => {
    expectThrow(() => zeros([2, -1]), TypeError, /^zeros: argument 0 has a negative dimension/);
    expectThrow(() => randint(0, 3, [-2]), TypeError, /^randint: argument 2 has a negative dimension/);
    expectThrow(() => tensor([], [-1, 0]), RangeError, /^tensor: shape \[-1, 0\] must hold non-negative integers/);
    expectThrow(() => tensor([1, 2], [0.5, 4]), RangeError, /^tensor: shape \[0.5, 4\] must hold non-negative integers/);
  });

  it('wrong argument types', () => {
    expectThrow(() => zeros([2]).add(bad<number>('1')), TypeError, /^add: argument 1 must be a number/);
    expectThrow(() => zeros([2, 2]).matmul(bad<Tensor>(5)), TypeError, /^matmul: argument 1 must be a Tensor/);
    expectThrow(() => conv2d(zeros([1, 1, 3, 3]), bad<Tensor>({})), TypeError, /^conv2d: argument 1 must be a Tensor/);
    expectThrow(() => cat([zeros([1]), bad<Tensor>(5)]), TypeError, /^cat: argument 0 element 1 is not a Tensor/);
    expectThrow(() => zeros([2]).copy_(bad<Tensor>(null)), TypeError, /^copy_: argument 1 must be a Tensor/);
    expectThrow(() => tensor([1, bad<number>('a')]), TypeError, /^tensor: element a is not a number/);
    expectThrow(() => tensor([[1, 2], [3]]), RangeError, /^tensor: nested arrays are ragged/);
    expectThrow(() => interpolate(zeros([1, 1, 2, 2]), [4, 4], bad<'nearest'>('bicubic')), TypeError, /^interpolate: argument 2 must be 'nearest' or 'bilinear', got 'bicubic'/);
    expectThrow(() => zeros([1, 1, 2, 2]).pad([1, 1, 1, 1], bad<'reflect'>('circular')), TypeError, /^pad: argument 2 must be 'constant', 'reflect' or 'replicate', got 'circular'/);
    expectThrow(() => crossEntropy(zeros([2, 3]), long([0, 1]), { reduction: bad<'sum'>('avg') }), TypeError, /^crossEntropy: argument 3 must be 'mean', 'sum' or 'none', got 'avg'/);
    expectThrow(() => zeros([1]).clamp(), TypeError, /^clamp: argument 1 clamp needs a minimum or a maximum/);
    expectThrow(() => zeros([1], { device: 'tpu' }), TypeError, /^zeros: device must be 'cpu', 'cuda' or 'cuda:N', got "tpu"/);
  });

  it('a disposed tensor, as receiver or as argument; dispose itself is idempotent', () => {
    const t = zeros([2]);
    t.dispose();
    t.dispose();
    expect(t.isDisposed).toBe(true);
    expectThrow(() => t.add(1), TypeError, /^add: argument 0 is a disposed tensor/);
    expectThrow(() => ones([2]).mul(t), TypeError, /^mul: argument 1 is a disposed tensor/);
    expectThrow(() => t.shape, TypeError, /^shape: argument 0 is a disposed tensor/);
    expectThrow(() => t.toArray(), TypeError, /^dtype: argument 0 is a disposed tensor/);
    expectThrow(() => cat([ones([1]), t]), TypeError, /^cat: argument 0 element 1 is a disposed tensor/);
  });

  it('tensor() with data that does not fill the shape', () => {
    expectThrow(() => tensor([1, 2, 3], [2, 2]), RangeError, /^tensor: shape \[2, 2\] needs 4 elements, the data has 3/);
    expectThrow(() => tensor(new Float32Array(5), [2, 3]), RangeError, /^tensor: shape \[2, 3\] needs 6 elements, the data has 5/);
  });

  it('item() of a tensor with more than one element', () => {
    expectThrow(() => zeros([3]).item(), TypeError, /^item: argument 0 must have exactly one element, has 3/);
  });

  it('random functions with bad seeds, probabilities, ranges and generators', () => {
    expectThrow(() => new Generator(-1), RangeError, /^Generator: seed must be a non-negative integer, got -1/);
    expectThrow(() => manualSeed(1.5), RangeError, /^manualSeed: seed must be a non-negative integer, got 1\.5/);
    expectThrow(() => dropout(zeros([2]), 1, true), RangeError, /^dropout: p must be in \[0, 1\), got 1/);
    expectThrow(() => bernoulli(zeros([2]), 2), RangeError, /^bernoulli: p must be in \[0, 1\], got 2/);
    expectThrow(() => randint(3, 3, [2]), Error, /^randint failed: random_ expects 'from' to be less than 'to'/);
    const g = new Generator(1);
    g.dispose();
    expectThrow(() => zeros([2]).normal_(0, 1, g), TypeError, /^normal_: argument 3 is not a live generator id/);
    expectThrow(() => new Generator(1).setState(new Uint8Array(3)), Error, /^generatorSetState failed for inputs \[3\] Byte: /);
    expectThrow(() => setNumThreads(0), RangeError, /^setNumThreads: n must be a positive integer, got 0/);
  });

  it('FlatParameters with duplicate names, bad shapes, unknown names', () => {
    expectThrow(() => new FlatParameters([{ name: 'w', shape: [2] }, { name: 'w', shape: [3] }]), RangeError, /^FlatParameters: duplicate parameter name 'w'/);
    expectThrow(() => new FlatParameters([{ name: 'w', shape: [2, 0] }]), RangeError, /^FlatParameters: parameter 'w' has a bad shape \[2, 0\]/);
    expectThrow(() => new FlatParameters([]), RangeError, /^FlatParameters: no parameters/);
    const fp = new FlatParameters([{ name: 'w', shape: [2] }]);
    expectThrow(() => fp.get('b'), RangeError, /^FlatParameters: no parameter named 'b'/);
    fp.dispose();
  });

  if (defaultDevice() !== 'cpu') console.log(`"a CUDA tensor on a machine without CUDA" skipped: this machine has CUDA (device ${defaultDevice()})`);
  it.skipIf(defaultDevice() !== 'cpu')('a CUDA tensor on a machine without CUDA', () => {
    expectThrow(() => zeros([1], { device: 'cuda' }), Error, /^zeros: device 'cuda'(:| needs a CUDA build).*(CUDA|GPU)/);
  });

  it('after all of the above the engine still works', () => {
    expect(ones([2, 2]).matmul(ones([2, 1])).sum().item()).toBe(4);
  });
});
