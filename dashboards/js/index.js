// index.js — owns the start page (/): lists the wall's screens from /api/v1/screens with a link to
// each screen and to each of its pages, the quick-wins page, and every department's page with
// its indicator count and how many are stale or past due; the masterplan total (with how many
// indicators are past their final target date and not achieved) updates live, and an empty city is
// told what to do next.

import { getJSON } from './api.js';
import { boot, connectLive, batched, ProgressStore } from './page.js';
import { t, href } from './i18n.js';
import { esc, pct, badge, staleChip, overdueChip, icon, age } from './format.js';
import { indexPlan, departmentShort, newestUpdate } from './model.js';

const plan = await boot('pages');
const defs = indexPlan(plan);
const store = new ProgressStore();
document.getElementById('title').textContent = t('screens') + ' & ' + t('pages');

/** A page's name as the start page lists it: "Dimensi: Smart Living", "Program: ...". */
function pageLabel(page) {
  const name = (map, id) => (map.get(id) || {}).name || id;
  if (page.title) return page.title;
  switch (page.kind) {
    case 'overview':
      return t('overview');
    case 'quick-wins':
      if (page.dimension) return t('quick_wins_of', { name: name(defs.dimensions, page.dimension) });
      if (page.department) return t('quick_wins_of', { name: departmentShort(page.department) });
      return t('quick_wins');
    case 'dimension':
      return `${t('dimension')}: ${name(defs.dimensions, page.dimension)}`;
    case 'program':
      return `${t('program')}: ${name(defs.programs, page.program)}`;
    case 'department':
      return `${t('opd')}: ${name(defs.departments, page.department)}`;
    case 'feeds':
      return page.department ? `${t('feeds')}: ${departmentShort(page.department)}` : t('feeds');
    case 'numbers':
      return `${t('numbers')} (${t('indicators_n', { n: (page.indicators || []).length })})`;
    case 'chart':
      return `${t('trajectory')}: ${name(defs.indicators, page.indicator)}`;
    case 'compliance':
      return t('compliance_title');
    default:
      return page.id;
  }
}

async function renderScreens() {
  let screens;
  try {
    screens = await getJSON('/api/v1/screens');
  } catch (e) {
    document.getElementById('screens').innerHTML = `<p class="result err">${esc(t('load_failed', { msg: e.message }))}</p>`;
    return;
  }
  const connected = screens.connected || [];
  document.getElementById('screens').innerHTML = (screens.configured || [])
    .map((s) => {
      const n = connected.filter((c) => c.screen === s.id).length;
      const wall = `/wall?screen=${encodeURIComponent(s.id)}`;
      const pages = s.pages
        .map((p, k) => `<li><a href="${esc(href(`${wall}&page=${k + 1}`))}" data-page="${esc(p.id)}" data-kind="${esc(p.kind)}">${esc(pageLabel(p))}</a> <small class="muted">${esc(t('seconds_n', { n: p.seconds }))}</small></li>`)
        .join('');
      return `<article class="card screen-card" data-screen="${esc(s.id)}">
        <h3>${esc(s.label)}</h3>
        <div class="meta"><code>${esc(s.id)}</code> · ${esc(t('pages_n', { n: s.pages.length }))} · <span class="${n ? 'st-on_track' : ''}">${esc(t('connected_screens', { n }))}</span></div>
        <ul class="page-links">${pages}</ul>
        <a class="btn" href="${esc(href(wall))}">${esc(t('open_screen'))} →</a>
      </article>`;
    })
    .join('');
}

function render() {
  const m = store.masterplan;
  const all = [...store.indicators.values()];
  const newest = newestUpdate(all);
  // Indicators past their final target date and not achieved (`overdue`, as the API's
  // `counts.overdue` counts them).
  const late = all.filter((i) => i.overdue);
  const empty = document.getElementById('index-empty');
  empty.hidden = !m || all.some((i) => i.last_update);
  if (!empty.hidden) empty.innerHTML = `<h2>${esc(t('empty_title'))}</h2><p>${esc(t('empty_wall'))}</p><p>${t('empty_how_html')}</p>`;
  if (m) {
    document.getElementById('index-summary').innerHTML =
      `<div class="tile st-edge-${esc(m.status)}" data-id="masterplan"><span class="lbl">${esc(t('masterplan_total'))}</span><b class="value-progress">${esc(pct(m.progress))}</b>${badge(m.status)}<span class="muted">${esc(newest ? t('latest_data', { age: age(newest) }) : t('no_update'))}</span></div>` +
      `<div class="tile"><span class="lbl">${esc(t('expected_now'))}</span><b>${esc(pct(m.expected))}</b></div>` +
      `<div class="tile"><span class="lbl">${esc(t('indicators'))}</span><b>${store.indicators.size}</b></div>` +
      `<div class="tile${m.counts.stale ? ' is-stale' : ''}"><span class="lbl">${esc(t('stale'))}</span><b>${m.counts.stale}</b>${m.counts.stale ? staleChip() : ''}</div>` +
      `<div class="tile${late.length ? ' is-late' : ''}" data-figure="overdue"><span class="lbl">${esc(t('past_due'))}</span><b>${late.length}</b>${late.length ? overdueChip(null) : `<span class="muted">${esc(t('overdue_items_none'))}</span>`}</div>`;
  }
  document.getElementById('departments').innerHTML = plan.departments
    .map((d) => {
      const inds = [...store.indicators.values()].filter((i) => i.department === d.id);
      const stale = inds.filter((i) => i.stale).length;
      const pastDue = late.filter((x) => x.department === d.id).length;
      const chips = (pastDue ? `<span class="overdue-chip" data-overdue="true" title="${esc(t('past_due_hint'))}">${esc(t('overdue_n', { n: pastDue }))}</span>` : '') + (stale ? staleChip(t('stale_n', { n: stale })) : '');
      return `<li><a href="${esc(href(`/department/${encodeURIComponent(d.id)}`))}" data-department="${esc(d.id)}">
        <span><span class="opd">${esc(departmentShort(d.id))}</span> ${esc(d.name)}<br><small>${esc(t('indicators_n', { n: inds.length }))}</small></span>
        ${chips ? `<span class="chips">${chips}</span>` : ''}</a></li>`;
    })
    .join('');
  document.body.dataset.ready = '1';
}

const qw = document.getElementById('qw-link');
qw.href = href('/quick-wins');
qw.innerHTML = `${icon('achieved')} ${esc(t('quick_wins_long'))} →`;
await renderScreens();
connectLive({}, store, { onChange: batched(render, 1000) });
setInterval(render, 30000);
setInterval(renderScreens, 30000);
