// page.js — owns what every page shares: loading the masterplan and choosing the language and
// time zone, the header (city, title, live state, clock, language link), the disconnect banner
// ("Koneksi terputus - data per 14:05 WIB") and wiring the live connection into a ProgressStore.

import { getJSON, Live, ProgressStore } from './api.js';
import { chooseLang, t, otherLangHref } from './i18n.js';
import { setTimeZone, time, timeZoned, longDate, zoneLabel, esc } from './format.js';

/** Loads the masterplan, sets language and zone, fills the header; returns the masterplan. */
export async function boot(titleKey) {
  window.__pantauLoadedAt = Date.now();
  let plan;
  try {
    plan = await getJSON('/api/v1/masterplan');
  } catch (e) {
    chooseLang(null);
    showError(t('load_failed', { msg: e.message }));
    throw e;
  }
  chooseLang(plan.locale);
  setTimeZone(plan.time_zone);
  for (const el of document.querySelectorAll('[data-city]')) el.textContent = plan.city;
  for (const el of document.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t);
  setTitle(t(titleKey));
  const langLink = document.getElementById('lang-link');
  if (langLink) {
    langLink.href = otherLangHref();
    langLink.textContent = t('language');
  }
  startClock();
  return plan;
}

export function setTitle(text) {
  const el = document.getElementById('title');
  if (el) el.textContent = text;
  const city = document.querySelector('[data-city]');
  document.title = `${text} · ${city ? city.textContent : ''} · pantau`;
}

function startClock() {
  const tEl = document.getElementById('clock-time');
  const dEl = document.getElementById('clock-date');
  if (!tEl) return;
  const tick = () => {
    const now = Date.now();
    tEl.innerHTML = `${esc(time(now, true))} <span class="zone">${esc(zoneLabel())}</span>`;
    if (dEl) dEl.textContent = longDate(now);
  };
  tick();
  setInterval(tick, 1000);
}

/** Shows a message in the banner slot that stays until the page reloads. */
export function showError(msg) {
  const el = document.getElementById('page-error');
  if (el) {
    el.textContent = msg;
    el.hidden = false;
  }
}

/**
 * Connects the live websocket with `params` (filters, screen) and keeps `store` current.
 * `onChange(changedIds | null)` runs after a snapshot (null: everything) or a delta;
 * `onEvent(event)` for status events.
 */
export function connectLive(params, store, { onChange, onEvent } = {}) {
  const banner = document.getElementById('banner');
  const liveState = document.getElementById('live-state');
  let offlineTimer = null;
  const renderState = ({ state, lastData, retryAt }) => {
    document.body.classList.toggle('is-offline', state === 'offline');
    document.body.dataset.live = state;
    if (liveState) {
      liveState.className = `live-state ${state}`;
      liveState.innerHTML = `<span class="dot"></span>${esc(t(state === 'live' ? 'live' : state === 'offline' ? 'offline' : 'connecting'))}`;
    }
    if (!banner) return;
    clearInterval(offlineTimer);
    if (state !== 'offline') {
      banner.hidden = true;
      return;
    }
    const draw = () => {
      const when = lastData ? timeZoned(lastData) : '–';
      const secs = retryAt ? Math.max(0, Math.ceil((retryAt - Date.now()) / 1000)) : 0;
      const retry = secs > 0 ? t('reconnecting', { s: secs }) : t('reconnecting_now');
      banner.innerHTML = `<strong>${esc(t('disconnected', { time: when }))}</strong><span class="retry">${esc(retry)}</span>`;
    };
    draw();
    banner.hidden = false;
    offlineTimer = setInterval(draw, 500);
  };
  const live = new Live(params, {
    onState: renderState,
    onMessage: (msg) => {
      if (msg.type === 'snapshot') {
        store.reset(msg.progress);
        onChange && onChange(null);
      } else if (msg.type === 'delta') {
        const changed = store.merge(msg);
        onChange && onChange(changed);
      } else if (msg.type === 'event') {
        onEvent && onEvent(msg);
      }
      window.__pantau.messages += 1;
    },
  });
  window.__pantau = { store, live, messages: 0 };
  renderState({ state: 'connecting', lastData: null, retryAt: null });
  live.start();
  return live;
}

/** Wraps `fn` so bursts of calls run it at most once per `ms` (the last call always runs). */
export function batched(fn, ms = 250) {
  let timer = null;
  let last = 0;
  return () => {
    if (timer) return;
    const wait = Math.max(0, last + ms - Date.now());
    timer = setTimeout(() => {
      timer = null;
      last = Date.now();
      fn();
    }, wait);
  };
}

export { ProgressStore };
