// model.js — owns views derived from the progress store and the masterplan: which indicators sit
// under an item, how fresh an item's data is, a roll-up's recent trend for its sparkline, a
// program's forecast date and latest department note, and sorting by risk.

import { RISK_ORDER, toMillis, cadenceMillis } from './format.js';

/** Masterplan definitions by id, for weights, tolerances and names. */
export function indexPlan(plan) {
  return {
    plan,
    departments: new Map(plan.departments.map((d) => [d.id, d])),
    dimensions: new Map(plan.dimensions.map((d) => [d.id, d])),
    programs: new Map(plan.programs.map((p) => [p.id, p])),
    indicators: new Map(plan.indicators.map((i) => [i.id, i])),
  };
}

export function departmentName(defs, id) {
  const d = defs.departments.get(id);
  return d ? d.name : id;
}

/** A short department label: its id in capitals (DINKES), as OPDs are usually called. */
export function departmentShort(id) {
  return String(id || '').toUpperCase();
}

/** The indicators under an item: "masterplan", a dimension id or a program id. */
export function indicatorsUnder(store, kind, id) {
  const all = [...store.indicators.values()];
  if (kind === 'masterplan') return all;
  if (kind === 'dimension') return all.filter((i) => i.dimension === id);
  if (kind === 'program') return all.filter((i) => i.program === id);
  return [];
}

/** The newest `last_update` among `indicators`, in milliseconds, or null. */
export function newestUpdate(indicators) {
  let best = null;
  for (const i of indicators) {
    const ms = toMillis(i.last_update);
    if (ms !== null && (best === null || ms > best)) best = ms;
  }
  return best;
}

/** An indicator's sparkline values as progress fractions clamped to [0, 1]. */
function progressValues(ind, def) {
  const b = ind.baseline.value;
  const tgt = ind.target.value;
  return (ind.sparkline || []).map((v) => {
    if (ind.direction === 'maintain') return Math.abs(v - tgt) <= ((def && def.tolerance) || 0) ? 1 : 0;
    if (tgt === b) return 1;
    return Math.max(0, Math.min(1, (v - b) / (tgt - b)));
  });
}

/**
 * The recent trend of a roll-up item ("masterplan", a dimension or a program) for its sparkline:
 * its progress over the last six months, worked out the way the server rolls up (clamped
 * indicator progress, weighted means per program, dimension and masterplan). Each indicator's
 * sparkline values are placed back in time from its last update by its cadence; before its
 * oldest value it counts with that value. The server sends each roll-up's weekly `sparkline`,
 * which is used whenever it has two points or more; this estimate covers a plan without history.
 */
export function rollupTrend(item, kind, indicators, defs, buckets = 27, spanDays = 182) {
  if (Array.isArray(item.sparkline) && item.sparkline.length > 1) return item.sparkline;
  const series = [];
  for (const ind of indicators) {
    const def = defs.indicators.get(ind.id);
    const values = progressValues(ind, def);
    const last = toMillis(ind.last_update);
    if (!values.length || last === null) continue;
    const step = cadenceMillis(ind.update_every) || 30 * 86400000;
    const times = values.map((_, k) => last - (values.length - 1 - k) * step);
    series.push({ values, times, program: ind.program, w: (def && def.weight) || 1 });
  }
  if (!series.length) return [];
  const mean = (entries) => {
    let sum = 0;
    let w = 0;
    for (const e of entries) {
      sum += e.v * e.w;
      w += e.w;
    }
    return w ? sum / w : null;
  };
  const valueAt = (s, at) => {
    let v = s.values[0];
    for (let k = 0; k < s.times.length && s.times[k] <= at; k++) v = s.values[k];
    return v;
  };
  const now = Date.now();
  const span = spanDays * 86400000;
  const out = [];
  for (let b = 0; b < buckets; b++) {
    const at = now - span + (span * b) / (buckets - 1);
    const programs = new Map();
    for (const s of series) {
      if (!programs.has(s.program)) programs.set(s.program, []);
      programs.get(s.program).push({ v: valueAt(s, at), w: s.w });
    }
    if (kind === 'program') {
      out.push(mean(programs.get(item.id) || []));
      continue;
    }
    const dims = new Map();
    for (const [pid, entries] of programs) {
      const prog = defs.programs.get(pid);
      const dim = prog ? prog.dimension : '';
      if (!dims.has(dim)) dims.set(dim, []);
      dims.get(dim).push({ v: mean(entries), w: (prog && prog.weight) || 1 });
    }
    if (kind === 'dimension') {
      out.push(mean(dims.get(item.id) || []));
      continue;
    }
    out.push(mean([...dims].map(([id, entries]) => ({ v: mean(entries), w: (defs.dimensions.get(id) || {}).weight || 1 }))));
  }
  return out.filter((v) => v !== null);
}

/**
 * When a program is forecast to reach its targets: {kind: "achieved" | "date" | "never" | "none",
 * date}. The latest reach date of its unfinished indicators; "never" when one of them is not
 * forecast to reach its target at all.
 */
export function programForecast(indicators) {
  const open = indicators.filter((i) => i.status !== 'achieved' && i.status !== 'no_data');
  if (indicators.length && indicators.every((i) => i.status === 'achieved')) return { kind: 'achieved' };
  let latest = null;
  let never = false;
  for (const i of open) {
    if (!i.forecast) continue;
    if (!i.forecast.reach_date) never = true;
    else if (!latest || i.forecast.reach_date > latest) latest = i.forecast.reach_date;
  }
  if (never) return { kind: 'never' };
  if (latest) return { kind: 'date', date: latest };
  return { kind: 'none' };
}

/** The newest department note among `indicators`, with the indicator it is on. */
export function latestNote(indicators) {
  let best = null;
  for (const i of indicators) {
    if (!i.note) continue;
    if (!best || (toMillis(i.note.created) || 0) > (toMillis(best.note.created) || 0)) best = { note: i.note, indicator: i };
  }
  return best;
}

/** Sorts items (with status, progress, expected and maybe due) from the highest risk down. */
export function byRisk(a, b) {
  const r = RISK_ORDER.indexOf(a.status) - RISK_ORDER.indexOf(b.status);
  if (r) return r;
  const gap = (x) => (x.expected ?? 0) - (x.progress ?? 0);
  const g = gap(b) - gap(a);
  if (Math.abs(g) > 1e-9) return g;
  return String(a.due || '').localeCompare(String(b.due || ''));
}
