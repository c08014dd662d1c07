//! pantau: a daemon that tracks a city's Smart City Masterplan for its command center.
//!
//! The flow (see DESIGN.md): department feeds (`feeds`), department posts and imports (`ingest`)
//! -> validation -> the one writer (`store::writer`) -> SQLite (WAL) -> the in-memory progress
//! state (`progress::state`) -> the hub (`live`) -> websocket screens and the dashboards (`api`).
//!
//! - `domain`: ids, dimensions, programs, indicators, targets, observations.
//! - `config`: `pantau.toml` settings and `masterplan.toml`, validated into domain types.
//! - `progress`: the pure progress math and the incrementally updated state.
//! - `store`: schema and migrations, the one writer, read-only queries, tokens, backups.
//! - `ingest`: parsing and validating department posts, uploads and imports.
//! - `feeds`: cron schedules, feed formats (JSON, CSV, Prometheus text, CKAN), the poller.
//! - `live`: the hub that numbers changes, and websocket sessions for screens.
//! - `api`: warp routes, the one error-to-status mapping, the dashboards.
//! - `server`: wires everything and shuts it down in order.
//! - `cli`, `demo`, `watch`: the command line, the demo city, the terminal client.
//! - `locale`: Indonesian number formatting.

pub mod api;
pub mod cli;
pub mod config;
pub mod demo;
pub mod domain;
pub mod feeds;
pub mod ingest;
pub mod live;
pub mod locale;
pub mod progress;
pub mod server;
pub mod store;
pub mod watch;
