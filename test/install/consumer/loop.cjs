// Adam with amsgrad and weight decay, SGD with Nesterov momentum, a cosine schedule and gradient
// clipping, on fixed data: a few steps that touch every kind of kernel call a user makes.
function data(seed, n) {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = (s / 2 ** 32) * 2 - 1;
  }
  return a;
}

function hex(a) {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');
}

exports.train = function train(simd) {
  const w = data(1, 300), b = data(2, 7), v = data(3, 130);
  const adam = new simd.Adam([{ params: [w], amsgrad: true, weightDecay: 0.01 }, { params: [b] }], { lr: 0.01 });
  const sgd = new simd.SGD([v], { lr: 0.05, momentum: 0.9, nesterov: true });
  const cosine = new simd.CosineAnnealingLR(adam, { tMax: 10 });
  for (let step = 0; step < 8; step++) {
    const gw = data(10 + step, 300), gb = data(20 + step, 7), gv = data(30 + step, 130);
    simd.clipGradNorm([gw, gb], 5);
    adam.step([gw, gb]);
    sgd.step([gv]);
    cosine.step();
  }
  return { backend: simd.backend, isa: simd.isa, bits: [w, b, v].map(hex).join(':') };
};
