/**
 * Everything the package exports by name (lib/index.ts adds the default export).
 * @internal
 */
export { backend, isa, type Backend, type Isa } from './backend.js';
export { type Gradients, type ParamGroup, type ParamGroupInit, type StepOptions } from './optimizer.js';
export { type OptimizerStateDict, type ParamStateEntry } from './state-dict.js';
export { Adam, adamUpdate, type AdamHyper, type AdamOptions, type AdamState } from './adam.js';
export { AdamW, adamwUpdate } from './adamw.js';
export { Adagrad, adagradUpdate, type AdagradHyper, type AdagradOptions, type AdagradState } from './adagrad.js';
export { RMSprop, rmspropUpdate, type RMSpropHyper, type RMSpropOptions, type RMSpropState } from './rmsprop.js';
export { SGD, sgdUpdate, type SGDHyper, type SGDOptions, type SGDState } from './sgd.js';
export { Adadelta, adadeltaUpdate, type AdadeltaOptions, type AdadeltaState } from './adadelta.js';
export { Adamax, adamaxUpdate, type AdamaxOptions, type AdamaxState } from './adamax.js';
export { NAdam, nadamUpdate, type NAdamOptions, type NAdamState } from './nadam.js';
export { RAdam, radamUpdate, type RAdamOptions, type RAdamState } from './radam.js';
export { Lion, lionUpdate, type LionOptions, type LionState } from './lion.js';
export { clipGradNorm, clipGradValue, type ClipGradNormOptions } from './gradients.js';
export {
  saveCheckpoint, loadCheckpoint, saveCheckpointAsync, loadCheckpointAsync, type Checkpointable, type CheckpointableScheduler,
  type CheckpointInfo, type Checksum, type LoadCheckpointOptions, type SaveCheckpointOptions,
} from './checkpoint.js';
export {
  LRScheduler, StepLR, MultiStepLR, ExponentialLR, ConstantLR, LinearLR, PolynomialLR, CosineAnnealingLR, LambdaLR,
  InverseTimeLR, InverseSqrtLR, type SchedulableOptimizer, type SchedulerStateDict,
} from './lr-scheduler.js';
export { CosineAnnealingWarmRestarts, OneCycleLR, CyclicLR, SequentialLR } from './lr-scheduler-cyclic.js';
export { ReduceLROnPlateau } from './lr-scheduler-plateau.js';
export {
  numericalGradient, gradcheck, type GradcheckOptions, type GradcheckReport, type CoordinateCheck,
  type DirectionalReport, type DirectionCheck, type Tensor,
} from './gradcheck.js';
export { checkDirectional } from './gradcheck-directional.js';

