//! `App`: the handle every request handler, the poller and the clock share: the configuration,
//! the progress state, the hub, the writer, read connections and the counters around them.
//!
//! It sits below `api`, `poller` and `server` and above the parts it holds, so nothing it holds
//! reaches back up to it. Cloning is cheap (one `Arc`).

pub mod counters;
pub mod limiter;

pub use counters::HttpMetrics;
pub use limiter::RateLimiter;

use crate::config::Config;
use crate::live::Hub;
use crate::live::session::{Heartbeat, ScreenRegistry};
use crate::progress::ProgressState;
use crate::store::{self, ReadPool, WriterHandle};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::watch;

/// Gives the memory a large computation freed (a report, progress as of a day) back to the
/// system. glibc keeps what a thread frees in that thread's arena, and the blocking threads
/// that make reports each have one, so each would otherwise hold on to its own peak.
pub fn give_back_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of the allocator's arenas to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Options of `run` that do not come from the config files.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Serve the dashboards from this folder instead of the embedded copy.
    pub dashboards_dir: Option<PathBuf>,
    /// Heartbeat of websocket sessions.
    pub heartbeat: Option<Heartbeat>,
    /// The database's serve lock, when the caller took it already (to take it before writing
    /// anything, as the demo does); otherwise `server::run` takes it.
    pub lock: Option<Arc<crate::store::lock::ServeLock>>,
}

/// Everything the handlers share, behind one `Arc`: a clone is one reference count. (warp
/// clones the rest of a route tree at every `and` and `or` it evaluates, so a handle that
/// cloned each of its fields cost a third of the CPU of a small request.)
#[derive(Clone)]
pub struct App(Arc<AppState>);

impl App {
    pub fn new(state: AppState) -> App {
        App(Arc::new(state))
    }
}

impl std::ops::Deref for App {
    type Target = AppState;
    fn deref(&self) -> &AppState {
        &self.0
    }
}

/// What `App` holds.
pub struct AppState {
    pub config: Arc<RwLock<Arc<Config>>>,
    pub progress: Arc<Mutex<ProgressState>>,
    pub hub: Hub,
    pub writer: WriterHandle,
    pub reads: ReadPool,
    pub screens: ScreenRegistry,
    pub feeds: crate::feeds::FeedHealth,
    pub http: Arc<HttpMetrics>,
    pub connections: Arc<counters::ConnectionMetrics>,
    pub limiter: Arc<RateLimiter>,
    /// Department tokens that verified since the last token change.
    pub tokens: Arc<store::tokens::TokenCache>,
    pub options: RunOptions,
    pub shutdown: watch::Receiver<bool>,
    pub reload: Arc<tokio::sync::Notify>,
    pub started: std::time::Instant,
    pub webhooks: Arc<crate::live::webhooks::WebhookMetrics>,
    pub reminders: Arc<counters::ReminderMetrics>,
    /// The version of the plan that is loaded (recorded at start and at each reload).
    pub plan_version: Arc<RwLock<Option<PlanVersion>>>,
    /// Scheduled backups' last results (empty when `[storage.backup]` is off).
    pub backups: store::backup::BackupStatus,
    /// The backend, whether its connection is up, and whether this daemon polls the feeds.
    pub storage: store::Roles,
}

impl App {
    pub fn config(&self) -> Arc<Config> {
        match self.config.read() {
            Ok(c) => c.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    pub fn tz(&self) -> chrono_tz::Tz {
        self.config().settings.city.time_zone
    }

    /// Re-reads the configuration from where it came from; a valid one replaces the masterplan
    /// and schedules (data stays), an invalid one is refused and the running one stays.
    pub async fn reload_config(&self) -> Result<usize, crate::config::ConfigError> {
        let current = self.config();
        let new = match &current.origin {
            crate::config::ConfigOrigin::File(p) => Config::load(Some(p))?,
            crate::config::ConfigOrigin::Embedded => Config::embedded()?,
            crate::config::ConfigOrigin::Inline {
                settings,
                masterplan,
            } => Config::inline(settings, masterplan)?,
        };
        // The listen address and database cannot change while running.
        let mut new = new;
        new.settings.server.listen = current.settings.server.listen;
        new.settings.database = current.settings.database.clone();
        let new = Arc::new(new);
        // Rebuild under the progress lock: a commit that lands meanwhile waits for the lock and
        // is then applied to the new state, so nothing committed is missing from it.
        let (progress, hub, reads, plan) = (
            self.progress.clone(),
            self.hub.clone(),
            self.reads.clone(),
            new.clone(),
        );
        let rebuilt = tokio::task::spawn_blocking(move || {
            let mut guard = match progress.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            let (series, notes) =
                reads.run_blocking(|c| Ok((c.all_series()?, c.latest_notes()?)))?;
            *guard = ProgressState::new(
                Arc::new(plan.masterplan.clone()),
                plan.settings.city.time_zone,
                plan.settings.progress.thresholds,
                series,
                notes,
                chrono::Utc::now().timestamp_millis(),
            );
            hub.reset(guard.snapshot());
            Ok::<_, store::StoreError>(())
        })
        .await;
        let problem = |message: String| crate::config::ConfigError {
            problems: vec![crate::config::Problem {
                file: "database".into(),
                item: "reload".into(),
                field: String::new(),
                message,
            }],
        };
        match rebuilt {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                return Err(problem(format!(
                    "cannot read stored data for the new masterplan: {e}"
                )));
            }
            Err(e) => return Err(problem(format!("the reload task failed: {e}"))),
        }
        if let Ok(mut c) = self.config.write() {
            *c = new.clone();
        }
        self.reload.notify_waiters();
        if let Err(e) = self.record_plan_version(&new.masterplan).await {
            tracing::warn!(error = %e, "cannot record the plan's version");
        }
        tracing::info!(
            indicators = new.masterplan.indicators.len(),
            feeds = new.feeds.len(),
            "configuration reloaded"
        );
        Ok(new.masterplan.indicators.len())
    }

    /// Records `plan` as a new version when it differs from the newest one recorded (with the
    /// changes from it), and remembers which version is loaded.
    pub async fn record_plan_version(
        &self,
        plan: &crate::domain::Masterplan,
    ) -> Result<PlanVersion, store::StoreError> {
        let canonical = crate::config::versions::canonical(plan);
        let latest = self.reads.run(|c| c.latest_plan()).await?;
        let changes = match &latest {
            Some((_, hash, _)) if *hash == canonical.hash => Vec::new(),
            Some((_, _, json)) => {
                let before: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
                let after: serde_json::Value =
                    serde_json::from_str(&canonical.json).unwrap_or_default();
                crate::config::versions::diff(&before, &after)
            }
            None => Vec::new(),
        };
        let outcome = self
            .writer
            .submit(store::WriteCommand::PlanVersion(store::PlanVersionRecord {
                hash: canonical.hash.clone(),
                revision_note: plan.revision_note.clone(),
                plan: canonical.json,
                changes: serde_json::to_string(&changes).unwrap_or_else(|_| "[]".into()),
            }))
            .await?;
        let id = match outcome {
            store::WriteOutcome::PlanVersion { id, new } => {
                if new {
                    tracing::info!(
                        version = id,
                        changes = changes.len(),
                        "a new version of the plan is recorded"
                    );
                }
                id
            }
            _ => 0,
        };
        let version = PlanVersion {
            id,
            hash: canonical.hash,
        };
        if let Ok(mut v) = self.plan_version.write() {
            *v = Some(version.clone());
        }
        Ok(version)
    }

    /// The version of the plan that is loaded, once recorded.
    pub fn plan_version(&self) -> Option<PlanVersion> {
        self.plan_version.read().ok().and_then(|v| v.clone())
    }
}

/// A recorded version of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanVersion {
    pub id: i64,
    /// SHA-256 of its canonical form (hex).
    pub hash: String,
}
