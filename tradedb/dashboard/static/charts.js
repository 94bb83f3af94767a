// Charts of the dashboard, drawn by the vendored uPlot (window.uPlot, loaded by a
// plain <script> before the page modules). Numbers here are floats: charts only,
// never a displayed amount. Every time axis is in UTC.

import { el, fill, epochSeconds } from './common.js';

const uPlot = window.uPlot;

export const GREEN = '#1a7f37';
export const RED = '#cf222e';
export const PALETTE = ['#0969da', '#bf3989', '#1a7f37', '#bc4c00', '#8250df', '#1b7c83',
  '#9a6700', '#cf222e', '#57606a', '#0550ae', '#6639ba', '#116329'];

const DAY = 86400;
const utc = (ts) => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC');
const isoDay = (ts) => new Date(Math.round(ts) * 1e3).toISOString().slice(0, 10);
const isoMinute = (ts) => new Date(Math.round(ts) * 1e3).toISOString().slice(0, 16).replace('T', ' ');

/** Compact number for axes: 1.2k, 3.4M; never used for a table amount. */
export function short(v) {
  if (v === null || v === undefined) return '';
  const a = Math.abs(v);
  if (a >= 1e9) return `${+(v / 1e9).toFixed(2)}B`;
  if (a >= 1e6) return `${+(v / 1e6).toFixed(2)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toFixed(1)}k`;
  if (a >= 100) return String(Math.round(v));
  return String(+v.toFixed(a >= 1 ? 2 : 4));
}

// [top, right, bottom, left]; room for the last x label (null: uPlot's own)
const PADDING = [10, 36, null, null];

const legendValue = (u, v) => (v === null || v === undefined ? '—' : v.toFixed(2));

/** A chart slot: the element (#chart-...) holding one uPlot, or a "no data" note. */
class Slot {
  constructor(container, height) {
    this.container = container;
    this.height = height;
    this.plot = null;
    this.signature = null;
    new ResizeObserver(() => this.resize()).observe(container);
  }

  width() {
    return Math.max(240, Math.floor(this.container.clientWidth));
  }

  resize() {
    if (this.plot && this.plot.width !== this.width()) this.plot.setSize({ width: this.width(), height: this.height });
  }

  empty(message) {
    this.destroy();
    fill(this.container, el('p', { class: 'chart-empty', text: message }));
  }

  destroy() {
    if (this.plot) this.plot.destroy();
    this.plot = null;
    this.signature = null;
  }

  /** Draw data; a new uPlot only when the series changed (else setData). */
  draw(signature, makeOpts, data) {
    if (this.plot && this.signature === signature) {
      this.plot.setData(data);
      return this.plot;
    }
    this.destroy();
    this.container.replaceChildren();
    const opts = makeOpts();
    opts.width = this.width();
    opts.height = this.height;
    this.plot = new uPlot(opts, data, this.container);
    this.signature = signature;
    return this.plot;
  }
}

const slots = new WeakMap();
function slot(container, height) {
  let s = slots.get(container);
  if (!s) {
    s = new Slot(container, height);
    slots.set(container, s);
  }
  return s;
}

const grid = { stroke: '#eaeef2', width: 1 };
const ticks = { stroke: '#d0d7de', width: 1, size: 4 };
const axisFont = '12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';

function yAxis(extra) {
  return { stroke: '#57606a', font: axisFont, grid, ticks, size: 56, values: (u, splits) => splits.map(short), ...extra };
}

/** The x axis of day charts: UTC days, labelled YYYY-MM-DD. */
function dayAxis() {
  return {
    stroke: '#57606a', font: axisFont, grid, ticks, space: 90,
    incrs: [1, 2, 3, 7, 14, 28, 56, 91, 182, 364, 728].map((d) => d * DAY),
    values: (u, splits) => splits.map(isoDay),
  };
}

/**
 * An x range padded around the data when uPlot autoscales (a zoom passes through).
 * One point gets `single` seconds each side (uPlot's own time default for one point
 * is 1000 days wide).
 */
function paddedRange(pad, single) {
  return (u, min, max) => {
    const xs = u.data[0];
    if (!xs || !xs.length || min === null) return [0, DAY];
    const lo = xs[0];
    const hi = xs[xs.length - 1];
    if (lo === hi) return min === lo ? [lo - single, hi + single] : [min, max];
    return min === lo && max === hi ? [lo - pad, hi + pad] : [min, max];
  };
}

function dayScale(pad) {
  return { time: true, range: paddedRange(pad * DAY, DAY) };
}

/**
 * Lines over UTC days. days: ["YYYY-MM-DD", ...]; series: [{label, values: [number|null]}].
 */
export function dayLines(container, { days, series, height = 300, empty = 'No closed trades yet.', fromZero = false }) {
  const s = slot(container, height);
  if (!days.length || !series.length) return s.empty(empty);
  const xs = days.map(epochSeconds);
  if (fromZero) {
    // Cumulative lines start from 0 the day before the first exit day.
    xs.unshift(xs[0] - DAY);
    series = series.map((x) => ({ ...x, values: [0, ...x.values] }));
  }
  const signature = `lines|${series.map((x) => x.label).join('\u0000')}`;
  return s.draw(signature, () => ({
    tzDate: utc,
    padding: PADDING,
    cursor: { drag: { x: true, y: false } },
    scales: { x: dayScale(0.5) },
    axes: [dayAxis(), yAxis()],
    series: [
      { label: 'day (UTC)', value: (u, ts) => (ts === null ? '—' : isoDay(ts)) },
      ...series.map((x, i) => ({
        label: x.label,
        stroke: x.color || PALETTE[i % PALETTE.length],
        width: 2,
        value: legendValue,
        points: { size: 5 },
        spanGaps: true,
      })),
    ],
  }), [xs, ...series.map((x) => x.values)]);
}

/** Bars coloured by sign: green above zero, red below. */
function signBars() {
  return uPlot.paths.bars({
    size: [0.7, 64, 2],
    disp: {
      fill: {
        unit: 3,
        values: (u, si) => u.data[si].map((v) => (v === null || v === undefined ? null : v < 0 ? RED : GREEN)),
      },
    },
  });
}

/** A y range that always holds 0, so bars grow from the zero line (uPlot's own range may leave it out). */
function fromZero(u, min, max) {
  const lo = Math.min(0, min ?? 0);
  const hi = Math.max(0, max ?? 0);
  const pad = (hi - lo) * 0.08 || 1;
  return [lo < 0 ? lo - pad : 0, hi > 0 ? hi + pad : 0];
}

/** One bar per UTC day (values summed by the caller). */
export function dayBars(container, { days, values, label = 'PnL', height = 220, empty = 'No closed trades yet.' }) {
  const s = slot(container, height);
  if (!days.length) return s.empty(empty);
  const xs = days.map(epochSeconds);
  return s.draw(`daybars|${label}`, () => ({
    tzDate: utc,
    padding: PADDING,
    cursor: { drag: { x: true, y: false } },
    scales: { x: dayScale(0.6), y: { range: fromZero } },
    axes: [dayAxis(), yAxis()],
    series: [
      { label: 'day (UTC)', value: (u, ts) => (ts === null ? '—' : isoDay(ts)) },
      { label, width: 0, fill: GREEN, stroke: GREEN, paths: signBars(), points: { show: false }, value: legendValue },
    ],
  }), [xs, values]);
}

/**
 * Bars over categories (e.g. profit buckets). labels: text per bar; colors: per bar.
 */
export function categoryBars(container, { labels, axisLabels, values, colors, label = 'trades', height = 240, empty = 'No data.' }) {
  const ticksText = axisLabels || labels;
  const s = slot(container, height);
  if (!labels.length) return s.empty(empty);
  const xs = labels.map((_, i) => i);
  const palette = colors;
  return s.draw(`catbars|${labels.join('\u0000')}`, () => ({
    padding: PADDING,
    cursor: { drag: { x: false, y: false }, points: { show: false } },
    scales: { x: { time: false, range: () => [-0.5, labels.length - 0.5] }, y: { range: fromZero } },
    axes: [
      { stroke: '#57606a', font: axisFont, grid: { show: false }, ticks, space: 10, gap: 4,
        incrs: [1], values: (u, splits) => splits.map((i) => ticksText[i] ?? ''), size: 40 },
      yAxis({ values: (u, splits) => splits.map((v) => (Number.isInteger(v) ? String(v) : '')) }),
    ],
    series: [
      { label: 'bucket', value: (u, i) => (i === null ? '—' : labels[i] ?? '—') },
      {
        label, width: 0, fill: '#8c959f', stroke: '#8c959f', points: { show: false },
        value: (u, v) => (v === null || v === undefined ? '—' : String(v)),
        paths: uPlot.paths.bars({
          size: [0.8, 80, 2],
          disp: { fill: { unit: 3, values: (u, si) => u.data[si].map((v, i) => palette[i] || '#8c959f') } },
        }),
      },
    ],
  }), [xs, values]);
}

/**
 * Lines over exact times (metrics): series [{label, values, scale: 'pct'|'ratio'}].
 */
export function timeLines(container, { times, series, height = 260, empty = 'No metrics stored yet.' }) {
  const s = slot(container, height);
  if (!times.length) return s.empty(empty);
  const scales = [...new Set(series.map((x) => x.scale))];
  const signature = `tlines|${series.map((x) => `${x.label}@${x.scale}`).join('\u0000')}`;
  return s.draw(signature, () => ({
    tzDate: utc,
    padding: PADDING,
    cursor: { drag: { x: true, y: false } },
    scales: {
      x: { time: true, range: paddedRange(0, 12 * 3600) },
    },
    axes: [
      { stroke: '#57606a', font: axisFont, grid, ticks, space: 110,
        values: (u, splits, ai, space, incr) => splits.map((ts) => (incr >= DAY ? isoDay(ts) : isoMinute(ts))) },
      ...scales.map((key, i) => yAxis({
        scale: key,
        side: i === 0 ? 3 : 1,
        grid: i === 0 ? grid : { show: false },
        label: key === 'pct' ? '%' : 'Sharpe',
        labelSize: 18,
        labelFont: axisFont,
      })),
    ],
    series: [
      { label: 'calculated (UTC)', value: (u, ts) => (ts === null ? '—' : isoMinute(ts)) },
      ...series.map((x, i) => ({
        label: x.label,
        scale: x.scale,
        stroke: x.color || PALETTE[i % PALETTE.length],
        width: 2,
        dash: x.dash,
        spanGaps: true,
        points: { size: 5 },
        value: legendValue,
      })),
    ],
  }), [times, ...series.map((x) => x.values)]);
}
