//! Progress toward targets: pure math (`math`) and the in-memory progress state (`state`).
//!
//! `math` never touches I/O or the clock: `now` is passed in. It implements exactly the method in
//! DESIGN.md (current value, progress, expected progress along the trajectory, status, staleness,
//! forecast, capaian, roll-up). `state` keeps every indicator's series in memory and recomputes only
//! what a commit touched.

pub mod compliance;
pub mod math;
pub mod state;
pub mod years;

pub use math::{
    CapaianBands, CapaianCategory, CapaianDecrease, Counts, Forecast, Frame, IndicatorEvaluation,
    RollUp, RollUpPart, Status, Thresholds, Trajectory, capaian, category, evaluate, roll_up,
};
pub use state::{IndicatorProgress, ProgressSnapshot, ProgressState, RollUpProgress};
