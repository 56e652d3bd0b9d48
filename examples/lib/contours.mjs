// Contour lines (iso-lines) of a function of two variables, by marching squares, for charts that
// have no contour mark (vega-lite). The function is sampled on a regular grid; in each grid cell,
// a level crosses the cell edges whose two end samples lie on opposite sides of it, at the point
// found by linear interpolation. The pieces are then joined into polylines, so that a chart draws
// a few long paths rather than thousands of two-point segments.

/**
 * The contour lines of `valueAt` over a rectangle, one polyline per connected piece.
 *
 * @param {(x: number, y: number) => number} valueAt - the function to contour.
 * @param {{ x: [number, number], y: [number, number], cells: number }} grid - the rectangle and
 *   the number of grid cells along each side (cells + 1 samples per side).
 * @param {number[]} levels - the values to draw a line at.
 * @returns {{ level: number, points: [number, number][] }[]} polylines, each open (ending on the
 *   rectangle's border) or closed (its last point equal to its first).
 */
export function contourLines(valueAt, { x: [xMin, xMax], y: [yMin, yMax], cells }, levels) {
  const samplesPerRow = cells + 1;
  const xAt = (i) => xMin + ((xMax - xMin) * i) / cells;
  const yAt = (j) => yMin + ((yMax - yMin) * j) / cells;
  const values = new Float64Array(samplesPerRow * samplesPerRow);
  for (let j = 0; j <= cells; j++) for (let i = 0; i <= cells; i++) values[j * samplesPerRow + i] = valueAt(xAt(i), yAt(j));
  return levels.flatMap((level) => linesAtLevel(values, cells, level, xAt, yAt).map((points) => ({ level, points })));
}

function linesAtLevel(values, cells, level, xAt, yAt) {
  const samplesPerRow = cells + 1;
  const value = (i, j) => values[j * samplesPerRow + i];
  const above = (i, j) => value(i, j) > level;

  // Every grid edge gets a number: edge 2k leaves sample k = j * samplesPerRow + i to the right,
  // edge 2k + 1 leaves it upwards. Two neighbouring cells name their shared edge alike, which is
  // what joins their segments, and the crossing point on it is computed once.
  const crossing = new Map();  // edge number -> [x, y]
  const edge = (i, j, upwards) => {
    const id = 2 * (j * samplesPerRow + i) + (upwards ? 1 : 0);
    if (!crossing.has(id)) {
      const [i2, j2] = upwards ? [i, j + 1] : [i + 1, j];
      const t = (level - value(i, j)) / (value(i2, j2) - value(i, j));
      crossing.set(id, [xAt(i + t * (i2 - i)), yAt(j + t * (j2 - j))]);
    }
    return id;
  };

  const segments = [];  // pairs of edge numbers
  for (let j = 0; j < cells; j++) {
    for (let i = 0; i < cells; i++) {
      // Corners: a bottom left, b bottom right, c top right, d top left.
      const [a, b, c, d] = [above(i, j), above(i + 1, j), above(i + 1, j + 1), above(i, j + 1)];
      const crossed = [];
      if (a !== b) crossed.push(['bottom', () => edge(i, j, false)]);
      if (b !== c) crossed.push(['right', () => edge(i + 1, j, true)]);
      if (c !== d) crossed.push(['top', () => edge(i, j + 1, false)]);
      if (d !== a) crossed.push(['left', () => edge(i, j, true)]);
      if (crossed.length === 2) {
        segments.push([crossed[0][1](), crossed[1][1]()]);
      } else if (crossed.length === 4) {
        // A saddle cell: a and c on one side, b and d on the other. The mean of the corners
        // decides which pair the level separates: if the centre is on a's side, a and c connect
        // through it, and the lines cut off corners b and d; otherwise they cut off a and c.
        const [bottom, right, top, left] = crossed.map(([, id]) => id());
        const centreAbove = (value(i, j) + value(i + 1, j) + value(i + 1, j + 1) + value(i, j + 1)) / 4 > level;
        if (centreAbove === a) segments.push([bottom, right], [top, left]);
        else segments.push([left, bottom], [right, top]);
      }
    }
  }

  // Joining: an edge touches at most two segments (one from each cell beside it). Chains that
  // end on the border start at an edge touching one segment; what is left afterwards are loops.
  const touching = new Map();  // edge number -> segment indices
  segments.forEach(([from, to], s) => {
    for (const id of [from, to]) touching.set(id, [...(touching.get(id) ?? []), s]);
  });
  const used = new Uint8Array(segments.length);
  const walkFrom = (startEdge) => {
    const points = [crossing.get(startEdge)];
    for (let at = startEdge; ;) {
      const next = touching.get(at).find((s) => !used[s]);
      if (next === undefined) return points;
      used[next] = 1;
      at = segments[next][0] === at ? segments[next][1] : segments[next][0];
      points.push(crossing.get(at));
    }
  };
  const lines = [];
  for (const [id, touched] of touching) if (touched.length === 1 && !used[touched[0]]) lines.push(walkFrom(id));
  segments.forEach(([from], s) => { if (!used[s]) lines.push(walkFrom(from)); });
  return lines;
}
