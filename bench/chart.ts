/** The chart of docs/PERFORMANCE.md: time against number of runs, drawn by vega as SVG. */
import { parse, View, type Spec } from 'vega';

export interface ChartPoint {
  runs: number;
  seconds: number;
  series: string;
}

function spec(points: readonly ChartPoint[]): Spec {
  return {
    $schema: 'https://vega.github.io/schema/vega/v5.json',
    width: 560,
    height: 320,
    padding: 8,
    title: { text: 'Time to create the jobs of N runs (2 modules per run)', fontSize: 14 },
    data: [{ name: 'points', values: points.map((p) => ({ ...p })) }],
    scales: [
      {
        name: 'x',
        type: 'linear',
        domain: { data: 'points', field: 'runs' },
        range: 'width',
        zero: true,
        nice: true,
      },
      {
        name: 'y',
        type: 'linear',
        domain: { data: 'points', field: 'seconds' },
        range: 'height',
        zero: true,
        nice: true,
      },
      { name: 'color', type: 'ordinal', domain: { data: 'points', field: 'series' }, range: 'category' },
    ],
    axes: [
      { orient: 'bottom', scale: 'x', title: 'runs', format: '~s', grid: true },
      { orient: 'left', scale: 'y', title: 'wall time (s)', grid: true },
    ],
    legends: [{ fill: 'color', orient: 'top-left', symbolType: 'circle', labelLimit: 400 }],
    marks: [
      {
        type: 'group',
        from: { facet: { name: 'series', data: 'points', groupby: 'series' } },
        marks: [
          {
            type: 'line',
            from: { data: 'series' },
            sort: { field: 'datum.runs' },
            encode: {
              enter: {
                x: { scale: 'x', field: 'runs' },
                y: { scale: 'y', field: 'seconds' },
                stroke: { scale: 'color', field: 'series' },
                strokeWidth: { value: 2 },
              },
            },
          },
          {
            type: 'symbol',
            from: { data: 'series' },
            encode: {
              enter: {
                x: { scale: 'x', field: 'runs' },
                y: { scale: 'y', field: 'seconds' },
                fill: { scale: 'color', field: 'series' },
                size: { value: 50 },
              },
            },
          },
          {
            type: 'text',
            from: { data: 'series' },
            encode: {
              enter: {
                x: { scale: 'x', field: 'runs' },
                y: { scale: 'y', field: 'seconds', offset: -8 },
                text: { signal: "format(datum.seconds, '.1f') + ' s'" },
                align: { value: 'right' },
                fontSize: { value: 10 },
                fill: { scale: 'color', field: 'series' },
              },
            },
          },
        ],
      },
    ],
  };
}

/** Renders the chart to an SVG string (no browser, no canvas: vega's headless SVG renderer). */
export async function chartSvg(points: readonly ChartPoint[]): Promise<string> {
  const view = new View(parse(spec(points)), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
