//! A report's inputs read from the store over a read-only connection: when each value first
//! arrived (for compliance), the series as known at the end of a period that is over (for its
//! status), and, for the command line, the series and notes the daemon would hold in memory.
//! Safe beside a daemon that writes the same database (WAL readers).

use super::model::Series;
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

/// For a period that has ended at `now`: every indicator's series as it was known at the
/// period's last instant (observations timed up to it, each with the value it had then), by
/// position — what `GET /api/v1/progress?as_of=` reads for the period's last day. `None` while
/// the period runs: its status is today's progress.
pub fn read_known_then(
    conn: &dyn store::Reader,
    plan: &Masterplan,
    period: &Period,
    now: Millis,
) -> Result<Option<Vec<Series>>, StoreError> {
    if !period.has_ended(now) {
        return Ok(None);
    }
    let mut all = conn.all_series_as_of(period.status_at(now))?;
    Ok(Some(
        plan.indicators
            .iter()
            .map(|ind| all.remove(ind.id.as_str()).unwrap_or_default())
            .collect(),
    ))
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
    let known_then = read_known_then(conn, &plan, &period, now)?;
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
        known_then.as_deref(),
        &config.settings.city.name,
        &config.settings.report,
        now,
    ))
}
