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

// Issue-3 API: groups, schedules, checkpoints, clipping.
import { NAdam, OneCycleLR, ReduceLROnPlateau, clipGradNorm, saveCheckpoint, type OptimizerStateDict } from 'simd-optim';
const grouped = new NAdam([{ params: [w], weightDecay: 0.1 }, { params: [new Float32Array(2)] }], { lr: 1e-3, skipNonFinite: true });
const applied: boolean = grouped.step([new Float32Array(4), null]);
grouped.paramGroups[0]!.lr = 0.01;
const sched = new OneCycleLR(grouped, { maxLr: 0.1, totalSteps: 100 });
const lrs: number[] = sched.getLastLr();
new ReduceLROnPlateau(grouped, { patience: 2 }).step(0.5);
const dict: OptimizerStateDict = grouped.stateDict();
const norm: number = clipGradNorm([new Float32Array(4)], 1, { normType: Infinity });
saveCheckpoint('/dev/null', grouped);
export { applied, lrs, dict, norm };

// Issue-8 API: the default import, checkpoints with schedulers, what a load returns.
import simd, { CosineAnnealingLR, loadCheckpoint, type CheckpointInfo } from 'simd-optim';
const viaDefault = new simd.Adam([w], { lr: 1e-3 });
const cosine = new CosineAnnealingLR(viaDefault, { tMax: 10 });
simd.saveCheckpoint('/dev/null', viaDefault, { schedulers: [cosine] });
const info: CheckpointInfo = loadCheckpoint('/dev/null', viaDefault, { schedulers: [cosine], requireChecksum: true });
const backendName: 'native' | 'js' = simd.backend;
export { info, backendName };
