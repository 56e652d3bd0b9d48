/**
 * simd-optim/tfjs: TensorFlow.js's optimizers computed by this package's kernels.
 *
 * `train.sgd`, `momentum`, `adagrad`, `adadelta`, `rmsprop`, `adam` and `adamax` take the
 * arguments of `tf.train.*`, with its defaults, and return subclasses of tfjs's own optimizer
 * classes: `minimize`, `applyGradients`, `model.compile({ optimizer })`, `model.fit`,
 * `getWeights` / `setWeights`, `getConfig` and serialization work as with tfjs's. The formulas are
 * tfjs's, not PyTorch's (each class below says which), with its eps, its defaults and its state:
 *
 *   sgd       p -= lr g
 *   momentum  a = m a + g;  p -= lr a   (Nesterov: p -= lr (g + m a))
 *   adagrad   a += g^2;  p -= lr g / sqrt(a + eps)                 a starts at initialAccumulatorValue
 *   adadelta  s' = rho s + (1 - rho) g^2;  d = sqrt(u + eps) / sqrt(s + eps) g   (s before this step)
 *             u = rho u + (1 - rho) d^2;  s = s';  p -= lr d
 *   rmsprop   s = decay s + (1 - decay) g^2;  M = momentum M + lr g / sqrt(s + eps);  p -= M
 *             centered: c = decay c + (1 - decay) g;  sqrt(s - c^2 - eps) instead (tfjs's sign)
 *   adam      m, v as Adam;  p -= lr (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
 *   adamax    m as Adam;  u = max(beta2 u, |g|);  p -= lr_t / (1 - beta1^t) m / (u + eps),
 *             lr_t = lr / (1 + decay (t - 1))
 *
 * eps defaults to the backend's epsilon (1e-7 on cpu and wasm); t counts the optimizer's
 * applyGradients calls, for every variable alike, as in tfjs.
 *
 * `@tensorflow/tfjs-core` is an optional peer dependency, loaded only by this module.
 */
import type * as TF from '@tensorflow/tfjs-core';
import { ADADELTA, ADAGRAD, ADAM, ADAMAX, KernelId, RMSPROP, SGD } from '../bridge/kernels.js';
import { adamKernelJs, adamScalars, type AdamOptions } from '../optimizers/adam.js';
import { adadeltaKernelJs, adadeltaScalars, type AdadeltaOptions } from '../optimizers/adadelta.js';
import { adagradKernelJs, adagradScalars, type AdagradOptions } from '../optimizers/adagrad.js';
import { adamaxKernelJs, adamaxScalars, type AdamaxOptions } from '../optimizers/adamax.js';
import { rmspropKernelJs, rmspropScalars, type RMSpropOptions } from '../optimizers/rmsprop.js';
import { sgdKernelJs, sgdScalars, type SGDOptions } from '../optimizers/sgd.js';
import { TfjsSlots, type NamedTensor, type TfjsKind } from './tfjs-slots.js';

export type { NamedTensor } from './tfjs-slots.js';

function loadTfjs(): typeof TF {
  try {
    return require('@tensorflow/tfjs-core') as typeof TF;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && String((error as Error).message).includes('@tensorflow/tfjs-core')) {
      throw new Error('simd-optim/tfjs needs @tensorflow/tfjs-core, an optional peer dependency: npm install @tensorflow/tfjs-core', { cause: error });
    }
    throw error;
  }
}
const tf = loadTfjs();

/** What applyGradients takes, as in tfjs: a map of variable names to gradients, or a list of { name, tensor }. */
export type VariableGradients = TF.NamedTensorMap | NamedTensor[];

const kernel = (id: KernelId, js: TfjsKind['kernel']['js'], layout: { slots: number; scalars: number }) => ({ id, js, slots: layout.slots, scalars: layout.scalars });
const SGD_KERNEL = kernel(KernelId.Sgd, sgdKernelJs, SGD);
const SGD_KIND: TfjsKind = { kernel: SGD_KERNEL, stateSuffixes: [], stateSlots: [] };
const MOMENTUM_KIND: TfjsKind = { kernel: SGD_KERNEL, stateSuffixes: ['momentum'], stateSlots: [SGD.momentumBuffer] };
const ADADELTA_KIND: TfjsKind = {
  kernel: kernel(KernelId.Adadelta, adadeltaKernelJs, ADADELTA),
  stateSuffixes: ['accum_grad', 'accum_var'], stateSlots: [ADADELTA.squareAvg, ADADELTA.accDelta],
};
const ADAM_KIND: TfjsKind = { kernel: kernel(KernelId.Adam, adamKernelJs, ADAM), stateSuffixes: ['m', 'v'], stateSlots: [ADAM.expAvg, ADAM.expAvgSq] };
const ADAMAX_KIND: TfjsKind = {
  kernel: kernel(KernelId.Adamax, adamaxKernelJs, ADAMAX), stateSuffixes: ['m', 'v'], stateSlots: [ADAMAX.expAvg, ADAMAX.expInf],
};
const RMSPROP_KERNEL = kernel(KernelId.Rmsprop, rmspropKernelJs, RMSPROP);

/** A number from getConfig (the hyperparameters tfjs keeps private). */
function configNumber(config: TF.serialization.ConfigDict, key: string): number {
  return Number(config[key]);
}

/** tf.train.sgd: p -= lr g. */
export class SGDOptimizer extends tf.SGDOptimizer {
  private readonly slots = new TfjsSlots(tf, SGD_KIND, 'SGDOptimizer');

  override applyGradients(variableGradients: VariableGradients): void {
    const options: Required<SGDOptions> = { lr: this.learningRate, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false };
    this.slots.apply(variableGradients, (s, at) => sgdScalars(options, false, s, at));
    this.incrementIterations();
  }

  override async getWeights(): Promise<NamedTensor[]> {
    return this.slots.weights(await this.saveIterations());
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    this.iterations_ = await this.slots.setWeights(weightValues);
  }

  override dispose(): void {
    this.slots.dispose();
    super.dispose();
  }
}

/** tf.train.momentum: a = m a + g; p -= lr a, or p -= lr (g + m a) with Nesterov. */
export class MomentumOptimizer extends tf.MomentumOptimizer {
  private readonly slots = new TfjsSlots(tf, MOMENTUM_KIND, 'MomentumOptimizer');

  override applyGradients(variableGradients: VariableGradients): void {
    const config = this.getConfig();
    const options: Required<SGDOptions> = {
      lr: this.learningRate, momentum: configNumber(config, 'momentum'), dampening: 0, weightDecay: 0,
      nesterov: config['useNesterov'] === true, maximize: false,
    };
    // Never the kernel's first step (which copies the gradient): tfjs's accumulation starts at
    // zero, and m 0 + g is g anyway. The momentum flag even for momentum 0, as tfjs keeps its
    // accumulation then too.
    this.slots.apply(variableGradients, (s, at) => sgdScalars(options, false, s, at) | SGD.flagMomentum);
    this.incrementIterations();
  }

  override async getWeights(): Promise<NamedTensor[]> {
    return this.slots.weights(await this.saveIterations());
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    this.iterations_ = await this.slots.setWeights(weightValues);
  }

  override dispose(): void {
    this.slots.dispose();
    super.dispose();
  }
}

/** tf.train.adagrad: a += g^2; p -= lr g / sqrt(a + eps), eps the backend's; a starts at initialAccumulatorValue. */
export class AdagradOptimizer extends tf.AdagradOptimizer {
  private readonly slots = new TfjsSlots(tf, {
    kernel: kernel(KernelId.Adagrad, adagradKernelJs, ADAGRAD), stateSuffixes: ['accumulator'], stateSlots: [ADAGRAD.sum],
    initialValue: () => configNumber(this.getConfig(), 'initialAccumulatorValue'),
  }, 'AdagradOptimizer');

  override applyGradients(variableGradients: VariableGradients): void {
    const options: Required<AdagradOptions> = {
      lr: this.learningRate, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: tf.backend().epsilon(),
      maximize: false, epsInsideSqrt: true,
    };
    this.slots.apply(variableGradients, (s, at) => adagradScalars(options, 1, s, at));
    this.incrementIterations();
  }

  override async getWeights(): Promise<NamedTensor[]> {
    return this.slots.weights(await this.saveIterations());
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    this.iterations_ = await this.slots.setWeights(weightValues);
  }

  override dispose(): void {
    this.slots.dispose();
    super.dispose();
  }
}

/** tf.train.adadelta, whose denominator is the square average before this step's gradient. */
export class AdadeltaOptimizer extends tf.AdadeltaOptimizer {
  private readonly slots = new TfjsSlots(tf, ADADELTA_KIND, 'AdadeltaOptimizer');

  override applyGradients(variableGradients: VariableGradients): void {
    const options: Required<AdadeltaOptions> = {
      lr: this.learningRate, rho: this.rho, eps: this.epsilon, weightDecay: 0, maximize: false, previousSquareAvg: true,
    };
    this.slots.apply(variableGradients, (s, at) => adadeltaScalars(options, s, at));
    this.incrementIterations();
  }

  override async getWeights(): Promise<NamedTensor[]> {
    return this.slots.weights(await this.saveIterations());
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    this.iterations_ = await this.slots.setWeights(weightValues);
  }

  override dispose(): void {
    this.slots.dispose();
    super.dispose();
  }
}

/**
 * tf.train.rmsprop. tfjs keeps the momentum M with the learning rate in it (M = momentum M +
 * lr g / d; p -= M); the kernel keeps M / lr, so a change of learningRate rescales the buffers
 * once, and getWeights / setWeights convert. The learning rate must therefore be > 0.
 */
export class RMSPropOptimizer extends tf.RMSPropOptimizer {
  private readonly slots: TfjsSlots;
  /** The learning rate the momentum buffers are divided by. */
  private bufferLr: number | null = null;
  private readonly isCentered: boolean;

  constructor(learningRate: number, decay?: number, momentum?: number, epsilon?: number, centered?: boolean) {
    super(learningRate, decay, momentum, epsilon, centered);
    this.isCentered = this.getConfig()['centered'] === true;
    this.slots = new TfjsSlots(tf, {
      kernel: RMSPROP_KERNEL,
      stateSuffixes: this.isCentered ? ['rms', 'momentum', 'mg'] : ['rms', 'momentum'],
      stateSlots: this.isCentered ? [RMSPROP.squareAvg, RMSPROP.momentumBuffer, RMSPROP.gradAvg] : [RMSPROP.squareAvg, RMSPROP.momentumBuffer],
    }, 'RMSPropOptimizer');
  }

  override applyGradients(variableGradients: VariableGradients): void {
    const lr = this.learningRate;
    if (!(lr > 0)) throw new RangeError(`RMSPropOptimizer.applyGradients: learningRate must be > 0 here (the momentum is kept divided by it), not ${lr}`);
    const options: Required<RMSpropOptions> = {
      lr, alpha: this.decay, momentum: this.momentum, weightDecay: 0, centered: this.isCentered, maximize: false,
      // tfjs's centered denominator is sqrt(s - (c^2 + eps)): eps with a minus sign.
      eps: this.isCentered ? -this.epsilon : this.epsilon, epsInsideSqrt: true,
    };
    // Every step takes the momentum path, even with momentum 0: tfjs keeps M then too (its last
    // lr g / d), and getWeights returns it.
    this.slots.apply(variableGradients, (s, at) => rmspropScalars(options, s, at) | RMSPROP.flagMomentum, () => {
      // Once the input is checked: buffers kept divided by another learning rate are rescaled.
      if (this.bufferLr !== null && this.bufferLr !== lr) {
        const factor = Math.fround(this.bufferLr / lr);
        for (let i = 0; i < this.slots.size; i++) {
          const buffer = this.slots.state(i, 1);
          for (let e = 0; e < buffer.length; e++) buffer[e] = buffer[e]! * factor;
        }
      }
      this.bufferLr = lr;
    });
    this.incrementIterations();
  }

  override async getWeights(): Promise<NamedTensor[]> {
    const lr = this.bufferLr ?? this.learningRate;
    return this.slots.weights(await this.saveIterations(), (k) => (k === 1 ? lr : 1));
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const lr = this.learningRate;
    if (!(lr > 0)) throw new RangeError(`RMSPropOptimizer.setWeights: learningRate must be > 0 here (the momentum is kept divided by it), not ${lr}`);
    this.iterations_ = await this.slots.setWeights(weightValues, (k) => (k === 1 ? 1 / lr : 1));
    this.bufferLr = lr;
  }

  override dispose(): void {
    this.slots.dispose();
    super.dispose();
  }
}

/** tf.train.adam: the bias corrections of step t = applyGradients calls so far + 1, for every variable. */
export class AdamOptimizer extends tf.AdamOptimizer {
  private readonly slots = new TfjsSlots(tf, ADAM_KIND, 'AdamOptimizer');

  override applyGradients(variableGradients: VariableGradients): void {
    const options: Required<AdamOptions> = {
      lr: this.learningRate, betas: [this.beta1, this.beta2], eps: this.epsilon, weightDecay: 0,
      amsgrad: false, maximize: false, epsInsideSqrt: false,
    };
    const t = this.iterations + 1;
    this.slots.apply(variableGradients, (s, at) => adamScalars(options, false, t, s, at));
    this.incrementIterations();
  }

  override async getWeights(): Promise<NamedTensor[]> {
    return this.slots.weights(await this.saveIterations());
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    this.iterations_ = await this.slots.setWeights(weightValues);
  }

  override dispose(): void {
    this.slots.dispose();
    super.dispose();
  }
}

/**
 * tf.train.adamax, eps after the max. getWeights / setWeights work here (tfjs's own Adamax
 * throws), in Adam's layout: `${name}/m`, `${name}/v`.
 */
export class AdamaxOptimizer extends tf.AdamaxOptimizer {
  private readonly slots = new TfjsSlots(tf, ADAMAX_KIND, 'AdamaxOptimizer');

  override applyGradients(variableGradients: VariableGradients): void {
    const iteration = this.iterations;
    const options: Required<AdamaxOptions> = {
      lr: this.learningRate / (iteration * this.decay + 1), // tfjs's decayed rate
      betas: [this.beta1, this.beta2], eps: this.epsilon, weightDecay: 0, maximize: false, epsOutsideMax: true,
    };
    this.slots.apply(variableGradients, (s, at) => adamaxScalars(options, iteration + 1, s, at));
    this.incrementIterations();
  }

  override async getWeights(): Promise<NamedTensor[]> {
    return this.slots.weights(await this.saveIterations());
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    this.iterations_ = await this.slots.setWeights(weightValues);
  }

  override dispose(): void {
    this.slots.dispose();
    super.dispose();
  }
}

/**
 * The constructors of `tf.train`, same arguments and defaults, returning this package's
 * optimizers.
 * @example
 * import * as tf from '@tensorflow/tfjs-node';   // or tfjs-core with a backend
 * import { train } from 'simd-optim/tfjs';
 * model.compile({ optimizer: train.adam(1e-3), loss: 'meanSquaredError' });
 */
export const train = {
  sgd: (learningRate: number): SGDOptimizer => new SGDOptimizer(learningRate),
  momentum: (learningRate: number, momentum: number, useNesterov = false): MomentumOptimizer =>
    new MomentumOptimizer(learningRate, momentum, useNesterov),
  adagrad: (learningRate: number, initialAccumulatorValue = 0.1): AdagradOptimizer => new AdagradOptimizer(learningRate, initialAccumulatorValue),
  adadelta: (learningRate = 0.001, rho = 0.95, epsilon: number | null = null): AdadeltaOptimizer =>
    new AdadeltaOptimizer(learningRate, rho, epsilon as number),
  rmsprop: (learningRate: number, decay = 0.9, momentum = 0.0, epsilon: number | null = null, centered = false): RMSPropOptimizer =>
    new RMSPropOptimizer(learningRate, decay, momentum, epsilon as number, centered),
  adam: (learningRate = 0.001, beta1 = 0.9, beta2 = 0.999, epsilon: number | null = null): AdamOptimizer =>
    new AdamOptimizer(learningRate, beta1, beta2, epsilon as number),
  adamax: (learningRate = 0.002, beta1 = 0.9, beta2 = 0.999, epsilon: number | null = null, decay = 0.0): AdamaxOptimizer =>
    new AdamaxOptimizer(learningRate, beta1, beta2, epsilon as number, decay),
};

/**
 * Registers these classes for deserialization under tfjs's class names ('Adam', 'SGD', ...), so
 * that `tf.loadLayersModel` of a model saved with its optimizer builds this package's optimizer
 * instead of tfjs's. Their configs and weights have tfjs's layout either way: a saved model loads
 * with either.
 */
export function registerClasses(): void {
  for (const cls of [SGDOptimizer, MomentumOptimizer, AdagradOptimizer, AdadeltaOptimizer, RMSPropOptimizer, AdamOptimizer, AdamaxOptimizer]) {
    tf.serialization.registerClass(cls);
  }
}
