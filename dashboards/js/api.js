// api.js — owns talking to the daemon: JSON reads and department posts, the progress store that
// merges snapshots and deltas by id, and the live websocket client that reconnects with backoff
// and resumes with `since`/`epoch` after a disconnect.

import { lang } from './i18n.js';

/** An error from the API, carrying its code and per-row problems when the server sent them. */
export class ApiError extends Error {
  constructor(status, body) {
    const e = body && body.error;
    super(e ? e.message : `HTTP ${status}`);
    this.status = status;
    this.code = e ? e.code : null;
    this.rows = (e && e.rows) || [];
  }
}

async function answer(r) {
  const text = await r.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!r.ok) throw new ApiError(r.status, body);
  return body;
}

/** GET a JSON document; errors come back in the page's language. */
export async function getJSON(path) {
  return answer(await fetch(path, { headers: { accept: 'application/json', 'accept-language': lang() }, cache: 'no-store' }));
}

/** POST a body with a bearer token; `type` is its content type. */
export async function post(path, token, body, type = 'application/json') {
  const headers = { 'content-type': type, accept: 'application/json', 'accept-language': lang() };
  if (token) headers.authorization = `Bearer ${token}`;
  return answer(await fetch(path, { method: 'POST', headers, body: type === 'application/json' ? JSON.stringify(body) : body }));
}

/** The progress the page shows: the masterplan roll-up and items by id, merged from the server. */
export class ProgressStore {
  constructor() {
    this.masterplan = null;
    this.dimensions = new Map();
    this.programs = new Map();
    this.indicators = new Map();
    this.asOf = null;
  }

  /** Replaces everything with a snapshot's `progress` document. */
  reset(progress) {
    this.masterplan = progress.masterplan || null;
    this.dimensions = new Map((progress.dimensions || []).map((d) => [d.id, d]));
    this.programs = new Map((progress.programs || []).map((p) => [p.id, p]));
    this.indicators = new Map((progress.indicators || []).map((i) => [i.id, i]));
    this.asOf = Date.parse(progress.as_of) || Date.now();
  }

  /** Merges a delta (changed items only); returns the ids that changed. */
  merge(delta) {
    const changed = new Set();
    for (const [list, map] of [
      [delta.dimensions, this.dimensions],
      [delta.programs, this.programs],
      [delta.indicators, this.indicators],
    ]) {
      for (const item of list || []) {
        map.set(item.id, item);
        changed.add(item.id);
      }
    }
    if (delta.masterplan) {
      this.masterplan = delta.masterplan;
      changed.add(delta.masterplan.id);
    }
    this.asOf = Date.now();
    return changed;
  }

  indicatorsOf(pred) {
    return [...this.indicators.values()].filter(pred);
  }
}

const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];
const BACKOFF_MAX_MS = 10000;

/**
 * The live connection. Calls `onMessage(msg)` for every snapshot, delta and event, and
 * `onState({state, lastData, retryAt})` when the connection opens, drops or retries; `state` is
 * "connecting", "live" or "offline". `lastData` is when the page last knew its data was current.
 */
export class Live {
  constructor(params, { onMessage, onState }) {
    this.params = params;
    this.onMessage = onMessage;
    this.onState = onState || (() => {});
    this.epoch = null;
    this.seq = null;
    this.attempt = 0;
    this.lastData = null;
    this.ws = null;
    this.timer = null;
    this.state = 'connecting';
  }

  url() {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(this.params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
    if (this.seq !== null && this.epoch) {
      q.set('since', String(this.seq));
      q.set('epoch', this.epoch);
    }
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const qs = q.toString();
    return `${proto}//${location.host}/api/v1/live${qs ? '?' + qs : ''}`;
  }

  start() {
    this.connect();
    // A laptop waking up or a network coming back: try at once instead of waiting.
    window.addEventListener('online', () => this.retryNow());
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') this.retryNow();
    });
  }

  retryNow() {
    if (this.state === 'offline' && this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
      this.connect();
    }
  }

  setState(state, retryAt = null) {
    this.state = state;
    this.onState({ state, lastData: this.lastData, retryAt });
  }

  connect() {
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
    };
    ws.onmessage = (ev) => {
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (msg.epoch) this.epoch = msg.epoch;
      if (typeof msg.seq === 'number') this.seq = msg.seq;
      this.lastData = Date.now();
      if (this.state !== 'live') {
        this.attempt = 0;
        this.setState('live');
      }
      this.onMessage(msg);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      // The data was current until the connection dropped.
      if (opened && this.state === 'live') this.lastData = Date.now();
      this.scheduleRetry();
    };
    ws.onerror = () => {
      // onclose follows and schedules the retry.
    };
  }

  scheduleRetry() {
    const base = BACKOFF_MS[this.attempt] ?? BACKOFF_MAX_MS;
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.attempt += 1;
    const retryAt = Date.now() + delay;
    this.setState('offline', retryAt);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, delay);
  }
}
