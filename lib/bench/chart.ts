/**
 * SVG charts of benchmark runs and comparisons, drawn with vega-lite and vega without a browser.
 * Both are optional (devDependencies): they are loaded only when a chart is asked for, so that the
 * rest of the bench API works without them.
 */
import type { TopLevelSpec as VegaLiteSpec } from 'vega-lite' with { 'resolution-mode': 'import' };

import { sizeLabel } from './compare.js';
import { median } from './measure.js';
import type { BenchRun, Comparison, RowKind, Verdict } from './types.js';

type Vega = typeof import('vega', { with: { 'resolution-mode': 'import' } });
type VegaLite = typeof import('vega-lite', { with: { 'resolution-mode': 'import' } });

/** Options shared by the charts. */
export interface ChartOptions {
  /** The chart's title; each chart has a default made from its input. */
  readonly title?: string;
}

/**
 * vega and vega-lite, loaded on first use. They are ESM-only; this file compiles to CommonJS, where
 * TypeScript keeps `import()` as a real dynamic import, which can load ESM.
 */
async function loadVega(): Promise<{ vega: Vega; vegaLite: VegaLite }> {
  try {
    const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')]);
    return { vega, vegaLite };
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new Error('Charts need vega and vega-lite: npm install --save-dev vega vega-lite', { cause: error });
    }
    throw error;
  }
}

/** Compiles a vega-lite spec and renders it headless (renderer 'none': no canvas, no DOM). */
async function renderSvg(spec: VegaLiteSpec): Promise<string> {
  const { vega, vegaLite } = await loadVega();
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none' });
  try {
    await view.runAsync();
    // Clip-path ids come from a module-wide counter; restarting it keeps equal inputs byte-identical.
    vega.resetSVGDefIds();
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** The same formatting as a vega expression of `datum.value`, for axis labels. */
const ELEMENTS_LABEL_EXPR =
  "datum.value >= 1048576 ? format(datum.value / 1048576, '.3~r') + 'M'" +
  " : datum.value >= 1024 ? format(datum.value / 1024, '.3~r') + 'K' : format(datum.value, '~r')";

// Colours by kind, so a peer can never be mistaken for one of the package's own configurations:
// the package in blues, greens and purples, the ceiling in greys, peers in oranges and reds.
const PALETTES: Readonly<Record<RowKind, readonly string[]>> = {
  package: ['#4c78a8', '#54a24b', '#b279a2', '#72b7b2', '#9d755d', '#1f3d7a', '#88d27a', '#6b3d9a', '#17becf'],
  ceiling: ['#7f7f7f', '#404040', '#b0b0b0'],
  peer: ['#f58518', '#e45756', '#ff9da6', '#b5540b', '#9e1b32'],
};
const KIND_ORDER: readonly RowKind[] = ['package', 'ceiling', 'peer'];
const CEILING_DASH = [6, 4];

const VERDICT_COLOURS: Readonly<Record<Verdict, string>> = {
  slower: '#d62728',
  faster: '#2ca02c',
  'no significant change': '#8c8c8c',
};

/** Facet columns: all tables in one row up to 4, else 3 or 4, whichever leaves fewer empty cells. */
function facetColumns(tables: number): number {
  if (tables <= 4) return Math.max(tables, 1);
  const emptyCells = (columns: number): number => Math.ceil(tables / columns) * columns - tables;
  return emptyCells(3) < emptyCells(4) ? 3 : 4;
}

/**
 * One SVG for a whole run: a small chart per table, nanoseconds per element (median of the
 * samples) against elements per call, both on log scales, with a line per series. The package's
 * configurations, the memory ceiling (dashed) and other libraries each take colours of their own.
 */
export async function runChart(run: BenchRun, options: ChartOptions = {}): Promise<string> {
  const points: { table: string; series: string; kind: RowKind; elements: number; ns: number }[] = [];
  const tables: string[] = [];
  const kindOfSeries = new Map<string, RowKind>();
  for (const row of Object.values(run.rows)) {
    const ns = median(row.samples);
    // A log scale cannot place zero, negative or missing times; such rows have nothing to show.
    if (!(ns > 0 && Number.isFinite(ns)) || !(row.elements > 0)) continue;
    points.push({ table: row.table, series: row.series, kind: row.kind, elements: row.elements, ns });
    if (!tables.includes(row.table)) tables.push(row.table);
    if (!kindOfSeries.has(row.series)) kindOfSeries.set(row.series, row.kind);
  }
  // The legend lists the package first, then the ceiling, then peers, each in the run's order.
  const series = KIND_ORDER.flatMap((kind) => [...kindOfSeries].filter(([, k]) => k === kind).map(([name]) => name));
  const used: Record<RowKind, number> = { package: 0, ceiling: 0, peer: 0 };
  const colours = series.map((name) => {
    const kind = kindOfSeries.get(name) ?? 'package';
    return PALETTES[kind][used[kind]++ % PALETTES[kind].length]!;
  });
  // Solid is [1, 0] rather than no dash at all: vega-lite's strokeDash scale needs an array for each.
  const dashes = series.map((name) => (kindOfSeries.get(name) === 'ceiling' ? CEILING_DASH : [1, 0]));
  const sizes = [...new Set(points.map((point) => point.elements))].sort((a, b) => a - b);

  const spec: VegaLiteSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: options.title ?? `Benchmark run of ${run.date.replace('T', ' ').slice(0, 16)}`,
      subtitle: `${run.fingerprint.cpu} · ${run.fingerprint.platform} · Node ${run.fingerprint.node} · median of the samples; dashed: same-traffic memory ceiling`,
      anchor: 'start',
    },
    data: { values: points },
    facet: { field: 'table', type: 'nominal', sort: tables, title: null, header: { labelFontSize: 13, labelFontWeight: 'bold' } },
    columns: facetColumns(tables.length),
    spec: {
      width: 240,
      height: 170,
      mark: { type: 'line', point: { filled: true, size: 36 }, strokeWidth: 1.75 },
      encoding: {
        x: {
          field: 'elements',
          type: 'quantitative',
          title: 'elements per call',
          // One tick per size measured, labelled like the bench's tables; a run with one size
          // gets a degenerate domain, which vega maps to the middle of the axis.
          scale: { type: 'log', nice: false, padding: 12 },
          axis: { values: sizes, labelExpr: ELEMENTS_LABEL_EXPR, grid: true },
        },
        y: {
          field: 'ns',
          type: 'quantitative',
          title: 'ns per element',
          scale: { type: 'log', padding: 8 },
          axis: { format: '~g' },
        },
        // Colour and dash on the same field share one legend, which therefore shows the dash too.
        // Line symbols in the legend (not the points' circles), so that it shows the ceiling's dash.
        color: {
          field: 'series',
          type: 'nominal',
          title: 'series',
          scale: { domain: series, range: colours },
          legend: { symbolType: 'stroke', symbolStrokeWidth: 2, symbolSize: 500 },
        },
        strokeDash: { field: 'series', type: 'nominal', title: 'series', scale: { domain: series, range: dashes } },
      },
    },
    // Tables differ by orders of magnitude (one optimizer step against a gradient sum), so each
    // has its own time axis; sizes are shared. An x axis in each cell rather than one below each
    // column: vega-lite would draw one under an empty cell of the last row too.
    resolve: { scale: { y: 'independent' }, axis: { x: 'independent' } },
    config: {
      legend: { labelLimit: 0 },
      axis: { titleFontWeight: 'normal' },
    },
  };
  return renderSvg(spec);
}

/**
 * One SVG for a comparison with a baseline: a line per row, its estimated change in time in
 * percent as a point coloured by the verdict and its confidence interval as an error bar, with a
 * rule at no change and dashed rules at the thresholds of significance for slower and faster.
 */
export async function comparisonChart(comparison: Comparison, options: ChartOptions = {}): Promise<string> {
  const labels: string[] = [];
  const points = comparison.rows.map((row) => {
    const label = `${row.table} · ${row.series} · ${sizeLabel(row.elements)}`;
    labels.push(label);
    return { label, verdict: row.verdict, change: row.change * 100, low: row.low * 100, high: row.high * 100 };
  });
  // A speed-up that undoes a slowdown by the threshold: +10% slower is undone by -9.09%.
  const thresholds = [comparison.threshold * 100, (1 / (1 + comparison.threshold) - 1) * 100];
  const verdicts = Object.keys(VERDICT_COLOURS) as Verdict[];
  const label = { field: 'label', type: 'nominal', sort: labels, title: null, axis: { labelLimit: 0 } } as const;
  const change = { type: 'quantitative', title: 'change in time (+ slower), %' } as const;
  // Every verdict in the legend and in its colour, whichever verdicts the rows have.
  const verdictColour = {
    field: 'verdict',
    type: 'nominal',
    title: 'verdict',
    scale: { domain: verdicts, range: verdicts.map((verdict) => VERDICT_COLOURS[verdict]) },
  } as const;

  const spec: VegaLiteSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: options.title ?? 'Change from the baseline',
      subtitle:
        `${comparison.rows.length} rows · ${Number(((1 - comparison.alpha) * 100).toFixed(1))}% intervals · ` +
        `dashed: the threshold, ${thresholds.map((x) => `${x > 0 ? '+' : ''}${Number(x.toFixed(1))}%`).join(' and ')}`,
      anchor: 'start',
    },
    width: 480,
    // A fixed step per row rather than a fixed height: 200 rows stay readable, one row stays small.
    height: { step: 16 },
    // The scale is shared, the axes are not: one above the rows as well as one below, so that the
    // scale is at hand anywhere in a tall chart; the other layers draw none.
    resolve: { axis: { x: 'independent' } },
    layer: [
      {
        data: { values: thresholds.map((x) => ({ x })) },
        mark: { type: 'rule', strokeDash: [4, 4], color: '#999999' },
        encoding: { x: { field: 'x', ...change, axis: { orient: 'top', title: null } } },
      },
      {
        data: { values: [{ x: 0 }] },
        mark: { type: 'rule', color: '#333333' },
        encoding: { x: { field: 'x', ...change, axis: null } },
      },
      {
        data: { values: points },
        mark: { type: 'rule', strokeWidth: 1.5 },
        encoding: { y: label, x: { field: 'low', ...change, axis: null }, x2: { field: 'high' }, color: verdictColour },
      },
      {
        data: { values: points },
        mark: { type: 'point', filled: true, size: 50, opacity: 1 },
        encoding: { y: label, x: { field: 'change', ...change }, color: verdictColour },
      },
    ],
    config: { legend: { orient: 'top', labelLimit: 0 }, axis: { titleFontWeight: 'normal' } },
  };
  return renderSvg(spec);
}
