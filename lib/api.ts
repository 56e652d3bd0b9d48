/**
 * Everything the package exports by name (lib/index.ts adds the default export).
 * @internal
 */
export { backend, isa, type Backend, type Isa } from './bridge/backend.js';
export { type Gradients, type ParamGroup, type ParamGroupInit, type StepOptions } from './optimizers/optimizer.js';
export { type OptimizerStateDict, type ParamStateEntry } from './optimizers/state-dict.js';
export { Adam, adamUpdate, type AdamHyper, type AdamOptions, type AdamState } from './optimizers/adam.js';
export { AdamW, adamwUpdate } from './optimizers/adamw.js';
export { Adagrad, adagradUpdate, type AdagradHyper, type AdagradOptions, type AdagradState } from './optimizers/adagrad.js';
export { RMSprop, rmspropUpdate, type RMSpropHyper, type RMSpropOptions, type RMSpropState } from './optimizers/rmsprop.js';
export { SGD, sgdUpdate, type SGDHyper, type SGDOptions, type SGDState } from './optimizers/sgd.js';
export { Adadelta, adadeltaUpdate, type AdadeltaOptions, type AdadeltaState } from './optimizers/adadelta.js';
export { Adamax, adamaxUpdate, type AdamaxOptions, type AdamaxState } from './optimizers/adamax.js';
export { NAdam, nadamUpdate, type NAdamOptions, type NAdamState } from './optimizers/nadam.js';
export { RAdam, radamUpdate, type RAdamOptions, type RAdamState } from './optimizers/radam.js';
export { Lion, lionUpdate, type LionOptions, type LionState } from './optimizers/lion.js';
export { SWATS, type SWATSOptions, type SWATSState } from './optimizers/swats.js';
export { clipGradNorm, clipGradNormAsync, clipGradValue, type ClipGradNormOptions } from './optimizers/gradients.js';
export {
  combineGradNormPartials, gradNormPartials, type GradNormPartialsOptions, type NormType,
} from './optimizers/grad-norm-partials.js';
export {
  saveCheckpoint, loadCheckpoint, saveCheckpointAsync, loadCheckpointAsync, type Checkpointable, type CheckpointableScheduler,
  type CheckpointInfo, type Checksum, type LoadCheckpointOptions, type SaveCheckpointOptions,
} from './io/checkpoint.js';
export {
  LRScheduler, StepLR, MultiStepLR, ExponentialLR, ConstantLR, LinearLR, PolynomialLR, CosineAnnealingLR, LambdaLR,
  InverseTimeLR, InverseSqrtLR, type SchedulableOptimizer, type SchedulerStateDict,
} from './schedules/lr-scheduler.js';
export { CosineAnnealingWarmRestarts, OneCycleLR, CyclicLR, SequentialLR } from './schedules/lr-scheduler-cyclic.js';
export { ReduceLROnPlateau } from './schedules/lr-scheduler-plateau.js';
export {
  numericalGradient, gradcheck, type GradcheckOptions, type GradcheckReport, type CoordinateCheck,
  type DirectionalReport, type DirectionCheck, type Tensor,
} from './gradcheck/gradcheck.js';
export { checkDirectional } from './gradcheck/gradcheck-directional.js';
export { StandardScaler, type StandardScalerOptions, type StandardScalerStateDict } from './preprocessing/standard-scaler.js';
