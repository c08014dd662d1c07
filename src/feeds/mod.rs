//! Department feeds that pantau polls: their specification, the cron schedule, the formats.
//!
//! `schedule` turns crontab text into fire times in the city's zone; `format` turns a response
//! body into points for indicators; `health` keeps each feed's last runs. The poller
//! (`crate::poller`, one engine for every format) fetches, extracts, and hands the points to the
//! same validation and writer as department posts.

pub mod format;
pub mod health;
pub mod schedule;

pub use format::{
    ExtractContext, ExtractError, FeedFormat, FeedPoint, Page, Skipped, SkippedValue,
};
pub use health::FeedHealth;
pub use schedule::Schedule;

use crate::domain::{DepartmentId, FeedId};
use std::time::Duration;

/// A header value sent with each poll: literal, or read from an environment variable at poll time.
#[derive(Debug, Clone)]
pub enum HeaderValue {
    Literal(String),
    /// `env:NAME` in the config: the value of environment variable NAME (never logged).
    Env(String),
}

/// One configured feed, validated.
#[derive(Debug, Clone)]
pub struct FeedSpec {
    pub id: FeedId,
    pub department: DepartmentId,
    pub url: reqwest::Url,
    pub format: FeedFormat,
    pub schedule: Schedule,
    pub timeout: Duration,
    pub run_at_start: bool,
    pub headers: Vec<(String, HeaderValue)>,
    pub max_bytes: u64,
    pub retries: u32,
}
