import { describe, expect, it } from 'vitest';
import { tensor, FlatParameters, noGrad, liveTensors, tidy, conv2d, crossEntropy } from '../src/engine/index.js';

describe('engine smoke', () => {
  it('flat buffer gradients', () => {
    const fp = new FlatParameters([{ name: 'w', shape: [2, 2] }, { name: 'b', shape: [2] }]);
    noGrad(() => fp.flat.copy_(tensor([1, 2, 3, 4, 5, 6])));
    const x = tensor([[1, 1]]);
    const y = tidy(() => x.matmul(fp.get('w')).add(fp.get('b')).sum());
    y.backward();
    expect(Array.from(fp.flatGrad.toArray())).toEqual([1, 1, 1, 1, 1, 1]);
    expect(y.item()).toBe(4 + 6 + 11);
    fp.flat.add_(fp.flatGrad, -1);
    expect(Array.from(fp.get('w').toArray())).toEqual([0, 1, 2, 3]);
    console.log(liveTensors());
  });
});
