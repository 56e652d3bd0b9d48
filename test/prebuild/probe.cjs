// A short training loop on the package as installed, printed as bits: Adam (AMSGrad, weight decay)
// and SGD with momentum in two groups (Nesterov; dampening), clipGradNorm with each norm type,
// arrays of 100, 257 and 31 elements, fixed data. Prints one line of JSON: the arch, the backend,
// the ISA level, the binary node-gyp-build chose (relative to the package), and `out`: every
// param and state array in hex and each step's gradient norm as float64 bits.
//
//   node test/prebuild/probe.cjs > bits.json      (SIMD_OPTIM_BACKEND / SIMD_OPTIM_ISA as usual)
//
// test/prebuild/smoke-arm64.mjs runs it on x64 and under qemu on arm64; the CI matrix
// (.github/workflows/prebuild.yml) runs it on every platform it builds; test/prebuild/compare.mjs
// says whether the bits agree. Only integer and + - * arithmetic makes the data: the same on
// every machine.
'use strict';
const path = require('node:path');
const m = require('simd-optim');
const pkg = path.dirname(require.resolve('simd-optim/package.json'));
const loaded = m.backend === 'native' ? path.relative(pkg, require('node-gyp-build').resolve(pkg)).split(path.sep).join('/') : null;

function xorshift(seed) {
  let s = seed >>> 0;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return (s / 4294967296) * 2 - 1;
  };
}
const SIZES = [100, 257, 31]; // no multiple of any vector width: every level runs its tail code
function arrays(seed, scale) {
  const r = xorshift(seed);
  return SIZES.map((n) => Float32Array.from({ length: n }, () => r() * scale));
}
const hex = (a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');
const bits = (x) => {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(x);
  return b.toString('hex');
};
const out = {};

function train(label, params, opt, maxNorm, stateKeys) {
  const target = arrays(0x5eed + label.length, 1);
  const noise = xorshift(0xbadc0de);
  const norms = [];
  for (let step = 0; step < 12; step++) {
    // A quadratic pull towards the target plus fixed noise, in doubles, rounded to float32 once.
    const grads = params.map((p, i) => Float32Array.from(p, (w, j) => (w - target[i][j]) * (1 + (step % 3)) + noise() * 0.25));
    norms.push(m.clipGradNorm(grads, maxNorm, { normType: [2, 1, Infinity][step % 3] }));
    opt.step(grads);
  }
  out[`${label}.norms`] = norms.map(bits).join(',');
  out[`${label}.clipped`] = String(norms.filter((n) => n > maxNorm).length);
  params.forEach((p, i) => {
    out[`${label}.param${i}`] = hex(p);
    for (const key of stateKeys) out[`${label}.${key}${i}`] = hex(opt.state.get(p)[key]);
  });
}

const a = arrays(1, 0.5);
train('adam', a, new m.Adam(a, { lr: 0.01, betas: [0.9, 0.999], weightDecay: 0.01, amsgrad: true }), 1.0, ['expAvg', 'expAvgSq', 'maxExpAvgSq']);
const s = arrays(2, 0.5);
const sgd = new m.SGD([{ params: [s[0], s[1]], nesterov: true }, { params: [s[2]], dampening: 0.1 }], { lr: 0.05, momentum: 0.9, weightDecay: 0.001 });
train('sgd', s, sgd, 0.5, ['momentumBuffer']);
console.log(JSON.stringify({ platform: process.platform, arch: process.arch, backend: m.backend, isa: m.isa, loaded, out }));
