// The params of one group at one step count share their step's scalars (computed once); params
// at other step counts, or in other groups, must get their own. Each param here is compared with a
// param stepped alone by its own optimizer with its group's options, on every backend and level.
import { describe, expect, test } from 'vitest';

import { Adadelta, Adagrad, Adam, Adamax, AdamW, Lion, NAdam, RAdam, RMSprop, SGD } from '../lib/index.js';
import { backendsUnderTest, describeBitDifference, normal, rng } from './helpers.js';

type Group = { params: Float32Array[]; [option: string]: unknown };
type Make = (groups: Group[]) => { step(g: (Float32Array | null)[]): boolean };
const MAKERS: [string, Make][] = [
  ['Adam', (g) => new Adam(g as never, { amsgrad: true })],
  ['AdamW', (g) => new AdamW(g as never)],
  ['Adagrad', (g) => new Adagrad(g as never, { lrDecay: 0.1 })],
  ['RMSprop', (g) => new RMSprop(g as never, { centered: true })],
  ['Adadelta', (g) => new Adadelta(g as never)],
  ['Adamax', (g) => new Adamax(g as never)],
  ['RAdam', (g) => new RAdam(g as never)],
  ['Lion', (g) => new Lion(g as never)],
  ['NAdam', (g) => new NAdam(g as never)],
  ['SGD', (g) => new SGD(g as never, { lr: 0.1, momentum: 0.9 })],
];
const GROUP_OPTIONS = [{ lr: 0.01 }, { lr: 0.003 }];
const SIZES = [[5, 3, 7], [4, 6]];
// Which params take a gradient at each step: step counts drift apart within each group.
const TAKES = [[1, 1, 1, 1, 1], [1, 0, 1, 1, 0], [0, 1, 1, 0, 1], [1, 1, 0, 1, 1], [1, 0, 1, 0, 1]];

describe.each(backendsUnderTest())('on $label', ({ activate }) => {
  test.each(MAKERS)('%s: params at different step counts and in different groups keep their own scalars', (_name, make) => {
    activate();
    const random = rng(4);
    const init = SIZES.map((sizes) => sizes.map((n) => normal(random, n)));
    const together = init.map((ps) => ps.map((p) => p.slice()));
    const opt = make(together.map((params, g) => ({ params, ...GROUP_OPTIONS[g] })));
    const alone = init.flatMap((ps, g) => ps.map((p) => ({ param: p.slice(), opt: null as ReturnType<Make> | null, g })));
    for (const a of alone) a.opt = make([{ params: [a.param], ...GROUP_OPTIONS[a.g] }]);
    for (const takes of TAKES) {
      const grads = alone.map((a, i) => (takes[i] ? normal(random, a.param.length) : null));
      opt.step(grads);
      alone.forEach((a, i) => grads[i] && a.opt!.step([grads[i]]));
    }
    const flat = together.flat();
    expect(flat.map((p, i) => describeBitDifference(`params[${i}]`, p, alone[i]!.param)).filter(Boolean)).toEqual([]);
  });
});
