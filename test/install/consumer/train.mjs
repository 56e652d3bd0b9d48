// The same loop as an ES module consumer writes it, through the default import.
import simd from 'simd-optim';
import { createRequire } from 'node:module';

const { train } = createRequire(import.meta.url)('./loop.cjs');
console.log(JSON.stringify(train(simd)));
