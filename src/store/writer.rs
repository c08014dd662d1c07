//! The one writer: a thread that owns the only read-write SQLite connection.
//!
//! Every source (posts, uploads, imports, feeds) sends `WriteCommand`s over one bounded channel.
//! The writer takes everything waiting (group commit), applies each command inside its own
//! savepoint (so one failing command never takes the others down), commits once, and hands
//! the group to its finisher (`super::finisher`), which tells the `CommitListener` (progress
//! state and hub) what changed and only then answers each sender, while the writer begins the
//! next group. A value is acknowledged only after it is durable and on the wall.
//!
//! A group made only of feed polls, which no client awaits, waits up to `FEED_LINGER` for more
//! before its commit (`Alarm` wakes the writer at the deadline); any other command ends the
//! wait at once, so posts are never held back.
//!
//! Each commit also records what it changed in the change log (`super::changes`). Between
//! groups, and when woken by `WriterHandle::wake`, the writer checks SQLite's `data_version`:
//! when another process committed (`pantau import`, `pantau token`), it reads the change log
//! entries others made and hands them to the listener, which refreshes those indicators.

use super::StoreError;
use super::finisher::Finisher;
use crate::domain::{DepartmentId, FeedId, IndicatorId, Millis, Observation, Source};
use rusqlite::{Connection, OptionalExtension, params};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use tokio::sync::{mpsc, oneshot};

/// Who wrote a batch: kept with each stored value and revision.
#[derive(Debug, Clone)]
pub struct Origin {
    pub source: Source,
    pub department: Option<DepartmentId>,
    pub token_id: Option<i64>,
}

/// Validated observations to store together (all or nothing).
#[derive(Debug, Clone)]
pub struct ObservationBatch {
    pub origin: Origin,
    pub rows: Vec<Observation>,
}

/// A department's explanation of an indicator.
#[derive(Debug, Clone)]
pub struct NoteRecord {
    pub indicator: IndicatorId,
    pub kendala: String,
    pub rencana_tindak_lanjut: String,
    pub department: Option<DepartmentId>,
    pub token_id: Option<i64>,
}

/// One finished poll of a feed.
#[derive(Debug, Clone)]
pub struct FeedRunRecord {
    pub feed: FeedId,
    pub started: Millis,
    pub duration_ms: i64,
    pub http_status: Option<u16>,
    pub points: u64,
    pub new: u64,
    pub corrected: u64,
    pub error: Option<String>,
}

/// What the writer can be asked to do.
#[derive(Debug, Clone)]
pub enum WriteCommand {
    Observations(ObservationBatch),
    Note(NoteRecord),
    FeedRun(FeedRunRecord),
    /// A feed's points and the record of the poll that read them, in one command so that a poll
    /// costs one commit, not two. The writer fills in the record's `new` and `corrected`, and
    /// its `duration_ms` up to the start of the write; the outcome is `Observations`.
    FeedPoll {
        points: ObservationBatch,
        run: FeedRunRecord,
    },
    /// Reminders that went out, so that each goes out once per period and channel.
    Reminders(Vec<ReminderRecord>),
    /// A plan as loaded: recorded as a new version unless the newest one has the same hash.
    PlanVersion(PlanVersionRecord),
}

impl WriteCommand {
    /// Whether no client awaits this command's acknowledgement (a feed's poll), so that its
    /// group may wait for more before the commit.
    fn may_wait(&self) -> bool {
        matches!(
            self,
            WriteCommand::FeedPoll { .. } | WriteCommand::FeedRun(_)
        )
    }

    /// The department token the command was authorized with.
    pub(crate) fn token_id(&self) -> Option<i64> {
        match self {
            WriteCommand::Observations(b) => b.origin.token_id,
            WriteCommand::Note(n) => n.token_id,
            _ => None,
        }
    }
}

/// A version of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanVersionRecord {
    pub hash: String,
    pub revision_note: Option<String>,
    /// The canonical plan (JSON).
    pub plan: String,
    /// The changes from the version before (JSON list), worked out by the caller.
    pub changes: String,
}

/// One reminder sent: about which indicator's which reporting period, by which channel.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReminderRecord {
    /// The indicator, or `digest:<department>` for a daily digest.
    pub subject: String,
    pub period_start: Millis,
    /// `email`, `webhook` or `digest`.
    pub channel: String,
}

/// The answer to a command, sent after its commit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum WriteOutcome {
    Observations {
        new: u64,
        corrected: u64,
        unchanged: u64,
    },
    Note {
        id: i64,
        created: Millis,
    },
    FeedRun {
        id: i64,
    },
    /// Records were stored (or were there already).
    Recorded,
    /// The plan's version: `new` when this load made it.
    PlanVersion {
        id: i64,
        new: bool,
    },
}

/// An observation that changed what is stored (new, or a corrected value).
#[derive(Debug, Clone, PartialEq)]
pub struct AppliedObservation {
    pub indicator: IndicatorId,
    pub time: Millis,
    pub value: f64,
    pub previous: Option<f64>,
}

/// One committed command with its outcome and the observations it changed.
pub struct Committed<'a> {
    pub command: &'a WriteCommand,
    pub outcome: &'a WriteOutcome,
    pub applied: &'a [AppliedObservation],
}

/// Told about every commit before any sender of it is answered.
pub trait CommitListener: Send + 'static {
    fn committed(&mut self, commits: &[Committed<'_>], committed_at: Millis);

    /// Other processes committed these changes; `reader` reads the database as it is now.
    fn external(
        &mut self,
        _changes: &super::changes::ExternalChanges,
        _reader: &dyn super::read::Reader,
    ) {
    }
}

/// Counters the writer keeps for `/metrics`.
#[derive(Debug, Default)]
pub struct WriterMetrics {
    pub queue_depth: AtomicI64,
    pub commits: AtomicU64,
    pub commands: AtomicU64,
    pub failed_commits: AtomicU64,
    pub observations_new: AtomicU64,
    pub observations_corrected: AtomicU64,
    /// Commits by other processes picked up from the change log.
    pub external_changes: AtomicU64,
    /// Times the change log showed tokens created or revoked by another process: caches of
    /// verified tokens (`super::tokens::TokenCache`) empty themselves when it moves.
    pub token_changes: AtomicU64,
}

pub(crate) struct WriteRequest {
    pub(crate) command: WriteCommand,
    pub(crate) reply: oneshot::Sender<Result<WriteOutcome, StoreError>>,
}

pub(crate) enum Request {
    Write(WriteRequest),
    /// Look for commits by other processes (sent on a clock).
    Wake,
}

/// A cheap handle for sending commands to the writer.
#[derive(Clone)]
pub struct WriterHandle {
    tx: mpsc::Sender<Request>,
    metrics: Arc<WriterMetrics>,
    /// The writer's id in the change log (`changes::new_writer_id`), so that it can tell its
    /// own entries and notifications from others'.
    id: Arc<str>,
}

impl WriterHandle {
    /// The writer's id in the change log.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Sends a command and waits until it is committed (or failed).
    pub async fn submit(&self, command: WriteCommand) -> Result<WriteOutcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.metrics.queue_depth.fetch_add(1, Ordering::Relaxed);
        if self
            .tx
            .send(Request::Write(WriteRequest { command, reply }))
            .await
            .is_err()
        {
            self.metrics.queue_depth.fetch_sub(1, Ordering::Relaxed);
            return Err(StoreError::Closed);
        }
        answer.await.unwrap_or(Err(StoreError::Closed))
    }

    /// Like `submit`, from a thread that is not a tokio worker (the CLI importer).
    pub fn submit_blocking(&self, command: WriteCommand) -> Result<WriteOutcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.metrics.queue_depth.fetch_add(1, Ordering::Relaxed);
        if self
            .tx
            .blocking_send(Request::Write(WriteRequest { command, reply }))
            .is_err()
        {
            self.metrics.queue_depth.fetch_sub(1, Ordering::Relaxed);
            return Err(StoreError::Closed);
        }
        answer.blocking_recv().unwrap_or(Err(StoreError::Closed))
    }

    pub fn metrics(&self) -> &Arc<WriterMetrics> {
        &self.metrics
    }

    /// Asks the writer to look for commits by other processes; never waits (a busy writer
    /// looks between its groups anyway).
    pub fn wake(&self) {
        let _ = self.tx.try_send(Request::Wake);
    }

    /// A sender that does not keep the writer alive (for its `Alarm`).
    pub(crate) fn weak(&self) -> mpsc::WeakSender<Request> {
        self.tx.downgrade()
    }
}

/// How long a group of feed polls alone waits for more before its commit. Polls on a shared
/// schedule end a few milliseconds apart and no client awaits them: one commit for all that end
/// within the window costs a fraction of one commit each (the fsync, the pages of the run and
/// change logs, the listener's roll-up and delta). A value read by a feed reaches the screens
/// at most this much later.
pub const FEED_LINGER: std::time::Duration = std::time::Duration::from_millis(200);

/// Wakes a writer that waits for more feed polls at its deadline: a thread that sleeps until
/// the instant it is given and then sends `Request::Wake` through a weak sender (so it never
/// keeps the channel open). It ends with its writer.
pub(crate) struct Alarm {
    tx: std::sync::mpsc::Sender<std::time::Instant>,
    linger: std::time::Duration,
}

impl Alarm {
    /// None when the thread cannot be started (the writer then never waits).
    pub(crate) fn new(
        weak: mpsc::WeakSender<Request>,
        linger: std::time::Duration,
    ) -> Option<Alarm> {
        let (tx, rx) = std::sync::mpsc::channel::<std::time::Instant>();
        std::thread::Builder::new()
            .name("pantau-writer-alarm".into())
            .spawn(move || {
                while let Ok(at) = rx.recv() {
                    let now = std::time::Instant::now();
                    if at > now {
                        std::thread::sleep(at - now);
                    }
                    let Some(tx) = weak.upgrade() else { return };
                    // A full channel wakes the writer anyway.
                    let _ = tx.try_send(Request::Wake);
                }
            })
            .ok()?;
        Some(Alarm { tx, linger })
    }

    /// Arms the alarm; returns the deadline.
    fn set(&self) -> std::time::Instant {
        let at = std::time::Instant::now() + self.linger;
        let _ = self.tx.send(at);
        at
    }
}

/// How the writer notices other processes' commits.
struct Watch {
    /// This writer's id in the change log.
    writer: String,
    /// The newest change log entry seen.
    last_change: i64,
    /// `PRAGMA data_version` when last looked: it moves when another connection commits.
    data_version: i64,
    last_prune: Millis,
}

impl Watch {
    fn new(conn: &Connection, writer: &str) -> Self {
        Watch {
            writer: writer.to_string(),
            last_change: super::changes::last_id(conn).unwrap_or(0),
            data_version: data_version(conn),
            last_prune: 0,
        }
    }

    /// Reads what others committed since the last look and tells the listener.
    fn look(&mut self, conn: &Connection, finisher: &Finisher, m: &WriterMetrics) {
        let version = data_version(conn);
        if version == self.data_version {
            return;
        }
        self.data_version = version;
        match super::changes::since(conn, self.last_change, &self.writer) {
            Ok((changes, last)) => {
                self.last_change = last;
                if changes.tokens {
                    m.token_changes.fetch_add(1, Ordering::SeqCst);
                }
                if !changes.is_empty() {
                    m.external_changes.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(
                        indicators = changes.indicators.len(),
                        tokens = changes.tokens,
                        "picked up changes committed by another process"
                    );
                    finisher.with_listener(|l| l.external(&changes, conn));
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the change log"),
        }
    }

    fn prune(&mut self, conn: &Connection) {
        let now = now_millis();
        if now - self.last_prune < 600_000 {
            return;
        }
        self.last_prune = now;
        if let Err(e) = super::changes::prune(conn, now) {
            tracing::warn!(error = %e, "cannot prune the change log");
        }
    }
}

fn data_version(conn: &Connection) -> i64 {
    conn.query_row("PRAGMA data_version", [], |r| r.get(0))
        .unwrap_or(0)
}

/// Most commands and rows taken into one transaction.
const MAX_GROUP_COMMANDS: usize = 512;
const MAX_GROUP_ROWS: usize = 200_000;

/// A writer's channel: the handle senders clone, and what the writer receives.
pub(crate) fn channel(
    capacity: usize,
) -> (WriterHandle, mpsc::Receiver<Request>, Arc<WriterMetrics>) {
    let (tx, rx) = mpsc::channel::<Request>(capacity);
    let metrics = Arc::new(WriterMetrics::default());
    (
        WriterHandle {
            tx,
            metrics: metrics.clone(),
            id: Arc::from(super::changes::new_writer_id()),
        },
        rx,
        metrics,
    )
}

/// Everything waiting after `first`, up to one group's size (group commit), and whether a wake
/// was among it. With an `alarm`, a group of feed polls alone waits for more until the alarm's
/// deadline, and any other command ends the wait.
pub(crate) fn take_group(
    first: Request,
    rx: &mut mpsc::Receiver<Request>,
    m: &WriterMetrics,
    alarm: Option<&Alarm>,
) -> (Vec<WriteRequest>, bool) {
    let mut group = Vec::new();
    let mut rows = 0;
    let mut woken = false;
    let mut deadline = None;
    let mut next = Some(first);
    loop {
        while let Some(request) = next.take() {
            match request {
                Request::Write(req) => {
                    rows += req.rows();
                    group.push(req);
                }
                Request::Wake => woken = true,
            }
            if group.len() < MAX_GROUP_COMMANDS && rows < MAX_GROUP_ROWS {
                next = rx.try_recv().ok();
            }
        }
        let room = group.len() < MAX_GROUP_COMMANDS && rows < MAX_GROUP_ROWS;
        let Some(alarm) = alarm else { break };
        if !room || group.is_empty() || !group.iter().all(|r| r.command.may_wait()) {
            break;
        }
        let at = *deadline.get_or_insert_with(|| alarm.set());
        if std::time::Instant::now() >= at {
            break;
        }
        match rx.blocking_recv() {
            Some(request) => next = Some(request),
            None => break,
        }
    }
    m.queue_depth
        .fetch_sub(group.len() as i64, Ordering::Relaxed);
    (group, woken)
}

/// Starts the writer thread. It stops when every `WriterHandle` is dropped, after committing what
/// it already took.
pub fn spawn_writer(
    conn: Connection,
    listener: Box<dyn CommitListener>,
    capacity: usize,
) -> (WriterHandle, std::thread::JoinHandle<()>) {
    spawn_writer_lingering(conn, listener, capacity, FEED_LINGER)
}

/// `spawn_writer` with another wait for feed polls than `FEED_LINGER`.
pub fn spawn_writer_lingering(
    conn: Connection,
    listener: Box<dyn CommitListener>,
    capacity: usize,
    linger: std::time::Duration,
) -> (WriterHandle, std::thread::JoinHandle<()>) {
    let (handle, mut rx, m) = channel(capacity);
    let weak = handle.weak();
    let id = handle.id().to_string();
    let thread = std::thread::Builder::new()
        .name("pantau-writer".into())
        .spawn(move || {
            let mut conn = conn;
            let mut watch = Watch::new(&conn, &id);
            let alarm = Alarm::new(weak, linger);
            let finisher = Finisher::start(listener, m.clone());
            while let Some(first) = rx.blocking_recv() {
                let (group, woken) = take_group(first, &mut rx, &m, alarm.as_ref());
                // Others' commits first: they happened before this group's.
                watch.look(&conn, &finisher, &m);
                if !group.is_empty() {
                    commit_group(&mut conn, group, &finisher, &m, &watch.writer);
                }
                if woken {
                    watch.prune(&conn);
                }
            }
            tracing::debug!("writer stopped: every sender is gone");
        })
        .expect("spawn writer thread");
    (handle, thread)
}

/// A group's results: each command's outcome and the observations it changed, or its error.
pub(crate) type GroupResults = Vec<Result<(WriteOutcome, Vec<AppliedObservation>), StoreError>>;

/// Answers every sender of a group that could not be committed.
pub(crate) fn fail_group(group: Vec<WriteRequest>, detail: &str, m: &WriterMetrics) {
    m.failed_commits.fetch_add(1, Ordering::Relaxed);
    for req in group {
        let _ = req
            .reply
            .send(Err(StoreError::Unavailable(detail.to_string())));
    }
}

/// After a group's commit: counts it, tells the listener, and only then answers each sender.
pub(crate) fn finish_group(
    group: Vec<WriteRequest>,
    results: GroupResults,
    listener: &mut dyn CommitListener,
    m: &WriterMetrics,
    received: Millis,
) {
    m.commits.fetch_add(1, Ordering::Relaxed);
    m.commands.fetch_add(group.len() as u64, Ordering::Relaxed);
    let commits: Vec<Committed<'_>> = group
        .iter()
        .zip(&results)
        .filter_map(|(req, r)| {
            r.as_ref().ok().map(|(outcome, applied)| Committed {
                command: &req.command,
                outcome,
                applied,
            })
        })
        .collect();
    for c in &commits {
        if let WriteOutcome::Observations { new, corrected, .. } = c.outcome {
            m.observations_new.fetch_add(*new, Ordering::Relaxed);
            m.observations_corrected
                .fetch_add(*corrected, Ordering::Relaxed);
        }
    }
    listener.committed(&commits, received);
    drop(commits);
    for (req, r) in group.into_iter().zip(results) {
        let _ = req.reply.send(r.map(|(outcome, _)| outcome));
    }
}

/// The indicators a group changed, once each: (observations new or corrected, notes).
pub(crate) fn changed_subjects<'a>(
    group: &'a [WriteRequest],
    results: &'a GroupResults,
) -> (
    std::collections::BTreeSet<&'a str>,
    std::collections::BTreeSet<&'a str>,
) {
    let mut observed = std::collections::BTreeSet::new();
    let mut noted = std::collections::BTreeSet::new();
    for (req, r) in group.iter().zip(results) {
        let Ok((_, applied)) = r else { continue };
        for a in applied {
            observed.insert(a.indicator.as_str());
        }
        if let WriteCommand::Note(n) = &req.command {
            noted.insert(n.indicator.as_str());
        }
    }
    (observed, noted)
}

impl WriteRequest {
    fn rows(&self) -> usize {
        match &self.command {
            WriteCommand::Observations(b) | WriteCommand::FeedPoll { points: b, .. } => {
                b.rows.len().max(1)
            }
            _ => 1,
        }
    }
}

fn now_millis() -> Millis {
    chrono::Utc::now().timestamp_millis()
}

/// Whether token `id` is not revoked (inside the writer's transaction; tokens are never
/// deleted, only revoked).
fn token_still_valid(conn: &Connection, id: i64) -> bool {
    let revoked: Result<Option<Option<Millis>>, _> = conn
        .prepare_cached("SELECT revoked FROM token WHERE id = ?1")
        .and_then(|mut s| s.query_row(params![id], |r| r.get(0)).optional());
    !matches!(revoked, Ok(Some(Some(_))))
}

fn commit_group(
    conn: &mut Connection,
    group: Vec<WriteRequest>,
    finisher: &Finisher,
    m: &WriterMetrics,
    writer: &str,
) {
    let received = now_millis();
    let mut results: GroupResults = Vec::with_capacity(group.len());
    let began = conn.execute_batch("BEGIN IMMEDIATE");
    if let Err(e) = began {
        let e = StoreError::from(e);
        tracing::error!(error = %e, "cannot begin a write transaction");
        m.failed_commits.fetch_add(1, Ordering::Relaxed);
        for req in group {
            let _ = req.reply.send(Err(StoreError::Unavailable(e.to_string())));
        }
        return;
    }
    for req in &group {
        // The token is checked again inside the transaction: requests are authorized from a
        // cache of verified tokens, and a revocation committed by another process before this
        // transaction began must refuse them (exactly, whatever the cache still holds).
        if let Some(id) = req.command.token_id() {
            if !token_still_valid(conn, id) {
                m.token_changes.fetch_add(1, Ordering::SeqCst);
                results.push(Err(StoreError::TokenRevoked));
                continue;
            }
        }
        // Cached statements: `execute_batch` would parse the SQL again for every command.
        let r = conn
            .prepare_cached("SAVEPOINT command")
            .and_then(|mut st| st.execute([]))
            .and_then(|_| apply(conn, &req.command, received));
        match r {
            Ok(done) => {
                let _ = conn
                    .prepare_cached("RELEASE command")
                    .and_then(|mut st| st.execute([]));
                results.push(Ok(done));
            }
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK TO command; RELEASE command");
                results.push(Err(StoreError::from(e)));
            }
        }
    }
    if let Err(e) = record_changes(conn, &group, &results, writer, received) {
        let _ = conn.execute_batch("ROLLBACK");
        let e = StoreError::from(e);
        tracing::error!(error = %e, "cannot record the change log; nothing of this group was stored");
        m.failed_commits.fetch_add(1, Ordering::Relaxed);
        for req in group {
            let _ = req.reply.send(Err(StoreError::Unavailable(e.to_string())));
        }
        return;
    }
    if let Err(e) = conn.execute_batch("COMMIT") {
        let _ = conn.execute_batch("ROLLBACK");
        let e = StoreError::from(e);
        tracing::error!(error = %e, "commit failed; nothing of this group was stored");
        m.failed_commits.fetch_add(1, Ordering::Relaxed);
        for req in group {
            let _ = req.reply.send(Err(StoreError::Unavailable(e.to_string())));
        }
        return;
    }
    finisher.finish(group, results, received);
}

/// Records in the change log, once each, the indicators this group changed (observations that
/// were new or corrected, and notes).
fn record_changes(
    conn: &Connection,
    group: &[WriteRequest],
    results: &GroupResults,
    writer: &str,
    at: Millis,
) -> rusqlite::Result<()> {
    let (observed, noted) = changed_subjects(group, results);
    for id in observed {
        super::changes::record(conn, writer, "observations", Some(id), at)?;
    }
    for id in noted {
        super::changes::record(conn, writer, "note", Some(id), at)?;
    }
    Ok(())
}

fn apply(
    conn: &Connection,
    command: &WriteCommand,
    received: Millis,
) -> Result<(WriteOutcome, Vec<AppliedObservation>), rusqlite::Error> {
    match command {
        WriteCommand::Observations(batch) => apply_observations(conn, batch, received),
        WriteCommand::Note(n) => {
            conn.prepare_cached(
                "INSERT INTO note (indicator, kendala, rencana_tindak_lanjut, department, token_id, created)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                n.indicator.as_str(),
                n.kendala,
                n.rencana_tindak_lanjut,
                n.department.as_ref().map(|d| d.as_str()),
                n.token_id,
                received
            ])?;
            Ok((
                WriteOutcome::Note {
                    id: conn.last_insert_rowid(),
                    created: received,
                },
                Vec::new(),
            ))
        }
        WriteCommand::FeedRun(r) => Ok((
            WriteOutcome::FeedRun {
                id: insert_feed_run(conn, r)?,
            },
            Vec::new(),
        )),
        WriteCommand::Reminders(list) => {
            let mut stmt = conn.prepare_cached(
                "INSERT INTO reminder (indicator, period_start, channel, sent) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (indicator, period_start, channel) DO NOTHING",
            )?;
            for r in list {
                stmt.execute(params![r.subject, r.period_start, r.channel, received])?;
            }
            Ok((WriteOutcome::Recorded, Vec::new()))
        }
        WriteCommand::PlanVersion(v) => {
            let newest: Option<(i64, String)> = conn
                .query_row(
                    "SELECT id, hash FROM plan_version ORDER BY id DESC LIMIT 1",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            if let Some((id, hash)) = newest {
                if hash == v.hash {
                    return Ok((WriteOutcome::PlanVersion { id, new: false }, Vec::new()));
                }
            }
            conn.prepare_cached(
                "INSERT INTO plan_version (hash, loaded, revision_note, plan, changes) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![v.hash, received, v.revision_note, v.plan, v.changes])?;
            Ok((
                WriteOutcome::PlanVersion {
                    id: conn.last_insert_rowid(),
                    new: true,
                },
                Vec::new(),
            ))
        }
        WriteCommand::FeedPoll { points, run } => {
            let (outcome, applied) = apply_observations(conn, points, received)?;
            if let WriteOutcome::Observations { new, corrected, .. } = outcome {
                insert_feed_run(
                    conn,
                    &FeedRunRecord {
                        new,
                        corrected,
                        duration_ms: run.duration_ms.max(received - run.started),
                        ..run.clone()
                    },
                )?;
            }
            Ok((outcome, applied))
        }
    }
}

fn insert_feed_run(conn: &Connection, r: &FeedRunRecord) -> Result<i64, rusqlite::Error> {
    conn.prepare_cached(
        "INSERT INTO feed_run (feed, started, duration_ms, http_status, points, new, corrected, error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        r.feed.as_str(),
        r.started,
        r.duration_ms,
        r.http_status,
        r.points as i64,
        r.new as i64,
        r.corrected as i64,
        r.error
    ])?;
    Ok(conn.last_insert_rowid())
}

fn apply_observations(
    conn: &Connection,
    batch: &ObservationBatch,
    received: Millis,
) -> Result<(WriteOutcome, Vec<AppliedObservation>), rusqlite::Error> {
    let source = batch.origin.source.as_string();
    let department = batch.origin.department.as_ref().map(|d| d.as_str());
    let token = batch.origin.token_id;
    let mut insert = conn.prepare_cached(
        "INSERT INTO observation (indicator, t, value, source, department, token_id, note, received)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (indicator, t) DO NOTHING",
    )?;
    let mut existing = conn.prepare_cached(
        "SELECT value, source, received FROM observation WHERE indicator = ?1 AND t = ?2",
    )?;
    let mut revise = conn.prepare_cached(
        "INSERT INTO revision (indicator, t, previous_value, previous_source, previous_received, value, source, department, token_id, received)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    let mut update = conn.prepare_cached(
        "UPDATE observation SET value = ?3, source = ?4, department = ?5, token_id = ?6, note = ?7, received = ?8
         WHERE indicator = ?1 AND t = ?2",
    )?;
    let (mut new, mut corrected, mut unchanged) = (0u64, 0u64, 0u64);
    let mut applied = Vec::new();
    for o in &batch.rows {
        let id = o.indicator.as_str();
        let inserted = insert.execute(params![
            id, o.time, o.value, source, department, token, o.note, received
        ])?;
        if inserted == 1 {
            new += 1;
            applied.push(AppliedObservation {
                indicator: o.indicator.clone(),
                time: o.time,
                value: o.value,
                previous: None,
            });
            continue;
        }
        let (old, old_source, old_received): (f64, String, i64) = existing
            .query_row(params![id, o.time], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
        if old == o.value {
            unchanged += 1;
            continue;
        }
        revise.execute(params![
            id,
            o.time,
            old,
            old_source,
            old_received,
            o.value,
            source,
            department,
            token,
            received
        ])?;
        update.execute(params![
            id, o.time, o.value, source, department, token, o.note, received
        ])?;
        corrected += 1;
        applied.push(AppliedObservation {
            indicator: o.indicator.clone(),
            time: o.time,
            value: o.value,
            previous: Some(old),
        });
    }
    Ok((
        WriteOutcome::Observations {
            new,
            corrected,
            unchanged,
        },
        applied,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    struct Recorder(Arc<Mutex<Vec<AppliedObservation>>>);
    impl CommitListener for Recorder {
        fn committed(&mut self, commits: &[Committed<'_>], _at: Millis) {
            let mut v = self.0.lock().unwrap();
            for c in commits {
                v.extend_from_slice(c.applied);
            }
        }
    }

    fn obs(ind: &str, t: Millis, v: f64) -> Observation {
        Observation {
            indicator: IndicatorId::parse(ind).unwrap(),
            time: t,
            value: v,
            note: None,
        }
    }

    fn batch(rows: Vec<Observation>) -> WriteCommand {
        WriteCommand::Observations(ObservationBatch {
            origin: Origin {
                source: Source::Post,
                department: Some(DepartmentId::parse("dinkes").unwrap()),
                token_id: Some(7),
            },
            rows,
        })
    }

    fn feed_run(feed: &str) -> WriteCommand {
        WriteCommand::FeedRun(FeedRunRecord {
            feed: FeedId::parse(feed).unwrap(),
            started: 1,
            duration_ms: 1,
            http_status: Some(200),
            points: 0,
            new: 0,
            corrected: 0,
            error: None,
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn feed_polls_share_a_commit_and_a_post_never_waits_for_them() {
        let dir = tempfile::tempdir().unwrap();
        let conn = super::super::open_writer(&dir.path().join("w.db")).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        // A long wait, so that only the post can have ended it.
        let linger = std::time::Duration::from_secs(120);
        let (w, thread) = spawn_writer_lingering(conn, Box::new(Recorder(seen)), 16, linger);
        let first = tokio::spawn({
            let w = w.clone();
            async move { w.submit(feed_run("a")).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let second = tokio::spawn({
            let w = w.clone();
            async move { w.submit(feed_run("b")).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!first.is_finished() && !second.is_finished());
        assert_eq!(w.metrics().commits.load(Ordering::Relaxed), 0);
        // A post is committed at once, with the polls that waited.
        let posted = tokio::time::timeout(
            std::time::Duration::from_secs(60),
            w.submit(batch(vec![obs("a", 1, 1.0)])),
        )
        .await
        .expect("a post does not wait for feed polls")
        .unwrap();
        assert!(matches!(posted, WriteOutcome::Observations { new: 1, .. }));
        assert!(matches!(
            first.await.unwrap(),
            Ok(WriteOutcome::FeedRun { .. })
        ));
        assert!(matches!(
            second.await.unwrap(),
            Ok(WriteOutcome::FeedRun { .. })
        ));
        assert_eq!(w.metrics().commits.load(Ordering::Relaxed), 1);
        drop(w);
        thread.join().unwrap();
    }

    #[test]
    fn a_lone_feed_poll_is_committed_at_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let conn = super::super::open_writer(&dir.path().join("w.db")).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let linger = std::time::Duration::from_millis(300);
        let (w, thread) = spawn_writer_lingering(conn, Box::new(Recorder(seen)), 16, linger);
        let start = std::time::Instant::now();
        assert!(matches!(
            w.submit_blocking(feed_run("a")),
            Ok(WriteOutcome::FeedRun { .. })
        ));
        assert!(start.elapsed() >= linger, "{:?}", start.elapsed());
        drop(w);
        thread.join().unwrap();
    }

    #[test]
    fn new_unchanged_and_corrected_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let conn = super::super::open_writer(&path).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (w, thread) = spawn_writer(conn, Box::new(Recorder(seen.clone())), 16);
        let r = w
            .submit_blocking(batch(vec![obs("a", 1, 1.0), obs("a", 2, 2.0)]))
            .unwrap();
        assert_eq!(
            r,
            WriteOutcome::Observations {
                new: 2,
                corrected: 0,
                unchanged: 0
            }
        );
        let r = w
            .submit_blocking(batch(vec![obs("a", 1, 1.0), obs("a", 2, 2.5)]))
            .unwrap();
        assert_eq!(
            r,
            WriteOutcome::Observations {
                new: 0,
                corrected: 1,
                unchanged: 1
            }
        );
        drop(w);
        thread.join().unwrap();
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 3);
        assert_eq!(seen[2].previous, Some(2.0));
        let c = super::super::open_reader(&path).unwrap();
        let (prev, val, src): (f64, f64, String) = c
            .query_row(
                "SELECT previous_value, value, source FROM revision",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!((prev, val, src.as_str()), (2.0, 2.5, "post"));
    }

    /// Pages of `file` in the page cache not yet written to disk (Linux's `cachestat`, 6.5+).
    #[cfg(target_os = "linux")]
    fn dirty_pages(file: &std::path::Path) -> u64 {
        use std::os::fd::AsRawFd;
        #[repr(C)]
        struct Range {
            off: u64,
            len: u64,
        }
        #[repr(C)]
        #[derive(Default)]
        struct Stat {
            nr_cache: u64,
            nr_dirty: u64,
            nr_writeback: u64,
            nr_evicted: u64,
            nr_recently_evicted: u64,
        }
        const SYS_CACHESTAT: libc::c_long = 451;
        let f = std::fs::File::open(file).unwrap();
        let range = Range { off: 0, len: 0 };
        let mut stat = Stat::default();
        // SAFETY: both structs are the kernel's layout and outlive the call.
        let r = unsafe {
            libc::syscall(
                SYS_CACHESTAT,
                f.as_raw_fd(),
                &range as *const Range,
                &mut stat as *mut Stat,
                0,
            )
        };
        assert_eq!(r, 0, "cachestat: {}", std::io::Error::last_os_error());
        stat.nr_dirty + stat.nr_writeback
    }

    /// When a sender hears back, every page of the log holding its value is on disk, not only
    /// in the page cache (a commit that merely returned, as under `synchronous = NORMAL`, would
    /// not be). The control shows that the check sees what an unsynced commit leaves.
    #[cfg(target_os = "linux")]
    #[test]
    fn an_answer_comes_only_once_the_log_is_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let wal = dir.path().join("w.db-wal");
        // Control: a commit under synchronous = NORMAL with nobody syncing leaves dirty pages.
        {
            let conn = super::super::open_writer(&path).unwrap();
            conn.execute_batch("PRAGMA synchronous = NORMAL").unwrap();
            conn.execute(
                "INSERT INTO observation (indicator, t, value, source, received) VALUES ('c', 1, 1, 'post', 1)",
                [],
            )
            .unwrap();
            assert!(
                dirty_pages(&wal) > 0,
                "an unsynced commit should leave pages of the log in the page cache"
            );
            conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
                .unwrap();
        }
        let conn = super::super::open_writer(&path).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (w, thread) = spawn_writer(conn, Box::new(Recorder(seen.clone())), 16);
        for i in 0..20 {
            let rows = (0..50).map(|k| obs("a", i * 100 + k, k as f64)).collect();
            w.submit_blocking(batch(rows)).unwrap();
            assert_eq!(
                dirty_pages(&wal),
                0,
                "group {i} was answered before its log was synced"
            );
        }
        // Many senders at once: every answer still comes after the sync of its group.
        let handles: Vec<_> = (0..8)
            .map(|c| {
                let w = w.clone();
                std::thread::spawn(move || {
                    for i in 0..20 {
                        w.submit_blocking(batch(vec![obs("b", c * 1000 + i, 1.0)]))
                            .unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(dirty_pages(&wal), 0);
        drop(w);
        thread.join().unwrap();
        assert_eq!(seen.lock().unwrap().len(), 20 * 50 + 8 * 20);
    }
}
