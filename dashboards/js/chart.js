// chart.js — owns the charts, drawn with the vendored uPlot: sparklines of recent values, and an
// indicator's trajectory chart (actual values, the expected line, yearly targets, the forecast
// and today's date).

import uPlot from '../vendor/uplot/uPlot.esm.js';
import { num, date, monthYear, timeZone, cityMidnight, toMillis } from './format.js';
import { t } from './i18n.js';

/** A status colour from the stylesheet's custom properties. */
export function statusColor(status) {
  const v = getComputedStyle(document.documentElement).getPropertyValue(`--st-${status}`).trim();
  return v || '#94a3b8';
}

function remPx() {
  return parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
}

/** Draws a sparkline of `values` into `el` (sized by CSS); returns the uPlot or null. */
export function sparkline(el, values, status) {
  el.textContent = '';
  const w = el.clientWidth;
  const h = el.clientHeight;
  const ys = (values || []).filter((v) => Number.isFinite(v));
  if (ys.length < 2 || !w || !h) return null;
  const color = statusColor(status);
  let min = Math.min(...ys);
  let max = Math.max(...ys);
  if (min === max) {
    min -= 1;
    max += 1;
  }
  const pad = (max - min) * 0.12;
  return new uPlot(
    {
      width: w,
      height: h,
      pxAlign: false,
      cursor: { show: false },
      select: { show: false },
      legend: { show: false },
      padding: [2, 2, 2, 2],
      scales: { x: { time: false }, y: { range: [min - pad, max + pad] } },
      axes: [{ show: false }, { show: false }],
      series: [{}, { stroke: color, width: Math.max(2, remPx() * 0.16), fill: color + '30', points: { show: false } }],
    },
    [ys.map((_, i) => i), ys],
    el,
  );
}

/**
 * Mounts a sparkline into every `[data-spark]` element under `container`, with the values and
 * status `lookup(key)` gives; destroys the previous ones first.
 */
export function mountSparklines(container, lookup) {
  for (const u of container.__sparks || []) u.destroy();
  container.__sparks = [];
  for (const el of container.querySelectorAll('[data-spark]')) {
    const found = lookup(el.dataset.spark);
    if (!found) continue;
    const u = sparkline(el, found.values, found.status);
    if (u) container.__sparks.push(u);
  }
}

/** The current-value series of an indicator's stored points (a running sum for cumulative ones). */
export function currentSeries(definition, points) {
  const sorted = [...points].map((p) => ({ ms: toMillis(p.time), value: p.value })).sort((a, b) => a.ms - b.ms);
  if (definition.kind !== 'cumulative') return sorted;
  const start = cityMidnight(definition.baseline.date);
  let sum = definition.baseline.value || 0;
  const out = [];
  for (const p of sorted) {
    if (p.ms < start) continue;
    sum += p.value;
    out.push({ ms: p.ms, value: sum });
  }
  return out;
}

/** The forecast line as two or more points, from the last actual value onwards. */
function forecastLine(definition, progress, actual) {
  const f = progress && progress.forecast;
  if (!f || !actual.length) return [];
  const last = actual[actual.length - 1];
  const finalTarget = definition.targets[definition.targets.length - 1];
  const finalMs = cityMidnight(finalTarget.date);
  const reachMs = f.reach_date ? toMillis(f.reach_date) : null;
  if (reachMs !== null && reachMs !== finalMs) {
    // Both points lie on the fitted line: extend it from the last actual value's date.
    const slope = (finalTarget.value - f.projected_value) / (reachMs - finalMs);
    const at = (ms) => f.projected_value + slope * (ms - finalMs);
    const limit = finalMs + 5 * 365 * 86400000;
    const end = Math.min(Math.max(finalMs, reachMs), limit);
    const pts = [{ ms: last.ms, value: at(last.ms) }];
    if (finalMs > last.ms && finalMs < end) pts.push({ ms: finalMs, value: f.projected_value });
    pts.push({ ms: end, value: at(end) });
    return pts.filter((p) => p.ms >= last.ms);
  }
  if (finalMs <= last.ms) return [];
  return [
    { ms: last.ms, value: last.value },
    { ms: finalMs, value: f.projected_value },
  ];
}

/**
 * Draws an indicator's trajectory into `el`: `definition` (from /indicators/{id}), its
 * `trajectory` (expected path), `points` (stored observations) and `progress` (forecast).
 */
export function trajectoryChart(el, { definition, trajectory, points, progress, height, fontPx }) {
  el.textContent = '';
  const actual = currentSeries(definition, points);
  const expected = (trajectory || []).map((p) => ({ ms: toMillis(p.time), value: p.value }));
  const targets = definition.targets.map((tg) => ({ ms: cityMidnight(tg.date), value: tg.value }));
  const forecast = forecastLine(definition, progress, actual);
  const seriesPoints = [actual, expected, targets, forecast];
  const xsSet = new Set();
  for (const s of seriesPoints) for (const p of s) xsSet.add(Math.round(p.ms / 1000));
  const nowS = Math.round(Date.now() / 1000);
  const xs = [...xsSet].sort((a, b) => a - b);
  const data = [xs];
  for (const s of seriesPoints) {
    const byX = new Map(s.map((p) => [Math.round(p.ms / 1000), p.value]));
    data.push(xs.map((x) => (byX.has(x) ? byX.get(x) : null)));
  }
  const rem = remPx();
  const css = (name, fallback) => getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
  const axisStroke = css('--muted', '#94a3b8');
  const gridStroke = css('--line', '#1e2a44');
  const fontSize = fontPx || Math.round(rem * 0.85);
  const font = `${fontSize}px ${css('--font', 'sans-serif')}`;
  const todayLine = {
    hooks: {
      draw: [
        (u) => {
          const x = u.valToPos(nowS, 'x', true);
          if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
          const ctx = u.ctx;
          ctx.save();
          ctx.strokeStyle = css('--text', '#e2e8f0');
          ctx.globalAlpha = 0.55;
          ctx.setLineDash([3, 5]);
          ctx.lineWidth = 1.5;
          ctx.beginPath();
          ctx.moveTo(x, u.bbox.top);
          ctx.lineTo(x, u.bbox.top + u.bbox.height);
          ctx.stroke();
          ctx.globalAlpha = 0.9;
          ctx.setLineDash([]);
          ctx.fillStyle = css('--text', '#e2e8f0');
          ctx.font = font;
          const label = t('today');
          const right = x + 6 + ctx.measureText(label).width < u.bbox.left + u.bbox.width;
          ctx.textAlign = right ? 'left' : 'right';
          ctx.fillText(label, right ? x + 6 : x - 6, u.bbox.top + fontSize * 1.2);
          ctx.restore();
        },
      ],
    },
  };
  const yValue = (u, v) => (v == null ? '–' : num(v));
  const opts = {
    width: el.clientWidth || 800,
    height: height || Math.round(rem * 22),
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), timeZone()),
    cursor: { drag: { x: false, y: false } },
    plugins: [todayLine],
    legend: { live: true },
    scales: { x: { time: true } },
    axes: [
      {
        stroke: axisStroke,
        grid: { stroke: gridStroke, width: 1 },
        ticks: { stroke: gridStroke },
        font,
        values: (u, splits) => splits.map((s) => monthYear(s * 1000)),
        space: fontSize * 8,
      },
      {
        stroke: axisStroke,
        grid: { stroke: gridStroke, width: 1 },
        ticks: { stroke: gridStroke },
        font,
        size: fontSize * 6,
        values: (u, splits) => splits.map((s) => num(s)),
      },
    ],
    series: [
      { label: t('date'), value: (u, v) => (v == null ? '–' : date(v * 1000)) },
      {
        label: t('actual'),
        stroke: css('--series-actual', '#38bdf8'),
        width: 3,
        spanGaps: true,
        points: { show: true, size: 7, fill: css('--series-actual', '#38bdf8') },
        value: yValue,
      },
      { label: t('expected_line'), stroke: css('--series-expected', '#e2e8f0'), width: 2, dash: [10, 6], spanGaps: true, points: { show: false }, value: yValue },
      {
        label: t('yearly_targets'),
        stroke: css('--series-target', '#fbbf24'),
        paths: () => null,
        points: { show: true, size: 14, width: 3, stroke: css('--series-target', '#fbbf24'), fill: css('--panel', '#111a2e') },
        value: yValue,
      },
      { label: t('forecast_line'), stroke: css('--series-forecast', '#c084fc'), width: 2.5, dash: [3, 6], spanGaps: true, points: { show: false }, value: yValue },
    ],
  };
  const u = new uPlot(opts, data, el);
  const ro = new ResizeObserver(() => {
    if (el.clientWidth && el.clientWidth !== u.width) u.setSize({ width: el.clientWidth, height: opts.height });
  });
  ro.observe(el);
  u.__ro = ro;
  return u;
}

/** Destroys a chart made by trajectoryChart. */
export function destroyChart(u) {
  if (!u) return;
  if (u.__ro) u.__ro.disconnect();
  u.destroy();
}
