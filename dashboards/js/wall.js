// wall.js — owns the monitoring wall (/wall?screen=<id>): rotates through the screen's playlist
// from screens.toml ("overview", "dimension:<id>", "quick-wins"), renders each page from the live
// progress store, marks stale data, flashes what just changed and lists the latest events.
// `&page=<name>` pins one page (handy for a fixed screen or a screenshot).

import { getJSON } from './api.js';
import { boot, connectLive, setTitle, batched, ProgressStore } from './page.js';
import { t } from './i18n.js';
import {
  esc, pct, gapPoints, valueUnit, badge, statusBadges, overdueChip, icon, staleChip, progressBar, age, date, time, daysBetween, todayYMD,
  statusLabel, STATUS_ORDER,
} from './format.js';
import { mountSparklines } from './chart.js';
import {
  indexPlan, indicatorsUnder, newestUpdate, rollupTrend, programForecast, latestNote, byRisk, departmentShort,
} from './model.js';

const params = new URLSearchParams(location.search);
const main = document.getElementById('wall-page');
const FLASH_MS = 4000;

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
const playlist = params.get('page') ? [params.get('page')] : screen ? screen.pages : ['overview'];
const intervalMs = (screen ? screen.interval_seconds : 30) * 1000;
let pageIndex = 0;
let pageStartedAt = Date.now();

connectLive({ screen: screen ? screen.id : undefined, token: params.get('token') || undefined }, store, {
  onChange: (ids) => {
    const now = Date.now();
    if (ids) for (const id of ids) changedAt.set(id, now);
    renderSoon();
  },
  onEvent: (ev) => {
    events.unshift(ev);
    events.length = Math.min(events.length, 2);
    renderEvents();
  },
});

setInterval(() => {
  if (playlist.length > 1 && Date.now() - pageStartedAt >= intervalMs) {
    pageIndex = (pageIndex + 1) % playlist.length;
    pageStartedAt = Date.now();
    render();
  }
  renderRotation();
}, 250);
// Ages ("5 mnt lalu") and flashes move on even when no data arrives.
setInterval(() => render(), 15000);

renderLegend();
// The banner coming and going, or a window resize, changes the room the tiles have: redraw so
// the sparklines fit again.
let lastSize = '';
new ResizeObserver(() => {
  const size = `${main.clientWidth}x${main.clientHeight}`;
  if (size !== lastSize) {
    lastSize = size;
    render();
  }
}).observe(main);

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

function pageName(page) {
  if (page === 'overview') return t('overview');
  if (page === 'quick-wins') return t('quick_wins');
  if (page.startsWith('dimension:')) {
    const d = defs.dimensions.get(page.slice(10));
    return d ? d.name : page;
  }
  return page;
}

function render() {
  if (!store.masterplan) return;
  const page = playlist[pageIndex] || 'overview';
  setTitle(pageName(page));
  document.body.dataset.page = page;
  if (page.startsWith('dimension:') && store.dimensions.has(page.slice(10))) {
    main.innerHTML = dimensionPage(page.slice(10));
  } else if (page === 'quick-wins') {
    main.innerHTML = quickWinsPage();
  } else {
    main.innerHTML = overviewPage();
  }
  resumeFlashes();
  mountSparklines(main, sparkLookup);
  fitQuickWins();
  fitDimension();
  document.body.dataset.ready = '1';
  renderRotation();
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

/** "data terbaru 5 mnt lalu" for a roll-up. */
function freshText(kind, id) {
  const newest = newestUpdate(indicatorsUnder(store, kind, id));
  return newest ? t('latest_data', { age: age(newest) }) : t('no_update');
}

/** "data terbaru 5 mnt lalu" and "3 usang" for a roll-up. */
function rollupFreshness(kind, id, item) {
  const newest = newestUpdate(indicatorsUnder(store, kind, id));
  const staleN = item.counts ? item.counts.stale : 0;
  const staleText = staleN ? staleChip(t('stale_n', { n: staleN })) : '';
  return `<div class="fresh">${staleText}<span class="age">${esc(newest ? t('latest_data', { age: age(newest) }) : t('no_update'))}</span></div>`;
}

function countsChips(counts) {
  return `<div class="count-chips">${STATUS_ORDER.map(
    (s) => `<span class="count-chip st-${s}" title="${esc(statusLabel(s))}">${icon(s)}<b>${counts[s] || 0}</b></span>`,
  ).join('')}</div>`;
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

function overviewPage() {
  const m = store.masterplan;
  const counts = m.counts;
  const countRows = STATUS_ORDER.map(
    (s) => `<li class="st-${s}">${icon(s)}<span class="name">${esc(statusLabel(s))}</span><b class="n" data-count="${s}">${counts[s] || 0}</b></li>`,
  ).join('');
  const hero = `<article class="tile hero st-edge-${esc(m.status)}${m.stale ? ' is-stale' : ''}${flash(m.id)}" data-id="masterplan" data-status="${esc(m.status)}">
    <div class="tile-head"><h2>${esc(t('masterplan_total'))}</h2>${badge(m.status)}</div>
    <div class="big value-progress">${esc(pct(m.progress))}</div>
    ${progressBar(m.progress, m.expected, m.status)}
    ${figures(m)}
    <div class="spark spark-hero" data-spark="masterplan|masterplan"></div>
    <h3 class="sub">${esc(t('counts'))}</h3>
    ${countsBar(counts)}
    <ul class="counts-list">${countRows}<li class="stale-row">${icon('stale')}<span class="name">${esc(t('stale'))}</span><b class="n" data-count="stale">${counts.stale || 0}</b></li></ul>
    ${rollupFreshness('masterplan', 'masterplan', m)}
  </article>`;
  const dims = plan.dimensions
    .map((d) => store.dimensions.get(d.id))
    .filter(Boolean)
    .map(
      (d) => `<article class="tile dim st-edge-${esc(d.status)}${d.stale ? ' is-stale' : ''}${flash(d.id)}" data-id="${esc(d.id)}" data-status="${esc(d.status)}">
        <h2>${esc(d.name)}</h2>
        <div class="tile-status">${badge(d.status)}${d.counts.stale ? staleChip(t('stale_n', { n: d.counts.stale })) : ''}</div>
        <div class="big value-progress">${esc(pct(d.progress))}</div>
        ${progressBar(d.progress, d.expected, d.status)}
        ${figures(d, true)}
        <div class="spark" data-spark="dimension|${esc(d.id)}"></div>
        ${countsChips(d.counts)}
        <div class="fresh"><span class="age">${esc(freshText('dimension', d.id))}</span></div>
      </article>`,
    )
    .join('');
  return `<section class="overview">${hero}<div class="dims">${dims}</div></section>`;
}

function indicatorRow(i) {
  const fresh = i.last_update ? age(Date.parse(i.last_update)) : '–';
  return `<li class="ind${i.stale ? ' is-stale' : ''}${flash(i.id)}" data-id="${esc(i.id)}" data-status="${esc(i.status)}">
    <span class="ind-icon st-${esc(i.status)}" title="${esc(statusLabel(i.status))}">${icon(i.status)}</span>
    <span class="ind-name">${esc(i.name)}${i.overdue ? overdueChip(i.target.date) : ''}</span>
    <span class="ind-age">${i.stale ? staleChip(fresh) : esc(fresh)}</span>
    <span class="ind-value"><b class="value-current">${esc(valueUnit(i.current, i.unit))}</b><small>/ ${esc(valueUnit(i.target.value, i.unit))}</small></span>
    <span class="ind-bar">${progressBar(i.progress, i.expected, i.status)}</span>
    <span class="ind-pct">${esc(pct(i.progress, 0))}</span>
    <span class="spark spark-row" data-spark="indicator|${esc(i.id)}"></span>
  </li>`;
}

function dimensionPage(id) {
  const d = store.dimensions.get(id);
  const def = defs.dimensions.get(id);
  const programs = plan.programs.filter((p) => p.dimension === id).map((p) => store.programs.get(p.id)).filter(Boolean);
  const cards = programs
    .map((p) => {
      const inds = indicatorsUnder(store, 'program', p.id);
      return `<article class="tile prog st-edge-${esc(p.status)}${p.stale ? ' is-stale' : ''}${flash(p.id)}" data-id="${esc(p.id)}" data-status="${esc(p.status)}">
        <div class="prog-head">
          <h3>${esc(p.name)}</h3>
          <div class="prog-meta">${statusBadges(p, p.due)}<span class="opd">${esc(departmentShort(p.department))}</span>${p.quick_win ? `<span class="qw">${esc(t('quick_win'))}</span>` : ''}<b class="prog-pct">${esc(pct(p.progress))}</b></div>
        </div>
        <ul class="ind-list">${inds.map(indicatorRow).join('')}</ul>
      </article>`;
    })
    .join('');
  return `<section class="dimension-page">
    <article class="tile dim-strip st-edge-${esc(d.status)}${flash(d.id)}" data-id="${esc(d.id)}" data-status="${esc(d.status)}">
      <div class="strip-name"><h2>${esc(d.name)}</h2><div class="elements">${esc((def && def.elements ? def.elements : []).join(' · '))}</div></div>
      <div class="strip-fig">${badge(d.status)}<div class="big value-progress">${esc(pct(d.progress))}</div></div>
      <div class="strip-bar">${progressBar(d.progress, d.expected, d.status)}${figures(d, true)}</div>
      <div class="strip-counts">${countsChips(d.counts)}${rollupFreshness('dimension', d.id, d)}</div>
    </article>
    <div class="prog-grid">${cards}</div>
  </section>`;
}

/** Days to the due date; past it, "lewat N hari" only while the program is not achieved. */
function dueText(p) {
  if (!p.due) return '–';
  const n = daysBetween(todayYMD(), p.due);
  if (p.status === 'achieved') return statusLabel('achieved');
  if (n > 0) return t('due_in', { n });
  if (n === 0) return t('due_today');
  return t('overdue_by', { n: -n });
}

export function forecastText(f) {
  if (f.kind === 'achieved') return statusLabel('achieved');
  if (f.kind === 'never') return t('forecast_never_short');
  if (f.kind === 'date') return date(f.date);
  return t('forecast_none');
}

function quickWinsPage() {
  const programs = [...store.programs.values()].filter((p) => p.quick_win).sort(byRisk);
  const rows = programs
    .map((p) => {
      const inds = indicatorsUnder(store, 'program', p.id);
      const f = programForecast(inds);
      const note = latestNote(inds);
      const late = p.overdue;
      const newest = newestUpdate(inds);
      const fresh = newest ? age(newest) : t('no_update');
      return `<li class="qw-row st-edge-${esc(p.status)}${p.stale ? ' is-stale' : ''}${flash(p.id)}" data-id="${esc(p.id)}" data-status="${esc(p.status)}">
        <div class="qw-status">${statusBadges(p, p.due)}</div>
        <div class="qw-name"><h3>${esc(p.name)}</h3>
          <div class="qw-sub"><span class="opd">${esc(departmentShort(p.department))}</span>${p.stale ? staleChip(fresh) : `<span class="age">${esc(fresh)}</span>`}${note ? `<span class="qw-note"><b>${esc(t('kendala'))}:</b> ${esc(note.note.kendala)}</span>` : ''}</div>
        </div>
        <div class="qw-progress"><div class="qw-pct"><b class="value-progress">${esc(pct(p.progress))}</b><span>${esc(t('expected'))} ${esc(pct(p.expected))}</span></div>${progressBar(p.progress, p.expected, p.status)}</div>
        <div class="qw-due${late ? ' late' : ''}"><span class="lbl">${esc(t('due'))} ${esc(date(p.due))}</span><b>${esc(dueText(p))}</b></div>
        <div class="qw-forecast"><span class="lbl">${esc(t('forecast_short'))}</span><b>${esc(forecastText(f))}</b></div>
      </li>`;
    })
    .join('');
  return `<section class="qw-page"><div class="qw-caption">${esc(t('quick_wins_long'))} · ${esc(t('sorted_by_risk'))}<span class="qw-more" hidden></span></div><ol class="qw-list">${rows}</ol></section>`;
}

/** Keeps every quick win on screen: denser rows first, then "+N more" for what still does not fit. */
function fitQuickWins() {
  const list = main.querySelector('.qw-list');
  if (!list) return;
  if (list.scrollHeight > list.clientHeight + 1) list.classList.add('dense');
  const rows = [...list.children];
  let hidden = 0;
  while (list.scrollHeight > list.clientHeight + 1 && rows.length > 1) {
    rows.pop().remove();
    hidden += 1;
  }
  if (hidden) {
    const more = main.querySelector('.qw-more');
    more.textContent = t('more_programs', { n: hidden });
    more.hidden = false;
  }
}

/** Keeps every programme of a dimension page on screen: denser rows when they do not fit. */
function fitDimension() {
  const grid = main.querySelector('.prog-grid');
  if (!grid) return;
  const over = () => grid.scrollWidth > grid.clientWidth + 1 || grid.scrollHeight > grid.clientHeight + 1;
  if (over()) grid.classList.add('dense');
  if (over()) grid.classList.add('denser');
}

function renderRotation() {
  const el = document.getElementById('rotation');
  if (!el) return;
  if (playlist.length < 2) {
    el.innerHTML = '';
    return;
  }
  const next = playlist[(pageIndex + 1) % playlist.length];
  const left = Math.max(0, intervalMs - (Date.now() - pageStartedAt));
  const dots = playlist.map((_, i) => `<span class="rot-dot${i === pageIndex ? ' on' : ''}"></span>`).join('');
  el.innerHTML = `<div class="rot-dots">${dots}</div><span class="rot-next">${esc(t('next_page', { page: pageName(next) }))} · ${Math.ceil(left / 1000)}</span>
    <div class="rot-bar"><span style="width:${(100 * (1 - left / intervalMs)).toFixed(1)}%"></span></div>`;
}

function renderEvents() {
  const el = document.getElementById('events');
  if (!el) return;
  el.innerHTML = events
    .map((e) => {
      const when = time(Date.parse(e.time) || Date.now());
      let text;
      if (e.kind === 'became_stale') text = t('event_stale', { name: e.name });
      else if (e.kind === 'fresh_again') text = t('event_fresh', { name: e.name });
      else if (e.kind === 'became_overdue') text = t('event_overdue', { name: e.name });
      else text = t('event_status', { name: e.name, from: statusLabel(e.from), to: statusLabel(e.to) });
      const st = e.kind === 'became_stale' ? 'stale' : e.kind === 'became_overdue' ? 'off_track' : e.to || 'no_data';
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
