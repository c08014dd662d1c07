// wall.js — owns the monitoring wall (/wall?screen=<id>): rotates through the screen's pages from
// screens.toml, renders each kind of page from the live progress store (overview, dimension,
// program, quick wins, department, feeds, numbers, chart: one renderer each in KINDS), marks
// stale data, flashes what just changed and lists the latest events in full.
// A page with more than fits is shown in parts, each for the page's time: text never shrinks
// below the wall's floor and nothing is cut; a page with room to spare grows its text instead.
// `&page=<id or position>` pins one page (handy for a fixed screen or a screenshot); a string
// form such as `&page=program:living.health` shows that page without a screen.

import { getJSON } from './api.js';
import { boot, connectLive, setTitle, batched, ProgressStore } from './page.js';
import { t } from './i18n.js';
import {
  esc, pct, num, gapPoints, valueUnit, valueUnitShort, valueParts, badge, statusBadges, overdueChip, icon, staleChip, progressBar, age, date, time,
  daysBetween, todayYMD, statusLabel, STATUS_ORDER, toMillis,
} from './format.js';
import { mountSparklines, trajectoryChart, destroyChart } from './chart.js';
import {
  indexPlan, indicatorsUnder, newestUpdate, rollupTrend, programForecast, latestNote, byRisk, departmentShort, departmentName,
} from './model.js';

const params = new URLSearchParams(location.search);
const main = document.getElementById('wall-page');
const FLASH_MS = 4000;
const EVENTS_SHOWN = 2;

const plan = await boot('overview');
const defs = indexPlan(plan);
const store = new ProgressStore();
const changedAt = new Map();
const events = [];

let screen = null;
const screenId = params.get('screen');
try {
  const screens = await getJSON('/api/v1/screens');
  screen = (screens.configured || []).find((s) => s.id === screenId) || null;
} catch {
  screen = null;
}
if (screenId && !screen) {
  const n = document.getElementById('page-error');
  n.textContent = t('screen_unknown', { id: screenId });
  n.hidden = false;
}

/** A page from its string form (`overview`, `dimension:<id>`, `program:<id>`, ...). */
function pageFromString(s) {
  const [kind, subject] = s.includes(':') ? [s.slice(0, s.indexOf(':')), s.slice(s.indexOf(':') + 1)] : [s, null];
  const key = { dimension: 'dimension', program: 'program', department: 'department', chart: 'indicator' }[kind];
  const page = { id: s, kind };
  if (key && subject) page[key] = subject;
  return page;
}

const defaultSeconds = screen ? screen.interval_seconds : 30;
const pinned = params.get('page');
let playlist = screen ? screen.pages : [{ id: 'overview', kind: 'overview' }];
if (pinned) {
  const byId = playlist.find((p) => p.id === pinned);
  const byPosition = /^\d+$/.test(pinned) ? playlist[Number(pinned) - 1] : null;
  playlist = [byId || byPosition || pageFromString(pinned)];
}

const state = { index: 0, part: 0, parts: 1, startedAt: Date.now() };
const seconds = (page) => (page.seconds || defaultSeconds) * 1000;

connectLive({ screen: screen ? screen.id : undefined, token: params.get('token') || undefined }, store, {
  onChange: (ids) => {
    const now = Date.now();
    if (ids) for (const id of ids) changedAt.set(id, now);
    const page = playlist[state.index];
    if (page && page.kind === 'chart' && (ids === null || ids.has(page.indicator))) chartData.delete(page.indicator);
    renderSoon();
  },
  onEvent: (ev) => {
    events.unshift(ev);
    events.length = Math.min(events.length, EVENTS_SHOWN);
    renderEvents();
    if (ev.kind === 'feed_down' || ev.kind === 'feed_up') loadFeeds();
  },
});

/** Moves to the next part or page at once (the browser tests use it instead of waiting). */
function advance() {
  if (state.part + 1 < state.parts) {
    state.part += 1;
  } else {
    state.index = (state.index + 1) % playlist.length;
    state.part = 0;
  }
  state.startedAt = Date.now();
  render();
}
window.__pantauNextPart = advance;

setInterval(() => {
  const page = playlist[state.index];
  if (page && Date.now() - state.startedAt >= seconds(page) && (playlist.length > 1 || state.parts > 1)) advance();
  renderRotation();
}, 250);
// Ages ("5 mnt lalu") and flashes move on even when no data arrives.
setInterval(() => render(), 15000);

renderLegend();
renderEvents();
// The banner coming and going, or a window resize, changes the room the page has: lay it out again.
let lastSize = '';
new ResizeObserver(() => {
  const size = `${main.clientWidth}x${main.clientHeight}`;
  if (size !== lastSize) {
    lastSize = size;
    render();
  }
}).observe(main);

// --- Data some pages fetch -----------------------------------------------------------------------

let feeds = null;
async function loadFeeds() {
  try {
    feeds = (await getJSON('/api/v1/feeds')).feeds || [];
  } catch {
    feeds = feeds || [];
  }
  if ((playlist[state.index] || {}).kind === 'feeds') renderSoon();
}
if (playlist.some((p) => p.kind === 'feeds')) {
  loadFeeds();
  setInterval(loadFeeds, 10000);
}

/** This month's OPD reporting compliance, for the compliance page. */
let compliance = null;
async function loadCompliance() {
  try {
    compliance = await getJSON('/api/v1/compliance');
  } catch {
    compliance = compliance || { departments: [] };
  }
  if ((playlist[state.index] || {}).kind === 'compliance') renderSoon();
}
if (playlist.some((p) => p.kind === 'compliance')) {
  loadCompliance();
  setInterval(loadCompliance, 60000);
}

/** "Kepatuhan Pelaporan OPD": every department's reporting this month, best first. */
function compliancePage() {
  const list = compliance ? compliance.departments.filter((d) => d.expected > 0 || d.pending > 0) : [];
  const units = list.map((d) => {
    const p = d.on_time_percent;
    const st = p == null ? 'no_data' : p >= 90 ? 'on_track' : p >= 70 ? 'at_risk' : 'off_track';
    return {
      html: `<div class="unit"><article class="cmp-row st-edge-${st}" data-id="${esc(d.id)}" data-percent="${p == null ? '' : p.toFixed(1)}">
        <span class="cmp-rank">${esc(String(d.rank))}</span>
        <h3 title="${esc(d.name)}">${esc(departmentShort(d.id))} <span class="muted">${esc(d.name)}</span></h3>
        <b class="cmp-pct st-${st}">${p == null ? '–' : esc(pct(p / 100, 0))}</b>
        <span class="cmp-counts">${esc(t('cmp_counts', { on_time: d.on_time, late: d.late, missing: d.missing }))}</span>
        ${d.email_configured ? '' : `<span class="cmp-noemail">${esc(t('cmp_no_email'))}</span>`}
      </article></div>`,
    };
  });
  // An empty city is told how values arrive, above the rows (every report still missing) or in
  // place of them.
  const noData = !hasData([...store.indicators.values()]);
  return {
    units,
    empty: `<div class="empty-hint" data-empty="1"><h2>${esc(t('cmp_none_title'))}</h2><p>${esc(compliance === null ? t('connecting') : t('cmp_none'))}</p><p>${t('cmp_next_html')}</p></div>`,
    cols: list.length > 8 ? 2 : 1,
    strip: noData && list.length ? emptyHint('empty_wall') : '',
  };
}

/** Each chart page's indicator detail and series, fetched when first shown and after changes. */
const chartData = new Map();
async function loadChart(id) {
  chartData.set(id, { loading: true });
  try {
    const [detail, series] = await Promise.all([
      getJSON(`/api/v1/indicators/${encodeURIComponent(id)}`),
      getJSON(`/api/v1/indicators/${encodeURIComponent(id)}/series`),
    ]);
    chartData.set(id, { detail, points: series.points || [] });
  } catch (e) {
    chartData.set(id, { error: e.message });
  }
  renderSoon();
}

// --- Rendering -------------------------------------------------------------------------------

const renderSoon = batched(() => render());

/** The class that makes a tile glow for a few seconds after its data changed. */
function flash(id) {
  const at = changedAt.get(id);
  return at && Date.now() - at < FLASH_MS ? ` flash" data-flash-at="${at}` : '';
}

/** Redrawn tiles continue their glow where it was instead of starting again. */
function resumeFlashes() {
  const now = Date.now();
  for (const el of main.querySelectorAll('[data-flash-at]')) el.style.animationDelay = `-${now - Number(el.dataset.flashAt)}ms`;
}

let chart = null;

function render() {
  if (!store.masterplan) return;
  const page = playlist[state.index] || playlist[0];
  const kind = KINDS[page.kind] || KINDS.overview;
  const known = kind.known ? kind.known(page) : true;
  const spec = known ? kind : KINDS.overview;
  if (chart) {
    destroyChart(chart);
    chart = null;
  }
  document.body.dataset.page = page.id;
  document.body.dataset.kind = known ? page.kind : 'overview';
  const out = spec.render(page);
  if (out.units) {
    const candidates = Array.isArray(out.cols) ? out.cols : [out.cols || 1];
    let best = null;
    for (const cols of candidates) {
      main.innerHTML = `<section class="wpage ${out.className || ''}">${out.strip || ''}<div class="wbody"><div class="flow cols-${cols}"></div></div></section>`;
      const parts = paginate(main.querySelector('.flow'), out.units, out.empty);
      if (!best || parts.length < best.parts.length) best = { cols, parts, html: main.innerHTML };
    }
    if (main.querySelector('.flow').className !== `flow cols-${best.cols}`) main.innerHTML = best.html;
    const flow = main.querySelector('.flow');
    state.parts = best.parts.length;
    if (state.part >= state.parts) state.part = 0;
    flow.innerHTML = best.parts[state.part].join('');
    grow(flow, out.maxGrow);
  } else {
    state.parts = 1;
    state.part = 0;
    main.innerHTML = out.html;
  }
  setTitle(page.title || spec.name(page));
  resumeFlashes();
  mountSparklines(main, sparkLookup);
  if (out.after) out.after();
  document.body.dataset.parts = String(state.parts);
  document.body.dataset.ready = '1';
  renderRotation();
}

/** Whether the flow shows everything it holds: nothing in columns beyond its box, and no unit
 * broken over two columns. */
function fits(flow) {
  if (flow.scrollWidth > flow.clientWidth + 1 || flow.scrollHeight > flow.clientHeight + 1) return false;
  for (const u of flow.children) if (u.getClientRects().length > 1 || u.scrollWidth > u.clientWidth + 1) return false;
  return true;
}

/**
 * Splits `units` ({html, head}) into parts that each fit the flow; a part that starts inside a
 * group repeats the group's heading (`head`). Laid out for real, one unit at a time.
 */
function paginate(flow, units, empty) {
  if (!units.length) return [[empty || '']];
  const parts = [];
  let current = [];
  flow.innerHTML = '';
  const add = (u) => {
    flow.insertAdjacentHTML('beforeend', u.html);
    current.push(u);
  };
  for (const u of units) {
    add(u);
    if (fits(flow) || current.length === 1) continue;
    current.pop();
    // A heading left alone at the end of a part goes on with its group to the next part.
    const carried = [];
    while (current.length && current[current.length - 1].start) carried.unshift(current.pop());
    if (current.length) parts.push(current.map((x) => x.html));
    flow.innerHTML = '';
    current = [];
    if (carried.length) carried.forEach(add);
    else if (u.head) add({ html: u.head });
    add(u);
  }
  parts.push(current.map((x) => x.html));
  return parts;
}

/** A page that fits with room to spare grows its text (up to half again) to fill the screen. */
function grow(flow, most = 1.5) {
  let lo = 1;
  let hi = most;
  flow.style.setProperty('--fit', String(hi));
  if (fits(flow)) return;
  for (let k = 0; k < 6; k++) {
    const mid = (lo + hi) / 2;
    flow.style.setProperty('--fit', String(mid));
    if (fits(flow)) lo = mid;
    else hi = mid;
  }
  flow.style.setProperty('--fit', String(lo));
}

function sparkLookup(key) {
  const [kind, id] = key.split('|');
  if (kind === 'indicator') {
    const i = store.indicators.get(id);
    return i && { values: i.sparkline, status: i.status };
  }
  const item = kind === 'masterplan' ? store.masterplan : kind === 'dimension' ? store.dimensions.get(id) : store.programs.get(id);
  if (!item) return null;
  return { values: rollupTrend(item, kind, indicatorsUnder(store, kind, id), defs), status: item.status };
}

// --- Pieces several pages share ----------------------------------------------------------------

/** "data terbaru 5 mnt lalu" (and "3 usang") for a set of indicators; `compact` leaves the
 * words out beside the chip where a tile is narrow, `noChip` leaves the chip out where the
 * count of stale indicators is shown already, and `chip` puts another chip in its place (the
 * overview's "Lewat tenggat: N"), words left out beside it. */
function freshness(indicators, item, { compact = false, noChip = false, chip = '' } = {}) {
  const newest = newestUpdate(indicators);
  const staleN = item && item.counts ? item.counts.stale : indicators.filter((i) => i.stale).length;
  const staleText = chip || (staleN && !noChip ? staleChip(t('stale_n', { n: staleN })) : '');
  const text = newest ? ((compact || chip) && staleText ? age(newest) : t('latest_data', { age: age(newest) })) : t('no_update');
  return `<div class="fresh">${staleText}<span class="age" title="${esc(t('latest_data', { age: newest ? age(newest) : '–' }))}">${esc(text)}</span></div>`;
}

function countsChips(counts) {
  return `<div class="count-chips">${STATUS_ORDER.map(
    (s) => `<span class="count-chip st-${s}" title="${esc(statusLabel(s))}">${icon(s)}<b>${counts[s] || 0}</b></span>`,
  ).join('')}</div>`;
}

function countsOf(indicators) {
  const counts = Object.fromEntries(STATUS_ORDER.map((s) => [s, 0]));
  for (const i of indicators) counts[i.status] = (counts[i.status] || 0) + 1;
  counts.stale = indicators.filter((i) => i.stale).length;
  return counts;
}

function countsBar(counts) {
  const total = STATUS_ORDER.reduce((n, s) => n + (counts[s] || 0), 0) || 1;
  return `<div class="stack">${STATUS_ORDER.map((s) =>
    counts[s] ? `<span class="st-${s}" style="flex:${counts[s] / total}"></span>` : '').join('')}</div>`;
}

function figures(item, short = false) {
  const behind = (item.progress ?? 0) < (item.expected ?? 0);
  return `<div class="figs-row">
    <span><span class="lbl">${esc(t(short ? 'expected' : 'expected_now'))}</span> <b class="value-expected">${esc(pct(item.expected))}</b></span>
    <span>${short ? '' : `<span class="lbl">${esc(t('gap'))}</span> `}<b class="gap ${behind ? 'neg' : 'pos'}">${esc(gapPoints(item.progress, item.expected) || '–')}</b></span>
  </div>`;
}

/** A value as the wall shows it: shortened ("Rp 295,1 M"), with the full value as its title. */
function wallValue(x, unit, cls = '') {
  return `<b class="${cls}" title="${esc(valueUnit(x, unit))}">${esc(valueUnitShort(x, unit))}</b>`;
}

/** A big value with its unit set smaller ("153 unit", "Rp 295,1 M"); the full value as its title. */
function bigValue(x, unit, cls = '') {
  const v = valueParts(x, unit);
  return `<div class="${cls}" title="${esc(valueUnit(x, unit))}">${v.pre ? `<span class="u">${esc(v.pre)}</span> ` : ''}<b>${esc(v.num)}</b>${v.post ? ` <span class="u">${esc(v.post)}</span>` : ''}</div>`;
}

/** What an empty city does next, in place of the data. */
function emptyHint(what) {
  return `<div class="empty-hint" data-empty="1"><h2>${esc(t('empty_title'))}</h2><p>${esc(t(what))}</p><p>${t('empty_how_html')}</p></div>`;
}

const hasData = (indicators) => indicators.some((i) => i.last_update);

/** A note cut at a word for the wall, about two lines long; the whole of it is on the Quick Wins page. */
function excerpt(text, max = 150) {
  const s = String(text || '').trim();
  if (s.length <= max) return s;
  const cut = s.slice(0, max);
  return cut.slice(0, Math.max(cut.lastIndexOf(' '), max * 0.6)).trimEnd() + ' …';
}

function indicatorRow(i) {
  const fresh = i.last_update ? age(toMillis(i.last_update)) : t('no_update');
  return `<div class="ind${i.stale ? ' is-stale' : ''}${flash(i.id)}" data-id="${esc(i.id)}" data-status="${esc(i.status)}">
    <span class="ind-icon st-${esc(i.status)}" title="${esc(statusLabel(i.status))}">${icon(i.status)}</span>
    <span class="ind-name">${esc(i.name)}${i.overdue ? ' ' + overdueChip(i.target.date) : ''}</span>
    <span class="ind-value">${wallValue(i.current, i.unit, 'value-current')}<small>/ ${esc(valueUnitShort(i.target.value, i.unit))}</small></span>
    <span class="ind-pct">${esc(pct(i.progress, 0))}</span>
    <span class="ind-bar">${progressBar(i.progress, i.expected, i.status)}</span>
    <span class="ind-age">${i.stale ? staleChip(fresh) : esc(fresh)}</span>
  </div>`;
}

/** A program's heading in a flow. */
function programHead(p, continued = false) {
  return `<div class="grp st-edge-${esc(p.status)}${p.stale ? ' is-stale' : ''}${flash(p.id)}" data-id="${esc(p.id)}" data-status="${esc(p.status)}">
    <h3>${esc(p.name)}${continued ? ` <span class="part">${esc(t('continued'))}</span>` : ''}</h3>
    <div class="grp-meta">${statusBadges(p, p.due)}<span class="opd">${esc(departmentShort(p.department))}</span>${p.quick_win ? `<span class="qw">${esc(t('quick_win'))}</span>` : ''}<b class="grp-pct value-progress">${esc(pct(p.progress))}</b></div>
  </div>`;
}

/** Units of a flow: each program's heading with its first indicator, then one per indicator. */
function programUnits(programs, indicatorsOf) {
  const units = [];
  for (const p of programs) {
    const inds = indicatorsOf(p);
    if (!inds.length) continue;
    const cont = `<div class="unit head">${programHead(p, true)}</div>`;
    units.push({ html: `<div class="unit head">${programHead(p)}</div>`, group: p.id, start: true });
    for (const i of inds) units.push({ html: `<div class="unit">${indicatorRow(i)}</div>`, head: cont, group: p.id });
  }
  return units;
}

function strip(item, { name, sub, counts, fresh }) {
  return `<article class="tile strip st-edge-${esc(item.status)}${flash(item.id)}" data-id="${esc(item.id)}" data-status="${esc(item.status)}">
    <div class="strip-name"><h2>${esc(name)}</h2></div>${sub ? `<div class="meta">${sub}</div>` : ''}
    <div class="strip-fig">${statusBadges(item, item.due)}<div class="big value-progress">${esc(pct(item.progress))}</div></div>
    <div class="strip-bar">${progressBar(item.progress, item.expected, item.status)}${figures(item, true)}</div>
    <div class="strip-counts">${countsChips(counts)}${fresh}</div>
  </article>`;
}

/** A roll-up of indicators without one from the server (a department). */
function rollupOf(id, indicators) {
  const withData = indicators.filter((i) => i.status !== 'no_data');
  const mean = (f) => (withData.length ? withData.reduce((s, i) => s + Math.max(0, Math.min(1, f(i) ?? 0)), 0) / withData.length : null);
  const progress = mean((i) => i.progress);
  const expected = mean((i) => i.expected);
  let status = 'no_data';
  if (withData.length) {
    const worst = ['off_track', 'at_risk', 'on_track', 'achieved'].find((s) => withData.some((i) => i.status === s));
    status = worst || 'on_track';
  }
  return { id, status, progress, expected, stale: indicators.some((i) => i.stale) };
}

// --- The kinds of page -------------------------------------------------------------------------

/** "Lewat tenggat: 3": how many indicators are past their final target date, not achieved. */
function overdueCount(n) {
  return n ? `<span class="overdue-chip" data-overdue="true" title="${esc(t('past_due_hint'))}">${esc(t('overdue_n', { n }))}</span>` : '';
}

function overviewPage() {
  const m = store.masterplan;
  const counts = m.counts;
  const all = [...store.indicators.values()];
  const countRows = STATUS_ORDER.map(
    (s) => `<li class="st-${s}">${icon(s)}<span class="name">${esc(statusLabel(s))}</span><b class="n" data-count="${s}">${counts[s] || 0}</b></li>`,
  ).join('');
  const empty = !hasData(all);
  const hero = `<article class="tile hero st-edge-${esc(m.status)}${m.stale ? ' is-stale' : ''}${flash(m.id)}" data-id="masterplan" data-status="${esc(m.status)}">
    <div class="tile-head"><h2>${esc(t('masterplan_total'))}</h2>${badge(m.status)}</div>
    <div class="big value-progress">${esc(pct(m.progress))}</div>
    ${progressBar(m.progress, m.expected, m.status)}
    ${figures(m)}
    ${empty ? '' : '<div class="spark spark-hero" data-spark="masterplan|masterplan"></div>'}
    <h3 class="sub">${esc(t('counts'))}</h3>
    ${countsBar(counts)}
    <ul class="counts-list">${countRows}<li class="stale-row">${icon('stale')}<span class="name">${esc(t('stale'))}</span><b class="n" data-count="stale">${counts.stale || 0}</b></li></ul>
    ${freshness(all, m, { noChip: true, chip: overdueCount(counts.overdue) })}
  </article>`;
  const dims = empty
    ? emptyHint('empty_wall')
    : `<div class="dims">${plan.dimensions
        .map((d) => store.dimensions.get(d.id))
        .filter(Boolean)
        .map(
          (d) => `<article class="tile dim st-edge-${esc(d.status)}${d.stale ? ' is-stale' : ''}${flash(d.id)}" data-id="${esc(d.id)}" data-status="${esc(d.status)}">
        <h2>${esc(d.name)}</h2>
        <div class="tile-status">${badge(d.status)}</div>
        <div class="dim-main"><span class="big value-progress">${esc(pct(d.progress))}</span><b class="gap ${(d.progress ?? 0) < (d.expected ?? 0) ? 'neg' : 'pos'}">${esc(gapPoints(d.progress, d.expected) || '')}</b></div>
        ${progressBar(d.progress, d.expected, d.status)}
        <div class="figs-row"><span><span class="lbl">${esc(t('expected'))}</span> <b class="value-expected">${esc(pct(d.expected))}</b></span></div>
        <div class="spark" data-spark="dimension|${esc(d.id)}"></div>
        ${countsChips(d.counts)}
        ${freshness(indicatorsUnder(store, 'dimension', d.id), d, { compact: true })}
      </article>`,
        )
        .join('')}</div>`;
  return { html: `<section class="overview">${hero}${dims}</section>` };
}

function dimensionPage(page) {
  const id = page.dimension;
  const d = store.dimensions.get(id);
  const def = defs.dimensions.get(id);
  const programs = plan.programs.filter((p) => p.dimension === id).map((p) => store.programs.get(p.id)).filter(Boolean);
  const inds = indicatorsUnder(store, 'dimension', id);
  const elements = def && def.elements ? def.elements.map(esc).join(' · ') : '';
  return {
    strip: strip(d, { name: d.name, sub: elements, counts: d.counts, fresh: freshness(inds, d) }),
    units: hasData(inds) ? programUnits(programs, (p) => indicatorsUnder(store, 'program', p.id)) : [],
    empty: emptyHint('empty_wall'),
    cols: 3,
  };
}

function programPage(page) {
  const p = store.programs.get(page.program);
  const def = defs.programs.get(page.program);
  const dim = def ? defs.dimensions.get(def.dimension) : null;
  const inds = indicatorsUnder(store, 'program', p.id);
  const f = programForecast(inds);
  const note = latestNote(inds);
  const sub = [
    dim ? esc(dim.name) : '',
    `<span class="opd">${esc(departmentShort(p.department))}</span> ${esc(departmentName(defs, p.department))}`,
    `${esc(t('due'))} ${esc(date(p.due))} · ${esc(dueText(p))}`,
    `${esc(t('forecast_short'))}: ${esc(forecastText(f))}`,
  ]
    .filter(Boolean)
    .join(' · ');
  const noteLine = note
    ? `<div class="note"><b>${esc(t('kendala'))}:</b> ${esc(excerpt(note.note.kendala))} <b>${esc(t('rtl'))}:</b> ${esc(excerpt(note.note.rencana_tindak_lanjut))}</div>`
    : '';
  const units = inds.map((i) => {
    const fresh = i.last_update ? age(toMillis(i.last_update)) : t('no_update');
    const capaian = i.capaian != null ? `${t('capaian_short')} ${pct(i.capaian / 100, 1)}` : '';
    return {
      html: `<div class="unit"><article class="card-ind st-edge-${esc(i.status)}${i.stale ? ' is-stale' : ''}${flash(i.id)}" data-id="${esc(i.id)}" data-status="${esc(i.status)}">
        <h3>${esc(i.name)}</h3>
        <div class="status">${statusBadges(i, i.target.date)}</div>
        <div class="val"><div class="lbl">${esc(t('current'))}</div>${bigValue(i.current, i.unit, 'big value-current')}</div>
        <div class="of">${esc(t('target'))} ${esc(valueUnitShort(i.target.value, i.unit))} · ${esc(date(i.target.date))}</div>
        <div class="pct">${esc(pct(i.progress, 0))}</div>
        ${progressBar(i.progress, i.expected, i.status)}
        ${i.sparkline && i.sparkline.length > 1 ? `<span class="spark" data-spark="indicator|${esc(i.id)}"></span>` : ''}
        <div class="foot"><span>${i.stale ? staleChip(fresh) : esc(fresh)}</span><span>${esc(capaian)}</span></div>
      </article></div>`,
    };
  });
  return {
    strip: strip(p, {
      name: p.name,
      sub: sub + noteLine,
      counts: p.counts,
      fresh: freshness(inds, p),
    }),
    units: hasData(inds) ? units : [],
    empty: emptyHint('empty_program'),
    cols: [2, 3],
  };
}

/** Days to the due date; past it, "lewat N hari" only while the program is not achieved. */
function dueText(p) {
  if (!p.due) return '–';
  const n = daysBetween(todayYMD(), p.due);
  if (p.status === 'achieved') return statusLabel('achieved');
  if (n > 0) return t('due_in', { n: num(n, 0) });
  if (n === 0) return t('due_today');
  return t('overdue_by', { n: num(-n, 0) });
}

export function forecastText(f) {
  if (f.kind === 'achieved') return statusLabel('achieved');
  if (f.kind === 'never') return t('forecast_never_short');
  if (f.kind === 'date') return date(f.date);
  return t('forecast_none');
}

function quickWinsName(page) {
  if (page.dimension) {
    const d = defs.dimensions.get(page.dimension);
    return t('quick_wins_of', { name: d ? d.name : page.dimension });
  }
  if (page.department) return t('quick_wins_of', { name: departmentShort(page.department) });
  return t('quick_wins');
}

function quickWinsPage(page) {
  const programs = [...store.programs.values()]
    .filter((p) => p.quick_win && (!page.dimension || p.dimension === page.dimension) && (!page.department || p.department === page.department))
    .sort(byRisk);
  const inds = programs.flatMap((p) => indicatorsUnder(store, 'program', p.id));
  const units = programs.map((p) => {
    const pi = indicatorsUnder(store, 'program', p.id);
    const f = programForecast(pi);
    const note = latestNote(pi);
    const newest = newestUpdate(pi);
    const fresh = newest ? age(newest) : t('no_update');
    return {
      html: `<div class="unit"><article class="qw-row st-edge-${esc(p.status)}${p.stale ? ' is-stale' : ''}${flash(p.id)}" data-id="${esc(p.id)}" data-status="${esc(p.status)}">
        <div class="qw-status">${badge(p.status)}</div>
        <div class="qw-name"><h3>${esc(p.name)}</h3>
          <div class="qw-sub">${p.overdue ? overdueChip(p.due) : ''}<span class="opd">${esc(departmentShort(p.department))}</span>${p.stale ? staleChip(fresh) : `<span class="age">${esc(fresh)}</span>`}${note ? `<span class="qw-note"><b>${esc(t('kendala'))}:</b> ${esc(excerpt(note.note.kendala, 110))}</span>` : ''}</div>
        </div>
        <div class="qw-progress"><div class="qw-pct"><b class="value-progress">${esc(pct(p.progress))}</b><span>${esc(t('expected'))} ${esc(pct(p.expected))}</span></div>${progressBar(p.progress, p.expected, p.status)}</div>
        <div class="qw-due${p.overdue ? ' late' : ''}"><span class="lbl">${esc(t('due'))} ${esc(date(p.due))}</span><b>${esc(dueText(p))}</b></div>
        <div class="qw-forecast"><span class="lbl">${esc(t('forecast_short'))}</span><b>${esc(forecastText(f))}</b></div>
      </article></div>`,
    };
  });
  return {
    units,
    empty: `<p class="empty-hint">${esc(t('quick_wins_none'))}</p>`,
    cols: 1,
    strip: hasData(inds) || !programs.length ? '' : emptyHint('empty_wall'),
  };
}

function departmentPage(page) {
  const id = page.department;
  const dept = defs.departments.get(id);
  const inds = [...store.indicators.values()].filter((i) => i.department === id);
  const item = rollupOf(id, inds);
  const overdue = inds.filter((i) => i.stale || !i.last_update).length;
  const programs = [...store.programs.values()].filter((p) => inds.some((i) => i.program === p.id));
  const sub = `<span class="opd">${esc(departmentShort(id))}</span> ${esc(t('indicators_n', { n: inds.length }))}${overdue ? ` · <span class="late">${esc(t('to_update_n', { n: overdue }))}</span>` : ''}`;
  return {
    strip: strip(item, { name: dept ? dept.name : id, sub, counts: countsOf(inds), fresh: freshness(inds) }),
    units: hasData(inds) ? programUnits(programs, (p) => inds.filter((i) => i.program === p.id)) : [],
    empty: emptyHint('empty_department'),
    cols: 3,
  };
}

const FEED_STATUS = { up: 'on_track', down: 'off_track', late: 'at_risk', pending: 'no_data' };

function feedsPage(page) {
  const list = (feeds || []).filter((f) => !page.department || f.department === page.department);
  const units = list.map((f) => {
    const st = FEED_STATUS[f.health] || 'no_data';
    const success = f.last_success ? t('last_success', { age: age(toMillis(f.last_success)) }) : t('never_succeeded');
    const err = f.last_error && (!f.last_success || toMillis(f.last_error.time) > toMillis(f.last_success)) ? f.last_error : null;
    const next = f.next_run ? t('next_run', { time: time(toMillis(f.next_run)) }) : '';
    return {
      html: `<div class="unit"><article class="feed-row st-edge-${st}" data-id="${esc(f.id)}" data-health="${esc(f.health)}">
        <h3>${esc(f.id)}</h3>
        <span class="badge st-${st}">${icon(st)}<span>${esc(t('feed_' + f.health))}</span></span>
        <div class="meta"><span class="opd">${esc(departmentShort(f.department))}</span> ${esc(f.format || '')} · ${esc(success)}</div>
        <div class="when">${esc(next)}</div>
        ${err ? `<div class="err" title="${esc(err.message)}">${esc(t('last_error'))} ${esc(age(toMillis(err.time)))}: ${esc(excerpt(err.message, 180))}</div>` : ''}
      </article></div>`,
    };
  });
  return {
    units,
    empty: `<div class="empty-hint" data-empty="1"><h2>${esc(t('feeds_none_title'))}</h2><p>${feeds === null ? esc(t('connecting')) : t('feeds_none_html')}</p></div>`,
    cols: list.length > 6 ? 2 : 1,
  };
}

function numbersPage(page) {
  const ids = page.indicators || [];
  const n = ids.length;
  const cols = n <= 3 ? n : n === 4 ? 2 : n <= 6 ? 3 : n === 9 ? 3 : 4;
  const rows = Math.ceil(n / Math.max(1, cols));
  const empty = !hasData(ids.map((id) => store.indicators.get(id)).filter(Boolean));
  const tiles = ids
    .map((id) => {
      const i = store.indicators.get(id);
      if (!i) return '';
      if (empty) {
        return `<article class="tile num-tile st-edge-${esc(i.status)}" data-id="${esc(i.id)}" data-status="${esc(i.status)}"><h3>${esc(i.name)}</h3><div class="row">${badge(i.status)}</div></article>`;
      }
      const fresh = i.last_update ? age(toMillis(i.last_update)) : t('no_update');
      return `<article class="tile num-tile st-edge-${esc(i.status)}${i.stale ? ' is-stale' : ''}${flash(i.id)}" data-id="${esc(i.id)}" data-status="${esc(i.status)}">
        <h3>${esc(i.name)}</h3>
        ${bigValue(i.current, i.unit, 'big value-current')}
        <div class="of">${esc(t('target'))} ${esc(valueUnitShort(i.target.value, i.unit))} · ${esc(date(i.target.date))}</div>
        ${progressBar(i.progress, i.expected, i.status)}
        <div class="row">${statusBadges(i, i.target.date)}<b>${esc(pct(i.progress, 0))}</b></div>
        <div class="fresh">${i.stale ? staleChip(fresh) : esc(fresh)}</div>
      </article>`;
    })
    .join('');
  return {
    html: `<section class="wpage">${empty ? emptyHint('empty_wall') : ''}<div class="wbody numbers" style="grid-template-columns:repeat(${cols},minmax(0,1fr));grid-template-rows:repeat(${rows},minmax(0,1fr))">${tiles}</div></section>`,
  };
}

function chartPage(page) {
  const id = page.indicator;
  const i = store.indicators.get(id);
  const data = chartData.get(id);
  if (!data) loadChart(id);
  const fresh = i.last_update ? age(toMillis(i.last_update)) : t('no_update');
  const f = i.forecast;
  const fact = (label, value, extra = '') => `<div class="fact-w"><span class="lbl">${esc(label)}</span>${value}${extra}</div>`;
  const facts = [
    fact(t('current'), wallValue(i.current, i.unit, 'value-current')),
    fact(t('final_target'), `<b>${esc(valueUnitShort(i.target.value, i.unit))}</b>`, `<span class="lbl">${esc(date(i.target.date))}</span>`),
    fact(t('progress'), `<b>${esc(pct(i.progress))}</b>`),
    fact(t('capaian'), `<b>${esc(i.capaian != null ? pct(i.capaian / 100, 1) : '–')}</b>`),
    fact(t('forecast'), `<b>${esc(f ? (f.reach_date ? date(f.reach_date) : t('forecast_never_short')) : '–')}</b>`),
    fact(t('updated_col'), `<b>${esc(fresh)}</b>`),
  ].join('');
  const def = defs.indicators.get(id);
  const html = `<section class="wpage chart-page">
    <article class="tile strip st-edge-${esc(i.status)}${flash(i.id)}" data-id="${esc(i.id)}" data-status="${esc(i.status)}" style="grid-template-columns: minmax(0, 1fr) auto">
      <div class="strip-name"><h2>${esc(i.name)}</h2><div class="meta">${esc(def ? def.unit : '')} · <span class="opd">${esc(departmentShort(i.department))}</span></div></div>
      <div class="strip-fig">${statusBadges(i, i.target.date)}</div>
      <div class="facts-row" style="grid-column: 1 / -1">${facts}</div>
    </article>
    <div class="wbody tile chart-area">${i.last_update ? '' : `<div class="empty-hint compact" data-empty="1"><p><b>${esc(t('empty_title'))}.</b> ${t('empty_how_html')}</p></div>`}<div id="wall-chart"></div>${data && data.error ? `<p class="result err">${esc(t('load_failed', { msg: data.error }))}</p>` : ''}</div>
  </section>`;
  return {
    html,
    after: () => {
      if (!data || !data.detail) return;
      const box = main.querySelector('.chart-area');
      const el = document.getElementById('wall-chart');
      const rem = parseFloat(getComputedStyle(document.documentElement).fontSize) || 20;
      // Without values yet, the hint above the chart takes its share of the height.
      const hint = box.querySelector('.empty-hint');
      const height = Math.max(200, box.clientHeight - (hint ? hint.offsetHeight + rem * 0.6 : 0) - rem * 4.5);
      chart = trajectoryChart(el, {
        definition: data.detail.indicator,
        trajectory: data.detail.trajectory,
        points: data.points,
        progress: i,
        height,
        fontPx: Math.round(rem * 1.2),
      });
    },
  };
}

/**
 * Every kind of page: its name for the header and its renderer. A renderer returns either
 * `{html}` (a fixed layout) or `{strip, units, cols, empty}` (a flow shown in parts when it does
 * not fit). `known(page)` says whether what the page names is in the plan.
 */
const KINDS = {
  overview: { name: () => t('overview'), render: overviewPage },
  dimension: {
    known: (p) => store.dimensions.has(p.dimension),
    name: (p) => (defs.dimensions.get(p.dimension) || {}).name || p.dimension,
    render: dimensionPage,
  },
  program: {
    known: (p) => store.programs.has(p.program),
    name: (p) => (defs.programs.get(p.program) || {}).name || p.program,
    render: programPage,
  },
  'quick-wins': { name: quickWinsName, render: quickWinsPage },
  department: {
    known: (p) => defs.departments.has(p.department),
    name: (p) => (defs.departments.get(p.department) || {}).name || p.department,
    render: departmentPage,
  },
  feeds: { name: () => t('feeds'), render: feedsPage },
  numbers: {
    known: (p) => (p.indicators || []).some((id) => store.indicators.has(id)),
    name: () => t('numbers'),
    render: numbersPage,
  },
  chart: {
    known: (p) => store.indicators.has(p.indicator),
    name: (p) => (defs.indicators.get(p.indicator) || {}).name || p.indicator,
    render: chartPage,
  },
  compliance: { name: () => t('compliance_title'), render: compliancePage },
};

function pageName(page) {
  const kind = KINDS[page.kind];
  return page.title || (kind ? kind.name(page) : page.id);
}

function renderRotation() {
  const el = document.getElementById('rotation');
  if (!el) return;
  const page = playlist[state.index];
  if (!page || (playlist.length < 2 && state.parts < 2)) {
    el.innerHTML = '';
    return;
  }
  const nextName = state.part + 1 < state.parts ? t('page_part', { i: state.part + 2, n: state.parts }) : pageName(playlist[(state.index + 1) % playlist.length]);
  const part = state.parts > 1 ? `<span class="rot-part" data-part="${state.part + 1}/${state.parts}">${esc(t('page_part', { i: state.part + 1, n: state.parts }))}</span> · ` : '';
  const total = seconds(page);
  const left = Math.max(0, total - (Date.now() - state.startedAt));
  const dots = playlist.map((_, i) => `<span class="rot-dot${i === state.index ? ' on' : ''}"></span>`).join('');
  el.innerHTML = `<div class="rot-dots">${dots}</div><span class="rot-next">${part}${esc(t('next_page', { page: nextName }))} · ${Math.ceil(left / 1000)}</span>
    <div class="rot-bar"><span style="width:${(100 * (1 - left / total)).toFixed(1)}%"></span></div>`;
}

function renderEvents() {
  const el = document.getElementById('events');
  if (!el) return;
  if (!events.length) {
    el.innerHTML = `<span class="none">${esc(t('events_none'))}</span>`;
    return;
  }
  el.innerHTML = events
    .map((e) => {
      const when = time(Date.parse(e.time) || Date.now());
      let text;
      if (e.kind === 'became_stale') text = t('event_stale', { name: e.name });
      else if (e.kind === 'fresh_again') text = t('event_fresh', { name: e.name });
      else if (e.kind === 'became_overdue') text = t('event_overdue', { name: e.name });
      else if (e.kind === 'update_overdue') text = t('event_update_overdue', { name: e.name });
      else if (e.kind === 'feed_down') text = t('event_feed_down', { name: e.name || e.id });
      else if (e.kind === 'feed_up') text = t('event_feed_up', { name: e.name || e.id });
      else text = t('event_status', { name: e.name, from: statusLabel(e.from), to: statusLabel(e.to) });
      const st = e.kind === 'became_stale' ? 'stale' : e.kind === 'became_overdue' || e.kind === 'feed_down' ? 'off_track' : e.kind === 'update_overdue' ? 'stale' : e.kind === 'feed_up' ? 'on_track' : e.to || 'no_data';
      return `<span class="event st-${esc(st)}">${icon(st)}<time>${esc(when)}</time><span class="text">${esc(text)}</span></span>`;
    })
    .join('');
}

function renderLegend() {
  const el = document.getElementById('legend');
  if (!el) return;
  el.innerHTML =
    STATUS_ORDER.map((s) => `<span class="legend-item st-${s}">${icon(s)}${esc(statusLabel(s))}</span>`).join('') +
    `<span class="legend-item st-stale">${icon('stale')}${esc(t('stale'))}</span>`;
}
