// The benchmark's inputs: deterministic values, the same in every row and every run.

/** Values in [-scale, scale) from a linear congruential generator seeded with `seed`. */
export function randomValues(n, seed, scale = 1) {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = ((s / 4294967296) * 2 - 1) * scale;
  }
  return a;
}
