// federation.js — owns the federation wall: every followed city's progress from the federation
// daemon's /api/v1/federation/progress, kept current over its /api/v1/live (snapshot, then
// deltas of changed cities); cities ranked by progress with a city x dimension grid, quick wins
// at risk across cities, and cities whose data is stale. Rows that do not fit rotate in parts.

import { getJSON, Live } from './api.js';
import { chooseLang, lang } from './i18n.js';
import { setTimeZone, time, timeZoned, longDate, zoneLabel, esc, pct, num, age, badge, progressBar, statusLabel } from './format.js';

const TEXT = {
  id: {
    fed_sub: 'Federasi pantau',
    title: 'Kemajuan Smart City',
    ranking: 'Peringkat kabupaten/kota menurut kemajuan masterplan',
    city: 'Kabupaten/Kota',
    masterplan: 'Masterplan',
    quick_wins: 'QW',
    qw_risk: 'Quick win berisiko',
    qw_none: 'Tidak ada quick win yang berisiko.',
    stale_cities: 'Data usang',
    stale_none: 'Semua kota terkini.',
    offline: 'terputus',
    never: 'belum pernah terhubung',
    last: 'data per {time} · {age}',
    kota: 'Kota',
    kabupaten: 'Kabupaten',
    part: 'bagian {i}/{n}',
    live: 'Langsung',
    connecting: 'Menghubungkan',
    disconnected: 'Koneksi ke federasi terputus — data per {time}',
    reconnecting: 'menyambung ulang dalam {s} dtk',
    load_failed: 'Gagal memuat data federasi: {msg}',
    version: 'pantau {v}',
    no_data: 'belum ada data',
    of: '{n} dari {total}',
  },
  en: {
    fed_sub: 'pantau federation',
    title: 'Smart City progress',
    ranking: 'Cities ranked by masterplan progress',
    city: 'City/Regency',
    masterplan: 'Masterplan',
    quick_wins: 'QW',
    qw_risk: 'Quick wins at risk',
    qw_none: 'No quick win is at risk.',
    stale_cities: 'Stale data',
    stale_none: 'Every city is current.',
    offline: 'disconnected',
    never: 'never connected',
    last: 'data as of {time} · {age}',
    kota: 'City',
    kabupaten: 'Regency',
    part: 'part {i}/{n}',
    live: 'Live',
    connecting: 'Connecting',
    disconnected: 'Connection to the federation lost — data as of {time}',
    reconnecting: 'reconnecting in {s} s',
    load_failed: 'Cannot load the federation: {msg}',
    version: 'pantau {v}',
    no_data: 'no data yet',
    of: '{n} of {total}',
  },
};

function tr(key, vars = {}) {
  const s = (TEXT[lang()] || TEXT.id)[key] ?? TEXT.id[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => (k in vars ? String(vars[k]) : `{${k}}`));
}

const state = { fed: null, cities: new Map(), part: 0, lastData: null };
const ROTATE_MS = 15000;

function ranked() {
  const list = [...state.cities.values()];
  const p = (c) => (c.masterplan && Number.isFinite(c.masterplan.progress) ? c.masterplan.progress : null);
  list.sort((a, b) => {
    const x = p(a);
    const y = p(b);
    if (x !== null && y !== null) return y - x;
    if (x !== null) return -1;
    if (y !== null) return 1;
    return a.name.localeCompare(b.name);
  });
  return list;
}

function dimensions() {
  const seen = new Map();
  for (const d of (state.fed && state.fed.dimensions) || []) seen.set(d.id, d.name || d.id);
  for (const c of state.cities.values()) for (const d of c.dimensions || []) if (!seen.has(d.id)) seen.set(d.id, d.name || d.id);
  return [...seen.entries()].map(([id, name]) => ({ id, name }));
}

function freshness(c) {
  if (!c.last_data_ms) return tr('never');
  const line = tr('last', { time: timeZoned(c.last_data_ms), age: age(c.last_data_ms) });
  return c.connected ? line : `${tr('offline')} · ${line}`;
}

function cityRow(c, rank, dims) {
  const m = c.masterplan;
  const status = m ? m.status : 'no_data';
  const cells = dims
    .map((d) => {
      const x = (c.dimensions || []).find((y) => y.id === d.id);
      const st = x && x.status ? x.status : 'no_data';
      const text = x && Number.isFinite(x.progress) ? pct(x.progress, 0) : '–';
      return `<td class="cell st-${esc(st)}" data-dim="${esc(d.id)}" title="${esc(d.name)}: ${esc(statusLabel(st))}">${esc(text)}</td>`;
    })
    .join('');
  const qw = c.quick_wins || {};
  const risky = (qw.at_risk || 0) + (qw.off_track || 0);
  const meta = c.stale || !c.connected ? freshness(c) : [tr(c.kind), c.version ? tr('version', { v: c.version }) : ''].filter(Boolean).join(' · ');
  return `<tr class="${c.stale || !c.connected ? 'is-stale' : ''}" data-city="${esc(c.id)}">
    <td class="rank">${m && Number.isFinite(m.progress) ? num(rank, 0) : ''}</td>
    <td class="city-name"><a href="${esc(c.url)}" target="_blank" rel="noopener">${esc(c.name)}</a><span class="meta">${esc(meta)}</span></td>
    <td class="mp">${m ? `<div class="line">${progressBar(m.progress, m.expected, status)}<b>${esc(pct(m.progress))}</b></div>` : `<span class="meta">${esc(tr('no_data'))}</span>`}</td>
    ${cells}
    <td class="qwc"><b>${esc(num(risky, 0))}</b> / ${esc(num(qw.total || 0, 0))}</td>
  </tr>`;
}

/** Draws the wall with as many city rows per part as fit: from an estimate, fewer until the
 * table fits its panel (names wrap, nothing is cut off). */
function render() {
  const main = document.getElementById('fed-main');
  if (!state.fed) return;
  const rem = parseFloat(getComputedStyle(document.documentElement).fontSize) || 20;
  let rows = Math.max(1, Math.min(state.cities.size, Math.floor((main.clientHeight - 6 * rem) / (2.4 * rem))));
  for (;;) {
    draw(main, rows);
    const panel = main.querySelector('.fed-panel');
    if (rows <= 1 || panel.scrollHeight <= panel.clientHeight + 1) break;
    rows -= 1;
  }
  // The side lists show as many whole items as fit, and say how many there are.
  for (const [id, total] of [['fed-risks', state.risks], ['fed-stale', state.staleCount]]) {
    const ul = document.getElementById(id);
    if (!ul) continue;
    while (ul.children.length > 1 && ul.scrollHeight > ul.clientHeight + 1) ul.lastElementChild.remove();
    const part = ul.parentElement.querySelector('.part');
    const n = ul.querySelectorAll('li:not(.none)').length;
    if (part) part.textContent = n < total ? tr('of', { n: num(n, 0), total: num(total, 0) }) : '';
  }
  window.__federation.rendered += 1;
  document.body.dataset.ready = '1';
}

function shortDim(name) {
  return name.replace(/^Smart\s+/i, '');
}

function draw(main, rows) {
  const dims = dimensions();
  const list = ranked();
  const parts = Math.max(1, Math.ceil(list.length / rows));
  if (state.part >= parts) state.part = 0;
  const shown = list.slice(state.part * rows, (state.part + 1) * rows);
  const head = dims.map((d) => `<th class="dimc" title="${esc(d.name)}">${esc(shortDim(d.name))}</th>`).join('');
  const body = shown.map((c, i) => cityRow(c, state.part * rows + i + 1, dims)).join('');
  const risks = [];
  for (const c of list) for (const p of c.quick_wins_at_risk || []) risks.push({ c, p });
  const order = { off_track: 0, at_risk: 1 };
  risks.sort((a, b) => (order[a.p.status] ?? 2) - (order[b.p.status] ?? 2) || (a.p.progress ?? 0) - (b.p.progress ?? 0));
  state.risks = risks.length;
  const riskItems = risks
    .slice(0, 30)
    .map(({ c, p }) => `<li data-qw="${esc(c.id)}/${esc(p.id)}"><span class="what">${esc(p.name || p.id)}</span>${badge(p.status || 'no_data')}<span class="who">${esc(c.name)} · ${esc(pct(p.progress))}</span></li>`)
    .join('');
  const stale = list.filter((c) => c.stale || !c.connected);
  state.staleCount = stale.length;
  const staleItems = stale
    .slice(0, 30)
    .map((c) => `<li data-stale="${esc(c.id)}"><span class="what">${esc(c.name)}</span><span class="who stale-line">${esc(freshness(c))}</span></li>`)
    .join('');
  main.innerHTML = `
    <section class="fed-panel">
      <h2><span>${esc(tr('ranking'))}</span>${parts > 1 ? `<span class="part">${esc(tr('part', { i: state.part + 1, n: parts }))}</span>` : ''}</h2>
      <table class="fed-table" id="fed-table">
        
        <thead><tr><th class="rank">#</th><th>${esc(tr('city'))}</th><th class="mp">${esc(tr('masterplan'))}</th>${head}<th class="qwc">${esc(tr('quick_wins'))}</th></tr></thead>
        <tbody>${body}</tbody>
      </table>
    </section>
    <div class="fed-side">
      <section class="fed-panel"><h2><span>${esc(tr('qw_risk'))}</span><span class="part"></span></h2>
        <ul class="fed-list" id="fed-risks">${riskItems || `<li class="none">${esc(tr('qw_none'))}</li>`}</ul></section>
      <section class="fed-panel"><h2><span>${esc(tr('stale_cities'))}</span><span class="part"></span></h2>
        <ul class="fed-list" id="fed-stale">${staleItems || `<li class="none">${esc(tr('stale_none'))}</li>`}</ul></section>
    </div>`;
}

let pending = null;
function renderSoon() {
  if (pending) return;
  pending = setTimeout(() => {
    pending = null;
    render();
  }, 200);
}

function startClock() {
  const tEl = document.getElementById('clock-time');
  const dEl = document.getElementById('clock-date');
  const tick = () => {
    const now = Date.now();
    tEl.innerHTML = `${esc(time(now, true))} <span class="zone">${esc(zoneLabel())}</span>`;
    dEl.textContent = longDate(now);
  };
  tick();
  setInterval(tick, 1000);
}

function liveState({ state: s, lastData, retryAt }) {
  const el = document.getElementById('live-state');
  el.className = `live-state ${s}`;
  el.innerHTML = `<span class="dot"></span>${esc(tr(s === 'live' ? 'live' : s === 'offline' ? 'offline' : 'connecting'))}`;
  document.body.dataset.live = s;
  const banner = document.getElementById('banner');
  if (s !== 'offline') {
    banner.hidden = true;
    return;
  }
  const secs = retryAt ? Math.max(0, Math.ceil((retryAt - Date.now()) / 1000)) : 0;
  banner.innerHTML = `<strong>${esc(tr('disconnected', { time: lastData ? timeZoned(lastData) : '–' }))}</strong><span class="retry">${esc(tr('reconnecting', { s: secs }))}</span>`;
  banner.hidden = false;
}

function take(fed) {
  state.fed = fed;
  state.cities = new Map((fed.cities || []).map((c) => [c.id, c]));
}

async function main() {
  window.__federation = { rendered: 0, messages: 0, state };
  let fed;
  try {
    fed = await getJSON('/api/v1/federation/progress');
  } catch (e) {
    chooseLang(null);
    const el = document.getElementById('page-error');
    el.textContent = tr('load_failed', { msg: e.message });
    el.hidden = false;
    return;
  }
  chooseLang(fed.locale);
  setTimeZone(fed.time_zone);
  for (const el of document.querySelectorAll('[data-city]')) el.textContent = fed.name;
  for (const el of document.querySelectorAll('[data-t]')) el.textContent = tr(el.dataset.t);
  document.getElementById('title').textContent = tr('title');
  document.title = `${tr('title')} · ${fed.name} · pantau`;
  take(fed);
  startClock();
  render();
  const live = new Live(
    {},
    {
      onState: liveState,
      onMessage: (msg) => {
        window.__federation.messages += 1;
        if (msg.type === 'snapshot' && msg.federation) take(msg.federation);
        else if (msg.type === 'delta') for (const c of msg.cities || []) state.cities.set(c.id, c);
        renderSoon();
      },
    },
  );
  window.__federation.live = live;
  live.start();
  // Rotate parts, and redraw ages once in a while.
  setInterval(() => {
    state.part += 1;
    render();
  }, ROTATE_MS);
  window.addEventListener('resize', renderSoon);
}

main();
