// Type-checked by test/package.test.ts through the package's exports map ("require" condition).
import simd = require('simd-optim');

const w = new Float32Array(4);
const opt = new simd.SGD([w], { lr: 0.1, momentum: 0.9 });
opt.step([new Float32Array(4)]);
const buffer: Float32Array | null | undefined = opt.state.get(w)?.momentumBuffer;
const name: 'native' | 'js' = simd.backend;
export = { buffer, name };
