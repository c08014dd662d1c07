// quick-wins.js — owns the leadership page (/quick-wins): every quick-win program sorted by risk
// with progress against expected, days to its due date, the forecast date, the responsible OPD
// and the latest department note; a program opens to its indicators, and an indicator opens a
// drill-down (?indicator=<id>) with its trajectory chart and notes. Updates arrive live.

import { getJSON } from './api.js';
import { boot, connectLive, batched, ProgressStore } from './page.js';
import { t } from './i18n.js';
import {
  esc, pct, num, valueUnit, badge, statusBadges, staleChip, progressBar, age, date, dateTime, daysBetween, todayYMD, statusLabel,
  toMillis, cadence, STATUS_ORDER, icon,
} from './format.js';
import { trajectoryChart, destroyChart, mountSparklines } from './chart.js';
import {
  indexPlan, indicatorsUnder, newestUpdate, programForecast, latestNote, byRisk, departmentName, departmentShort, rollupTrend,
} from './model.js';

const plan = await boot('quick_wins');
const defs = indexPlan(plan);
const store = new ProgressStore();
const open = new Set();
const body = document.getElementById('qw-body');
const summary = document.getElementById('qw-summary');
let drawer = null; // { id, chart }

connectLive({ quick_win: 'true' }, store, {
  onChange: (ids) => {
    renderSoon();
    if (drawer && (ids === null || ids.has(drawer.id))) refreshDrawer();
  },
});
const renderSoon = batched(() => render());
const refreshDrawer = batched(() => drawer && openIndicator(drawer.id, { keepUrl: true }), 1000);
setInterval(render, 30000);

body.addEventListener('click', (ev) => {
  const link = ev.target.closest('[data-indicator]');
  if (link) {
    ev.preventDefault();
    openIndicator(link.dataset.indicator);
    return;
  }
  const row = ev.target.closest('tr.row-main');
  if (row) {
    const id = row.dataset.id;
    if (open.has(id)) open.delete(id);
    else open.add(id);
    render();
  }
});
body.addEventListener('keydown', (ev) => {
  if ((ev.key === 'Enter' || ev.key === ' ') && ev.target.matches('tr.row-main')) {
    ev.preventDefault();
    ev.target.click();
  }
});
window.addEventListener('popstate', () => syncDrawerWithUrl());
document.addEventListener('keydown', (ev) => {
  if (ev.key === 'Escape' && drawer) closeIndicator();
});

// --- The table -------------------------------------------------------------------------------

function dueCell(p) {
  if (!p.due) return '–';
  const n = daysBetween(todayYMD(), p.due);
  const late = p.overdue;
  // An achieved program is never "lewat N hari", however long ago its due date was.
  const text =
    p.status === 'achieved' && n < 0 ? statusLabel('achieved') : n > 0 ? t('due_in', { n: num(n, 0) }) : n === 0 ? t('due_today') : t('overdue_by', { n: num(-n, 0) });
  return `<div>${esc(date(p.due))}</div><div class="${late ? 'late' : 'muted'}" data-days="${n}">${esc(text)}</div>`;
}

function forecastCell(f) {
  if (f.kind === 'achieved') return `<span class="st-achieved">${icon('achieved')}</span> ${esc(statusLabel('achieved'))}`;
  if (f.kind === 'never') return `<span class="late" title="${esc(t('forecast_never'))}">${esc(t('forecast_never_short'))}</span>`;
  if (f.kind === 'date') return esc(date(f.date));
  return `<span class="muted">${esc(t('forecast_none'))}</span>`;
}

function noteCell(found) {
  if (!found) return `<span class="muted">${esc(t('no_note'))}</span>`;
  const n = found.note;
  return `<div title="${esc(n.kendala)}"><b>${esc(t('kendala'))}:</b> ${esc(excerpt(n.kendala))}</div>
    <div title="${esc(n.rencana_tindak_lanjut)}"><b>${esc(t('rtl'))}:</b> ${esc(excerpt(n.rencana_tindak_lanjut))}</div>
    <div class="note-meta">${esc(departmentShort(n.department || found.indicator.department))} · ${esc(date(n.created))}</div>`;
}

/** A note cut at a word to about a line and a half; the whole of it opens in the drill-down. */
function excerpt(text, max = 90) {
  const s = String(text || '').trim();
  if (s.length <= max) return s;
  const cut = s.slice(0, max);
  return cut.slice(0, Math.max(cut.lastIndexOf(' '), max * 0.6)).trimEnd() + ' …';
}

function freshCell(item, newest) {
  const text = newest ? age(newest) : t('no_update');
  return item.stale ? staleChip(text) : `<span class="muted">${esc(text)}</span>`;
}

function indicatorRows(p) {
  return indicatorsUnder(store, 'program', p.id)
    .map((i) => {
      const fc = i.forecast ? (i.forecast.reach_date ? date(i.forecast.reach_date) : t('forecast_never')) : i.status === 'achieved' ? statusLabel('achieved') : '–';
      return `<tr class="row-ind${i.stale ? ' is-stale' : ''}" data-id="${esc(i.id)}">
        <td>${statusBadges(i, i.target.date)}</td>
        <td><a class="ind-link" href="?indicator=${encodeURIComponent(i.id)}" data-indicator="${esc(i.id)}">${esc(i.name)}</a></td>
        <td class="value-cell" data-label="${esc(t('current'))}"><b class="value-current">${esc(valueUnit(i.current, i.unit))}</b> <small>/ ${esc(valueUnit(i.target.value, i.unit))}</small></td>
        <td class="cell-progress" data-label="${esc(t('progress'))}"><div class="pct-line"><b>${esc(pct(i.progress))}</b><span>${esc(t('expected'))} ${esc(pct(i.expected))}</span></div>${progressBar(i.progress, i.expected, i.status)}</td>
        <td class="opt"><span class="spark" data-spark="indicator|${esc(i.id)}"></span></td>
        <td class="muted" data-label="${esc(t('due'))}">${esc(t('target'))} ${esc(date(i.target.date))}</td>
        <td data-label="${esc(t('forecast'))}">${esc(fc)}</td>
        <td colspan="2" data-label="${esc(t('updated_col'))}">${freshCell(i, toMillis(i.last_update))}</td>
      </tr>`;
    })
    .join('');
}

function render() {
  if (!store.masterplan) return;
  const programs = [...store.programs.values()].filter((p) => p.quick_win).sort(byRisk);
  const counts = Object.fromEntries(STATUS_ORDER.map((s) => [s, 0]));
  let late = 0;
  for (const p of programs) {
    counts[p.status] += 1;
    if (p.overdue) late += 1;
  }
  summary.innerHTML =
    `<div class="tile"><span class="lbl">${esc(t('quick_wins_long'))}</span><b>${programs.length}</b></div>` +
    STATUS_ORDER.map((s) => `<div class="tile st-edge-${s}"><span class="lbl">${esc(statusLabel(s))}</span><b data-count="${s}">${counts[s]}</b>${badge(s)}</div>`).join('') +
    `<div class="tile"><span class="lbl">${esc(t('past_due'))}</span><b class="${late ? 'late' : ''}" data-count="late">${late}</b><span class="muted">${esc(t('past_due_hint'))}</span></div>`;
  body.innerHTML = programs
    .map((p) => {
      const inds = indicatorsUnder(store, 'program', p.id);
      const dim = defs.dimensions.get(p.dimension);
      const isOpen = open.has(p.id);
      return `<tr class="row-main st-edge-${esc(p.status)}${isOpen ? ' open' : ''}${p.stale ? ' is-stale' : ''}" data-id="${esc(p.id)}" data-status="${esc(p.status)}" tabindex="0" aria-expanded="${isOpen}">
        <td>${statusBadges(p, p.due)}</td>
        <td><div class="prog-name"><span class="caret">▸</span>${esc(p.name)}</div><div class="muted">${esc(dim ? dim.name : p.dimension)} · ${esc(t('indicators_n', { n: inds.length }))}</div></td>
        <td title="${esc(departmentName(defs, p.department))}" data-label="${esc(t('opd'))}"><span class="opd">${esc(departmentShort(p.department))}</span></td>
        <td class="cell-progress" data-label="${esc(t('progress'))}"><div class="pct-line"><b class="value-progress">${esc(pct(p.progress))}</b><span>${esc(t('expected'))} <span class="value-expected">${esc(pct(p.expected))}</span></span></div>${progressBar(p.progress, p.expected, p.status)}</td>
        <td class="opt"><span class="spark" data-spark="program|${esc(p.id)}"></span></td>
        <td data-label="${esc(t('due'))}">${dueCell(p)}</td>
        <td data-label="${esc(t('forecast'))}">${forecastCell(programForecast(inds))}</td>
        <td class="cell-note" data-label="${esc(t('note'))}">${noteCell(latestNote(inds))}</td>
        <td data-label="${esc(t('updated_col'))}">${freshCell(p, newestUpdate(inds))}</td>
      </tr>${isOpen ? indicatorRows(p) : ''}`;
    })
    .join('');
  const empty = document.getElementById('qw-empty');
  empty.hidden = [...store.indicators.values()].some((i) => i.quick_win && i.last_update);
  if (!empty.hidden) empty.innerHTML = t('empty_qw_html');
  mountSparklines(body, (key) => {
    const [kind, id] = key.split('|');
    if (kind === 'indicator') {
      const i = store.indicators.get(id);
      return i && { values: i.sparkline, status: i.status };
    }
    const p = store.programs.get(id);
    return p && { values: rollupTrend(p, 'program', indicatorsUnder(store, 'program', id), defs), status: p.status };
  });
  document.body.dataset.ready = '1';
}

// --- Drill-down ------------------------------------------------------------------------------

function syncDrawerWithUrl() {
  const id = new URLSearchParams(location.search).get('indicator');
  if (id) openIndicator(id, { keepUrl: true });
  else closeIndicator({ keepUrl: true });
}

function setUrl(id) {
  const params = new URLSearchParams(location.search);
  if (id) params.set('indicator', id);
  else params.delete('indicator');
  const qs = params.toString();
  history.pushState(null, '', location.pathname + (qs ? '?' + qs : ''));
}

function closeIndicator({ keepUrl = false } = {}) {
  if (!drawer) return;
  destroyChart(drawer.chart);
  drawer = null;
  document.getElementById('drawer').hidden = true;
  document.getElementById('drawer-backdrop').hidden = true;
  document.body.style.overflow = '';
  if (!keepUrl) setUrl(null);
}

function fact(label, value, sub = '') {
  return `<div class="fact"><span class="lbl">${esc(label)}</span><b>${value}</b>${sub ? `<small>${sub}</small>` : ''}</div>`;
}

/** The plan's code, person in charge and data source of an indicator, when the plan has them. */
function indicatorMeta(def) {
  const parts = [];
  if (def.code) parts.push(`<span data-meta="code">${esc(t('indicator_code'))} <b>${esc(def.code)}</b></span>`);
  if (def.pic) parts.push(`<span data-meta="pic">${esc(t('pic'))}: <b>${esc(def.pic.nama)}</b>, ${esc(def.pic.jabatan)}</span>`);
  if (def.source) parts.push(`<span data-meta="source">${esc(t('data_source'))}: <b>${esc(def.source)}</b></span>`);
  return parts.length ? `<div class="ind-meta muted">${parts.join(' · ')}</div>` : '';
}

/** How the plan's versions changed this indicator, newest first (nothing when they did not). */
function planChanges(changes) {
  if (!changes || !changes.length) return '';
  const items = changes.map((c) => `<li>${esc(c.text)}</li>`).join('');
  return `<div class="section-head" style="margin-top:1.2rem"><h2>${esc(t('plan_changes'))}</h2></div><ul class="plan-changes">${items}</ul>`;
}

async function openIndicator(id, { keepUrl = false } = {}) {
  const el = document.getElementById('drawer');
  const backdrop = document.getElementById('drawer-backdrop');
  if (!keepUrl) setUrl(id);
  const first = !drawer || drawer.id !== id;
  if (drawer && drawer.chart) destroyChart(drawer.chart);
  drawer = { id, chart: null };
  let detail;
  let series;
  try {
    [detail, series] = await Promise.all([
      getJSON(`/api/v1/indicators/${encodeURIComponent(id)}`),
      getJSON(`/api/v1/indicators/${encodeURIComponent(id)}/series`),
    ]);
  } catch (e) {
    el.innerHTML = `<div class="drawer-head"><h2>${esc(id)}</h2><button class="close" type="button">${esc(t('close'))}</button></div><p class="result err">${esc(t('load_failed', { msg: e.message }))}</p>`;
    el.hidden = false;
    backdrop.hidden = false;
    el.querySelector('.close').onclick = () => closeIndicator();
    return;
  }
  if (!drawer || drawer.id !== id) return;
  const def = detail.indicator;
  const live = store.indicators.get(id) || detail.progress;
  const prog = defs.programs.get(def.program);
  const final = def.targets[def.targets.length - 1];
  const f = live && live.forecast;
  const forecastText = f ? (f.reach_date ? date(f.reach_date) : t('forecast_never')) : live && live.status === 'achieved' ? statusLabel('achieved') : '–';
  const forecastSub = f ? esc(t('forecast_value', { value: valueUnit(f.projected_value, def.unit), date: date(final.date) })) : '';
  const updated = live && live.last_update ? toMillis(live.last_update) : null;
  const notes = (detail.notes || [])
    .slice()
    .sort((a, b) => (toMillis(b.created) || 0) - (toMillis(a.created) || 0))
    .map(
      (n) => `<li><div class="when">${esc(dateTime(toMillis(n.created)))} · ${esc(departmentShort(n.department || def.department))}</div>
        <p><b>${esc(t('kendala'))}:</b> ${esc(n.kendala)}</p><p><b>${esc(t('rtl'))}:</b> ${esc(n.rencana_tindak_lanjut)}</p></li>`,
    )
    .join('');
  el.innerHTML = `<div class="drawer-head">
      <div><div class="crumbs">${esc(prog ? prog.name : def.program)} · <span class="opd">${esc(departmentShort(def.department))}</span> ${esc(departmentName(defs, def.department))}</div>
      <h2 id="drawer-title">${esc(def.name)}</h2>${indicatorMeta(def)}</div>
      <button class="close" type="button">${esc(t('close'))} ✕</button>
    </div>
    <div class="facts">
      ${fact(t('status'), badge(live ? live.status : 'no_data'), live && live.stale ? staleChip() : '')}
      ${fact(t('current'), `<span class="value-current">${esc(valueUnit(live && live.current, def.unit))}</span>`, esc(updated ? t('updated', { age: age(updated) }) : t('no_update')))}
      ${fact(t('progress'), esc(pct(live && live.progress)), `${esc(t('expected'))} ${esc(pct(live && live.expected))}`)}
      ${fact(t('expected_now'), esc(valueUnit(live && live.expected_value, def.unit)), esc(t('baseline')) + ' ' + esc(valueUnit(def.baseline.value, def.unit)) + ' · ' + esc(date(def.baseline.date)))}
      ${fact(t('final_target'), esc(valueUnit(final.value, def.unit)), esc(date(final.date)))}
      ${fact(t('forecast'), esc(forecastText), forecastSub)}
      ${fact(t('capaian'), esc(live && live.capaian != null ? pct(live.capaian / 100, 1) : '–'), esc(cadence(def.update_every)))}
    </div>
    <div class="section-head"><h2>${esc(t('trajectory'))}</h2><span class="hint">${esc(def.unit)}</span></div>
    <div class="chart-box"><div id="trajectory"></div></div>
    ${planChanges(detail.plan_changes)}
    <div class="section-head" style="margin-top:1.2rem"><h2>${esc(t('note'))}</h2></div>
    ${notes ? `<ul class="notes">${notes}</ul>` : `<p class="muted">${esc(t('no_note'))}</p>`}`;
  el.hidden = false;
  backdrop.hidden = false;
  document.body.style.overflow = 'hidden';
  el.querySelector('.close').onclick = () => closeIndicator();
  backdrop.onclick = () => closeIndicator();
  drawer.chart = trajectoryChart(document.getElementById('trajectory'), {
    definition: def,
    trajectory: detail.trajectory,
    points: series.points || [],
    progress: live,
  });
  if (first) el.querySelector('.close').focus();
  el.dataset.ready = '1';
}

syncDrawerWithUrl();
