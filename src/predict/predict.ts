/**
 * Prediction with uncertainty from a sample store: every weight sample (and, for MC Dropout, K
 * dropout passes of it) segments the volume; the softmax outputs are averaged into the predictive
 * distribution, and the uncertainty maps come from the same stream (predictive entropy H[E p],
 * mutual information H[E p] − E H[p], expected entropy E H[p]). The probabilities are mapped back
 * onto the input grid first and the segmentation is their arg-max there, so the segmentation
 * file, the probability files and every score describe one prediction (also when preprocessing
 * resampled the volume).
 *
 * Stores trained with `preprocess.window: 'sliding'` see the whole slice: each pass fuses
 * overlapping Gaussian-weighted windows first (`sliding.ts`), then enters the accumulator, so the
 * mutual information stays the disagreement between passes. Stores without it predict one crop
 * about the image centre, as they were trained.
 *
 * MC Dropout's passes are fixed dropout networks: the masks of every (sample, pass) are drawn once,
 * when the predictor is made (from the model's generator after its weight initialisation, sample
 * by sample, pass by pass, block by block), and applied to every slice and window of that pass and
 * to every volume. A pass is then one network over the whole slice, windows included, a volume's
 * prediction does not depend on which volumes came before it, and the ONNX export (which draws
 * the same masks in the same order) gives the same posterior.
 *
 * Memory stays bounded by one model plus the running sums: samples are loaded one at a time.
 */
import type { Volume } from '../data/volume.js';
import { invertProbabilities, preprocessOptions, preprocessVolume, type PreprocessConfig } from '../data/preprocess.js';
import { NUM_CLASSES } from '../data/labels.js';
import { loadSample, openSampleStore, type SampleStore } from '../bayes/store.js';
import { checkDevice, noGrad, tensor, tidy, type Tensor } from '../engine/index.js';
import { UNet, type UNetConfig } from '../models/unet.js';
import { argmax } from '../metrics/calibration.js';
import { DEFAULT_WARNING_SCORE, UncertaintyAccumulator, type ScoreName, type ScoreOptions, type SliceScores } from '../uncertainty/index.js';
import { assembleVolumePrediction, passDisagreement } from './assemble.js';
import type { Postprocess } from './postprocess.js';
import { slidingWindowSoftmax } from './sliding.js';

/**
 * What a prediction is for a given store and options, versioned: saved evaluations made by
 * another version are made again where it matters. 2: MC Dropout passes are fixed dropout networks
 * (before: fresh masks for every slice, window and volume).
 */
export const PREDICTION_VERSION = 2;

export interface PredictOptions {
  /** Use the last K weight samples, the latest and best-trained (default: all). */
  readonly samples?: number;
  /** Dropout passes per weight sample (default: the store's, e.g. 10 for MC Dropout). */
  readonly passes?: number;
  /** Slices per forward pass (default 16). */
  readonly batchSize?: number;
  readonly scores?: ScoreOptions;
  /** Where the forward passes run: 'cpu' (default), 'cuda' or 'cuda:N'; stores are device-free. */
  readonly device?: string;
  /** The score written as `score`, the warning score (default {@link DEFAULT_WARNING_SCORE}). */
  readonly warningScore?: ScoreName;
  /** Post-processing of the segmentation (default `'none'`; see postprocess.ts); the scores read the network's arg-max. */
  readonly postprocess?: Postprocess;
}

/** A volume's prediction, on the input's own grid. */
export interface VolumePrediction {
  readonly dims: readonly [number, number, number];
  /**
   * Arg-max of {@link probabilities} over all four project classes (0 bg, 1 LV, 2 MYO, 3 RV; the
   * lowest class on ties), post-processed as {@link postprocess} says: the one prediction that the
   * files hold and every metric scores.
   */
  readonly segmentation: Uint8Array;
  /** Mean softmax on the input grid (bilinear from the network grid), class-major [class][z][y][x]. */
  readonly probabilities: Float32Array;
  readonly entropy: Float32Array;
  readonly mutualInformation: Float32Array;
  readonly expectedEntropy: Float32Array;
  /** Forward passes averaged (weight samples × dropout passes). */
  readonly passes: number;
  /** The score named here is copied into every `score` field. */
  readonly warningScore: ScoreName;
  /** How {@link segmentation} was post-processed (the scores read the arg-max before it). */
  readonly postprocess: Postprocess;
  /** Unit of the `volumeStd*` scores, when there are (≥ 2 passes): ml with a known spacing. */
  readonly volumeUnit?: 'ml' | 'voxels';
  readonly slices: SliceScores[];
  readonly volume: SliceScores;
}

export class Predictor {
  readonly store: SampleStore;
  readonly sampleCount: number;
  readonly passes: number;
  /** Indices (in the manifest) of the samples used. */
  readonly sampleIndices: readonly number[];
  readonly #model: UNet;
  readonly #pre: PreprocessConfig;
  readonly #batch: number;
  readonly #scores: ScoreOptions;
  readonly #warningScore: ScoreName;
  readonly #postprocess: Postprocess;
  /** MC Dropout: each (sample, pass)'s dropout masks, [sample][pass]; absent with one pass. */
  readonly #masks: Record<string, Tensor>[][] | undefined;

  constructor(storeDir: string, opts: PredictOptions = {}) {
    this.store = openSampleStore(storeDir);
    const m = this.store.manifest;
    const available = m.samples.length;
    if (available === 0) throw new Error(`${storeDir}: the sample store holds no samples (was training interrupted?)`);
    const k = opts.samples ?? available;
    if (!Number.isInteger(k) || k < 1 || k > available) {
      throw new RangeError(`${storeDir}: --samples must be an integer in 1..${available}, got ${k}`);
    }
    this.sampleCount = k;
    this.sampleIndices = Array.from({ length: k }, (_, i) => available - k + i);
    this.passes = opts.passes ?? m.passesPerSample;
    if (!Number.isInteger(this.passes) || this.passes < 1) throw new RangeError(`passes must be a positive integer, got ${this.passes}`);
    this.#model = new UNet(m.model as unknown as UNetConfig, { device: checkDevice(opts.device ?? 'cpu', 'predict') });
    this.#pre = m.preprocess as unknown as PreprocessConfig;
    this.#batch = opts.batchSize ?? 16;
    this.#scores = opts.scores ?? {};
    this.#warningScore = opts.warningScore ?? DEFAULT_WARNING_SCORE;
    this.#postprocess = opts.postprocess ?? 'none';
    const size = this.#pre.size;
    this.#masks =
      this.passes > 1 ? this.sampleIndices.map(() => Array.from({ length: this.passes }, () => this.#model.drawDropoutMasks(size))) : undefined;
  }

  /** Segments `image` (`source` names it in errors) and computes its uncertainty. */
  predict(image: Volume<Float32Array>, source: string): VolumePrediction {
    const pre = preprocessVolume(image, preprocessOptions(this.#pre, source));
    const [mx, my] = pre.transform.slice.outputDims;
    const nz = pre.transform.nz;
    const plane = mx * my;
    const acc = new UncertaintyAccumulator({ numClasses: NUM_CLASSES, numPixels: nz * plane });
    const model = this.#model;
    // Each pass's own segmentation on the input grid (the mean's inversion, then arg-max), for
    // the disagreement scores; with one pass there is nothing to disagree.
    const disagreement = passDisagreement(image, this.sampleCount * this.passes);
    for (const [si, i] of this.sampleIndices.entries()) {
      const weights = loadSample(this.store, i);
      try {
        model.loadState(weights);
      } finally {
        for (const t of Object.values(weights)) t.dispose();
      }
      model.eval();
      // MC Dropout: running BatchNorm statistics, dropout kept on.
      model.setDropoutActive(this.passes > 1);
      for (let pass = 0; pass < this.passes; pass++) {
        model.setDropoutMasks(this.#masks?.[si][pass]);
        const probs = this.#softmax(pre.image, nz, mx, my);
        acc.add(probs);
        disagreement?.add(argmax(invertProbabilities(probs, NUM_CLASSES, pre.transform), NUM_CLASSES));
      }
    }
    return assembleVolumePrediction(acc.result(), NUM_CLASSES, pre.transform, image.dims, disagreement?.result(), {
      scores: this.#scores,
      warningScore: this.#warningScore,
      postprocess: this.#postprocess,
    });
  }

  /** One forward pass over all slices: softmax, class-major over the volume (C × nz·H·W). */
  #softmax(images: Float32Array, nz: number, mx: number, my: number): Float32Array {
    if ((this.#pre.window ?? 'centre') === 'sliding') {
      const w = this.#pre.size;
      const forward = (windows: Float32Array, b: number): Float32Array =>
        noGrad(() => tidy(() => this.#model.forward(tensor(windows, [b, 1, w, w], { device: this.#model.params.flat.device })).softmax(1).contiguous().toFloat32()));
      return slidingWindowSoftmax(images, nz, mx, my, forward, { window: [w, w], numClasses: NUM_CLASSES, batchSize: this.#batch });
    }
    const plane = mx * my;
    const out = new Float32Array(NUM_CLASSES * nz * plane);
    for (let z0 = 0; z0 < nz; z0 += this.#batch) {
      const b = Math.min(this.#batch, nz - z0);
      const probs = noGrad(() =>
        tidy(() => {
          const x = tensor(images.subarray(z0 * plane, (z0 + b) * plane), [b, 1, my, mx], { device: this.#model.params.flat.device });
          return this.#model.forward(x).softmax(1).permute([1, 0, 2, 3]).contiguous().toFloat32();
        }),
      );
      for (let c = 0; c < NUM_CLASSES; c++) {
        out.set(probs.subarray(c * b * plane, (c + 1) * b * plane), c * nz * plane + z0 * plane);
      }
    }
    return out;
  }

  dispose(): void {
    this.#model.dispose();
    for (const m of this.#masks?.flat() ?? []) for (const t of Object.values(m)) t.dispose();
  }
}
