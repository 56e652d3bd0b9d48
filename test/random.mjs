// mulberry32: a small seedable generator, good enough for test data. Shared by the TypeScript
// suites (test/helpers.ts) and the fuzz properties (test/fuzz/), which run as plain JavaScript.

/** @param {number} seed @returns {() => number} uniform in [0, 1) */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
