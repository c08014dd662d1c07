// format.js — owns how values look: numbers (1.234,5 in id-ID), percentages, dates
// ("28 Nov 2026"), times in the city's zone with its label (WIB/WITA/WIT), ages ("5 mnt lalu"),
// and the five statuses with their colour, label and icon. Also escapes text for HTML.

import { lang, t, plural } from './i18n.js';

let zone = 'Asia/Jakarta';

/** Sets the city's time zone (IANA name from the masterplan). */
export function setTimeZone(tz) {
  if (tz) zone = tz;
}

export function timeZone() {
  return zone;
}

const ZONE_LABELS = {
  'Asia/Jakarta': 'WIB',
  'Asia/Pontianak': 'WIB',
  'Asia/Makassar': 'WITA',
  'Asia/Ujung_Pandang': 'WITA',
  'Asia/Jayapura': 'WIT',
};

/** "WIB", "WITA", "WIT", or the zone's short name elsewhere. */
export function zoneLabel() {
  if (ZONE_LABELS[zone]) return ZONE_LABELS[zone];
  const part = new Intl.DateTimeFormat('en-GB', { timeZone: zone, timeZoneName: 'short' })
    .formatToParts(new Date())
    .find((p) => p.type === 'timeZoneName');
  return part ? part.value : zone;
}

function intlLocale() {
  return lang() === 'en' ? 'en-GB' : 'id-ID';
}

/** Escapes text for use inside HTML. */
export function esc(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

/** A number: 1.234,5 (id) or 1,234.5 (en); "–" when missing. */
export function num(x, maxFrac) {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  const abs = Math.abs(x);
  const digits = maxFrac ?? (abs >= 1000 ? 0 : abs >= 100 ? 1 : 2);
  return new Intl.NumberFormat(intlLocale(), { maximumFractionDigits: digits }).format(x);
}

/** A fraction as a percentage: 0.767 -> "76,7%". */
export function pct(fraction, digits = 1) {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return '–';
  return new Intl.NumberFormat(intlLocale(), {
    style: 'percent',
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(fraction);
}

/** Progress minus expected in percentage points, signed: "−11,1 poin". */
export function gapPoints(progress, expected) {
  if (progress == null || expected == null) return '';
  const d = (progress - expected) * 100;
  const s = new Intl.NumberFormat(intlLocale(), { maximumFractionDigits: 1, minimumFractionDigits: 1, signDisplay: 'exceptZero' }).format(d);
  return `${s.replace('-', '−')} ${t('pts')}`;
}

/** Whether a unit is a percentage. */
function isPercent(u) {
  return u === 'persen' || u === '%' || u === 'percent';
}

/** Whether a unit is Rupiah (written before the number: "Rp 1.250"). */
function isRupiah(u) {
  return u === 'Rp' || u === 'rupiah' || u === 'Rupiah' || u === 'IDR';
}

/** A value with its unit: "12,5%" for persen, "Rp 1.250" for Rupiah, "161 titik" otherwise. */
export function valueUnit(x, unit) {
  return withUnit(num(x), x, unit);
}

function withUnit(text, x, unit) {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  const u = (unit || '').trim();
  if (isPercent(u)) return text + '%';
  if (isRupiah(u)) return `Rp ${text}`;
  return u ? `${text} ${u}` : text;
}

const SHORT = {
  id: [
    [1e12, 'T'],
    [1e9, 'M'],
    [1e6, 'jt'],
    [1e4, 'rb', 1e3],
  ],
  en: [
    [1e12, 'tn'],
    [1e9, 'bn'],
    [1e6, 'M'],
    [1e4, 'k', 1e3],
  ],
};

/**
 * A number shortened as people say it: 295.096.098.000 -> "295,1 M" (miliar), 1.234.000 ->
 * "1,2 jt" (juta), 12.345 -> "12,3 rb" (ribu), 1,5e12 -> "1,5 T" (triliun); below 10.000 as it is.
 */
export function shortNum(x) {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  const abs = Math.abs(x);
  for (const [at, word, divisor] of SHORT[lang()] || SHORT.id) {
    if (abs >= at) {
      const scaled = x / (divisor || at);
      return `${new Intl.NumberFormat(intlLocale(), { maximumFractionDigits: 1 }).format(scaled)} ${word}`;
    }
  }
  return num(x);
}

/** A shortened value in parts, for setting the unit smaller: {pre: "Rp", num: "295,1 M", post: ""},
 * {num: "76,5%"}, {num: "1,2 jt", post: "orang"}. */
export function valueParts(x, unit) {
  if (x === null || x === undefined || !Number.isFinite(x)) return { pre: '', num: '–', post: '' };
  const u = (unit || '').trim();
  if (isPercent(u)) return { pre: '', num: shortNum(x) + '%', post: '' };
  if (isRupiah(u)) return { pre: 'Rp', num: shortNum(x), post: '' };
  return { pre: '', num: shortNum(x), post: u };
}

/** A value with its unit, shortened for a wall: "Rp 295,1 M", "1,2 jt orang", "76,5%". */
export function valueUnitShort(x, unit) {
  return withUnit(shortNum(x), x, unit);
}

/** Milliseconds since the epoch for a "YYYY-MM-DD" city date or an RFC 3339 instant. */
export function toMillis(s) {
  if (s === null || s === undefined) return null;
  if (typeof s === 'number') return s;
  if (/^\d{4}-\d{2}-\d{2}$/.test(s)) return cityMidnight(s);
  const ms = Date.parse(s);
  return Number.isNaN(ms) ? null : ms;
}

/** Midnight at the start of a city date, as milliseconds since the epoch. */
export function cityMidnight(ymd) {
  const [y, m, d] = ymd.split('-').map(Number);
  const guess = Date.UTC(y, m - 1, d);
  // The zone's offset at that moment (Indonesian zones have no daylight saving).
  const parts = partsIn(guess);
  const asUtc = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour % 24, parts.minute);
  return guess - (asUtc - guess);
}

function partsIn(ms) {
  const out = {};
  for (const p of new Intl.DateTimeFormat('en-GB', {
    timeZone: zone,
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
    hourCycle: 'h23',
  }).formatToParts(new Date(ms))) {
    if (p.type !== 'literal') out[p.type] = Number(p.value);
  }
  return out;
}

/** A date as "28 Nov 2026": a "YYYY-MM-DD" city date, an RFC 3339 instant or milliseconds. */
export function date(s) {
  if (s === null || s === undefined || s === '') return '–';
  if (typeof s === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(s)) {
    const [y, m, d] = s.split('-').map(Number);
    return new Intl.DateTimeFormat(intlLocale(), { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' }).format(
      new Date(Date.UTC(y, m - 1, d)),
    );
  }
  const ms = toMillis(s);
  if (ms === null) return '–';
  return new Intl.DateTimeFormat(intlLocale(), { day: 'numeric', month: 'short', year: 'numeric', timeZone: zone }).format(new Date(ms));
}

/** "Nov 2026", for chart axes. */
export function monthYear(ms) {
  return new Intl.DateTimeFormat(intlLocale(), { month: 'short', year: 'numeric', timeZone: zone }).format(new Date(ms));
}

/** A time of day in the city: "14:05" (or "14:05:32" with seconds). */
export function time(ms, seconds = false) {
  const p = partsIn(ms);
  const two = (n) => String(n).padStart(2, '0');
  return `${two(p.hour)}:${two(p.minute)}` + (seconds ? `:${two(p.second)}` : '');
}

/** "14:05 WIB". */
export function timeZoned(ms) {
  return `${time(ms)} ${zoneLabel()}`;
}

/** "28 Nov 2026 14:05 WIB". */
export function dateTime(ms) {
  return `${date(ms)} ${timeZoned(ms)}`;
}

/** "Sabtu, 28 November 2026" in the city. */
export function longDate(ms) {
  return new Intl.DateTimeFormat(intlLocale(), { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric', timeZone: zone }).format(
    new Date(ms),
  );
}

/** Today in the city as "YYYY-MM-DD". */
export function todayYMD(now = Date.now()) {
  const p = partsIn(now);
  return `${p.year}-${String(p.month).padStart(2, '0')}-${String(p.day).padStart(2, '0')}`;
}

/** Whole days from city date `a` to city date `b` (both "YYYY-MM-DD"). */
export function daysBetween(a, b) {
  const ms = (s) => {
    const [y, m, d] = s.slice(0, 10).split('-').map(Number);
    return Date.UTC(y, m - 1, d);
  };
  return Math.round((ms(b) - ms(a)) / 86400000);
}

const AGO = {
  id: { m: '{n} mnt lalu', h: '{n} jam lalu', d: '{n} hari lalu', mo: '{n} bln lalu', y: '{n} thn lalu' },
  en: { m: '{n} min ago', h: '{n} h ago', d: '{n} days ago', mo: '{n} mo ago', y: '{n} yr ago' },
};

/** How long ago `ms` was: "baru saja", "5 mnt lalu", "3 jam lalu", "12 hari lalu". A value
 * dated to a day (midnight in the city, as a date posts it) counts in days: "hari ini",
 * "kemarin", "3 hari lalu". */
export function age(ms, now = Date.now()) {
  if (ms === null || ms === undefined) return t('no_update');
  const p = partsIn(ms);
  if (p.hour % 24 === 0 && p.minute === 0 && p.second === 0 && ms <= now) {
    const days = daysBetween(todayYMD(ms), todayYMD(now));
    if (days === 0) return t('today_value');
    if (days === 1) return t('yesterday');
    if (days < 60) return (AGO[lang()] || AGO.id).d.replace('{n}', num(days, 0));
  }
  const s = Math.max(0, (now - ms) / 1000);
  if (s < 45) return t('just_now');
  const [n, unit] =
    s < 3600 ? [s / 60, 'm'] : s < 86400 ? [s / 3600, 'h'] : s < 86400 * 60 ? [s / 86400, 'd'] : s < 86400 * 730 ? [s / (86400 * 30.44), 'mo'] : [s / (86400 * 365.25), 'y'];
  const r = Math.max(1, Math.round(n));
  let text = (AGO[lang()] || AGO.id)[unit].replace('{n}', num(r, 0));
  if (lang() === 'en') text = plural(r, text.replace('days', 'day'), text);
  return text;
}

/** A cadence such as "1mo" as "tiap 1 bulan". */
export function cadence(every) {
  const m = /^(\d+)\s*(mo|h|d|w|y)$/.exec(every || '');
  if (!m) return every || '–';
  const unit = t('cadence_units')[m[2]] || m[2];
  const n = Number(m[1]);
  const c = `${n} ${unit}`;
  return t('every', { c: lang() === 'en' ? plural(n, c, `${c}s`) : c });
}

/** A cadence such as "1mo" in milliseconds (months as 30 days, years as 365). */
export function cadenceMillis(every) {
  const m = /^(\d+)\s*(mo|h|d|w|y)$/.exec(every || '');
  if (!m) return null;
  const day = 86400000;
  const unit = { h: 3600000, d: day, w: 7 * day, mo: 30 * day, y: 365 * day }[m[2]];
  return Number(m[1]) * unit;
}

// --- Statuses --------------------------------------------------------------------------------

/** Statuses from the highest risk to the lowest. */
export const RISK_ORDER = ['off_track', 'at_risk', 'no_data', 'on_track', 'achieved'];

/** Statuses in the order the legend and counts show them. */
export const STATUS_ORDER = ['achieved', 'on_track', 'at_risk', 'off_track', 'no_data'];

const STATUS_TEXT = {
  id: { achieved: 'Tercapai', on_track: 'Sesuai target', at_risk: 'Berisiko', off_track: 'Tertinggal', no_data: 'Belum ada data' },
  en: { achieved: 'Achieved', on_track: 'On track', at_risk: 'At risk', off_track: 'Off track', no_data: 'No data' },
};

export function statusLabel(status) {
  return (STATUS_TEXT[lang()] || STATUS_TEXT.id)[status] || status;
}

const ICON_PATHS = {
  // star
  achieved: '<path d="M12 2.5l2.9 6.1 6.6.8-4.9 4.6 1.3 6.6L12 17.3l-5.9 3.3 1.3-6.6L2.5 9.4l6.6-.8z" fill="currentColor"/>',
  // check in a circle
  on_track: '<circle cx="12" cy="12" r="10" fill="currentColor"/><path d="M7 12.5l3.2 3.2L17.5 8.5" fill="none" stroke="#0b1220" stroke-width="2.6" stroke-linecap="round" stroke-linejoin="round"/>',
  // exclamation in a triangle
  at_risk: '<path d="M12 2.5L22.5 21h-21z" fill="currentColor"/><path d="M12 9v5.5" stroke="#0b1220" stroke-width="2.6" stroke-linecap="round"/><circle cx="12" cy="17.8" r="1.5" fill="#0b1220"/>',
  // cross in an octagon
  off_track: '<path d="M8 2h8l6 6v8l-6 6H8l-6-6V8z" fill="currentColor"/><path d="M8.5 8.5l7 7M15.5 8.5l-7 7" stroke="#0b1220" stroke-width="2.6" stroke-linecap="round"/>',
  // dashed circle with a dash
  no_data: '<circle cx="12" cy="12" r="9" fill="none" stroke="currentColor" stroke-width="2.4" stroke-dasharray="3.5 2.6"/><path d="M8 12h8" stroke="currentColor" stroke-width="2.6" stroke-linecap="round"/>',
  // clock
  stale: '<circle cx="12" cy="12" r="9.5" fill="none" stroke="currentColor" stroke-width="2.4"/><path d="M12 6.5V12l3.8 2.6" fill="none" stroke="currentColor" stroke-width="2.4" stroke-linecap="round"/>',
};

/** An inline SVG icon for a status (or "stale"), coloured by its CSS class. */
export function icon(status) {
  return `<svg class="icon" viewBox="0 0 24 24" aria-hidden="true">${ICON_PATHS[status] || ICON_PATHS.no_data}</svg>`;
}

/** A status badge: colour, icon and label (never colour alone). */
export function badge(status, extraClass = '') {
  return `<span class="badge st-${esc(status)} ${extraClass}" data-status="${esc(status)}">${icon(status)}<span>${esc(statusLabel(status))}</span></span>`;
}

/** The status badge, with a "lewat tenggat" chip beside it when the item is overdue (its final
 * target or due date has passed and it is not achieved). `due` is that date (YYYY-MM-DD). */
export function statusBadges(item, due) {
  return badge(item.status) + (item.overdue ? overdueChip(due) : '');
}

/** "Lewat tenggat N hari": red, beside the status of an overdue item. */
export function overdueChip(due) {
  const n = due ? -daysBetween(todayYMD(), due) : null;
  const text = n != null && n > 0 ? t('overdue_chip', { n: num(n, 0) }) : t('past_due');
  return `<span class="overdue-chip" data-overdue="true" title="${esc(t('past_due_hint'))}">${esc(text)}</span>`;
}

/** A "data usang" chip with a clock icon. */
export function staleChip(text) {
  return `<span class="stale-chip" title="${esc(t('stale_long'))}">${icon('stale')}<span>${esc(text || t('stale'))}</span></span>`;
}

/** A horizontal bar: progress (status colour) with a marker at the expected position. */
export function progressBar(progress, expected, status) {
  const clamp = (x) => Math.max(0, Math.min(1, x ?? 0));
  const fill = progress == null ? 0 : clamp(progress);
  const mark =
    expected == null
      ? ''
      : `<span class="bar-expected" style="left:${(clamp(expected) * 100).toFixed(2)}%" title="${esc(t('expected_now'))} ${esc(pct(expected))}"></span>`;
  return `<div class="bar st-${esc(status)}" role="img" aria-label="${esc(t('progress'))} ${esc(pct(progress))}, ${esc(t('expected'))} ${esc(pct(expected))}"><span class="bar-fill" style="width:${(fill * 100).toFixed(2)}%"></span>${mark}</div>`;
}
