//! The evaluation report (laporan evaluasi) a city owes Kemenkominfo each year on its Smart
//! City Masterplan, with capaian as SAKIP/LKjIP report it (realisasi of year N against the
//! target of year N): per dimension and tier, per program and indicator, the quick wins, OPD
//! reporting compliance and a signature block.
//!
//! - `model`: the period asked for (checked against the plan) and the report as data, built
//!   from what `progress` computes; also the plan's version fingerprint.
//! - `source`: the inputs read from the store (the CLI's path; the daemon uses its memory).
//! - `xlsx`, `html`: the two documents; JSON is the model itself.
//! - `text`: spreadsheet-safe text, HTML/CSS escaping, Indonesian dates.
//!
//! Uses `progress`, `config`, `domain`, `store` and `locale`; `api` and `cli` use it.

pub mod html;
pub mod model;
pub mod source;
pub mod text;
pub mod xlsx;

pub use model::{
    CapaianBasis, EvaluationReport, Period, Request, build, default_year, parse_quarter,
    parse_year, plan_version, plan_years,
};

use crate::store::StoreError;

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A parameter of the request (`year`, `quarter`, `department`, `format`) is wrong.
    #[error("{name}: {message}")]
    BadParameter { name: &'static str, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The document could not be written.
    #[error("cannot write the report: {0}")]
    Render(String),
}

/// The documents a report comes as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xlsx,
    Html,
    Json,
}

impl Format {
    /// `xlsx`, `html` or `json`.
    pub fn parse(name: &str) -> Result<Format, ReportError> {
        match name.trim().to_ascii_lowercase().as_str() {
            "xlsx" => Ok(Format::Xlsx),
            "html" => Ok(Format::Html),
            "json" => Ok(Format::Json),
            _ => Err(ReportError::BadParameter {
                name: "format",
                message: "give xlsx, html or json".into(),
            }),
        }
    }

    /// The format a file name asks for by its extension (`.xlsx`, `.html`/`.htm`, `.json`).
    pub fn from_path(path: &std::path::Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "xlsx" => Some(Format::Xlsx),
            "html" | "htm" => Some(Format::Html),
            "json" => Some(Format::Json),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Xlsx => "xlsx",
            Format::Html => "html",
            Format::Json => "json",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Format::Html => "text/html; charset=utf-8",
            Format::Json => "application/json",
        }
    }
}

/// The report as a document.
pub fn render(report: &EvaluationReport, format: Format) -> Result<Vec<u8>, ReportError> {
    match format {
        Format::Xlsx => xlsx::write(report),
        Format::Html => Ok(html::write(report).into_bytes()),
        Format::Json => serde_json::to_vec(report).map_err(|e| ReportError::Render(e.to_string())),
    }
}
