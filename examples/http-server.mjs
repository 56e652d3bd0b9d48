// An HTTP server that trains online while it keeps answering requests. Clients POST labelled
// samples to /train; the server turns them into a gradient of a 16.8M-parameter model and steps
// Adam with `await optimizer.stepAsync(grads)`, so the step runs on another thread and GET /health
// is answered meanwhile. The example loads the server with autocannon, once with stepAsync and
// once with the synchronous `step`, and prints request latency, requests/s and the server's
// event-loop delay for both.
//
//   node examples/http-server.mjs            (about 25 s: 10 s of load per mode, after 1 s of warm-up)
//   node examples/http-server.mjs --quick    (1.5 s per mode, a 1M-parameter model: a few seconds)
//   node examples/http-server.mjs --serve    (only the server, on http://127.0.0.1:8080, to try with curl:
//     curl -d '{"x":["country=3","device=1"],"y":1}' 127.0.0.1:8080/train)
//
// Where things run: the server is a child process (this file again, with --serve), the load
// generator this process. autocannon in the server's own process would share its event loop and
// its delays would be measured as the server's. They still share the machine's cores.
//
// The model: logistic regression on hashed categorical features ("country=3", "device=1", ...),
// a table of 2^24 weights, as click-through models and embedding tables are. A sample touches 8
// weights, so its gradient is cheap; Adam still steps all 16.8M weights (momentum keeps moving
// weights a batch did not touch, as torch.optim.Adam does for a dense embedding): tens of
// milliseconds per step, long enough to stall a server if it runs on the event loop.
//
// Samples that arrive while a step is in flight are batched, not queued one step each: the params
// and gradients must not be written until the step settles, so they wait in a list, and the next
// step trains on all of them at once (up to MAX_BATCH), one mean gradient. A step per sample
// would cap the server at one sample per step time (40 to 80 a second with the 12-25 ms steps
// measured here) and the queue would grow without bound under load; batching makes the step's
// cost per sample fall as the load rises. Each POST is answered after the step that used its
// sample, with the loss before that step. Nothing reads the weights while a step is in flight
// either (GET /health does not; a /predict endpoint would wait for the step, or read a copy).
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { createHistogram, monitorEventLoopDelay } from 'node:perf_hooks';

import { Adam, backend, isa } from 'simd-optim';

import { seededRandom } from './lib/random.mjs';

const QUICK = process.argv.includes('--quick');
const SERVE = process.argv.includes('--serve');
const MODES = ['stepAsync', 'step'];
const MODE = process.argv.find((a) => a.startsWith('--mode='))?.slice(7) ?? 'stepAsync';
const TABLE_BITS = QUICK ? 20 : 24;     // 2^24 weights = 64 MiB of params, 256 MiB with grads and Adam's state
const LOAD_SECONDS = QUICK ? 1.5 : 10;  // of measured load per mode
const WARMUP_SECONDS = QUICK ? 0.5 : 1; // of unmeasured load first: the JIT, Adam's state allocated and touched
const TRAIN_CONNECTIONS = 16;           // concurrent POST /train clients, each waiting for its answer
const HEALTH_CONNECTIONS = 1;           // a client polling GET /health back to back
const MAX_BATCH = 256, MAX_PENDING = 10_000, MAX_BODY = 64 * 1024;
const LR = 0.01;  // higher rates overshoot: dense Adam keeps moving a rare feature's weight for ~30 steps

// ---------------------------------------------------------------------------------------------
// The data, shared by the load generator (samples) and the server (a held-out evaluation set).
// Eight categorical fields of 100 values; each value has a hidden effect on the probability of a
// click. Values are drawn log-uniformly (a few are frequent, most are rare), as in real traffic.
const FIELDS = ['country', 'device', 'hour', 'category', 'brand', 'page', 'referrer', 'campaign'];
const VALUES_PER_FIELD = 100;

function fnv1a(text, basis = 0x811c9dc5) {
  let h = basis;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
const sigmoid = (z) => 1 / (1 + Math.exp(-z));
/** The hidden effect of one feature: a fixed normal draw, seeded by the feature's name. */
function trueEffect(feature) {
  const random = seededRandom(fnv1a(feature, 12345));
  return 0.8 * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}
function makeSample(random) {
  const x = FIELDS.map((field) => `${field}=${Math.floor(VALUES_PER_FIELD ** random()) - 1}`);
  const logit = x.reduce((sum, feature) => sum + trueEffect(feature), -0.5);
  return { x, y: random() < sigmoid(logit) ? 1 : 0 };
}

// ---------------------------------------------------------------------------------------------
// The server.
async function serve({ mode, port }) {
  const tableSize = 2 ** TABLE_BITS;
  const weights = new Float32Array(tableSize), bias = new Float32Array(1);
  const weightGrads = new Float32Array(tableSize), biasGrad = new Float32Array(1);
  const optimizer = new Adam([weights, bias], { lr: LR });
  const slotOf = (feature) => fnv1a(feature) & (tableSize - 1); // the hashing trick
  const predict = (slots) => sigmoid(slots.reduce((z, s) => z + weights[s], bias[0]));
  const logLoss = (p, y) => -Math.log(Math.max(1e-12, y === 1 ? p : 1 - p));

  const evaluationRandom = seededRandom(7);
  const evaluationSet = Array.from({ length: 4000 }, () => makeSample(evaluationRandom))
    .map(({ x, y }) => ({ slots: x.map(slotOf), y }));
  const evaluationLoss = () => evaluationSet.reduce((sum, { slots, y }) => sum + logLoss(predict(slots), y), 0) / evaluationSet.length;
  const lossBefore = evaluationLoss();

  // Training: one step in flight at a time; samples arriving meanwhile wait in `pending`.
  const pending = [];
  let running = null;        // the promise of the training loop while it runs
  const stats = { steps: 0, samples: 0, stepMs: 0 };
  async function trainWhileSamplesWait() {
    while (pending.length > 0) {
      const batch = pending.splice(0, MAX_BATCH);
      // The gradient of the mean log loss, written only where the batch's features are.
      const touched = [];
      for (const item of batch) {
        item.loss = logLoss(item.p = predict(item.slots), item.y);
        const dLogit = (item.p - item.y) / batch.length;
        for (const s of item.slots) { weightGrads[s] += dLogit; touched.push(s); }
        biasGrad[0] += dLogit;
      }
      const start = performance.now();
      try {
        if (mode === 'stepAsync') await optimizer.stepAsync([weightGrads, biasGrad]); // the event loop runs meanwhile
        else optimizer.step([weightGrads, biasGrad]);                                 // the event loop waits
      } catch (error) { // a bug, not bad input (input was checked): say so, keep serving
        console.error(error);
        for (const item of batch) item.answer(500, { error: 'the training step failed' });
        continue;
      } finally {
        for (const s of touched) weightGrads[s] = 0; // only now: the step reads the gradients until it settles
        biasGrad[0] = 0;
      }
      stats.stepMs += performance.now() - start;
      stats.steps++;
      stats.samples += batch.length;
      for (const item of batch) item.answer(200, { step: optimizer.state.get(bias).step, loss: item.loss, p: item.p });
    }
    running = null;
  }
  function enqueue(item) {
    pending.push(item);
    // Start on the next turn of the event loop, not now, so that the requests that arrived
    // together (during a synchronous step, above all) go into one batch.
    running ??= new Promise((resolve) => setImmediate(resolve)).then(trainWhileSamplesWait);
  }

  const server = createServer((req, res) => {
    const answer = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'GET' && req.url === '/health') return answer(200, { ok: true, steps: stats.steps, pending: pending.length });
    if (req.method !== 'POST' || req.url !== '/train') return answer(404, { error: 'GET /health or POST /train' });
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      text += chunk;
      if (text.length > MAX_BODY) req.destroy(); // a sample is a few hundred bytes
    });
    req.on('end', () => {
      let sample;
      try { sample = JSON.parse(text); } catch { return answer(400, { error: 'the body is not JSON' }); }
      const { x, y } = sample ?? {};
      if (!Array.isArray(x) || x.length > 64 || !x.every((f) => typeof f === 'string') || (y !== 0 && y !== 1)) {
        return answer(400, { error: 'expected {"x": [up to 64 feature strings], "y": 0 or 1}' });
      }
      if (pending.length >= MAX_PENDING) return answer(503, { error: 'too many samples waiting' });
      enqueue({ slots: x.map(slotOf), y, answer });
    });
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));

  const eventLoopDelay = monitorEventLoopDelay({ resolution: 1 });
  const measurement = {
    start() { // after the warm-up: count from here
      Object.assign(stats, { steps: 0, samples: 0, stepMs: 0 });
      eventLoopDelay.reset();
      eventLoopDelay.enable();
      return 'started';
    },
    async report() {
      eventLoopDelay.disable();
      const { steps, samples, stepMs } = stats;
      while (running) await running; // the load has stopped: let the last batches finish before reading the weights
      let weightsChanged = 0;
      for (let i = 0; i < tableSize; i++) if (weights[i] !== 0) weightsChanged++;
      const ms = (ns) => ns / 1e6;
      return {
        backend, isa, params: tableSize + 1, steps, samples, msPerStep: stepMs / steps, lossBefore, lossAfter: evaluationLoss(), weightsChanged,
        eventLoop: { p50: ms(eventLoopDelay.percentile(50)), p99: ms(eventLoopDelay.percentile(99)), max: ms(eventLoopDelay.max) },
      };
    },
  };
  return { port: server.address().port, measurement };
}

// ---------------------------------------------------------------------------------------------
// The load generator: one server process per mode, two autocannon instances against it.
async function startServerProcess(mode) {
  const args = ['--serve', `--mode=${mode}`, '--port=0', ...(QUICK ? ['--quick'] : [])];
  const child = fork(new URL(import.meta.url), args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let stopping = false;
  child.on('exit', (code, signal) => {
    if (stopping) return;
    console.error(`the ${mode} server exited early (${signal ?? `code ${code}`})`);
    process.exit(1);
  });
  const ask = async (message) => {
    child.send(message);
    return (await once(child, 'message'))[0];
  };
  const [{ port }] = await once(child, 'message'); // the server says where it listens
  const stop = async () => {
    stopping = true;
    child.send('exit');
    await once(child, 'exit');
  };
  return { port, ask, stop };
}

async function load(autocannon, port, seconds, random, onResponse) {
  const latencyOf = { train: createHistogram(), health: createHistogram() }; // in microseconds
  const run = (name, options) => {
    const latency = latencyOf[name];
    return new Promise((resolve, reject) => {
      const instance = autocannon({ url: `http://127.0.0.1:${port}`, duration: seconds, ...options }, (error, result) => (error ? reject(error) : resolve(result)));
      // autocannon's own latency histogram holds whole milliseconds; this one keeps microseconds.
      instance.on('response', (_client, _status, _bytes, ms) => {
        latency.record(Math.max(1, Math.round(ms * 1000)));
        onResponse?.(name);
      });
    });
  };
  const [train, health] = await Promise.all([
    run('train', {
      connections: TRAIN_CONNECTIONS,
      requests: [{ method: 'POST', path: '/train', headers: { 'content-type': 'application/json' },
        setupRequest: (request) => ({ ...request, body: JSON.stringify(makeSample(random)) }) }],
    }),
    run('health', { connections: HEALTH_CONNECTIONS, requests: [{ method: 'GET', path: '/health' }] }),
  ]);
  const summarize = (result, latency) => ({
    requests: result.requests.total, perSecond: result.requests.total / result.duration,
    errors: result.errors, timeouts: result.timeouts, non2xx: result.non2xx,
    p50: latency.percentile(50) / 1000, p99: latency.percentile(99) / 1000, max: latency.max / 1000,
  });
  return { train: summarize(train, latencyOf.train), health: summarize(health, latencyOf.health) };
}

async function measureBothModes() {
  const { default: autocannon } = await import('autocannon');
  let bars = null; // progress bars on a terminal only; quiet when the output goes to a file or a test
  if (process.stdout.isTTY) {
    const { default: cliProgress } = await import('cli-progress');
    bars = new cliProgress.MultiBar({ stream: process.stdout, hideCursor: true, clearOnComplete: true,
      format: '{mode} {phase} |{bar}| {value}/{total} s | {train} train, {health} health requests' }, cliProgress.Presets.shades_classic);
  }
  const results = {};
  for (const mode of MODES) {
    const server = await startServerProcess(mode);
    const total = WARMUP_SECONDS + LOAD_SECONDS, counts = { train: 0, health: 0 };
    const bar = bars?.create(total, 0, { mode: mode.padEnd(9), phase: 'warm-up ', ...counts });
    const started = performance.now();
    const tick = bar && setInterval(() => bar.update(Math.min(total, Math.round((performance.now() - started) / 100) / 10), counts), 200);
    const count = bar && ((name) => counts[name]++);
    const random = seededRandom(42); // the stream of samples the clients send, the same in both modes
    await load(autocannon, server.port, WARMUP_SECONDS, random, count);
    await server.ask('start');
    Object.assign(counts, { train: 0, health: 0 });
    bar?.update({ phase: 'measured', ...counts });
    const measured = await load(autocannon, server.port, LOAD_SECONDS, random, count);
    if (tick) clearInterval(tick);
    results[mode] = { ...measured, server: await server.ask('report') };
    await server.stop();
  }
  bars?.stop();
  return results;
}

function printTables(results) {
  const { server } = results[MODES[0]];
  console.log(`Backend ${server.backend} (${server.isa}); Adam over ${server.params.toLocaleString('en-US')} params; ` +
    `${LOAD_SECONDS} s of load per mode: ${TRAIN_CONNECTIONS} clients POST /train, ${HEALTH_CONNECTIONS} polls GET /health.`);
  console.log('Server in a child process, load generator (autocannon) in this one; latencies as the clients saw them.\n');
  const table = (header, rows) => {
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
    const textColumns = header[1] === 'endpoint' ? 2 : 1; // left-aligned; numbers right-aligned
    for (const r of [header, ...rows]) console.log(r.map((c, i) => (i < textColumns ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  '));
    console.log('');
  };
  const ms = (x) => x.toFixed(x < 10 ? 2 : 1);
  table(['mode', 'endpoint', 'requests', 'req/s', 'errors', 'timeouts', 'non-2xx', 'p50 ms', 'p99 ms', 'max ms'],
    MODES.flatMap((mode) => [['health', 'GET /health'], ['train', 'POST /train']].map(([key, endpoint]) => {
      const r = results[mode][key];
      return [mode, endpoint, r.requests, Math.round(r.perSecond), r.errors, r.timeouts, r.non2xx, ms(r.p50), ms(r.p99), ms(r.max)];
    })));
  table(['mode', 'event-loop delay p50 ms', 'p99 ms', 'max ms', 'steps', 'samples/step', 'ms/step', 'eval loss before', 'after', 'weights changed'],
    MODES.map((mode) => {
      const s = results[mode].server;
      return [mode, ms(s.eventLoop.p50), ms(s.eventLoop.p99), ms(s.eventLoop.max), s.steps, (s.samples / s.steps).toFixed(1), ms(s.msPerStep),
        s.lossBefore.toFixed(4), s.lossAfter.toFixed(4), s.weightsChanged];
    }));
  console.log('Event-loop delay: monitorEventLoopDelay({ resolution: 1 }) in the server during the measured load; it includes');
  console.log("the 1 ms sampling interval (an idle loop reads about 1.1 ms). ms/step: from the call until the step is done; with");
  console.log("threads: 'auto' (the default) step computes on every core, stepAsync leaves one to the event loop.\n");
  if (server.backend === 'js') {
    console.log('On the TypeScript fallback stepAsync computes before it returns: both modes block the event loop,');
    console.log('and these latencies compare nothing. The native addon runs stepAsync on another thread.');
  }
}

if (SERVE) {
  const port = Number(process.argv.find((a) => a.startsWith('--port='))?.slice(7) ?? 8080);
  const server = await serve({ mode: MODE, port });
  if (process.send) { // started by the load generator: answer its messages
    process.on('message', async (message) => {
      if (message === 'start') process.send(server.measurement.start());
      else if (message === 'report') process.send(await server.measurement.report());
      else if (message === 'exit') process.exit(0);
    });
    process.send({ port: server.port });
  } else {
    console.log(`training with ${MODE} on http://127.0.0.1:${server.port} (backend ${backend}); POST /train, GET /health`);
  }
} else {
  const results = await measureBothModes();
  printTables(results);
  const failures = MODES.flatMap((mode) => {
    const { train, health, server } = results[mode];
    return [
      ...[train, health].filter((r) => r.errors + r.timeouts + r.non2xx > 0).map(() => `${mode}: some requests failed`),
      ...(train.requests === 0 || health.requests === 0 ? [`${mode}: no requests answered`] : []),
      ...(server.lossAfter < server.lossBefore ? [] : [`${mode}: the evaluation loss did not decrease`]),
    ];
  });
  console.log(failures.length === 0 ? 'every request answered, the model trained in both modes' : failures.join('\n'));
  process.exitCode = failures.length === 0 ? 0 : 1;
}
