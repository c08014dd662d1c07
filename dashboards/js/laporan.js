// laporan.js — owns the evaluation-report page (/laporan): the year (a year of the plan's
// targets), triwulan and OPD pickers, the download links for the XLSX and HTML report
// (/api/v1/reports/evaluation), the report's headline figures from its JSON, and a preview of
// the HTML report in a frame (its tables at a size a screen can be read at); a report without
// any realisation says how values arrive.

import { getJSON } from './api.js';
import { boot } from './page.js';
import { t } from './i18n.js';
import { esc, pct, num, dateTime, toMillis, todayYMD } from './format.js';
import { departmentShort } from './model.js';

const plan = await boot('report_title');
const $ = (id) => document.getElementById(id);
const yearSel = $('report-year');
const quarterSel = $('report-quarter');
const deptSel = $('report-department');
const result = $('report-result');

/** The years in which some indicator has a target, in order. */
function planYears() {
  const years = new Set();
  for (const i of plan.indicators) for (const tg of i.targets || []) years.add(Number(String(tg.date).slice(0, 4)));
  return [...years].filter(Number.isFinite).sort((a, b) => a - b);
}

const years = planYears();
const thisYear = Number(todayYMD().slice(0, 4));
const params = new URLSearchParams(location.search);
const wanted = Number(params.get('year'));
const initialYear = years.includes(wanted) ? wanted : ([...years].reverse().find((y) => y <= thisYear) ?? years[0]);
yearSel.innerHTML = years.map((y) => `<option value="${y}"${y === initialYear ? ' selected' : ''}>${y}</option>`).join('');
quarterSel.innerHTML =
  `<option value="">${esc(t('report_full_year'))}</option>` +
  ['I', 'II', 'III', 'IV'].map((r, k) => `<option value="${k + 1}">TW ${r}</option>`).join('');
if (['1', '2', '3', '4'].includes(params.get('quarter'))) quarterSel.value = params.get('quarter');
deptSel.innerHTML =
  `<option value="">${esc(t('report_all_departments'))}</option>` +
  plan.departments.map((d) => `<option value="${esc(d.id)}">${esc(departmentShort(d.id))} — ${esc(d.name)}</option>`).join('');
if (plan.departments.some((d) => d.id === params.get('department'))) deptSel.value = params.get('department');
$('download-xlsx').textContent = t('report_download_xlsx');
$('download-html').textContent = t('report_download_html');
$('preview').title = t('report_preview');

/** The report's address for the chosen period and OPD, in `format`. */
function reportUrl(format) {
  const q = new URLSearchParams({ year: yearSel.value, format });
  if (quarterSel.value) q.set('quarter', quarterSel.value);
  if (deptSel.value) q.set('department', deptSel.value);
  return `/api/v1/reports/evaluation?${q.toString()}`;
}

function fileStem() {
  const city = String(plan.city || 'kota').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'kota';
  let name = `laporan-evaluasi-${city}-${yearSel.value}`;
  if (quarterSel.value) name += `-tw${quarterSel.value}`;
  if (deptSel.value) name += `-${deptSel.value}`;
  return name;
}

function updateLinks() {
  const xlsx = $('download-xlsx');
  xlsx.href = reportUrl('xlsx');
  xlsx.download = `${fileStem()}.xlsx`;
  const html = $('download-html');
  html.href = reportUrl('html');
  html.download = `${fileStem()}.html`;
  $('open-tab').href = reportUrl('html');
  const q = new URLSearchParams(location.search);
  q.set('year', yearSel.value);
  for (const [k, el] of [['quarter', quarterSel], ['department', deptSel]]) {
    if (el.value) q.set(k, el.value);
    else q.delete(k);
  }
  history.replaceState(null, '', `${location.pathname}?${q.toString()}`);
}

function categoryLabel(c) {
  return c ? t(`category_${c}`) : '–';
}

/** The headline figures of the chosen report, from its JSON. */
async function loadSummary() {
  const summary = $('report-summary');
  result.hidden = false;
  result.className = 'result pending';
  result.textContent = t('report_loading');
  let r;
  try {
    r = await getJSON(reportUrl('json'));
  } catch (e) {
    result.className = 'result err';
    result.textContent = t('load_failed', { msg: e.message });
    summary.innerHTML = '';
    document.body.dataset.ready = '1';
    return;
  }
  result.hidden = true;
  const o = r.summary.overall;
  const c = r.compliance;
  const capaian = o.capaian == null ? null : o.capaian / 100;
  const onTime = c.on_time_percent == null ? null : c.on_time_percent / 100;
  summary.innerHTML =
    `<div class="tile" data-figure="capaian"><span class="lbl">${esc(t('report_overall'))}</span><b>${esc(pct(capaian, 2))}</b><span class="muted">${esc(categoryLabel(o.category))}</span></div>` +
    `<div class="tile" data-figure="indicators"><span class="lbl">${esc(t('report_indicators'))}</span><b>${esc(num(o.indicators, 0))}</b><span class="muted">${esc(t('report_with_capaian', { n: num(o.with_capaian, 0) }))}</span></div>` +
    `<div class="tile" data-figure="on_time"><span class="lbl">${esc(t('report_on_time'))}</span><b>${esc(pct(onTime, 1))}</b><span class="muted">${esc(t('report_periods_due', { n: num(c.totals.expected, 0) }))}</span></div>` +
    `<div class="tile" data-figure="version"><span class="lbl">${esc(t('report_plan_version'))}</span><b><code>${esc(r.plan_version)}</code></b><span class="muted">${esc(t('report_made', { time: dateTime(toMillis(r.made_at)) }))}</span></div>`;
  // No realisation in the chosen period yet: say how values arrive.
  const empty = $('report-empty');
  empty.hidden = o.with_capaian > 0;
  if (!empty.hidden) empty.innerHTML = `<h2>${esc(t('report_empty_title'))}</h2><p>${t('empty_how_html')}</p>`;
  document.body.dataset.ready = '1';
}

for (const el of [yearSel, quarterSel, deptSel]) {
  el.addEventListener('change', () => {
    updateLinks();
    loadSummary();
  });
}
/** On screen the preview reads at the desk's 12 px floor (9 pt, the report's body size); the
 * report's smaller print sizes for its tables stay for paper and the downloaded file. */
const SCREEN_SIZES = '@media screen { table.summary, table.indicators, table.indicators thead th, .note { font-size: 9pt; } }';
$('preview').addEventListener('load', () => {
  const d = $('preview').contentDocument;
  if (!d || !d.head || d.getElementById('pantau-screen-sizes')) return;
  const style = d.createElement('style');
  style.id = 'pantau-screen-sizes';
  style.textContent = SCREEN_SIZES;
  d.head.appendChild(style);
  $('preview').dataset.ready = '1';
});
$('report-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  $('preview-section').hidden = false;
  delete $('preview').dataset.ready;
  $('preview').src = reportUrl('html');
});

if (!years.length) {
  result.hidden = false;
  result.className = 'result err';
  result.textContent = t('report_no_years');
  document.body.dataset.ready = '1';
} else {
  updateLinks();
  await loadSummary();
}
