// A short training loop as a CommonJS consumer writes it; prints the backend and the bits of the
// params, so that an installed package can be compared with the repository's build.
// SIMD_OPTIM_PACKAGE overrides what is required (the repository's dist/ for the reference run).
const simd = require(process.env.SIMD_OPTIM_PACKAGE || 'simd-optim');
const { train } = require('./loop.cjs');
console.log(JSON.stringify(train(simd)));
