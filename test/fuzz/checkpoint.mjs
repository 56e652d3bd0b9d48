// Checkpoints: saved and loaded (sync and async) with the same bits; a checkpoint whose bytes were
// flipped, truncated or forged is refused with a RangeError naming its path, and nothing of it is
// loaded (a flip in ignorable JSON whitespace may load, with identical content); nothing is
// allocated from a size the file claims before it is checked; file-system errors stay Node's.
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import {
  changedSince, copies, gradsAt, initialParams, makeOptimizer, sameTraining, setupArb, snapshot,
} from './spec.mjs';
import {
  activate, attemptAsync, check, deepDiff, errorProblem, errorText, fail, fc, lib, plainCopy,
} from './support.mjs';

const dir = fs.mkdtempSync(path.join(tmpdir(), 'simd-optim-fuzz-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
let fileCounter = 0;
const freshPath = (tag) => path.join(dir, `${tag}-${fileCounter++}.safetensors`);

/** A trained optimizer A, and a maker of optimizers B over A's param values with other state. */
function pair(setup) {
  const params = initialParams(setup);
  const opt = makeOptimizer(setup, params);
  for (let k = 0; k < setup.history; k++) opt.step(gradsAt(setup, k));
  const make = (steps) => {
    const ps = params.map(plainCopy);
    const o = makeOptimizer(setup, ps);
    for (let k = 0; k < steps; k++) o.step(gradsAt(setup, 20 + k, 0));
    return { opt: o, params: ps };
  };
  return { a: { opt, params }, make };
}

async function save(mode, file, opt) {
  if (mode === 'async') await lib.saveCheckpointAsync(file, opt);
  else lib.saveCheckpoint(file, opt);
}
async function load(mode, file, opt) {
  if (mode === 'async') return lib.loadCheckpointAsync(file, opt);
  return lib.loadCheckpoint(file, opt);
}
const loaders = (mode) => (mode === 'async' ? ['loadCheckpointAsync', 'loadCheckpoint'] : ['loadCheckpoint']);

/** The safetensors parts of a checkpoint file. */
function split(bytes) {
  const n = Number(bytes.readBigUInt64LE(0));
  return { n, header: bytes.subarray(8, 8 + n).toString('utf8'), data: bytes.subarray(8 + n) };
}
function join(headerText, data, claimed) {
  let text = headerText;
  text += ' '.repeat((8 - ((8 + Buffer.byteLength(text)) % 8)) % 8);
  const body = Buffer.from(text, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(claimed ?? BigInt(body.length));
  return Buffer.concat([prefix, body, data]);
}

/**
 * Loads `bytes` as a checkpoint into B and judges the outcome: a refusal, with B unchanged and its
 * next step that of an untouched twin; or, when `mayLoad`, a load of exactly A's state. With
 * `contract`, a refusal must be a RangeError from the loader naming the file (the other checks
 * are the other properties').
 */
async function judgeLoad({ setup, mode, bytes, bSteps, mayLoad, what, contract }) {
  const { a, make } = pair(setup);
  const b = make(bSteps);
  const twin = make(bSteps);
  const file = freshPath('load');
  fs.writeFileSync(file, bytes);
  const snap = snapshot(b.opt, b.params);
  const memory = process.memoryUsage().arrayBuffers;
  const t0 = performance.now();
  const r = await attemptAsync(() => load(mode, file, b.opt));
  const ms = performance.now() - t0;
  const grown = process.memoryUsage().arrayBuffers - memory;
  fs.rmSync(file, { force: true });
  if (ms > 2000) fail(`loading ${what} took ${Math.round(ms)} ms (a size from the file used before it was checked?)`);
  if (grown > 256 * 2 ** 20) fail(`loading ${what} allocated ${Math.round(grown / 2 ** 20)} MiB`);
  if (r.ok) {
    if (!mayLoad) fail(`loaded ${what}`);
    check(deepDiff(a.opt.stateDict(), b.opt.stateDict(), 'stateDict() after loading'), `${what} loaded with different content`);
    return;
  }
  if (contract) {
    check(errorProblem(r.error, { where: loaders(mode), names: [file], kinds: [RangeError] }), `loading ${what}`);
    return;
  }
  check(changedSince(snap, b.opt, b.params), `after the refused load of ${what}`);
  const grads = gradsAt(setup, 40, 0);
  b.opt.step(copies(grads));
  twin.opt.step(copies(grads));
  check(sameTraining(b.opt, b.params, twin.opt, twin.params, 'an optimizer that never saw the load'));
}

// Saving fsyncs; shrinking replays set-ups many times: the bytes of a set-up are saved once.
const saved = new Map();
async function savedBytes(setup, mode) {
  const key = `${mode} ${JSON.stringify(setup)}`;
  if (!saved.has(key)) saved.set(key, await saveBytes(setup, mode));
  return Buffer.from(saved.get(key));
}
async function saveBytes(setup, mode) {
  const { a } = pair(setup);
  const file = freshPath('save');
  await save(mode, file, a.opt);
  const bytes = fs.readFileSync(file);
  fs.rmSync(file, { force: true });
  return bytes;
}

const setup1 = () => setupArb({ maxTensors: 3 }).map((s) => ({ ...s, history: Math.max(1, s.history) }));

// ---------------------------------------------------------------------------------------------
// checkpoint.roundtrip

const roundtripArb = () =>
  fc.record({
    setup: setup1(),
    saveMode: fc.constantFrom('sync', 'async'),
    loadMode: fc.constantFrom('sync', 'async'),
    bSteps: fc.integer({ min: 0, max: 2 }),
    other: fc.option(setup1(), { nil: undefined, freq: 3 }),
  });

async function roundtripPredicate({ setup, saveMode, loadMode, bSteps, other }) {
  activate(setup.level);
  const { a, make } = pair(setup);
  const file = freshPath('roundtrip');
  await save(saveMode, file, a.opt);
  const saved = a.opt.stateDict();
  const b = make(bSteps);
  const r = await attemptAsync(() => load(loadMode, file, b.opt));
  if (!r.ok) fail(`loading a checkpoint just saved threw ${errorText(r.error)}`);
  check(deepDiff(a.opt.stateDict(), b.opt.stateDict(), 'stateDict() after the round trip'));
  b.params.forEach((p, i) => p.set(a.params[i]));
  const grads = gradsAt(setup, 40, 0);
  a.opt.step(copies(grads));
  b.opt.step(copies(grads));
  check(sameTraining(a.opt, a.params, b.opt, b.params, 'the optimizer that was saved'));
  if (other) {
    // Another optimizer's checkpoint: it loads only if it fits; if not, nothing changes.
    const c = pair(other).make(0);
    const twin = pair(other).make(0);
    const snap = snapshot(c.opt, c.params);
    const l = await attemptAsync(() => load(loadMode, file, c.opt));
    if (!l.ok) {
      check(errorProblem(l.error, { where: [...loaders(loadMode), `${other.name}.loadStateDict`] }), 'loading a checkpoint of another optimizer');
      check(changedSince(snap, c.opt, c.params), 'after the refused load of another optimizer\'s checkpoint');
    } else {
      twin.opt.loadStateDict(saved);
      check(deepDiff(twin.opt.stateDict(), c.opt.stateDict(), 'stateDict()'), 'a checkpoint that fits another optimizer loads as its state dict does');
    }
  }
  fs.rmSync(file, { force: true });
}

// ---------------------------------------------------------------------------------------------
// checkpoint.corruptBytes

const corruptArb = () =>
  fc.record({
    setup: setup1(),
    mode: fc.constantFrom('sync', 'async'),
    bSteps: fc.integer({ min: 0, max: 1 }),
    damage: fc.oneof(
      {
        weight: 4,
        arbitrary: fc.array(
          fc.record({
            region: fc.constantFrom('any', 'prefix', 'header', 'header', 'digits', 'numbers', 'numbers', 'data', 'padding'),
            at: fc.nat(4095),
            // Mostly single bit flips, the classic corruption; sometimes any byte.
            xor: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(1, 2, 4, 8, 16, 32, 64, 128) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 255 }) }),
          }),
          { minLength: 1, maxLength: 2 },
        ).map((flips) => ({ kind: 'flip', flips })),
      },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate'), at: fc.nat(4095) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('append'), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 9 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('whitespace'), at: fc.nat(255), to: fc.constantFrom(0x09, 0x0a, 0x0d, 0x20, 0x00, 0x7b, 0xa0) }) },
    ),
  });

async function corruptPredicate({ setup, mode, bSteps, damage }, contract = false) {
  activate(setup.level);
  const bytes = Buffer.from(await savedBytes(setup, mode));
  const { n, header } = split(bytes);
  const padding = header.length - header.trimEnd().length;
  let what;
  let out = bytes;
  if (damage.kind === 'flip') {
    // The header's digits: step counts, hyperparameters, offsets, shapes, the header length's.
    // The numbers of the metadata: hyperparameters and step counts (not the sha256).
    const digits = [...header].map((c, i) => (c >= '0' && c <= '9' ? 8 + i : -1)).filter((i) => i >= 0);
    const from = header.indexOf('"param_groups"'), to = header.indexOf('"sha256"');
    const numbers = digits.filter((i) => i - 8 > from && i - 8 < to);
    const original = Buffer.from(bytes);
    const spots = damage.flips.map(({ region, at, xor }) => {
      if (region === 'digits' || region === 'numbers') {
        const pool = region === 'digits' ? digits : numbers;
        if (!pool.length) return null;
        const i = pool[at % pool.length];
        // In a number, a flip of a low bit gives another digit: a plausible, silent corruption.
        const bit = region === 'numbers' ? (xor & 0x0f) || 1 : xor;
        out[i] ^= bit;
        return `byte ${i} ('${String.fromCharCode(original[i])}' in the header) ^= 0x${bit.toString(16)}`;
      }
      const [start, length] = region === 'prefix' ? [0, 8] : region === 'header' ? [8, n] : region === 'data' ? [8 + n, bytes.length - 8 - n]
        : region === 'padding' ? [8 + n - padding, padding] : [0, bytes.length];
      if (length <= 0) return null;
      const i = start + (at % length);
      out[i] ^= xor;
      return `byte ${i} ^= 0x${xor.toString(16)}`;
    }).filter(Boolean);
    if (spots.length === 0) return;
    what = `a checkpoint with ${spots.join(', ')} (header ${n} bytes, file ${bytes.length})`;
  } else if (damage.kind === 'truncate') {
    const at = damage.at % bytes.length;
    out = bytes.subarray(0, at);
    what = `a checkpoint truncated to ${at} of ${bytes.length} bytes`;
  } else if (damage.kind === 'append') {
    out = Buffer.concat([bytes, Buffer.from(damage.bytes)]);
    what = `a checkpoint with ${damage.bytes.length} bytes appended`;
  } else {
    // A byte of the header's padding set to JSON whitespace may load; anything else may not.
    if (padding === 0) return;
    const i = 8 + n - padding + (damage.at % padding);
    out[i] = damage.to;
    what = `a checkpoint with padding byte ${i} set to 0x${damage.to.toString(16)}`;
  }
  await judgeLoad({ setup, mode, bytes: out, bSteps, mayLoad: true, what, contract });
}

// ---------------------------------------------------------------------------------------------
// checkpoint.forgedHeader

const FORGERIES = [
  'shape', 'hugeShape', 'offsets', 'dtype', 'tensorName', 'metadata', 'duplicateKey', 'duplicateMetadata', 'lengthBeyond',
  'lengthShort', 'nonJson', 'reorder', 'pretty', 'stateNumbers',
];
const SHAPES = [[-1], [2 ** 31], [1.5], ['3'], [2, 1], [], null, 'n+1', [2 ** 53], [1e300], 'n*2^32'];
const OFFSETS = ['-4', 'end+4', 'shift4', 'reversed', '1e300', '2^64', 'end+0.5', 'string', 'one', 'null'];
const DTYPES = ['F16', 'F64', 'f32', undefined, 'BF16', 'I32', 5];
const NAMES = ['state.0.exp_avg ', 'state.-1.exp_avg', 'state.00.exp_avg', 'state.99999999999999999999.exp_avg', '__proto__', 'state.0.EXP_AVG', 'state.0.foo', 'state.0', 'constructor'];
const METADATA = ['delete', 'format', 'optimizer', 'paramGroupsNotJson', 'stateNotJson', 'sha256', 'notObject', 'extraKey', 'paramGroupsNaN', 'paramGroupsLr'];
const STATE_NUMBERS = [-1, 1.5, 2 ** 60, '3', null, 1e300];

const forgedArb = () =>
  fc.record({
    setup: setup1(),
    mode: fc.constantFrom('sync', 'async'),
    forgery: fc.constantFrom(...FORGERIES),
    pick: fc.nat(63),
    pick2: fc.nat(63),
  });

async function forgedPredicate({ setup, mode, forgery, pick, pick2 }, contract = false) {
  activate(setup.level);
  const bytes = await savedBytes(setup, mode);
  const { n, header, data } = split(bytes);
  const h = JSON.parse(header);
  const tensorKeys = Object.keys(h).filter((k) => k !== '__metadata__');
  const key = tensorKeys.length ? tensorKeys[pick % tensorKeys.length] : null;
  const t = key ? h[key] : null;
  let text = null;
  let out = null;
  let mustRefuse = true;
  let what = forgery;
  switch (forgery) {
    case 'shape': {
      if (!t) return;
      const v = SHAPES[pick2 % SHAPES.length];
      t.shape = v === 'n+1' ? [t.shape[0] + 1] : v === 'n*2^32' ? [t.shape[0] + 2 ** 32] : v;
      what = `a header with ${key}.shape ${JSON.stringify(t.shape)}`;
      break;
    }
    case 'hugeShape': {
      // A consistent claim of 2^31 floats: the file is far too short, and must be refused fast.
      if (!t) return;
      t.shape = [2 ** 31];
      t.data_offsets = [t.data_offsets[0], t.data_offsets[0] + 2 ** 33];
      what = `a header claiming ${key} has 2^31 floats`;
      break;
    }
    case 'offsets': {
      if (!t) return;
      const [b, e] = t.data_offsets;
      const v = OFFSETS[pick2 % OFFSETS.length];
      const forged = { '-4': [-4, e], 'end+4': [b, e + 4], shift4: [b + 4, e + 4], reversed: [e, b], '1e300': [b, 1e300], '2^64': [b, '2^64'],
        'end+0.5': [b, e + 0.5], string: [String(b), e], one: [b], null: null }[v];
      // An empty tensor reversed is itself; shifted, it may land on the next tensor's start, where
      // the offsets still cover the data in order (safetensors' rule): a valid file, the same state.
      if ((v === 'reversed' || v === 'shift4') && b === e) return;
      t.data_offsets = forged;
      what = `a header with ${key}.data_offsets ${v}`;
      if (v === '2^64') {
        text = JSON.stringify(h).replace('"2^64"', '18446744073709551616');
      }
      break;
    }
    case 'dtype':
      if (!t) return;
      t.dtype = DTYPES[pick2 % DTYPES.length];
      what = `a header with ${key}.dtype ${JSON.stringify(t.dtype)}`;
      break;
    case 'tensorName': {
      if (!key) return;
      const name = NAMES[pick2 % NAMES.length];
      const rebuilt = {};
      for (const [k, v] of Object.entries(h)) {
        if (k === key) Object.defineProperty(rebuilt, name, { value: v, enumerable: true, writable: true, configurable: true });
        else rebuilt[k] = v;
      }
      text = JSON.stringify(rebuilt);
      mustRefuse = false; // a name the loader reads as the same tensor is the same file
      what = `a header with ${key} renamed ${JSON.stringify(name)}`;
      break;
    }
    case 'metadata': {
      const m = h.__metadata__;
      const v = METADATA[pick2 % METADATA.length];
      if (v === 'delete') delete h.__metadata__;
      else if (v === 'format') m.format = 'simd-optim.optimizer/9';
      else if (v === 'optimizer') m.optimizer = setup.name === 'Adam' ? 'AdamW' : 'Adam';
      else if (v === 'paramGroupsNotJson') m.param_groups = m.param_groups.slice(0, -1);
      else if (v === 'stateNotJson') m.state = `${m.state}}`;
      else if (v === 'sha256') m.sha256 = m.sha256.replace(/^./, (c) => (c === '0' ? '1' : '0'));
      else if (v === 'notObject') h.__metadata__ = [m];
      else if (v === 'extraKey') {
        m.note = 'x';
        mustRefuse = false;
      } else if (v === 'paramGroupsNaN') m.param_groups = m.param_groups.replace(/"lr":[^,}]+/, '"lr":NaN');
      else m.param_groups = m.param_groups.replace(/"lr":([^,}]+)/, (_, x) => `"lr":${Number(x) + 0.25}`);
      what = `a header with __metadata__ ${v}`;
      break;
    }
    case 'stateNumbers': {
      const m = h.__metadata__;
      const state = JSON.parse(m.state);
      const ids = Object.keys(state).filter((id) => 'step' in state[id]);
      if (!ids.length) return;
      const v = STATE_NUMBERS[pick2 % STATE_NUMBERS.length];
      state[ids[pick % ids.length]].step = v;
      m.state = JSON.stringify(state);
      what = `a header whose state has step ${JSON.stringify(v)}`;
      break;
    }
    case 'duplicateKey': {
      if (!key) return;
      const entry = `${JSON.stringify(key)}:${JSON.stringify(t)}`;
      text = JSON.stringify(h).replace(/}$/, `,${entry}}`);
      what = `a header with the key ${key} twice`;
      break;
    }
    case 'duplicateMetadata': {
      const entry = `"__metadata__":${JSON.stringify(h.__metadata__)}`;
      text = JSON.stringify(h).replace(/^{/, `{${entry},`);
      what = 'a header with __metadata__ twice';
      break;
    }
    case 'lengthBeyond': {
      const claims = [BigInt(bytes.length), BigInt(n + data.length + 1), 2n ** 53n, 2n ** 64n - 1n, BigInt(n) + 8n];
      const claim = claims[pick2 % claims.length];
      out = Buffer.from(bytes);
      out.writeBigUInt64LE(claim);
      what = `a header length of ${claim} in a file of ${bytes.length} bytes`;
      break;
    }
    case 'lengthShort': {
      const claim = BigInt(Math.max(0, n - 1 - (pick2 % Math.max(1, n))));
      out = Buffer.from(bytes);
      out.writeBigUInt64LE(claim);
      mustRefuse = false; // cutting only padding leaves the same JSON, but the data then starts early
      what = `a header length of ${claim} instead of ${n}`;
      break;
    }
    case 'nonJson': {
      const variants = ['[]', 'null', '"header"', '{', `\ufeff${header.trimEnd()}`, header.trimEnd().replace('{', '{,'), 'x'.repeat(n)];
      text = variants[pick2 % variants.length];
      what = `a header that is ${JSON.stringify(text.slice(0, 20))}`;
      break;
    }
    case 'reorder': {
      const rebuilt = {};
      for (const k of [...tensorKeys].reverse()) rebuilt[k] = h[k];
      rebuilt.__metadata__ = h.__metadata__;
      text = JSON.stringify(rebuilt);
      mustRefuse = false;
      what = 'a header with its keys in another order';
      break;
    }
    case 'pretty':
      text = JSON.stringify(h, null, 2);
      mustRefuse = false;
      what = 'a header written with other whitespace';
      break;
    default:
      throw new Error(forgery);
  }
  if (!out) out = join(text ?? JSON.stringify(h), data);
  await judgeLoad({ setup, mode, bytes: out, bSteps: 0, mayLoad: !mustRefuse, what, contract });
}

// ---------------------------------------------------------------------------------------------
// checkpoint.arguments

const argumentsArb = () =>
  fc.record({
    setup: setup1(),
    mode: fc.constantFrom('sync', 'async'),
    op: fc.constantFrom('load', 'save'),
    file: fc.constantFrom('missing', 'directory', 'missingDir', 'emptyString', 'number', 'null', 'buffer', 'url'),
    optimizer: fc.constantFrom('real', 'real', 'real', 'null', 'object', 'stateDictOnly', 'string'),
  });

async function argumentsPredicate({ setup, mode, op, file, optimizer }) {
  activate(setup.level);
  const { a } = pair(setup);
  const target = { opt: a.opt, params: a.params };
  const paths = {
    missing: path.join(dir, 'does-not-exist.safetensors'),
    directory: dir,
    missingDir: path.join(dir, 'no-such-dir', 'x.safetensors'),
    emptyString: '',
    number: 42,
    null: null,
    buffer: Buffer.from(path.join(dir, 'x.safetensors')),
    url: new URL(`file://${path.join(dir, 'x.safetensors')}`),
  };
  const opts = { real: a.opt, null: null, object: {}, stateDictOnly: { stateDict: () => a.opt.stateDict() }, string: 'Adam' };
  const fn = `${op}Checkpoint${mode === 'async' ? 'Async' : ''}`;
  const snap = snapshot(target.opt, target.params);
  const r = await attemptAsync(() => lib[fn](paths[file], opts[optimizer]));
  const leftovers = [dir, path.dirname(dir)].flatMap((d) => fs.readdirSync(d).filter((f) => f.endsWith('.tmp') && f.includes(String(process.pid))));
  if (leftovers.length) fail(`${fn}(${file}) left a temporary file behind: ${leftovers}`);
  check(changedSince(snap, target.opt, target.params), `after ${fn}(${file}, ${optimizer})`);
  const cleanUp = () => ['missing', 'buffer', 'url'].forEach((f) => fs.rmSync(path.join(dir, f === 'missing' ? 'does-not-exist.safetensors' : 'x.safetensors'), { force: true }));
  const call = `${fn}(${file}, ${optimizer})`;
  const pathKind = ['missing', 'directory', 'missingDir'].includes(file) ? 'fs' : ['buffer', 'url'].includes(file) ? 'pathLike' : 'bad';
  const typeError = (names) => {
    if (r.ok) fail(`${call} succeeded`);
    check(errorProblem(r.error, { where: fn, names, kinds: [TypeError] }), call);
  };
  const fsError = (code) => {
    if (r.ok) fail(`${call} succeeded`);
    // The file system's own errors pass through: Node's error, with its code.
    if (!(r.error instanceof Error) || typeof r.error.code !== 'string') fail(`${call} threw ${errorText(r.error)}, not Node's file-system error`);
    if (code && r.error.code !== code) fail(`${call} threw ${errorText(r.error)} (code ${r.error.code}), expected Node's ${code}`);
  };
  try {
    if (optimizer !== 'real') return typeError(pathKind === 'fs' ? ['optimizer'] : ['optimizer', 'path']);
    if (pathKind === 'bad') return typeError(['path']);
    if (pathKind === 'pathLike' && !r.ok && r.error instanceof TypeError && !r.error.code) return typeError(['path']);
    if (op === 'save') {
      if (file === 'missing' || pathKind === 'pathLike') {
        if (!r.ok) fail(`${call} threw ${errorText(r.error)}`);
        return;
      }
      return fsError(file === 'missingDir' ? 'ENOENT' : null);
    }
    return fsError(file === 'directory' ? 'EISDIR' : 'ENOENT');
  } finally {
    cleanUp();
  }
}

export const properties = [
  { name: 'checkpoint.roundtrip', arbitrary: roundtripArb(), predicate: roundtripPredicate, async: true, weight: 0.5 },
  { name: 'checkpoint.corruptBytes', arbitrary: corruptArb(), predicate: (x) => corruptPredicate(x), async: true },
  { name: 'checkpoint.forgedHeader', arbitrary: forgedArb(), predicate: (x) => forgedPredicate(x), async: true },
  {
    name: 'checkpoint.refusalErrors',
    arbitrary: fc.oneof(corruptArb().map((x) => ({ ...x, source: 'corrupt' })), forgedArb().map((x) => ({ ...x, source: 'forged' }))),
    predicate: (x) => (x.source === 'corrupt' ? corruptPredicate(x, true) : forgedPredicate(x, true)),
    async: true,
  },
  { name: 'checkpoint.arguments', arbitrary: argumentsArb(), predicate: argumentsPredicate, async: true, weight: 0.5 },
];
