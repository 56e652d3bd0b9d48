// A TypeScript consumer (CommonJS), type-checked with --strict against the installed package.
import simd = require('simd-optim');

const v = new Float32Array(4);
const opt = new simd.SGD([v], { lr: 0.1, momentum: 0.9, nesterov: true });
opt.step([new Float32Array(4)]);
const buffer: Float32Array | null | undefined = opt.state.get(v)?.momentumBuffer;
export = { buffer };
