//! The API's message catalogue: every text an error answer carries, in English and in Bahasa
//! Indonesia side by side (`Msg`), the texts of rejected rows by a stable key (`ROW_TEXTS`), and
//! the choice of language for a request (`negotiate`: `Accept-Language` with its q-values, else
//! the city's locale). `ApiError::into_response` is the only user.
//!
//! Codes, parameter names and row fields are machine names and never translated; `message`,
//! `reason` and `fix` are.

use crate::config::Locale;
use crate::locale::count;

/// The language to answer in: the one `Accept-Language` prefers (by q-value, then order) among
/// Indonesian (`id`, also the old `in`) and English (`en`); when it names neither, the city's.
pub fn negotiate(accept_language: Option<&str>, city: Locale) -> Locale {
    let Some(header) = accept_language else {
        return city;
    };
    let mut best: Option<(f32, Locale)> = None;
    // Asked with q=0: not wanted at all.
    let mut refused_id = false;
    let mut refused_en = false;
    // Only the first entries count; real headers have a handful.
    for part in header.split(',').take(32) {
        let mut pieces = part.split(';');
        let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
        let lang = match tag.split(['-', '_']).next().unwrap_or("") {
            "id" | "in" => Locale::Id,
            "en" => Locale::En,
            _ => continue,
        };
        let q = pieces
            .find_map(|p| p.trim().strip_prefix("q=").map(|v| v.trim().parse::<f32>()))
            .unwrap_or(Ok(1.0))
            .unwrap_or(0.0);
        if !(q > 0.0 && q <= 1.0) {
            match lang {
                Locale::Id => refused_id = true,
                Locale::En => refused_en = true,
            }
            continue;
        }
        if best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, lang));
        }
    }
    match (best, city) {
        (Some((_, lang)), _) => lang,
        // Neither asked for: the city's, unless the request refuses it and not the other.
        (None, Locale::Id) if refused_id && !refused_en => Locale::En,
        (None, Locale::En) if refused_en && !refused_id => Locale::Id,
        (None, city) => city,
    }
}

fn pick(lang: Locale, en: String, id: String) -> String {
    match lang {
        Locale::En => en,
        Locale::Id => id,
    }
}

/// A message of an error answer, with its arguments.
#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    /// Text from a part of pantau not yet in this catalogue; known sentences are translated
    /// (`KNOWN`), others are shown as they are.
    Text(String),
    NoSuchPath,
    CannotServe,
    UnknownIndicator {
        id: String,
    },
    UnknownDepartment {
        id: String,
    },
    NoDashboardFile,
    TakesNoParameters,
    NotAParameter {
        allowed: Vec<&'static str>,
    },
    NotADimension {
        value: String,
        allowed: String,
    },
    NotADepartment {
        value: String,
    },
    NotABoolean {
        value: String,
    },
    BadTime {
        value: String,
    },
    FromAfterTo,
    BadLimit {
        value: String,
        max: usize,
    },
    BadQuery {
        detail: String,
    },
    BadHeader {
        detail: String,
    },
    WebsocketOnly,
    UnsupportedMediaType {
        content_type: String,
    },
    UnsupportedContentType,
    PayloadTooLarge {
        limit: u64,
    },
    MethodNotAllowed,
    RateLimited {
        retry_after_secs: u64,
    },
    TooManyScreens {
        max_screens: usize,
    },
    BodyUnreadable {
        detail: String,
    },
    /// A body refused by the parser, which describes it (in English until ingest has keys).
    BodyRefused {
        detail: String,
    },
    RowsNotOwned {
        n: usize,
    },
    RowsInvalid {
        n: usize,
    },
    NoteNotOwned {
        id: String,
        department: String,
    },
    NoteNotJson {
        detail: String,
    },
    NoteIncomplete,
    AdminOnlyReload,
    ReloadRefused {
        detail: String,
    },
    StoreUnavailable {
        detail: String,
    },
    StoreClosed,
    InternalDatabase,
    WrongOutcome,
}

impl Msg {
    /// The message in `lang`.
    pub fn text(&self, lang: Locale) -> String {
        let l = lang;
        match self {
            Msg::Text(t) => match lang {
                Locale::En => t.clone(),
                Locale::Id => known(t).map_or_else(|| t.clone(), str::to_string),
            },
            Msg::NoSuchPath => pick(
                l,
                "no such path; see docs/openapi.yaml for the API".into(),
                "alamat ini tidak ada; lihat docs/openapi.yaml untuk daftar API".into(),
            ),
            Msg::CannotServe => pick(
                l,
                "cannot serve this request; see docs/openapi.yaml for the API".into(),
                "permintaan ini tidak dapat dilayani; lihat docs/openapi.yaml untuk daftar API"
                    .into(),
            ),
            Msg::UnknownIndicator { id } => pick(
                l,
                format!(
                    "no indicator `{id}` in the masterplan; see GET /api/v1/masterplan for the ids"
                ),
                format!(
                    "tidak ada indikator `{id}` di masterplan; lihat GET /api/v1/masterplan untuk daftar id"
                ),
            ),
            Msg::UnknownDepartment { id } => pick(
                l,
                format!(
                    "no department `{id}` in the masterplan; see GET /api/v1/masterplan for the ids"
                ),
                format!(
                    "tidak ada perangkat daerah `{id}` di masterplan; lihat GET /api/v1/masterplan untuk daftar id"
                ),
            ),
            Msg::NoDashboardFile => pick(
                l,
                "no such file in the dashboards".into(),
                "berkas ini tidak ada di dasbor".into(),
            ),
            Msg::TakesNoParameters => pick(
                l,
                "this endpoint takes no query parameters".into(),
                "alamat ini tidak menerima parameter kueri".into(),
            ),
            Msg::NotAParameter { allowed } => pick(
                l,
                format!(
                    "is not a parameter of this endpoint; use: {}",
                    allowed.join(", ")
                ),
                format!(
                    "bukan parameter alamat ini; gunakan: {}",
                    allowed.join(", ")
                ),
            ),
            Msg::NotADimension { value, allowed } => pick(
                l,
                format!("`{value}` is not a dimension; use one of: {allowed}"),
                format!("`{value}` bukan dimensi; gunakan salah satu: {allowed}"),
            ),
            Msg::NotADepartment { value } => pick(
                l,
                format!(
                    "`{value}` is not a department of the masterplan; see GET /api/v1/masterplan"
                ),
                format!(
                    "`{value}` bukan perangkat daerah di masterplan; lihat GET /api/v1/masterplan"
                ),
            ),
            Msg::NotABoolean { value } => pick(
                l,
                format!("`{value}` must be true or false"),
                format!("`{value}` harus true atau false"),
            ),
            Msg::BadTime { value } => pick(
                l,
                format!("`{value}` is not a date or time; write YYYY-MM-DD or an RFC 3339 time"),
                format!(
                    "`{value}` bukan tanggal atau waktu; tulis YYYY-MM-DD atau waktu RFC 3339"
                ),
            ),
            Msg::FromAfterTo => pick(
                l,
                "is after `to`; swap them".into(),
                "lebih lambat dari `to`; tukar keduanya".into(),
            ),
            Msg::BadLimit { value, max } => pick(
                l,
                format!("`{value}` must be a whole number from 1 to {max}"),
                format!("`{value}` harus bilangan bulat dari 1 sampai {max}"),
            ),
            Msg::BadQuery { detail } => pick(
                l,
                format!("{detail}; check the query string"),
                format!("kueri tidak dapat dibaca ({detail}); periksa teks setelah `?`"),
            ),
            Msg::BadHeader { detail } => pick(
                l,
                detail.clone(),
                format!("header permintaan tidak sesuai: {detail}"),
            ),
            Msg::WebsocketOnly => pick(
                l,
                "this is a websocket endpoint; connect with a websocket client (`Connection: upgrade`, `Upgrade: websocket`)".into(),
                "alamat ini khusus websocket; sambungkan dengan klien websocket (`Connection: upgrade`, `Upgrade: websocket`)".into(),
            ),
            Msg::UnsupportedMediaType { content_type } => pick(
                l,
                format!(
                    "content type `{content_type}` is not accepted; send application/json, text/csv or application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                ),
                format!(
                    "jenis isi `{content_type}` tidak diterima; kirim application/json, text/csv atau application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                ),
            ),
            Msg::UnsupportedContentType => pick(
                l,
                "unsupported content type".into(),
                "jenis isi tidak didukung".into(),
            ),
            Msg::PayloadTooLarge { limit } => pick(
                l,
                format!(
                    "the request body is larger than the limit of {limit} bytes; send fewer rows per request"
                ),
                format!(
                    "isi permintaan melebihi batas {limit} byte; kirim lebih sedikit baris per permintaan"
                ),
            ),
            Msg::MethodNotAllowed => pick(
                l,
                "this method is not allowed on this path; see docs/openapi.yaml".into(),
                "metode ini tidak diizinkan pada alamat ini; lihat docs/openapi.yaml".into(),
            ),
            Msg::RateLimited { retry_after_secs } => pick(
                l,
                format!(
                    "too many requests from this token or address (failed attempts count too); retry after {retry_after_secs} s"
                ),
                format!(
                    "terlalu banyak permintaan dari token atau alamat ini (percobaan gagal ikut dihitung); coba lagi setelah {retry_after_secs} detik"
                ),
            ),
            Msg::TooManyScreens { max_screens } => pick(
                l,
                format!(
                    "this daemon already serves {max_screens} live screens, the most [server] max_screens allows; close screens nobody watches, or raise max_screens (and the open-file limit, `ulimit -n`) and restart pantau"
                ),
                format!(
                    "daemon ini sudah melayani {max_screens} layar langsung, batas [server] max_screens; tutup layar yang tidak ditonton, atau naikkan max_screens (dan batas berkas terbuka, `ulimit -n`) lalu jalankan ulang pantau"
                ),
            ),
            Msg::BodyUnreadable { detail } => pick(
                l,
                format!("the request body could not be read ({detail})"),
                format!("isi permintaan tidak dapat dibaca ({detail})"),
            ),
            Msg::BodyRefused { detail } => pick(
                l,
                detail.clone(),
                format!("kiriman ditolak, tidak ada yang disimpan: {detail}"),
            ),
            Msg::RowsNotOwned { n } => pick(
                l,
                format!(
                    "{} for indicators your department does not own; nothing was stored",
                    if *n == 1 {
                        "1 row is".to_string()
                    } else {
                        format!("{n} rows are")
                    }
                ),
                format!(
                    "{n} baris berisi indikator milik perangkat daerah lain; tidak ada yang disimpan"
                ),
            ),
            Msg::RowsInvalid { n } => pick(
                l,
                format!(
                    "{} in the batch; nothing was stored",
                    count(Locale::En, *n, "problem", "problems", "")
                ),
                format!("{n} masalah dalam kiriman; tidak ada yang disimpan"),
            ),
            Msg::NoteNotOwned { id, department } => pick(
                l,
                format!(
                    "indicator `{id}` belongs to department `{department}`; only it may write notes on it"
                ),
                format!(
                    "indikator `{id}` milik perangkat daerah `{department}`; hanya perangkat daerah itu yang boleh menulis catatannya"
                ),
            ),
            Msg::NoteNotJson { detail } => pick(
                l,
                format!(
                    "the note must be JSON {{\"kendala\": \"...\", \"rencana_tindak_lanjut\": \"...\"}} ({detail})"
                ),
                format!(
                    "catatan harus berupa JSON {{\"kendala\": \"...\", \"rencana_tindak_lanjut\": \"...\"}} ({detail})"
                ),
            ),
            Msg::NoteIncomplete => pick(
                l,
                "the note is incomplete; nothing was stored".into(),
                "catatan belum lengkap; tidak ada yang disimpan".into(),
            ),
            Msg::AdminOnlyReload => pick(
                l,
                "only the admin token may reload the configuration".into(),
                "hanya token admin yang boleh memuat ulang konfigurasi".into(),
            ),
            Msg::ReloadRefused { detail } => pick(
                l,
                format!("the new configuration was refused and the running one stays:\n{detail}"),
                format!("konfigurasi baru ditolak dan yang berjalan tetap dipakai:\n{detail}"),
            ),
            Msg::StoreUnavailable { detail } => pick(
                l,
                format!(
                    "the database cannot be written right now ({detail}); nothing was stored: free disk space or fix permissions, then retry"
                ),
                format!(
                    "basis data tidak dapat ditulis saat ini ({detail}); tidak ada yang disimpan: kosongkan ruang disk atau perbaiki izin berkas, lalu coba lagi"
                ),
            ),
            Msg::StoreClosed => pick(
                l,
                "the writer has stopped (pantau is shutting down); retry shortly".into(),
                "penulis basis data sudah berhenti (pantau sedang dimatikan); coba lagi sebentar lagi".into(),
            ),
            Msg::InternalDatabase => pick(
                l,
                "an internal database error occurred; it was logged".into(),
                "terjadi galat internal basis data; sudah dicatat di log".into(),
            ),
            Msg::WrongOutcome => pick(
                l,
                "the writer answered with the wrong kind of outcome".into(),
                "penulis basis data memberi jawaban yang tidak sesuai".into(),
            ),
        }
    }
}

/// Fixed sentences of modules that build their errors as text (authentication, the live
/// websocket), with their Indonesian: translated while those modules move to `Msg`.
const KNOWN: &[(&str, &str)] = &[
    (
        "missing `Authorization: Bearer <token>` header; ask your administrator for a department token (`pantau token create <department>`)",
        "header `Authorization: Bearer <token>` tidak ada; minta token perangkat daerah kepada administrator (`pantau token create <department>`)",
    ),
    (
        "the Authorization header must read `Bearer <token>`",
        "header Authorization harus berbunyi `Bearer <token>`",
    ),
    (
        "the bearer token is malformed",
        "token bearer tidak berbentuk benar",
    ),
    (
        "this token's department is no longer in the masterplan; create a new token",
        "perangkat daerah token ini sudah tidak ada di masterplan; buat token baru",
    ),
    (
        "this token was revoked; ask your administrator for a new one",
        "token ini sudah dicabut; minta token baru kepada administrator",
    ),
    (
        "the bearer token is malformed; tokens look like `pantau_<id>_<secret>`",
        "token bearer tidak berbentuk benar; token berbentuk `pantau_<id>_<secret>`",
    ),
    (
        "unknown token; check that it was copied whole",
        "token tidak dikenal; periksa apakah tersalin utuh",
    ),
    (
        "this connection cannot be upgraded to a websocket",
        "sambungan ini tidak dapat ditingkatkan menjadi websocket",
    ),
];

fn known(text: &str) -> Option<&'static str> {
    KNOWN.iter().find(|(en, _)| *en == text).map(|(_, id)| *id)
}

pub use crate::ingest::RowKey;

/// Row problems by key: English reason and fix, Indonesian reason and fix; `{name}` is filled
/// from the key's arguments. The keys are stable: ingest fills them as it builds its rows.
pub const ROW_TEXTS: &[(&str, [&str; 4])] = &[
    (
        "indicator.missing",
        [
            "is missing",
            "give the indicator id, e.g. `living.health.stunting`",
            "tidak diisi",
            "tulis id indikator, mis. `living.health.stunting`",
        ],
    ),
    (
        "indicator.unknown",
        [
            "`{id}` is not an indicator of the masterplan",
            "check the id in GET /api/v1/masterplan",
            "`{id}` bukan indikator di masterplan",
            "periksa id di GET /api/v1/masterplan",
        ],
    ),
    (
        "indicator.not_owned",
        [
            "`{id}` belongs to department `{department}`",
            "post only your own department's indicators, or ask that department to post it",
            "`{id}` milik perangkat daerah `{department}`",
            "kirim hanya indikator perangkat daerah Anda, atau minta perangkat daerah itu mengirimnya",
        ],
    ),
    (
        "time.missing",
        [
            "is missing",
            "give the time as YYYY-MM-DD or RFC 3339, e.g. 2026-11-28 or 2026-11-28T09:00:00+07:00",
            "tidak diisi",
            "tulis waktu sebagai YYYY-MM-DD atau RFC 3339, mis. 2026-11-28 atau 2026-11-28T09:00:00+07:00",
        ],
    ),
    (
        "time.unreadable",
        [
            "`{value}` is not a date or time",
            "write YYYY-MM-DD, `YYYY-MM-DD HH:MM` (city time), DD/MM/YYYY, 28 November 2026 or RFC 3339, e.g. 2026-11-28T09:00:00+07:00",
            "`{value}` bukan tanggal atau waktu",
            "tulis YYYY-MM-DD, `YYYY-MM-DD HH:MM` (waktu kota), DD/MM/YYYY, 28 November 2026 atau RFC 3339, mis. 2026-11-28T09:00:00+07:00",
        ],
    ),
    (
        "time.before_baseline",
        [
            "is before the indicator's baseline date {date}",
            "observations start at the baseline date; check the year",
            "lebih awal dari tanggal baseline indikator {date}",
            "data dimulai pada tanggal baseline; periksa tahunnya",
        ],
    ),
    (
        "time.future",
        [
            "is in the future",
            "send values when they are measured; check the date and the time zone",
            "berada di masa depan",
            "kirim nilai setelah diukur; periksa tanggal dan zona waktu",
        ],
    ),
    (
        "time.duplicate",
        [
            "the same indicator and time appear twice in this batch",
            "send each (indicator, time) once; remove the duplicate row",
            "indikator dan waktu yang sama muncul dua kali dalam kiriman ini",
            "kirim setiap pasangan (indikator, waktu) sekali; hapus baris gandanya",
        ],
    ),
    (
        "value.missing",
        [
            "is missing",
            "give a number, e.g. 12.5 (or 12,5 in an Indonesian CSV)",
            "tidak diisi",
            "tulis angka, mis. 12.5 (atau 12,5 di CSV berformat Indonesia)",
        ],
    ),
    (
        "value.not_a_number",
        [
            "`{value}` is not a number",
            "give a finite number, e.g. 1234.5, or 1.234,5 in an Indonesian CSV",
            "`{value}` bukan angka",
            "tulis angka, mis. 1234.5, atau 1.234,5 di CSV berformat Indonesia",
        ],
    ),
    (
        "value.below_min",
        [
            "{value} is below this indicator's minimum {min}",
            "check the unit ({unit}); values lie between {min} and {max}",
            "{value} di bawah nilai minimum indikator ini, {min}",
            "periksa satuannya ({unit}); nilai berada antara {min} dan {max}",
        ],
    ),
    (
        "value.above_max",
        [
            "{value} is above this indicator's maximum {max}",
            "check the unit ({unit}); the maximum is {max}",
            "{value} di atas nilai maksimum indikator ini, {max}",
            "periksa satuannya ({unit}); nilai maksimum {max}",
        ],
    ),
    (
        "note.too_long",
        [
            "is longer than {max} characters",
            "shorten it",
            "lebih dari {max} karakter",
            "persingkat",
        ],
    ),
    (
        "note.empty",
        [
            "is empty",
            "describe it in a sentence or two",
            "kosong",
            "jelaskan dalam satu atau dua kalimat",
        ],
    ),
    (
        "observation.not_an_object",
        [
            "is not an object",
            "write each observation as {\"indicator\": ..., \"time\": ..., \"value\": ...}",
            "bukan objek",
            "tulis setiap data sebagai {\"indicator\": ..., \"time\": ..., \"value\": ...}",
        ],
    ),
    (
        "field.unknown",
        [
            "is not a known field",
            "use only indicator, time, value and note",
            "bukan kolom yang dikenal",
            "gunakan hanya indicator, time, value dan note",
        ],
    ),
    (
        "field.not_a_string",
        [
            "must be a string, found {found}",
            "put the value in quotes",
            "harus berupa teks, ditemukan {found}",
            "beri tanda kutip pada nilainya",
        ],
    ),
    (
        "value.not_a_json_number",
        [
            "must be a number, found {found}",
            "send a JSON number such as 12.5",
            "harus berupa angka, ditemukan {found}",
            "kirim angka JSON seperti 12.5",
        ],
    ),
    ("config.problem", ["{where}", "{what}", "{where}", "{what}"]),
];

fn fill(template: &str, args: &[(&'static str, String)]) -> String {
    let mut out = template.to_string();
    for (name, value) in args {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

/// A row problem's reason and fix in `lang`, by its key; None for a key not in `ROW_TEXTS`.
pub fn row_texts(key: &RowKey, lang: Locale) -> Option<(String, String)> {
    let (_, texts) = ROW_TEXTS.iter().find(|(k, _)| *k == key.key)?;
    let (reason, fix) = match lang {
        Locale::En => (texts[0], texts[1]),
        Locale::Id => (texts[2], texts[3]),
    };
    Some((fill(reason, &key.args), fill(fix, &key.args)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_with_q_values() {
        use Locale::{En, Id};
        assert_eq!(negotiate(None, Id), Id);
        assert_eq!(negotiate(None, En), En);
        assert_eq!(negotiate(Some("id"), En), Id);
        assert_eq!(
            negotiate(Some("id-ID,id;q=0.9,en-US;q=0.8,en;q=0.7"), En),
            Id
        );
        assert_eq!(negotiate(Some("en-US,en;q=0.9"), Id), En);
        assert_eq!(negotiate(Some("en;q=0.5, id;q=0.8"), En), Id);
        assert_eq!(negotiate(Some("id;q=0.3, en;q=0.8"), Id), En);
        assert_eq!(negotiate(Some("fr-FR, en;q=0.2"), Id), En);
        assert_eq!(negotiate(Some("en;q=0, id;q=0"), Id), Id);
        assert_eq!(negotiate(Some("en;q=0"), Id), Id);
        assert_eq!(negotiate(Some("id;q=0"), Id), En);
        assert_eq!(negotiate(Some("fr, de"), Id), Id);
        assert_eq!(negotiate(Some("*"), En), En);
        assert_eq!(negotiate(Some("in"), En), Id);
        assert_eq!(negotiate(Some("en;q=abc, id;q=0.1"), En), Id);
        assert_eq!(negotiate(Some(""), Id), Id);
    }

    #[test]
    fn plurals_as_people_write_them() {
        assert_eq!(
            Msg::RowsInvalid { n: 1 }.text(Locale::En),
            "1 problem in the batch; nothing was stored"
        );
        assert_eq!(
            Msg::RowsInvalid { n: 3 }.text(Locale::En),
            "3 problems in the batch; nothing was stored"
        );
        assert_eq!(
            Msg::RowsInvalid { n: 1 }.text(Locale::Id),
            "1 masalah dalam kiriman; tidak ada yang disimpan"
        );
        assert!(
            Msg::RowsNotOwned { n: 1 }
                .text(Locale::En)
                .starts_with("1 row is for")
        );
        assert!(
            Msg::RowsNotOwned { n: 2 }
                .text(Locale::En)
                .starts_with("2 rows are for")
        );
    }

    #[test]
    fn row_keys_are_unique_and_fill_every_placeholder() {
        let mut seen = std::collections::HashSet::new();
        for (key, texts) in ROW_TEXTS {
            assert!(seen.insert(key), "{key} twice");
            // The same placeholders in both languages.
            let names = |s: &str| -> Vec<String> {
                let mut v: Vec<String> = s
                    .split('{')
                    .skip(1)
                    .filter_map(|p| p.split_once('}').map(|(n, _)| n.to_string()))
                    .filter(|n| n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
                    .filter(|n| !n.is_empty())
                    .collect();
                v.sort();
                v
            };
            assert_eq!(names(texts[0]), names(texts[2]), "{key} reason");
            assert_eq!(names(texts[1]), names(texts[3]), "{key} fix");
        }
        let k = RowKey::new("time.before_baseline").arg("date", "2022-12-31");
        assert_eq!(
            row_texts(&k, Locale::Id).unwrap().0,
            "lebih awal dari tanggal baseline indikator 2022-12-31"
        );
        assert!(row_texts(&RowKey::new("no.such.key"), Locale::Id).is_none());
    }

    #[test]
    fn known_sentences_are_translated_and_others_kept() {
        let m = Msg::Text("the bearer token is malformed".into());
        assert_eq!(m.text(Locale::Id), "token bearer tidak berbentuk benar");
        assert_eq!(m.text(Locale::En), "the bearer token is malformed");
        let other = Msg::Text("something new".into());
        assert_eq!(other.text(Locale::Id), "something new");
    }
}
