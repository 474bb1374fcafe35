// console/chart.js — a small line chart in SVG: one or more series over the same times, with its highest value marked.

import { h } from './dom.js';

const W = 480;
const H = 150;
const PAD = { left: 64, right: 8, top: 12, bottom: 24 };

// clock formats unix seconds t as HH:MM:SS.
function clock(t) {
  return new Date(t * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

// runs splits values into the runs of numbers between gaps (null: no sample then), each [[index, value], ...].
function runs(values) {
  const out = [];
  let run = [];
  values.forEach((v, i) => {
    if (typeof v === 'number') run.push([i, v]);
    else if (run.length) out.push(run), (run = []);
  });
  if (run.length) out.push(run);
  return out;
}

// lineChart returns a figure charting series ([{label, cls, values}]) over times (unix seconds):
// title names it, format(v) writes a value, testid names it for tests.
export function lineChart({ title, series, times, format, testid, empty }) {
  const all = series.flatMap((s) => s.values).filter((v) => typeof v === 'number');
  const top = Math.max(1, ...all);
  const x = (i) => PAD.left + (times.length > 1 ? (i * (W - PAD.left - PAD.right)) / (times.length - 1) : 0);
  const y = (v) => H - PAD.bottom - (v / top) * (H - PAD.top - PAD.bottom);
  const latest = (s) => s.values.findLast((v) => typeof v === 'number') ?? 0;
  const last = series.map((s) => `${s.label} ${format(latest(s))}`).join(', ');
  const svg = h('svg:svg', {
    viewBox: `0 0 ${W} ${H}`,
    role: 'img',
    'aria-label': times.length ? `${title}: ${last}; max ${format(top)}` : `${title}: ${empty}`,
    class: 'chart-svg',
  });
  svg.append(
    h('svg:line', { x1: PAD.left, x2: W - PAD.right, y1: y(0), y2: y(0), class: 'chart-axis' }),
    h('svg:line', { x1: PAD.left, x2: W - PAD.right, y1: y(top), y2: y(top), class: 'chart-grid' }),
    h('svg:text', { x: PAD.left - 6, y: y(top) + 4, class: 'chart-label chart-label-end', text: format(top) }),
    h('svg:text', { x: PAD.left - 6, y: y(0) + 4, class: 'chart-label chart-label-end', text: format(0) }),
  );
  if (times.length) {
    svg.append(
      h('svg:text', { x: PAD.left, y: H - 6, class: 'chart-label', text: clock(times[0]) }),
      h('svg:text', { x: W - PAD.right, y: H - 6, class: 'chart-label chart-label-end', text: clock(times.at(-1)) }),
    );
  } else {
    svg.append(h('svg:text', { x: W / 2, y: H / 2, class: 'chart-label chart-label-middle', text: empty }));
  }
  for (const s of series)
    for (const run of runs(s.values))
      svg.append(h('svg:polyline', { points: run.map(([i, v]) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' '), class: `chart-line ${s.cls}` }));
  const legend = h(
    'ul',
    { class: 'chart-legend' },
    series.map((s) => h('li', {}, h('span', { class: `chart-key ${s.cls}`, 'aria-hidden': 'true' }), `${s.label}: ${format(latest(s))}`)),
  );
  return h('figure', { class: 'chart', 'data-testid': testid }, h('figcaption', { text: title }), svg, legend);
}
