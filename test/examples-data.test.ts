// The examples on real data, run shortened (--quick) in a child process that inherits this
// project's SIMD_OPTIM_BACKEND: the MNIST MLP (its hand-written backprop passes gradcheck, every
// optimizer learns far beyond chance, the loss-curve SVG has a line per optimizer) and iris
// (standardised features train smoothly to a high test accuracy, raw ones at the same rate do not).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect, test } from 'vitest';

const ROOT = path.resolve(__dirname, '..');
const OPTIMIZERS = ['Adam', 'AdamW', 'Adagrad', 'RMSprop', 'SGD', 'SGD+momentum', 'SGD+Nesterov', 'Adadelta', 'Adamax', 'NAdam', 'RAdam', 'Lion', 'SWATS'];

function runExample(file: string, args: string[]) {
  const run = spawnSync(process.execPath, [path.join(ROOT, 'examples', file), ...args], { encoding: 'utf8', timeout: 60_000 });
  expect(run.error).toBeUndefined();
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  return run.stdout;
}

/** The cells of the table row that starts with `label` (followed by two spaces), or null. */
function row(stdout: string, label: string): string[] | null {
  const line = stdout.split('\n').find((l) => l.startsWith(`${label}  `));
  return line === undefined ? null : line.slice(label.length).trim().split(/\s{2,}/);
}

const percent = (cell: string): number => Number(cell.replace('%', '')) / 100;

test('examples/mnist-mlp.mjs --quick: gradcheck passes, every optimizer learns, the SVG has a line per optimizer', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'simd-optim-mnist-'));
  try {
    const svgPath = path.join(dir, 'loss.svg');
    const stdout = runExample('mnist-mlp.mjs', ['--quick', '--out', svgPath]);
    expect(stdout).toMatch(/^gradcheck: passed/m);
    expect(stdout).toMatch(/^checkDirectional: passed/m);

    const accuracies = OPTIMIZERS.map((name) => {
      const cells = row(stdout, name);
      expect(cells, `no table row for ${name}`).not.toBeNull();
      const [, accuracy, trainLoss] = cells!;
      // Chance is 10% and a loss of ln 10 = 2.303; after one epoch on 3,000 digits every optimizer
      // is far past both (RAdam, still warming its rate up, is the slowest: 58%, loss 1.72). A
      // wrong gradient or an optimizer that does not move (or moves the wrong way) stays near chance.
      expect(percent(accuracy!), `${name}'s test accuracy`).toBeGreaterThan(0.45);
      expect(Number(trainLoss), `${name}'s training loss`).toBeLessThan(2);
      return percent(accuracy!);
    });
    expect(Math.max(...accuracies)).toBeGreaterThan(0.8);

    expect(existsSync(svgPath)).toBe(true);
    const svg = readFileSync(svgPath, 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    // One line mark per optimizer, each labelled with its name (vega's aria-label of the line).
    expect(svg.match(/aria-roledescription="line mark"/g)?.length).toBe(OPTIMIZERS.length);
    for (const name of OPTIMIZERS) expect(svg).toContain(`optimizer: ${name}"`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);

test('examples/iris.mjs --quick: standardised features train smoothly and generalise; raw ones at the same rate do not', () => {
  const stdout = runExample('iris.mjs', ['--quick']);
  expect(stdout).toMatch(/^gradcheck of the softmax regression's gradient: passed/m);

  // Cells: lr, the training loss after each reported epoch, train accuracy, test accuracy.
  const scaled = row(stdout, 'standardised features')!, raw = row(stdout, 'raw features')!;
  expect(scaled).not.toBeNull();
  expect(raw).not.toBeNull();
  const losses = (cells: string[]) => cells.slice(1, -2).map(Number);
  expect(losses(scaled).length).toBeGreaterThanOrEqual(4);
  // Scaled: the loss falls at every reported epoch, well below ln 3 (a constant guess).
  losses(scaled).forEach((loss, k, all) => { if (k > 0) expect(loss).toBeLessThan(all[k - 1]!); });
  expect(losses(scaled).at(-1)).toBeLessThan(0.3);
  expect(percent(scaled.at(-1)!)).toBeGreaterThan(0.85);
  // Raw, at the same rate: ends with a larger loss than scaled, having gone above ln 3 on the way.
  expect(raw[0]).toBe(scaled[0]);
  expect(losses(raw).at(-1)).toBeGreaterThan(losses(scaled).at(-1)!);
  expect(Math.max(...losses(raw))).toBeGreaterThan(Math.log(3));
}, 60_000);

test('examples/swats.mjs: SWATS trains as Adam, switches to SGD with a projected rate, and reaches the loss floor', () => {
  const stdout = runExample('swats.mjs', []);
  const switched = stdout.match(/SWATS switched to SGD at step (\d+) \(epoch (\d+)\) with lr ([0-9.e-]+)/);
  expect(switched).not.toBeNull();
  const [, step, , lr] = switched!;
  expect(Number(step)).toBeGreaterThan(1);
  expect(Number(lr)).toBeGreaterThan(0);
  const losses = (label: string) => stdout.split('\n')[stdout.split('\n').findIndex((l) => l.startsWith(label)) + 1]!.trim().split('\t').map(Number);
  const adam = losses('Adam'), swats = losses('SWATS');
  // Identical to Adam until the switch (epoch 79 here: the first four reports), and as low at the end.
  expect(swats.slice(0, 4)).toEqual(adam.slice(0, 4));
  expect(swats.at(-1)).toBeLessThanOrEqual(adam.at(-1)! * 1.01);
}, 60_000);
