//! Live progress for command-center screens: the hub that numbers every change, and the
//! websocket sessions that carry snapshots, deltas and events to each screen.
//!
//! The writer (through the commit listener) and the clock tick hand each `Change` to
//! `Hub::publish`; it never waits for a screen. Each session filters what it forwards and falls
//! back to a fresh snapshot when it lags.

pub mod hub;
pub mod screens;
pub mod session;
pub mod webhooks;

pub use hub::{Hub, HubMessage};
