//! pantau: a daemon that tracks a city's Smart City Masterplan for its command center.
//!
//! The flow (see DESIGN.md): department feeds (`feeds`), department posts and imports (`ingest`)
//! -> validation -> the one writer (`store::writer`) -> SQLite (WAL) -> the in-memory progress
//! state (`progress::state`) -> the hub (`live`) -> websocket screens and the dashboards (`api`).
//!
//! - `domain`: ids, dimensions, programs, indicators, targets, observations.
//! - `values`: the one reader of numbers and the one reader of times from outside (posts,
//!   uploads, imports, feeds), the capped XLSX opener, and the neutraliser for exported cells.
//! - `config`: `pantau.toml` settings and `masterplan.toml`, validated into domain types.
//! - `progress`: the pure progress math and the incrementally updated state.
//! - `store`: schema and migrations, the one writer, read-only queries, tokens, backups.
//! - `ingest`: parsing and validating department posts, uploads and imports.
//! - `feeds`: feed specifications, cron schedules, feed formats (JSON, CSV, Prometheus text,
//!   CKAN) as pure code, and each feed's health.
//! - `live`: the hub that numbers changes, and websocket sessions for screens.
//! - `app`: the shared handle (`App`) that the API, the poller and the server hold.
//! - `poller`: the one polling engine for every feed format.
//! - `reminders`: e-mails and events to departments whose updates are overdue.
//! - `report`: the yearly evaluation report (laporan evaluasi) as data, XLSX and HTML.
//! - `api`: warp routes, the one error-to-status mapping, the live websocket, the dashboards.
//! - `server`: wires everything and shuts it down in order.
//!
//! Modules are layered (checked by `tests/structure.rs`): `domain` uses nothing of ours; `values`
//! uses only `domain`; `config`, `feeds`, `progress`, `store`, `ingest` and `live` sit above
//! them; `report` above `progress`, `config` and `store`; `app` above those; `poller`, `reminders` and `api` above `app`; `server`, `demo`,
//! `watch` and `cli` on top.
//! - `cli`, `demo`, `watch`: the command line, the demo city, the terminal client.
//! - `federation`: a province's or the ministry's pantau following many cities' pantau over
//!   their live feeds (`federation.toml`); above `api`, below `cli` and `demo`.
//! - `locale`: Indonesian number formatting.
//! - `planfile`: a new city's configuration folder (`pantau init`) and the masterplan as a
//!   workbook: the template, the import of a city's own matrices, the export.
//! - `telemetry`: the log output (text or JSON lines) and the daemon's start-up notices.

// warp's route types nest deeply: the optimized build needs more than the default 128.
#![recursion_limit = "256"]

pub mod api;
pub mod app;
pub mod cli;
pub mod config;
pub mod demo;
pub mod domain;
pub mod federation;
pub mod feeds;
pub mod ingest;
pub mod live;
pub mod locale;
pub mod planfile;
pub mod poller;
pub mod progress;
pub mod reminders;
pub mod report;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod values;
pub mod watch;
