// A sharded training step on one machine: two Workers each own a slice of the model's tensors
// (views of SharedArrayBuffers, so nothing is copied) and step them with their own optimizer;
// gradient clipping sees the norm of the whole model through gradNormPartials and
// combineGradNormPartials. The result is the same bits as one optimizer over every tensor.
//
//   node examples/sharded-step.mjs        (prints "same bits as one optimizer: true")
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';

import { Adam, clipGradNorm, combineGradNormPartials, gradNormPartials } from 'simd-optim';

const SIZES = [300, 70000, 5, 4096, 33000, 17];  // the model's tensors
const SHARDS = [[0, 1, 2], [3, 4, 5]];            // which Worker owns which tensors (in order)
const STEPS = 3, MAX_NORM = 1.0;

/** A tensor in shared memory, and the same tensor's gradient at step k (deterministic). */
const shared = (n) => new Float32Array(new SharedArrayBuffer(4 * n));
function fillGradient(g, t, k) {
  for (let i = 0; i < g.length; i++) g[i] = Math.sin(i * 0.37 + t * 1.3 + k * 0.11) * (t + 1);
}

if (isMainThread) {
  const params = SIZES.map((n, t) => {
    const p = shared(n);  // filled in place: .map would make a copy outside shared memory
    for (let i = 0; i < n; i++) p[i] = Math.cos(i + t);
    return p;
  });
  const grads = SIZES.map((n) => shared(n));
  // The reference: one optimizer, one process.
  const reference = params.map((p) => p.slice());
  const whole = new Adam(reference, { lr: 0.01 });
  const referenceGrads = SIZES.map((n) => new Float32Array(n));
  for (let k = 0; k < STEPS; k++) {
    referenceGrads.forEach((g, t) => fillGradient(g, t, k));
    clipGradNorm(referenceGrads, MAX_NORM);
    whole.step(referenceGrads);
  }
  // The sharded run: each Worker gets its tensors' views; messages carry only numbers.
  const workers = SHARDS.map((tensors) => new Worker(fileURLToPath(import.meta.url), {
    workerData: { params: tensors.map((t) => params[t]), grads: tensors.map((t) => grads[t]) },
  }));
  const ask = (worker, message) => new Promise((resolve) => {
    worker.once('message', resolve);
    worker.postMessage(message);
  });
  for (let k = 0; k < STEPS; k++) {
    SIZES.forEach((_, t) => fillGradient(grads[t], t, k));   // stands for backprop (or an allreduce)
    const partials = await Promise.all(workers.map((w) => ask(w, { type: 'partials' })));
    const totalNorm = combineGradNormPartials(partials);     // in the order of the tensors
    await Promise.all(workers.map((w) => ask(w, { type: 'step', totalNorm })));
  }
  await Promise.all(workers.map((w) => w.terminate()));
  const same = params.every((p, t) => Buffer.compare(Buffer.from(p.buffer), Buffer.from(reference[t].buffer, reference[t].byteOffset, reference[t].byteLength)) === 0);
  console.log(`same bits as one optimizer: ${same}`);
  process.exitCode = same ? 0 : 1;
} else {
  const { params, grads } = workerData;
  const optimizer = new Adam(params, { lr: 0.01 });
  parentPort.on('message', async ({ type, totalNorm }) => {
    if (type === 'partials') {
      parentPort.postMessage(gradNormPartials(grads));
    } else {
      clipGradNorm(grads, MAX_NORM, { totalNorm });    // the whole model's norm, this shard's grads
      await optimizer.stepAsync(grads);
      parentPort.postMessage('stepped');
    }
  });
}
