/**
 * simd-optim: PyTorch's optimizers for Float32Arrays, with SIMD native kernels and a TypeScript
 * fallback that computes the same bits.
 * @packageDocumentation
 */
export * from './api.js';

// `import simd from 'simd-optim'` works too (then `simd.Adam`, ...): the default export holds
// every named export, in CommonJS, ESM and the type declarations alike.
import * as simdOptim from './api.js';
export default simdOptim;
