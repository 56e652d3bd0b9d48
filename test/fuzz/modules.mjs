// The fuzz modules and the budgets, shared by the runner (run.mjs) and test/fuzz.test.ts.

/** Each is test/fuzz/<name>.mjs, exporting `properties`; the runner runs one or more per process. */
export const MODULES = ['optimizer', 'functional', 'state', 'checkpoint', 'scheduler', 'gradients', 'gradcheck', 'backends', 'scaler'];

/** Runs per property under plain `npm test`, and under CI=true. */
export const SHORT_RUNS = 100;
export const CI_RUNS = 1000;

/** Time spent shrinking one counterexample, in milliseconds. */
export const SHORT_SHRINK_MS = 2000;
export const CI_SHRINK_MS = 30000;

export const isCi = () => process.env.CI === 'true' || process.env.CI === '1';
