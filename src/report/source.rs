//! A report's inputs read from the store over a read-only connection: when each value first
//! arrived (for compliance), and, for the command line, the series and notes the daemon would
//! hold in memory. Safe beside a daemon that writes the same database (WAL readers).

use super::{EvaluationReport, Period, ReportError, Request};
use crate::config::Config;
use crate::domain::{Masterplan, Millis};
use crate::progress::ProgressState;
use crate::store::{self, StoreError};
use std::path::Path;
use std::sync::Arc;

/// (observation time, first received) of every indicator of the plan over what compliance
/// for `period` looks at, by position.
pub fn read_receipts(
    conn: &dyn store::Reader,
    plan: &Masterplan,
    period: &Period,
) -> Result<Vec<Vec<(Millis, Millis)>>, StoreError> {
    plan.indicators
        .iter()
        .map(|ind| conn.receipts(ind.id.as_str(), period.receipts_from(ind), period.end))
        .collect()
}

/// The report computed from the database at `db` (opened read-only) with `config`, at `now`.
/// The request is checked before the database is touched.
pub fn from_database(
    config: &Config,
    db: &Path,
    request: &Request,
    now: Millis,
) -> Result<EvaluationReport, ReportError> {
    let tz = config.settings.city.time_zone;
    Period::resolve(request, &config.masterplan, tz)?;
    let conn = store::open_reader(db)?;
    from_reader(config, &conn, request, now)
}

/// The report computed from what `conn` reads (a SQLite file or PostgreSQL) with `config`, at
/// `now`.
pub fn from_reader(
    config: &Config,
    conn: &dyn store::Reader,
    request: &Request,
    now: Millis,
) -> Result<EvaluationReport, ReportError> {
    let tz = config.settings.city.time_zone;
    let plan = Arc::new(config.masterplan.clone());
    let period = Period::resolve(request, &plan, tz)?;
    let series = conn.all_series()?;
    let notes = conn.latest_notes()?;
    let receipts = read_receipts(conn, &plan, &period)?;
    let state = ProgressState::new(
        plan,
        tz,
        config.settings.progress.thresholds,
        series,
        notes,
        now,
    );
    Ok(super::build(
        &period,
        &state.data(),
        &receipts,
        &config.settings.city.name,
        &config.settings.report,
        now,
    ))
}
