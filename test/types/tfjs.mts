// Type-checked by test/package.test.ts: simd-optim/tfjs as a tfjs user writes it.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { train, registerClasses, AdamOptimizer, type NamedTensor } from 'simd-optim/tfjs';

const model = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [4], units: 1 })] });
model.compile({ optimizer: train.adam(1e-3), loss: 'meanSquaredError' });
const asTfjs: tf.Optimizer = train.rmsprop(0.01, 0.9, 0.5, null, true);
const adam: tf.AdamOptimizer = new AdamOptimizer(0.01, 0.9, 0.999);
train.sgd(0.1).minimize(() => tf.scalar(0));
train.momentum(0.1, 0.9, true).applyGradients({ w: tf.zeros([2]) });
train.adagrad(0.1).applyGradients([{ name: 'w', tensor: tf.zeros([2]) }]);
train.adadelta();
train.adamax(0.002, 0.9, 0.999, undefined, 0.01);
const weights: Promise<NamedTensor[]> = train.adam().getWeights();
registerClasses();
// @ts-expect-error tf.train's arguments, not PyTorch's options
train.adam({ lr: 0.1 });
export { asTfjs, adam, weights };
