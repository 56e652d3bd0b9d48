// Type-checked by test/package.test.ts through the package's exports map ("import" condition).
import { Adam, AdamW, Adagrad, RMSprop, SGD, adamUpdate, backend, isa, type AdamOptions, type Backend, type Isa } from 'simd-optim';

const w = new Float32Array(4);
const options: AdamOptions = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false };
const opt = new Adam([w], options);
opt.step([new Float32Array(4)]);
const step: number | undefined = opt.state.get(w)?.step;
new AdamW([w], { weightDecay: 0.01 });
new Adagrad([w], { lrDecay: 0.1 });
new RMSprop([w], { centered: true });
new SGD([w], { momentum: 0.9, nesterov: true });
adamUpdate(w, new Float32Array(4), new Float32Array(4), new Float32Array(4), null, { step: 1 });
const b: Backend = backend;
const i: Isa = isa;
// @ts-expect-error unknown option names are type errors too
new Adam([w], { learningRate: 0.1 });
export { step, b, i };
