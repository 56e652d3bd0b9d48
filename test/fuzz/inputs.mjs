// Gradient lists as hostile callers build them: elements of every wrong kind, disguised by
// subclasses, own properties and Proxies; and the oracle that judges a list by what its elements
// really are (intrinsic length, buffer and offset).
import { detach, disguise, fc, isRealF32, realLength, realOverlap, realView, seedArb, values } from './support.mjs';

/**
 * good: right length, fresh memory        nan: good, with a NaN or an infinity in it
 * null/undefined: no gradient             alias: the param's own memory
 * aliasOther: another param's memory      overlapPart: a view straddling the param's memory
 * wrongLength: one float more or fewer     f64 / array / string: not a Float32Array
 * detached: a Float32Array whose buffer was detached
 */
export const ELEMENT_KINDS = ['good', 'good', 'good', 'nan', 'null', 'undefined', 'alias', 'aliasOther', 'overlapPart', 'wrongLength', 'f64', 'array', 'string', 'detached'];
export const DISGUISES = ['plain', 'plain', 'plain', 'subclass', 'lyingLength', 'ownLength', 'lyingBuffer', 'ownBuffer', 'proxy'];

export const elementArb = (kinds = ELEMENT_KINDS, disguises = DISGUISES) =>
  fc.record({ kind: fc.constantFrom(...kinds), disguise: fc.constantFrom(...disguises), seed: seedArb(), delta: fc.constantFrom(-1, 1, 2) });

/** The value an element descriptor stands for, as gradient i of `params`. */
export function buildElement(desc, i, params, special = 0) {
  const n = realLength(params[i]);
  let view;
  switch (desc.kind) {
    case 'good':
      view = values(desc.seed, n, special);
      break;
    case 'nan':
      view = values(desc.seed, n, special);
      if (n > 0) view[desc.seed % n] = [NaN, Infinity, -Infinity][desc.seed % 3];
      break;
    case 'null':
      return null;
    case 'undefined':
      return undefined;
    case 'alias':
      view = params[i];
      break;
    case 'aliasOther': {
      const j = (i + 1) % params.length;
      const other = realView(params[j]);
      view = other.length >= n && n > 0 ? new Float32Array(other.buffer, other.byteOffset, n) : params[i];
      break;
    }
    case 'overlapPart': {
      // n floats starting inside the param when its buffer has room, else the param itself.
      const p = realView(params[i]);
      const room = p.buffer.byteLength - p.byteOffset - 4;
      view = n > 1 && room >= 4 * n ? new Float32Array(p.buffer, p.byteOffset + 4, n) : params[i];
      break;
    }
    case 'wrongLength':
      view = values(desc.seed, n + desc.delta >= 0 ? n + desc.delta : n + 1, special);
      break;
    case 'f64':
      return new Float64Array(n);
    case 'array':
      return Array.from({ length: n }, () => 0);
    case 'string':
      return 'grad';
    case 'detached': {
      const a = new Float32Array(n);
      detach(a.buffer);
      return a;
    }
    default:
      throw new Error(`unknown element kind ${desc.kind}`);
  }
  return disguise(desc.disguise, view, n);
}

/**
 * What is wrong with a gradient list (a plain array: the snapshot a correct implementation
 * takes) for these params: { invalid, either } lists of names.
 */
export function gradProblems(list, params, name = 'grads') {
  const problems = { invalid: [], either: [] };
  if (!Array.isArray(list)) {
    problems.invalid.push(name);
    return problems;
  }
  if (list.length !== params.length) {
    problems.invalid.push(name);
    return problems;
  }
  list.forEach((g, i) => {
    if (g === null || g === undefined) return;
    const label = `${name}[${i}]`;
    if (!isRealF32(g)) {
      problems.invalid.push(label);
      return;
    }
    if (realLength(g) !== realLength(params[i])) problems.invalid.push(label, `params[${i}]`);
    params.forEach((p, j) => {
      if (realOverlap(g, p)) problems.invalid.push(label, `params[${j}]`);
    });
    // The same zero-length array as its param shares no byte: the specification leaves it open.
    if (g === params[i] && realLength(g) === 0) problems.either.push(label);
  });
  return problems;
}

/** Whether any element of a (snapshot) list holds a NaN or an infinity. */
export function hasNonFinite(list) {
  return list.some((g) => isRealF32(g) && realLength(g) > 0 && new Float32Array(realView(g).buffer, realView(g).byteOffset, realLength(g)).some((x) => !Number.isFinite(x)));
}
