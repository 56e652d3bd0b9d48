/**
 * simd-optim: PyTorch's optimizers for Float32Arrays, with SIMD native kernels and a TypeScript
 * fallback that computes the same bits.
 * @packageDocumentation
 */
export { backend, isa, type Backend, type Isa } from './backend.js';
export { type Gradients } from './optimizer.js';
export { Adam, adamUpdate, type AdamHyper, type AdamOptions, type AdamState } from './adam.js';
export { AdamW, adamwUpdate } from './adamw.js';
export { Adagrad, adagradUpdate, type AdagradHyper, type AdagradOptions, type AdagradState } from './adagrad.js';
export { RMSprop, rmspropUpdate, type RMSpropHyper, type RMSpropOptions, type RMSpropState } from './rmsprop.js';
export { SGD, sgdUpdate, type SGDHyper, type SGDOptions, type SGDState } from './sgd.js';
