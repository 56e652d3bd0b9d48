// The benchmark's peers: the same optimizer step, in the same run, through other libraries, so a
// user sees this package beside what they would otherwise use. TensorFlow.js on its cpu and wasm
// backends (one variable, one `applyGradients` per step, as a training loop calls it), and
// PyTorch's torch.optim through bench/peers-torch.py when a Python with torch is at hand.
// Nothing runs at import time: tfjs, dist/ and Python are reached only when asked for.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { randomValues } from './random.mjs';

const require = createRequire(import.meta.url);
const TORCH_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'peers-torch.py');

export const PEERS = ['tfjs cpu', 'tfjs wasm', 'torch'];
export const TABLES = ['Adam', 'AdamW', 'Adagrad', 'RMSprop', 'SGD momentum', 'Adadelta', 'Adamax', 'NAdam', 'RAdam', 'Lion'];

/** tfjs's cpu backend takes 50-200 ns per element: a 16M step would take seconds per call. */
export const TFJS_CPU_MAX_ELEMENTS = 1 << 20;

/** The torch script has this long for a whole run (normally ~25 s) before it is stopped; the rows it measured are kept. */
export const TORCH_TIMEOUT_MS = 90_000;

/**
 * The tf.train optimizer closest to each table's configuration. tf.train has no AdamW, NAdam, RAdam
 * or Lion. Where tfjs's update differs from PyTorch's, the difference is in TFJS_DIFFERENCES.
 */
const TFJS_OPTIMIZERS = {
  Adam: (train) => train.adam(1e-3, 0.9, 0.999, 1e-8),
  // PyTorch's initial accumulator is 0 (tfjs's default is 0.1).
  Adagrad: (train) => train.adagrad(1e-2, 0),
  // rmsprop(learningRate, decay, momentum, epsilon, centered): decay is PyTorch's alpha.
  RMSprop: (train) => train.rmsprop(1e-2, 0.99, 0, 1e-8, false),
  'SGD momentum': (train) => train.momentum(0.01, 0.9),
  Adadelta: (train) => train.adadelta(1.0, 0.9, 1e-6),
  Adamax: (train) => train.adamax(2e-3, 0.9, 0.999, 1e-8),
};

const TFJS_DIFFERENCES = {
  Adagrad: 'tfjs Adagrad adds its epsilon (1e-7) inside the square root (PyTorch: 1e-10 outside)',
  RMSprop: 'tfjs RMSprop adds epsilon inside the square root and keeps a momentum buffer even at momentum 0',
  Adadelta: "tfjs Adadelta divides by the previous step's mean square gradient (PyTorch: this step's)",
};

/** The tables each peer has, among TABLES. */
export function peerTables() {
  const tfjs = TABLES.filter((table) => table in TFJS_OPTIMIZERS);
  return { 'tfjs cpu': tfjs, 'tfjs wasm': tfjs, torch: TABLES.filter((table) => table !== 'Lion') };
}

const inputCache = new Map();

/** The parameter and gradient of n elements, made once per size (16M takes 0.2 s) and copied. */
function inputs(n) {
  if (!inputCache.has(n)) inputCache.set(n, { param: randomValues(n, 1), grad: randomValues(n, 2, 0.1) });
  const { param, grad } = inputCache.get(n);
  // Copies, as the cpu backend keeps the very array a tensor is made from.
  return { param: param.slice(), grad: grad.slice() };
}

let tfjs; // { tf, versions }, loaded on first use

export function loadTfjs() {
  if (tfjs) return tfjs;
  // The node bundles, all through require: the backends register with the tfjs-core driven here.
  const tf = require('@tensorflow/tfjs-core');
  const cpu = require('@tensorflow/tfjs-backend-cpu');
  const wasm = require('@tensorflow/tfjs-backend-wasm');
  // Production mode only silences tfjs's warnings (the cpu backend's "install tfjs-node" banner).
  tf.enableProdMode();
  // The .wasm binaries from node_modules on disk: Node's default is the bundle's own folder too,
  // said explicitly so nothing is ever fetched. It throws once the wasm backend is initialised
  // (someone else set it up first), and then whatever they chose stands.
  const wasmFolder = dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + '/';
  try { wasm.setWasmPaths(wasmFolder); } catch {}
  tfjs = { tf, wasmFolder, versions: `tfjs-core ${tf.version_core}, tfjs-backend-cpu ${cpu.version_cpu}, tfjs-backend-wasm ${wasm.version_wasm}` };
  return tfjs;
}

/** Switches tfjs to `backend` ('cpu' or 'wasm'); false if it cannot start. */
export async function useTfjsBackend(tf, backend) {
  if (!(await tf.setBackend(backend))) return false;
  await tf.ready();
  return true;
}

let variableCount = 0;

/** A tfjs variable of `param`, its gradient and the table's optimizer; dispose() frees all three. */
function tfjsStepper(tf, table, param, grad) {
  const initial = tf.tensor1d(param);
  const name = `simd-optim-peer-${++variableCount}`;
  const variable = tf.variable(initial, true, name);
  initial.dispose(); // the variable holds its own reference to the data
  const gradient = tf.tensor1d(grad);
  const optimizer = TFJS_OPTIMIZERS[table](tf.train);
  const gradients = { [name]: gradient };
  return {
    variable,
    // The optimizers tidy their own intermediates; the tidy here makes sure of it.
    step: () => tf.tidy(() => optimizer.applyGradients(gradients)),
    dispose: () => tf.dispose([variable, gradient, optimizer]),
  };
}

const MIN_BATCH_NS = 10e6; // calibrate()'s default: a batch lasts at least 10 ms

/**
 * `count` samples of step, ns per element, as sample() in lib/bench/measure.ts takes them (each
 * the best of 3 batches of >= 10 ms), after about 30 ms of steps: tfjs is mostly JavaScript, and
 * sample()'s two warm-up calls leave a step's own kernels half-compiled (warmUpEngine does the
 * rest). A step that lasts a batch on its own skips calibrate(), whose answer would be 1 call
 * after 3 more steps: at 1M elements on the cpu backend that is half a second per table.
 */
function sampleSteps(step, elements, count, { calibrate, sampleOnce }) {
  const start = process.hrtime.bigint();
  let lastNs;
  do {
    const callStart = process.hrtime.bigint();
    step();
    lastNs = Number(process.hrtime.bigint() - callStart);
  } while (Number(process.hrtime.bigint() - start) < 30e6);
  const iterations = lastNs >= MIN_BATCH_NS ? 1 : calibrate(step, MIN_BATCH_NS);
  return Array.from({ length: count }, () => sampleOnce(step, elements, iterations));
}

/**
 * The first configuration on a backend would also pay for compiling tfjs's engine (tensor
 * bookkeeping, kernel dispatch), which dominates a small step: its samples came out up to twice
 * the later ones'. A third of a second of small steps first takes that out.
 */
function warmUpEngine(tf, table) {
  const stepper = tfjsStepper(tf, table, randomValues(1024, 1), randomValues(1024, 2, 0.1));
  for (const start = process.hrtime.bigint(); Number(process.hrtime.bigint() - start) < 300e6; ) stepper.step();
  stepper.dispose();
}

async function benchTfjs({ backends, tables, sizes, samples, log, rows, notes, measure }) {
  const wanted = tables.filter((table) => table in TFJS_OPTIMIZERS);
  const missing = tables.filter((table) => !(table in TFJS_OPTIMIZERS));
  if (missing.length > 0) notes.push(`tfjs: skipped ${missing.join(', ')} (not in tf.train)`);
  if (wanted.length === 0) return;
  let loaded;
  try {
    loaded = loadTfjs();
  } catch (error) {
    notes.push(`tfjs: skipped, TensorFlow.js is not installed (${error.message.split('\n')[0]})`);
    return;
  }
  const { tf, versions, wasmFolder } = loaded;
  notes.push(versions);
  for (const table of wanted) if (TFJS_DIFFERENCES[table]) notes.push(TFJS_DIFFERENCES[table]);
  for (const backend of backends) {
    const series = `tfjs ${backend}`;
    if (!(await useTfjsBackend(tf, backend))) {
      notes.push(`${series}: skipped, the backend did not start`);
      continue;
    }
    let threads = 1; // the cpu backend is JavaScript on the main thread
    if (backend === 'wasm') {
      const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
      // tfjs runs no wasm threads in Node (WASM_HAS_MULTITHREAD_SUPPORT is false there).
      threads = tf.backend().wasm?.tfjs?.getThreadsCount?.() ?? 1;
      const binary = simd ? 'tfjs-backend-wasm-simd.wasm' : 'tfjs-backend-wasm.wasm';
      notes.push(`tfjs wasm: ${binary} from ${wasmFolder}, ${threads} thread${threads === 1 ? '' : 's'}`);
    }
    const runSizes = backend === 'cpu' ? sizes.filter((n) => n <= TFJS_CPU_MAX_ELEMENTS) : sizes;
    const skipped = sizes.filter((n) => !runSizes.includes(n));
    if (skipped.length > 0) {
      notes.push(`tfjs cpu: skipped ${skipped.map((n) => n.toLocaleString('en-US')).join(', ')} elements (above ${TFJS_CPU_MAX_ELEMENTS.toLocaleString('en-US')}: 50-200 ns per element, seconds per step)`);
    }
    warmUpEngine(tf, wanted[0]);
    for (const table of wanted) {
      for (const n of runSizes) {
        log(`${series} · ${table} · ${n.toLocaleString('en-US')}`);
        const before = tf.memory().numTensors;
        const { param, grad } = inputs(n);
        const stepper = tfjsStepper(tf, table, param, grad);
        stepper.step(); // creates the optimizer's state: the tensor count is steady from here
        const steady = tf.memory().numTensors;
        const taken = sampleSteps(stepper.step, n, samples, measure);
        const after = tf.memory().numTensors;
        stepper.dispose();
        // A leak would grow memory with every call and skew the figures: fail rather than report them.
        if (after !== steady || tf.memory().numTensors !== before) {
          throw new Error(`${series} ${table}: tensors leaked (${before} before, ${steady} → ${after} while stepping, ${tf.memory().numTensors} after)`);
        }
        rows.push({ table, series, kind: 'peer', elements: n, threads, samples: taken });
      }
    }
  }
}

const pythonExecutable = () => process.env.SIMD_OPTIM_BENCH_PYTHON || 'python3';

/**
 * Runs bench/peers-torch.py with a JSON job, asynchronously so each line it prints (onLine gets
 * it parsed) can drive the log while it runs. Resolves with { spawnError, status, timedOut,
 * lastError } once it exits, or once it is killed after timeoutMs.
 */
function runTorchScript(job, onLine, timeoutMs) {
  return new Promise((resolve) => {
    const child = spawn(pythonExecutable(), [TORCH_SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '', stderr = '', timedOut = false, spawnError = null;
    const timer = setTimeout(() => ((timedOut = true), child.kill('SIGKILL')), timeoutMs);
    child.on('error', (error) => (spawnError = error)); // ENOENT: no such executable
    child.stdin.on('error', () => {}); // EPIPE when the executable is missing or exits early
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      const lines = (stdout += chunk).split('\n');
      stdout = lines.pop(); // a line still being written
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        let message;
        try {
          message = JSON.parse(line);
        } catch {
          continue; // a stray line from torch or a library it loads: not one of the script's messages
        }
        onLine(message);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ spawnError, status, timedOut, lastError: stderr.trim().split('\n').pop() || `exit status ${status}` });
    });
    child.stdin.end(JSON.stringify(job));
  });
}

const NO_TORCH = 'torch: skipped, no python3 with torch (set SIMD_OPTIM_BENCH_PYTHON)';

async function benchTorch({ tables, sizes, samples, log, rows, notes, timeoutMs }) {
  let ready = null, noTorch = false;
  const result = await runTorchScript({ mode: 'bench', tables, sizes, samples }, (message) => {
    if (message.event === 'ready') ready = message;
    else if (message.event === 'no-torch') noTorch = true;
    else if (message.event === 'start') log(`torch · ${message.table} · ${message.elements.toLocaleString('en-US')}`);
    else if (message.event === 'skip') notes.push(`torch: skipped ${message.table} (${message.reason})`);
    else if (message.event === 'row') {
      rows.push({ table: message.table, series: 'torch', kind: 'peer', elements: message.elements, threads: message.threads, samples: message.samples });
    }
  }, timeoutMs);
  if (result.spawnError || noTorch || !ready) {
    const why = result.spawnError || noTorch ? NO_TORCH : result.timedOut ? `torch: skipped, no answer within ${timeoutMs / 1000} s` : `torch: skipped, ${result.lastError}`;
    notes.push(`${why}: tried ${pythonExecutable()}`);
    return;
  }
  notes.push(`torch ${ready.torch}, ${ready.threads} thread${ready.threads === 1 ? '' : 's'} (torch.get_num_threads()), torch.optim single-tensor (foreach=False, the CPU default; not fused)`);
  if (result.timedOut) notes.push(`torch: stopped after ${timeoutMs / 1000} s; the rows measured before are kept`);
  else if (result.status !== 0) notes.push(`torch: the script failed: ${result.lastError}`);
}

/**
 * Times one optimizer step of each table at each size on every peer. Returns `{ rows, notes }`:
 * BenchRow objects (lib/bench/types.ts, kind 'peer', samples in ns per element, each the best of
 * 3 batches of >= 10 ms) and what was skipped, and why, with the peers' versions. `peers` picks
 * among PEERS (all by default); `log` gets a line before each configuration.
 */
export async function benchPeers({ tables, sizes, samples = 5, log = () => {}, peers = PEERS, torchTimeoutMs = TORCH_TIMEOUT_MS }) {
  const unknown = [...tables.filter((table) => !TABLES.includes(table)), ...peers.filter((peer) => !PEERS.includes(peer))];
  if (unknown.length > 0) throw new Error(`benchPeers: unknown ${unknown.join(', ')} (tables: ${TABLES.join(', ')}; peers: ${PEERS.join(', ')})`);
  let measure;
  try {
    measure = require('../dist/bench/measure.js');
  } catch (error) {
    throw new Error(`benchPeers needs dist/: run \`npm run compile\` first (${error.message.split('\n')[0]})`);
  }
  const rows = [], notes = [];
  const backends = ['cpu', 'wasm'].filter((backend) => peers.includes(`tfjs ${backend}`));
  if (backends.length > 0) await benchTfjs({ backends, tables, sizes, samples, log, rows, notes, measure });
  inputCache.clear(); // 128 MB at 16M elements: not kept beyond the tfjs rows
  if (peers.includes('torch')) await benchTorch({ tables, sizes, samples, log, rows, notes, timeoutMs: torchTimeoutMs });
  return { rows, notes };
}

/**
 * The parameter after `steps` steps of a peer's optimizer for each of `tables`, from `param` with
 * the fixed gradient `grad`, with exactly the configurations the bench times: what the tests check
 * the peers' arithmetic with. Returns { [table]: Float32Array | null }, null where the peer lacks
 * the table or is not available.
 */
export async function peerSteps({ peer, tables, param, grad, steps = 1 }) {
  const results = Object.fromEntries(tables.map((table) => [table, null]));
  const available = tables.filter((table) => peerTables()[peer]?.includes(table));
  if (available.length === 0) return results;
  if (peer === 'torch') {
    const job = { mode: 'step', tables: available, param: Array.from(param), grad: Array.from(grad), steps };
    await runTorchScript(job, (message) => {
      if (message.event === 'step') results[message.table] = Float32Array.from(message.param);
    }, 60_000);
    return results;
  }
  let tf;
  try {
    ({ tf } = loadTfjs());
  } catch {
    return results; // TensorFlow.js is not installed
  }
  if (!(await useTfjsBackend(tf, peer === 'tfjs cpu' ? 'cpu' : 'wasm'))) return results;
  for (const table of available) {
    const stepper = tfjsStepper(tf, table, Float32Array.from(param), Float32Array.from(grad));
    for (let s = 0; s < steps; s++) stepper.step();
    results[table] = stepper.variable.dataSync().slice();
    stepper.dispose();
  }
  return results;
}
