/**
 * The posterior predictive of a U-Net as one ONNX graph: K branches, each the U-Net of
 * src/models/unet.ts with one weight sample (and, for MC Dropout, one fixed dropout mask per
 * dropout layer), softmax over the classes, then the mean over the branches and the uncertainty
 * maps of src/uncertainty/entropy.ts:
 *
 *   probs = (1/K) Σ_k p_k,   entropy = −Σ_c probs_c ln probs_c,
 *   mutual_information = max(0, entropy − (1/K) Σ_k (−Σ_c p_kc ln p_kc)),   with 0·ln 0 = 0,
 *
 * and beside them every branch's own softmax p_k (`branch_probs`, N×K×C×S×S).
 *
 * Per block: (Conv 3×3 pad 1 → BatchNormalization (inference) | InstanceNormalization | conv bias
 * → Relu) ×2, then `Mul` by the mask and `Div` by 1 − p where the U-Net places dropout (the same
 * two operations as the engine's inverted dropout). Encoders are followed by MaxPool 2×2; decoders
 * start with ConvTranspose 2×2 stride 2 and Concat([skip, up]); the head is a 1×1 Conv.
 */
import { dropoutMaskShape, unetBlocks, type UNetBlock, type UNetConfig } from '../models/unet.js';
import type { GraphBuilder } from './onnx-graph.js';

/** One weight sample's tensors by state name (`enc0.conv1.weight`, …), as float32. */
export interface WeightSample {
  /** Names the sample in errors (its file). */
  readonly source: string;
  readonly tensors: Readonly<Record<string, { readonly data: Float32Array; readonly shape: readonly number[] }>>;
}

/** One branch of the graph: a weight sample and, for dropout at inference, a mask per dropout block. */
export interface Branch {
  /** Index into the samples. */
  readonly sample: number;
  /**
   * Binary masks (0/1) by block name, each 1×C×h×w at that block's output size; without them
   * dropout is off (the U-Net in eval mode).
   */
  readonly masks?: Readonly<Record<string, Float32Array>>;
}

const NORM_EPS = 1e-5;

export interface PosteriorGraph {
  /** Every branch's softmax, N×K×C×S×S (branch k at index k). */
  readonly branchProbs: string;
  readonly probs: string;
  readonly entropy: string;
  readonly mutualInformation: string;
}

/**
 * Adds the posterior predictive of `branches` over `samples` to `g`, reading `input`
 * (N×inChannels×size×size). Each sample's tensors become initializers once, shared by the
 * branches that use it. Throws naming the sample file and the tensor when one is missing or
 * misshapen.
 */
export function addPosteriorGraph(
  g: GraphBuilder,
  config: UNetConfig,
  input: string,
  samples: readonly WeightSample[],
  branches: readonly Branch[],
  size: number,
): PosteriorGraph {
  if (branches.length === 0) throw new RangeError('ONNX export: no branches');
  const blocks = unetBlocks(config);
  const constant = (name: string, v: number) => g.float(name, [v], []);
  const zero = constant('zero', 0);
  const count = constant('branch_count', branches.length);
  const classAxis = g.int64('class_axis', [1], [1]);
  const keep = 1 - config.dropout;
  const keepScalar = branches.some((b) => b.masks) ? constant('dropout_keep', keep) : '';

  const added = new Map<string, string>();
  const weight = (i: number, name: string, shape: readonly number[]): string => {
    const key = `s${i}.${name}`;
    const known = added.get(key);
    if (known) return known;
    const s = samples[i];
    const t = s.tensors[name];
    if (!t) throw new Error(`${s.source}: no tensor '${name}', which the model configuration needs`);
    if (t.shape.length !== shape.length || t.shape.some((d, k) => d !== shape[k])) {
      throw new Error(`${s.source}: tensor '${name}' has shape [${t.shape.join(', ')}], the model configuration needs [${shape.join(', ')}]`);
    }
    added.set(key, g.float(key, t.data, shape));
    return key;
  };

  const entropyOf = (p: string, name?: string): string => {
    const plogp = g.op('Where', [g.op('Greater', [p, zero]), g.op('Mul', [p, g.op('Log', [p])]), zero]);
    return g.op('Neg', [g.op('ReduceSum', [plogp, classAxis], { keepdims: 0 })], {}, name);
  };

  const probs: string[] = [];
  const entropies: string[] = [];
  branches.forEach((branch, k) => {
    if (!(branch.sample >= 0 && branch.sample < samples.length)) throw new RangeError(`ONNX export: branch ${k} names sample ${branch.sample}`);
    const w = (name: string, shape: readonly number[]) => weight(branch.sample, name, shape);
    const block = (b: UNetBlock, x: string): string => {
      let h = x;
      for (const i of [1, 2] as const) {
        const cin = i === 1 ? b.cin : b.cout;
        const conv = `${b.name}.conv${i}`;
        const convInputs = [h, w(`${conv}.weight`, [b.cout, cin, 3, 3])];
        if (config.norm === 'none') convInputs.push(w(`${conv}.bias`, [b.cout]));
        h = g.op('Conv', convInputs, { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
        if (config.norm === 'batch') {
          const n = `${b.name}.bn${i}`;
          const c = [b.cout];
          h = g.op('BatchNormalization', [h, w(`${n}.weight`, c), w(`${n}.bias`, c), w(`${n}.running_mean`, c), w(`${n}.running_var`, c)], {
            epsilon: { float: NORM_EPS },
          });
        } else if (config.norm === 'instance') {
          const n = `${b.name}.norm${i}`;
          h = g.op('InstanceNormalization', [h, w(`${n}.weight`, [b.cout]), w(`${n}.bias`, [b.cout])], { epsilon: { float: NORM_EPS } });
        }
        h = g.op('Relu', [h]);
      }
      if (b.dropout && branch.masks) {
        const mask = branch.masks[b.name];
        const shape = dropoutMaskShape(b, size);
        if (!mask) throw new Error(`ONNX export: branch ${k} has no dropout mask for ${b.name}`);
        h = g.op('Div', [g.op('Mul', [h, g.float(`b${k}.${b.name}.mask`, mask, shape)]), keepScalar]);
      }
      return h;
    };

    let h = input;
    const skips: string[] = [];
    for (const b of blocks) {
      if (b.kind === 'enc') {
        const skip = block(b, h);
        skips.push(skip);
        h = g.op('MaxPool', [skip], { kernel_shape: [2, 2], strides: [2, 2] });
      } else if (b.kind === 'bottleneck') {
        h = block(b, h);
      } else {
        const up = `up${b.level}`;
        h = g.op('ConvTranspose', [h, w(`${up}.weight`, [b.cout * 2, b.cout, 2, 2]), w(`${up}.bias`, [b.cout])], {
          kernel_shape: [2, 2],
          strides: [2, 2],
        });
        h = g.op('Concat', [skips.pop() as string, h], { axis: 1 });
        h = block(b, h);
      }
    }
    const head = [config.numClasses, config.baseWidth, 1, 1];
    const logits = g.op('Conv', [h, w('head.weight', head), w('head.bias', [config.numClasses])], { kernel_shape: [1, 1] });
    const p = g.op('Softmax', [logits], { axis: 1 }, `b${k}.probs`);
    probs.push(p);
    entropies.push(entropyOf(p));
  });

  // Unsqueeze's axes (opset 13+) is an input: the branch axis, 1, like the class axis of ReduceSum.
  const branchProbs = g.op('Concat', probs.map((p) => g.op('Unsqueeze', [p, classAxis])), { axis: 1 }, 'branch_probs');
  const mean = g.op('Div', [g.op('Sum', probs), count], {}, 'probs');
  const entropy = entropyOf(mean, 'entropy');
  const expected = g.op('Div', [g.op('Sum', entropies), count]);
  const mi = g.op('Max', [g.op('Sub', [entropy, expected]), zero], {}, 'mutual_information');
  return { branchProbs, probs: mean, entropy, mutualInformation: mi };
}
