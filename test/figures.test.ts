// The lecture notes' figures (examples/lecture-figures.mjs), drawn once into a temporary directory
// by a child process that inherits this project's SIMD_OPTIM_BACKEND: every figure is an SVG with
// one line per optimizer, learning rate or schedule, and the runs behind them do what the figures
// are there to show (read from the summary tables the script prints).
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';

const ROOT = path.resolve(__dirname, '..');
const OPTIMIZERS = ['SGD', 'SGD+momentum', 'SGD+Nesterov', 'Adagrad', 'RMSprop', 'Adadelta', 'Adam'];
const LEARNING_RATES = ['lr 0.01: too small', 'lr 0.077: about right', 'lr 0.079: too large', 'lr 0.085: far too large'];
const SCHEDULES = ['StepLR', 'InverseTimeLR', 'InverseSqrtLR', 'ExponentialLR'];

// Each file, the legend field its lines are labelled with, and the series it must show, in order.
const FIGURES: Record<string, { field: string; series: string[] }> = {
  'trajectories-quadratic.svg': { field: 'optimizer', series: OPTIMIZERS },
  'trajectories-rosenbrock.svg': { field: 'optimizer', series: OPTIMIZERS },
  'trajectories-beale.svg': { field: 'optimizer', series: OPTIMIZERS },
  'trajectories-saddle.svg': { field: 'optimizer', series: OPTIMIZERS },
  'learning-rates.svg': { field: 'learning rate', series: LEARNING_RATES },
  'schedules.svg': { field: 'schedule', series: SCHEDULES },
};

let dir = '';
let run: SpawnSyncReturns<string>;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'simd-optim-figures-'));
  run = spawnSync(process.execPath, [path.join(ROOT, 'examples', 'lecture-figures.mjs'), '--out', dir], { encoding: 'utf8', timeout: 60_000 });
}, 60_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/**
 * The rows of the table printed under the line that starts with `heading: `, by their first cell:
 * the rows are the indented lines after the column titles, their cells split at 2+ spaces.
 */
function table(heading: string): Map<string, string[]> {
  const lines = run.stdout.split('\n');
  const start = lines.findIndex((line) => line.startsWith(`${heading}: `));
  expect(start, `no table "${heading}" in the output`).toBeGreaterThanOrEqual(0);
  const rows = new Map<string, string[]>();
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('  ')) break;
    const [label, ...cells] = line.trim().split(/\s{2,}/);
    rows.set(label!, cells);
  }
  return rows;
}

/** The numbers of one optimizer's row of a trajectory table: final x, final y, final f and the last column. */
function ending(surface: string, optimizer: string): { x: number; y: number; f: number; last: string } {
  const cells = table(surface).get(optimizer);
  expect(cells, `no row for ${optimizer} in the ${surface} table`).toBeDefined();
  const [, x, y, f, last] = cells!;
  return { x: Number(x), y: Number(y), f: Number(f), last: last! };
}

test('the script exits 0 with nothing on stderr and writes every figure, each an SVG with a line per series', () => {
  expect(run.error).toBeUndefined();
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  expect(readdirSync(dir).sort()).toEqual(Object.keys(FIGURES).sort());

  for (const [file, { field, series }] of Object.entries(FIGURES)) {
    const svg = readFileSync(path.join(dir, file), 'utf8');
    expect(svg.startsWith('<svg'), file).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>'), file).toBe(true);
    // Each labelled line mark is one series; vega's aria-label lists its fields as "name: value; ...".
    const labels = [...svg.matchAll(/<path aria-label="([^"]*)" role="graphics-symbol" aria-roledescription="line mark"/g)].map((m) => m[1]!);
    const shown = labels.map((label) => label.split('; ').find((part) => part.startsWith(`${field}: `))?.slice(field.length + 2));
    if (file === 'schedules.svg') expect(shown.map((name) => name?.split(':')[0]), file).toEqual(series);
    else expect(shown, file).toEqual(series);
  }
});

test('trajectory figures draw contour lines, a legend, the start and the minimum (or the saddle point)', () => {
  for (const surface of ['quadratic', 'rosenbrock', 'beale', 'saddle']) {
    const svg = readFileSync(path.join(dir, `trajectories-${surface}.svg`), 'utf8');
    // The contour lines are the line paths without an aria-label: at least one per level drawn.
    const contourPaths = svg.match(/<path d="M[^"]*L[^"]*"[^>]*stroke="#c8c8c8"/g) ?? [];
    expect(contourPaths.length, surface).toBeGreaterThanOrEqual(9);
    expect(svg, surface).toContain("Symbol legend titled 'optimizer'");
    expect(svg, surface).toContain('>start</text>');
    expect(svg, surface).toContain(surface === 'saddle' ? '>saddle point</text>' : '>minimum (');
    expect(svg, surface).toMatch(/X-axis titled 'x'/);
    expect(svg, surface).toMatch(/Y-axis titled 'y'/);
  }
});

test('on the elongated bowl every optimizer but Adadelta (at its default lr 1) ends at the minimum', () => {
  for (const optimizer of OPTIMIZERS.filter((name) => name !== 'Adadelta')) {
    expect(Number(ending('quadratic', optimizer).last), optimizer).toBeLessThan(0.01);
  }
  // Adadelta's steps start near sqrt(eps) and grow slowly: it has moved towards the minimum, from
  // 9.49 away, but after 150 steps is still most of the way off.
  const adadelta = Number(ending('quadratic', 'Adadelta').last);
  expect(adadelta).toBeLessThan(9.4);
  expect(adadelta).toBeGreaterThan(5);
});

test("on Rosenbrock's valley every optimizer descends, and momentum, Nesterov and Adam reach the minimum", () => {
  const startLoss = (1 + 1.2) ** 2 + 100 * (1 - 1.44) ** 2;  // f(-1.2, 1) = 24.2
  for (const optimizer of OPTIMIZERS) expect(ending('rosenbrock', optimizer).f, optimizer).toBeLessThan(startLoss / 10);
  for (const optimizer of ['SGD+momentum', 'SGD+Nesterov', 'Adam']) {
    expect(Number(ending('rosenbrock', optimizer).last), optimizer).toBeLessThan(0.01);
  }
});

test("on Beale's function the adaptive methods reach the minimum, the gradient followers the flat valley", () => {
  for (const optimizer of ['Adagrad', 'RMSprop', 'Adam']) {
    expect(Number(ending('beale', optimizer).last), optimizer).toBeLessThan(0.05);
  }
  for (const optimizer of ['SGD', 'SGD+momentum', 'SGD+Nesterov', 'Adadelta']) {
    const { x, y } = ending('beale', optimizer);
    expect(x, optimizer).toBeLessThan(0);
    expect(y, optimizer).toBeGreaterThan(1);
    expect(y, optimizer).toBeLessThan(1.6);
  }
});

test('on the saddle the momentum and adaptive methods escape, plain SGD is still there', () => {
  for (const optimizer of OPTIMIZERS.filter((name) => name !== 'SGD')) {
    const { y, last } = ending('saddle', optimizer);
    expect(last, optimizer).toMatch(/^at step \d+$/);
    expect(Math.abs(y), optimizer).toBeGreaterThan(1);
  }
  const sgd = ending('saddle', 'SGD');
  expect(sgd.last).toBe('no');
  expect(Math.abs(sgd.y)).toBeLessThan(0.05);
  expect(Math.abs(sgd.x)).toBeLessThan(0.2);  // it did roll down to the saddle along x
  expect(readFileSync(path.join(dir, 'trajectories-saddle.svg'), 'utf8')).toContain('still near the saddle after 100 steps: SGD;');
});

test('learning rates: about right beats too small and too large; far too large diverges, the others do not', () => {
  const rows = table('learning rates');
  const [small, right, large, farTooLarge] = LEARNING_RATES.map((series) => {
    const cells = rows.get(series);
    expect(cells, series).toBeDefined();
    return { lossAt80: Number(cells![2]), diverged: cells![3]! };
  });
  expect(right!.lossAt80).toBeLessThan(1e-3);
  expect(large!.lossAt80).toBeGreaterThan(100 * right!.lossAt80);
  expect(small!.lossAt80).toBeGreaterThan(large!.lossAt80);
  for (const stable of [small!, right!, large!]) expect(stable.diverged).toBe('no');
  expect(farTooLarge!.diverged).toMatch(/^at step \d+$/);
  expect(farTooLarge!.lossAt80).toBeGreaterThan(1e5);
});

test("schedules: the rates read from the package's schedulers follow their formulas", () => {
  // Columns: t = 0, 1, 10, 29, 30, 99; base lr 0.1.
  const rates = (schedule: string) => table('schedules').get(schedule)!.map(Number);
  const close = (actual: number[], expected: number[]) => actual.forEach((value, k) => expect(value).toBeCloseTo(expected[k]!, 4));
  close(rates('StepLR'), [0.1, 0.1, 0.1, 0.1, 0.05, 0.0125]);
  close(rates('InverseTimeLR'), [0, 1, 10, 29, 30, 99].map((t) => 0.1 / (1 + 0.1 * t)));
  close(rates('InverseSqrtLR'), [0, 1, 10, 29, 30, 99].map((t) => 0.1 / Math.sqrt(t + 1)));
  close(rates('ExponentialLR'), [0, 1, 10, 29, 30, 99].map((t) => 0.1 * 0.97 ** t));
});
