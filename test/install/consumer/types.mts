// A TypeScript consumer (ES module), type-checked with --strict against the installed package.
import simd, { Adam, CosineAnnealingLR, clipGradNorm, saveCheckpoint, type AdamOptions, type Backend } from 'simd-optim';

const w = new Float32Array(8);
const options: AdamOptions = { lr: 1e-3, betas: [0.9, 0.999], weightDecay: 0 };
const opt = new Adam([{ params: [w], weightDecay: 0.1 }], options);
const sched = new CosineAnnealingLR(opt, { tMax: 10 });
const norm: number = clipGradNorm([new Float32Array(8)], 1);
const applied: boolean = opt.step([new Float32Array(8)]);
sched.step();
saveCheckpoint('opt.safetensors', opt, { schedulers: [sched] });
const backend: Backend = simd.backend;
// @ts-expect-error an unknown option is a type error
new Adam([w], { learningRate: 0.1 });
export { norm, applied, backend };
