// department.js — owns a department's page (/department/<id>): its indicators with progress and
// freshness, which ones are overdue for an update, forms to post a value, upload a CSV or XLSX
// file and write an obstacle note with the department's token, and the revision history.

import { getJSON, post } from './api.js';
import { boot, connectLive, setTitle, batched, ProgressStore } from './page.js';
import { t, lang } from './i18n.js';
import {
  esc, pct, num, valueUnit, badge, statusBadges, staleChip, progressBar, age, date, dateTime, toMillis, todayYMD, cadence,
  cadenceMillis, statusLabel, STATUS_ORDER,
} from './format.js';
import { mountSparklines } from './chart.js';
import { indexPlan, departmentShort } from './model.js';

const deptId = decodeURIComponent(location.pathname.split('/')[2] || '');
const plan = await boot('department');
const defs = indexPlan(plan);
const dept = defs.departments.get(deptId);
const $ = (id) => document.getElementById(id);

if (!dept) {
  const el = $('page-error');
  el.textContent = t('unknown_department', { id: deptId });
  el.hidden = false;
  document.querySelector('main').hidden = true;
  throw new Error(`unknown department ${deptId}`);
}

setTitle(dept.name);
$('dept-code').textContent = departmentShort(dept.id);
const myIndicators = plan.indicators.filter((i) => i.department === deptId);
const store = new ProgressStore();
let revisionsTimer = null;
const TOKEN_KEY = `pantau.token.${deptId}`;

setupForms();
connectLive({ department: deptId }, store, {
  onChange: (ids) => {
    renderSoon();
    complianceSoon();
    if (ids === null || myIndicators.some((i) => ids.has(i.id))) {
      clearTimeout(revisionsTimer);
      revisionsTimer = setTimeout(loadRevisions, 300);
    }
  },
});
const renderSoon = batched(() => render());
setInterval(render, 30000);

// This department's reporting compliance this month (kepatuhan pelaporan), refreshed after
// posts and every minute.
async function loadCompliance() {
  const el = $('compliance');
  try {
    const c = await getJSON(`/api/v1/compliance?department=${encodeURIComponent(deptId)}`);
    const d = (c.departments || [])[0];
    if (!d || d.expected === 0) {
      el.innerHTML = `<p class="muted">${esc(t('cmp_mine_none'))}</p>`;
      return;
    }
    const line = t('cmp_mine_line', {
      percent: pct(d.on_time_percent / 100, 0),
      on_time: d.on_time,
      expected: d.expected,
      late: d.late,
      missing: d.missing,
    });
    const late = d.indicators
      .filter((i) => i.late || i.missing)
      .map((i) => `<li data-id="${esc(i.id)}"><span class="ind-title">${esc(i.name)}</span><small>${esc(t('cmp_counts', { on_time: i.on_time, late: i.late, missing: i.missing }))}</small></li>`)
      .join('');
    el.innerHTML = `<p data-compliance="${esc(String(d.on_time_percent))}"><b>${esc(line)}</b></p>${late ? `<ul class="overdue-list">${late}</ul>` : ''}${d.email_configured ? '' : `<p class="muted">${esc(t('cmp_no_email'))}</p>`}`;
  } catch {
    el.innerHTML = `<p class="muted">–</p>`;
  }
}
const complianceSoon = batched(loadCompliance, 2000);
loadCompliance();
setInterval(loadCompliance, 60000);

// --- Indicators, overdue list ------------------------------------------------------------------

function mine() {
  return myIndicators.map((d) => store.indicators.get(d.id)).filter(Boolean);
}

/** The person in charge and the data source of an indicator, when the plan names them. */
function indicatorMeta(def) {
  if (!def) return '';
  const parts = [];
  if (def.pic) parts.push(`<span data-meta="pic">${esc(t('pic'))}: ${esc(def.pic.nama)}, ${esc(def.pic.jabatan)}</span>`);
  if (def.source) parts.push(`<span data-meta="source">${esc(t('data_source'))}: ${esc(def.source)}</span>`);
  return parts.length ? `<div class="ind-meta muted">${parts.join(' · ')}</div>` : '';
}

/** How many days an indicator is past its next expected update (null when it is not). */
function overdueDays(i) {
  const last = toMillis(i.last_update);
  const every = cadenceMillis(i.update_every);
  if (last === null || every === null) return null;
  const days = Math.floor((Date.now() - last - every) / 86400000);
  return days > 0 ? days : 0;
}

function render() {
  if (!store.masterplan) return;
  const inds = mine();
  const counts = Object.fromEntries(STATUS_ORDER.map((s) => [s, 0]));
  let stale = 0;
  for (const i of inds) {
    counts[i.status] += 1;
    if (i.stale) stale += 1;
  }
  $('dept-summary').innerHTML =
    `<div class="tile"><span class="lbl">${esc(t('indicators'))}</span><b data-count="total">${inds.length}</b><span class="muted">${esc(dept.name)}</span></div>` +
    STATUS_ORDER.map((s) => `<div class="tile st-edge-${s}"><span class="lbl">${esc(statusLabel(s))}</span><b data-count="${s}">${counts[s]}</b>${badge(s)}</div>`).join('') +
    `<div class="tile${stale ? ' is-stale' : ''}"><span class="lbl">${esc(t('stale'))}</span><b data-count="stale">${stale}</b>${stale ? staleChip() : ''}</div>`;

  const body = $('ind-body');
  body.innerHTML = inds
    .map((i) => {
      const def = defs.indicators.get(i.id);
      const prog = defs.programs.get(i.program);
      const updated = toMillis(i.last_update);
      return `<tr class="row-ind${i.stale ? ' is-stale' : ''}" data-id="${esc(i.id)}" data-status="${esc(i.status)}">
        <td>${statusBadges(i, i.target.date)}</td>
        <td><div class="prog-name">${def && def.code ? `<span class="ind-code">${esc(def.code)}</span> ` : ''}${esc(i.name)}</div><div class="muted">${esc(prog ? prog.name : i.program)}${i.quick_win ? ` · <span class="qw">${esc(t('quick_win'))}</span>` : ''}</div>${indicatorMeta(def)}</td>
        <td class="value-cell" data-label="${esc(t('current'))}"><b class="value-current">${esc(valueUnit(i.current, i.unit))}</b><br><small>${esc(t('target'))} ${esc(valueUnit(i.target.value, i.unit))} · ${esc(date(i.target.date))}</small></td>
        <td class="cell-progress" data-label="${esc(t('progress'))}"><div class="pct-line"><b>${esc(pct(i.progress))}</b><span>${esc(t('expected'))} ${esc(pct(i.expected))}</span></div>${progressBar(i.progress, i.expected, i.status)}</td>
        <td class="opt"><span class="spark" data-spark="${esc(i.id)}"></span></td>
        <td data-label="${esc(t('updated_col'))}">${i.stale ? staleChip(age(updated)) : `<span>${esc(updated ? age(updated) : t('no_update'))}</span>`}<div class="muted">${esc(cadence(def ? def.update_every : i.update_every))}</div></td>
      </tr>`;
    })
    .join('');
  mountSparklines(body, (id) => {
    const i = store.indicators.get(id);
    return i && { values: i.sparkline, status: i.status };
  });

  const overdue = inds
    .filter((i) => i.stale || !i.last_update)
    .sort((a, b) => (overdueDays(b) ?? 1e9) - (overdueDays(a) ?? 1e9));
  $('overdue').innerHTML = overdue.length
    ? `<ul class="overdue-list">${overdue
        .map((i) => {
          const d = overdueDays(i);
          const late = i.last_update ? t('overdue_since', { n: num(d, 0) }) : t('never_reported');
          return `<li data-id="${esc(i.id)}"><div><span class="ind-title">${esc(i.name)}</span><small>${esc(cadence(i.update_every))} · ${esc(i.last_update ? t('updated', { age: age(toMillis(i.last_update)) }) : t('no_update'))}</small></div>${staleChip(late)}</li>`;
        })
        .join('')}</ul>`
    : `<p class="ok-line">${esc(t('overdue_none'))}</p>`;
  const empty = $('dept-empty');
  empty.hidden = inds.some((i) => i.last_update);
  if (!empty.hidden) empty.innerHTML = t('empty_dept_html', { id: esc(dept.id) });
  updateHint();
  document.body.dataset.ready = '1';
}

// --- Revision history --------------------------------------------------------------------------

async function loadRevisions() {
  const rows = await getJSON(`/api/v1/departments/${encodeURIComponent(deptId)}/revisions?limit=40`)
    .then((r) => r.revisions)
    .catch(() => []);
  $('revisions').innerHTML = rows.length
    ? `<table class="grid"><thead><tr><th>${esc(t('revision_received'))}</th><th>${esc(t('indicator'))}</th><th>${esc(t('revision_time'))}</th><th class="num">${esc(t('revision_from'))}</th><th class="num">${esc(t('revision_to'))}</th><th>${esc(t('source'))}</th></tr></thead><tbody>${rows
        .map((r) => {
          const def = defs.indicators.get(r.indicator);
          const who = [r.source || '', r.department ? departmentShort(r.department) : '', r.token_label ? `${t('token_col')} “${r.token_label}”` : r.token_id ? `${t('token_col')} #${r.token_id}` : '']
            .filter(Boolean)
            .join(' · ');
          return `<tr data-revision="${esc(r.id)}"><td class="nowrap" data-label="${esc(t('revision_received'))}">${esc(dateTime(toMillis(r.received)))}</td><td data-label="${esc(t('indicator'))}">${esc(def ? def.name : r.indicator)}${r.note ? `<div class="rev-meta rev-note">${esc(t('note_col'))}: ${esc(r.note)}</div>` : ''}</td><td class="nowrap" data-label="${esc(t('revision_time'))}">${esc(date(r.time))}</td>
            <td class="num rev-old" data-label="${esc(t('revision_from'))}">${esc(valueUnit(r.previous_value, def && def.unit))}</td><td class="num rev-new" data-label="${esc(t('revision_to'))}">${esc(valueUnit(r.value, def && def.unit))}</td>
            <td class="muted rev-who" data-label="${esc(t('source'))}">${esc(who)}</td></tr>`;
        })
        .join('')}</tbody></table>`
    : `<p class="muted">${esc(t('revisions_none'))}</p>`;
}

// --- Forms -------------------------------------------------------------------------------------

function token() {
  return $('token').value.trim();
}

function rememberToken() {
  const v = token();
  sessionStorage.setItem(TOKEN_KEY, v);
  if ($('remember').checked) localStorage.setItem(TOKEN_KEY, v);
  else localStorage.removeItem(TOKEN_KEY);
}

/** Reads "1.234,5" or "1234.5" as a number (null when it is not one). */
export function parseValue(text) {
  let s = String(text).trim().replace(/\s/g, '');
  if (!s) return null;
  if (s.includes(',')) s = s.replace(/\./g, '').replace(',', '.');
  else if (lang() === 'id' && /^-?\d{1,3}(\.\d{3})+$/.test(s)) s = s.replace(/\./g, '');
  const n = Number(s);
  return Number.isFinite(n) ? n : null;
}

function showResult(el, ok, html) {
  el.className = `result ${ok === null ? 'pending' : ok ? 'ok' : 'err'}`;
  el.innerHTML = html;
  el.hidden = false;
}

function errorHtml(e) {
  const rows = (e.rows || [])
    .slice(0, 20)
    .map((r) => `<li>${esc(t('error_row', { row: r.row }))}${r.field ? ` (${esc(r.field)})` : ''}: ${esc(r.reason)}${r.fix ? ` — <b>${esc(t('fix'))}:</b> ${esc(r.fix)}` : ''}</li>`)
    .join('');
  return `<b>${esc(e.message)}</b>${rows ? `<ul>${rows}</ul>` : ''}`;
}

async function submit(form, resultEl, send) {
  if (!token()) {
    showResult(resultEl, false, esc(t('need_token')));
    $('token').focus();
    return;
  }
  rememberToken();
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  showResult(resultEl, null, esc(t('sending')));
  try {
    const html = await send();
    showResult(resultEl, true, html);
  } catch (e) {
    showResult(resultEl, false, errorHtml(e));
  } finally {
    button.disabled = false;
  }
}

function okText(r) {
  return esc(t('result_ok', { rows: r.rows, new: r.new, corrected: r.corrected, unchanged: r.unchanged }));
}

/** The value the last "yes, it is an increase" was given for ("indicator|value"). */
let confirmed = null;

/** A cumulative indicator's running total as the page knows it (baseline plus every increase). */
function runningTotal(id) {
  const i = store.indicators.get(id);
  return i && Number.isFinite(i.current) ? i.current : null;
}

/** Says what the value field wants for the chosen indicator, and what the number reads as. */
function updateHint() {
  const def = defs.indicators.get($('obs-indicator').value);
  const parsed = parseValue($('obs-value').value);
  const cumulative = def && def.kind === 'cumulative';
  $('obs-value-label').textContent = cumulative ? t('increase') : t('value');
  const parts = [];
  if (def) parts.push(`${esc(t('value'))}: ${esc(def.unit)}`);
  if (parsed !== null) parts.push(`= <b>${esc(num(parsed, 6))}</b>`);
  if (cumulative) {
    parts.push(esc(t('cumulative_hint')));
    const total = runningTotal(def.id);
    if (total !== null) {
      const after = parsed !== null ? total + parsed : total;
      parts.push(`<span class="running-total">${esc(t('running_total', { total: valueUnit(total, def.unit), after: valueUnit(after, def.unit) }))}</span>`);
    }
  }
  $('obs-hint').innerHTML = parts.join(' · ');
}

function askConfirmation(def, value, total, yes) {
  const box = $('obs-confirm');
  box.innerHTML = `<p>${esc(t('confirm_total', { value: valueUnit(value, def.unit), total: valueUnit(total, def.unit), after: valueUnit(total + value, def.unit) }))}</p>
    <div class="buttons"><button class="btn" type="button" data-confirm="yes">${esc(t('confirm_yes'))}</button><button class="btn secondary" type="button" data-confirm="no">${esc(t('confirm_no'))}</button></div>`;
  box.hidden = false;
  box.querySelector('[data-confirm="yes"]').onclick = () => {
    box.hidden = true;
    yes();
  };
  box.querySelector('[data-confirm="no"]').onclick = () => {
    box.hidden = true;
    $('obs-value').focus();
    $('obs-value').select();
  };
}

function setupForms() {
  const options = `<option value="">${esc(t('choose'))}</option>` + myIndicators.map((i) => `<option value="${esc(i.id)}">${esc(i.name)}</option>`).join('');
  for (const id of ['obs-indicator', 'note-indicator']) $(id).innerHTML = options;
  $('obs-date').value = todayYMD();
  $('obs-date').max = todayYMD();
  const saved = sessionStorage.getItem(TOKEN_KEY) || localStorage.getItem(TOKEN_KEY);
  if (saved) $('token').value = saved;
  $('remember').checked = Boolean(localStorage.getItem(TOKEN_KEY));

  $('obs-indicator').addEventListener('change', updateHint);
  $('obs-value').addEventListener('input', () => {
    confirmed = null;
    $('obs-confirm').hidden = true;
    updateHint();
  });

  $('obs-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    const def = defs.indicators.get($('obs-indicator').value);
    const value = parseValue($('obs-value').value);
    const total = def && def.kind === 'cumulative' ? runningTotal(def.id) : null;
    // A cumulative indicator adds what is posted: a value at least the running total is most
    // likely the total itself, typed where the increase belongs. Ask before adding it.
    if (total !== null && value !== null && total > 0 && value >= total && confirmed !== `${def.id}|${value}`) {
      askConfirmation(def, value, total, () => {
        confirmed = `${def.id}|${value}`;
        form.requestSubmit();
      });
      return;
    }
    $('obs-confirm').hidden = true;
    submit(form, $('obs-result'), async () => {
      const value = parseValue($('obs-value').value);
      const observation = { indicator: $('obs-indicator').value, time: $('obs-date').value, value };
      const note = $('obs-note').value.trim();
      if (note) observation.note = note;
      const r = await post('/api/v1/observations', token(), { observations: [observation] });
      return okText(r);
    });
  });

  $('upload-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    submit(form, $('upload-result'), async () => {
      const file = $('upload-file').files[0];
      if (!file) throw new Error(t('choose'));
      const xlsx = /\.xlsx$/i.test(file.name);
      const type = xlsx ? 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' : 'text/csv';
      const r = await post('/api/v1/observations', token(), await file.arrayBuffer(), type);
      return okText(r);
    });
  });

  $('note-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    submit(form, $('note-result'), async () => {
      const id = $('note-indicator').value;
      await post(`/api/v1/indicators/${encodeURIComponent(id)}/notes`, token(), {
        kendala: $('note-kendala').value.trim(),
        rencana_tindak_lanjut: $('note-rtl').value.trim(),
      });
      return esc(t('note_ok'));
    });
  });
}

loadRevisions();
