//! The PostgreSQL writer: the same `WriteCommand`s and `WriteOutcome`s as the SQLite writer,
//! applied by a thread of its own over connections of its own, driven by a runtime of its own.
//!
//! A group is one transaction: it first takes the write advisory lock (groups of every daemon
//! on the database commit one after another, as with SQLite's one writer), checks the tokens
//! again, inserts every row of a group of new observations with one statement (or, when any row
//! exists already or a command is not observations, applies each command inside its own
//! savepoint), records the change log in one statement, notifies the other daemons, and
//! commits. For a group of new observations all of that but BEGIN and COMMIT is one pipelined
//! round trip. Senders are answered only after COMMIT returned; a group that cannot commit is
//! answered `Unavailable` whole (nothing of it stored), and the client may retry: storing the
//! same values again changes nothing.

use super::{Pools, WRITE_LOCK, error, pool_error};
use crate::domain::Millis;
use crate::store::StoreError;
use crate::store::changes::{ExternalChanges, KEEP_MS, new_writer_id};
use crate::store::finisher::Finisher;
use crate::store::url::PostgresSettings;
use crate::store::writer::{
    Alarm, AppliedObservation, CommitListener, FEED_LINGER, FeedRunRecord, GroupResults,
    ObservationBatch, WriteCommand, WriteOutcome, WriteRequest, WriterHandle, WriterMetrics,
    changed_subjects, channel, fail_group, take_group,
};
use deadpool_postgres::Transaction;
use std::sync::atomic::Ordering;

/// Starts the writer thread. It stops when every `WriterHandle` is dropped, after committing
/// what it already took.
/// `since` is the newest change-log entry when the daemon read its state (`Pools::last_change`,
/// before the read), so that other daemons' commits after it are picked up.
///
/// The writer has connections of its own, driven by a runtime of its own (one worker thread):
/// a group's round trips then never wait behind the daemon's HTTP and websocket work
/// for a turn on its workers (under load that wait, once per round trip, made a one-row commit
/// take tens of milliseconds).
pub fn spawn_writer(
    settings: &PostgresSettings,
    listener: Box<dyn CommitListener>,
    capacity: usize,
    since: i64,
) -> Result<(WriterHandle, std::thread::JoinHandle<()>), StoreError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("pantau-writer-io")
        .enable_all()
        .build()
        .map_err(|e| StoreError::Unavailable(format!("cannot start the writer's runtime: {e}")))?;
    let pools = {
        let _inside = rt.enter();
        Pools::new(settings)?
    };
    let (handle, mut rx, m) = channel(capacity);
    let weak = handle.weak();
    let id = handle.id().to_string();
    let thread = std::thread::Builder::new()
        .name("pantau-writer".into())
        .spawn(move || {
            let _rt = rt;
            let alarm = Alarm::new(weak, FEED_LINGER);
            let finisher = Finisher::start(listener, m.clone());
            let mut watch = Watch {
                writer: id,
                last_change: since,
                last_prune: 0,
                failing: false,
            };
            let mut looked = std::time::Instant::now();
            while let Some(first) = rx.blocking_recv() {
                let (group, woken) = take_group(first, &mut rx, &m, alarm.as_ref());
                // On each notification and on the clock; and, should a full queue have turned
                // wakes away, at least every `LOOK_EVERY` while posts keep it busy.
                if woken || looked.elapsed() >= LOOK_EVERY {
                    watch.look(&pools, &finisher, &m);
                    looked = std::time::Instant::now();
                }
                if !group.is_empty() {
                    commit_group(&pools, group, &finisher, &m, &watch.writer);
                }
                if woken {
                    watch.prune(&pools);
                }
            }
            tracing::debug!("writer stopped: every sender is gone");
        })
        .map_err(|e| StoreError::Unavailable(format!("cannot start the writer thread: {e}")))?;
    Ok((handle, thread))
}

/// The longest the writer goes without reading the change log while it is busy.
const LOOK_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

fn now_millis() -> Millis {
    chrono::Utc::now().timestamp_millis()
}

/// Commits one command in a transaction of its own, as the writer thread would (the change log
/// and the notification included, so that every serving daemon shows it): for commands such as
/// `pantau import` that write without a daemon's writer.
pub async fn write_once(pools: &Pools, command: WriteCommand) -> Result<WriteOutcome, StoreError> {
    let (reply, _) = tokio::sync::oneshot::channel();
    let group = [WriteRequest { command, reply }];
    match transact(pools, &group, &new_writer_id(), now_millis()).await {
        Ok(mut results) => match results.pop() {
            Some(r) => r.map(|(outcome, _)| outcome),
            None => Err(StoreError::Closed),
        },
        Err(Abort::Group(e)) => Err(e),
    }
}

/// How the writer notices other daemons' commits: the change log entries after the last one
/// seen. Looked at on every wake (a clock, and each notification on `CHANGE_CHANNEL`), so a
/// notification missed while a connection was down is caught up on the next look.
struct Watch {
    writer: String,
    last_change: i64,
    last_prune: Millis,
    /// Whether the last look failed (so the log says so once, not on every wake).
    failing: bool,
}

impl Watch {
    fn look(&mut self, pools: &Pools, finisher: &Finisher, m: &WriterMetrics) {
        let rt = pools.handle();
        let found = rt.block_on(async {
            let client = pools.write.get().await.map_err(pool_error)?;
            let stmt = client
                .prepare_cached(
                    "SELECT id, writer, kind, subject FROM change WHERE id > $1 ORDER BY id",
                )
                .await
                .map_err(error)?;
            client
                .query(&stmt, &[&self.last_change])
                .await
                .map_err(error)
        });
        let rows = match found {
            Ok(rows) => {
                if self.failing {
                    tracing::info!("the change log can be read again");
                    self.failing = false;
                }
                rows
            }
            Err(e) => {
                if !self.failing {
                    tracing::warn!(error = %e, "cannot read the change log");
                    self.failing = true;
                }
                return;
            }
        };
        let mut changes = ExternalChanges::default();
        for r in &rows {
            let id: i64 = r.get(0);
            self.last_change = self.last_change.max(id);
            if r.get::<_, &str>(1) == self.writer {
                continue;
            }
            match r.get::<_, &str>(2) {
                "token" => changes.tokens = true,
                _ => {
                    if let Some(subject) = r.get::<_, Option<String>>(3) {
                        changes.indicators.insert(subject);
                    }
                }
            }
        }
        if changes.tokens {
            m.token_changes.fetch_add(1, Ordering::SeqCst);
        }
        if changes.is_empty() {
            return;
        }
        m.external_changes.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            indicators = changes.indicators.len(),
            tokens = changes.tokens,
            "picked up changes committed by another daemon"
        );
        // From the primary: a replica may not have these commits yet.
        let read = finisher.with_listener(|listener| {
            pools.write_blocking(|reader| {
                listener.external(&changes, reader);
                Ok(())
            })
        });
        if let Err(e) = read {
            tracing::warn!(error = %e, "cannot reload indicators changed by another daemon");
        }
    }

    fn prune(&mut self, pools: &Pools) {
        let now = now_millis();
        if now - self.last_prune < 600_000 {
            return;
        }
        self.last_prune = now;
        let done = pools.handle().block_on(async {
            let client = pools.write.get().await.map_err(pool_error)?;
            client
                .execute(
                    "DELETE FROM change WHERE committed < $1",
                    &[&(now - KEEP_MS)],
                )
                .await
                .map_err(error)
        });
        if let Err(e) = done {
            tracing::warn!(error = %e, "cannot prune the change log");
        }
    }
}

/// Why a group stopped before COMMIT.
enum Abort {
    /// The connection or the server failed: nothing of the group is stored.
    Group(StoreError),
}

fn commit_group(
    pools: &Pools,
    group: Vec<WriteRequest>,
    finisher: &Finisher,
    m: &WriterMetrics,
    writer: &str,
) {
    let received = now_millis();
    let done = pools
        .handle()
        .block_on(transact(pools, &group, writer, received));
    match done {
        Ok(results) => {
            // A revoked token was used: the caches of verified tokens forget everything.
            if results
                .iter()
                .any(|r| matches!(r, Err(StoreError::TokenRevoked)))
            {
                m.token_changes.fetch_add(1, Ordering::SeqCst);
            }
            finisher.finish(group, results, received)
        }
        Err(Abort::Group(e)) => {
            tracing::error!(error = %e, "cannot commit to PostgreSQL; nothing of this group was stored");
            let detail = match e {
                StoreError::Unavailable(d) => d,
                other => other.to_string(),
            };
            fail_group(group, &detail, m);
        }
    }
}

async fn transact(
    pools: &Pools,
    group: &[WriteRequest],
    writer: &str,
    received: Millis,
) -> Result<GroupResults, Abort> {
    let g = |e: tokio_postgres::Error| Abort::Group(error(e));
    let mut client = pools
        .write
        .get()
        .await
        .map_err(|e| Abort::Group(pool_error(e)))?;
    let tx = client.transaction().await.map_err(g)?;
    // Prepared once per connection (`prepare_cached`), so no round trip after the first group.
    let lock = tx
        .prepare_cached("SELECT pg_advisory_xact_lock($1)")
        .await
        .map_err(g)?;
    let check = tx
        .prepare_cached("SELECT id FROM token WHERE id = ANY($1) AND revoked IS NOT NULL")
        .await
        .map_err(g)?;
    let log = tx
        .prepare_cached(
            "INSERT INTO change (committed, writer, kind, subject)
             SELECT $1, $2, k, s FROM unnest($3::text[], $4::text[]) AS u(k, s)",
        )
        .await
        .map_err(g)?;
    // The payload is the writer's id: its own notifications do not wake it.
    let notify = tx
        .prepare_cached("SELECT pg_notify($1, $2)")
        .await
        .map_err(g)?;
    let fast = match NewRows::of(group) {
        Some(rows) => Some((rows, prepare_insert_all(&tx).await.map_err(g)?)),
        None => None,
    };
    let ids: Vec<i64> = group.iter().filter_map(|r| r.command.token_id()).collect();
    // One round trip for the lock, the token check and, for a group of new observations, the
    // rows with their change log and notification in a savepoint: the statements are sent
    // together and PostgreSQL runs them in order, each after the one before returned. So the
    // token check sees every revocation committed before the lock was granted (a revocation
    // takes the same lock): requests are authorized from a cache of verified tokens, and a
    // revocation committed by any daemon before this group must refuse them, whatever the
    // caches still hold.
    let (locked, revoked, inserted) = futures_util::future::join3(
        tx.execute(&lock, &[&WRITE_LOCK]),
        async {
            if ids.is_empty() {
                Ok(Vec::new())
            } else {
                tx.query(&check, &[&ids]).await
            }
        },
        async {
            match &fast {
                Some((rows, insert)) => Some(
                    rows.send(&tx, insert, &log, &notify, writer, received)
                        .await,
                ),
                None => None,
            }
        },
    )
    .await;
    locked.map_err(g)?;
    let revoked: std::collections::HashSet<i64> =
        revoked.map_err(g)?.iter().map(|r| r.get(0)).collect();
    if let (Some((rows, _)), Some(done)) = (&fast, inserted) {
        match done {
            Ok(n) if n == rows.len() && revoked.is_empty() => {
                tx.commit().await.map_err(g)?;
                return Ok(rows.results());
            }
            // A row that exists already (or the same row twice), or a revoked token: nothing
            // of the savepoint is kept, and each command is applied on its own below.
            Ok(_) => {}
            Err(e) if e.as_db_error().is_none() => return Err(g(e)),
            Err(_) => {}
        }
        tx.batch_execute("ROLLBACK TO all_new; RELEASE all_new")
            .await
            .map_err(g)?;
    }
    let results = apply_each(&tx, group, &revoked, received).await?;
    let (observed, noted) = changed_subjects(group, &results);
    if !observed.is_empty() || !noted.is_empty() {
        let (mut kinds, mut subjects) = (Vec::new(), Vec::new());
        for (kind, set) in [("observations", &observed), ("note", &noted)] {
            for id in set.iter() {
                kinds.push(kind);
                subjects.push(*id);
            }
        }
        let (logged, notified) = futures_util::future::join(
            tx.execute(&log, &[&received, &writer, &kinds, &subjects]),
            // Delivered to the listening daemons at COMMIT, not before.
            tx.execute(&notify, &[&super::CHANGE_CHANNEL, &writer]),
        )
        .await;
        logged.map_err(g)?;
        notified.map_err(g)?;
    }
    tx.commit().await.map_err(g)?;
    Ok(results)
}

async fn prepare_insert_all(
    tx: &Transaction<'_>,
) -> Result<tokio_postgres::Statement, tokio_postgres::Error> {
    tx.prepare_cached(
        "INSERT INTO observation (indicator, t, value, source, department, token_id, note, received)
         SELECT i, t, v, s, d, k, n, $8
         FROM unnest($1::text[], $2::int8[], $3::float8[], $4::text[], $5::text[], $6::int8[], $7::text[])
              AS u(i, t, v, s, d, k, n)
         ON CONFLICT (indicator, t) DO NOTHING",
    )
    .await
}

/// The common case: a group of observation batches whose rows are all new, stored with one
/// `INSERT … SELECT FROM unnest(…)`. When any row already exists (a correction, or the same
/// value again) fewer rows are inserted than sent, and the caller rolls the savepoint back and
/// applies each command on its own, as `apply_each` does.
struct NewRows<'a> {
    batches: Vec<&'a ObservationBatch>,
    indicator: Vec<&'a str>,
    t: Vec<Millis>,
    value: Vec<f64>,
    source: Vec<String>,
    department: Vec<Option<&'a str>>,
    token: Vec<Option<i64>>,
    note: Vec<Option<&'a str>>,
    /// The change log's entries: each indicator once, in order.
    subjects: Vec<&'a str>,
}

impl<'a> NewRows<'a> {
    /// None when a command is not a batch of observations (or an empty one).
    fn of(group: &'a [WriteRequest]) -> Option<NewRows<'a>> {
        let mut batches = Vec::with_capacity(group.len());
        for req in group {
            match &req.command {
                WriteCommand::Observations(b) if !b.rows.is_empty() => batches.push(b),
                _ => return None,
            }
        }
        let n: usize = batches.iter().map(|b| b.rows.len()).sum();
        let mut rows = NewRows {
            batches: Vec::new(),
            indicator: Vec::with_capacity(n),
            t: Vec::with_capacity(n),
            value: Vec::with_capacity(n),
            source: Vec::with_capacity(n),
            department: Vec::with_capacity(n),
            token: Vec::with_capacity(n),
            note: Vec::with_capacity(n),
            subjects: Vec::new(),
        };
        for b in &batches {
            for o in &b.rows {
                rows.indicator.push(o.indicator.as_str());
                rows.t.push(o.time);
                rows.value.push(o.value);
                rows.source.push(b.origin.source.as_string());
                rows.department
                    .push(b.origin.department.as_ref().map(|d| d.as_str()));
                rows.token.push(b.origin.token_id);
                rows.note.push(o.note.as_deref());
            }
        }
        let subjects: std::collections::BTreeSet<&str> = rows.indicator.iter().copied().collect();
        rows.subjects = subjects.into_iter().collect();
        rows.batches = batches;
        Some(rows)
    }

    fn len(&self) -> u64 {
        self.indicator.len() as u64
    }

    /// The savepoint, the rows, the change log and the notification, sent at once; the number of
    /// rows inserted.
    async fn send(
        &self,
        tx: &Transaction<'_>,
        insert: &tokio_postgres::Statement,
        log: &tokio_postgres::Statement,
        notify: &tokio_postgres::Statement,
        writer: &str,
        received: Millis,
    ) -> Result<u64, tokio_postgres::Error> {
        let kinds = vec!["observations"; self.subjects.len()];
        let (savepoint, inserted, logged, notified) = futures_util::future::join4(
            tx.batch_execute("SAVEPOINT all_new"),
            tx.execute(
                insert,
                &[
                    &self.indicator,
                    &self.t,
                    &self.value,
                    &self.source,
                    &self.department,
                    &self.token,
                    &self.note,
                    &received,
                ],
            ),
            tx.execute(log, &[&received, &writer, &kinds, &self.subjects]),
            // Delivered to the listening daemons at COMMIT, not before (and not at all when the
            // savepoint is rolled back).
            tx.execute(notify, &[&super::CHANGE_CHANNEL, &writer]),
        )
        .await;
        savepoint?;
        let n = inserted?;
        logged?;
        notified?;
        Ok(n)
    }

    /// Every row stored as new.
    fn results(&self) -> GroupResults {
        self.batches
            .iter()
            .map(|b| {
                let applied = b
                    .rows
                    .iter()
                    .map(|o| AppliedObservation {
                        indicator: o.indicator.clone(),
                        time: o.time,
                        value: o.value,
                        previous: None,
                    })
                    .collect();
                Ok((
                    WriteOutcome::Observations {
                        new: b.rows.len() as u64,
                        corrected: 0,
                        unchanged: 0,
                    },
                    applied,
                ))
            })
            .collect()
    }
}

/// Each command in its own savepoint: one that fails is rolled back alone (its sender gets
/// the error), unless the connection failed, which aborts the group.
async fn apply_each(
    tx: &Transaction<'_>,
    group: &[WriteRequest],
    revoked: &std::collections::HashSet<i64>,
    received: Millis,
) -> Result<GroupResults, Abort> {
    let g = |e: tokio_postgres::Error| Abort::Group(error(e));
    let mut results: GroupResults = Vec::with_capacity(group.len());
    for req in group {
        if req
            .command
            .token_id()
            .is_some_and(|id| revoked.contains(&id))
        {
            results.push(Err(StoreError::TokenRevoked));
            continue;
        }
        tx.batch_execute("SAVEPOINT command").await.map_err(g)?;
        match apply(tx, &req.command, received).await {
            Ok(done) => {
                tx.batch_execute("RELEASE command").await.map_err(g)?;
                results.push(Ok(done));
            }
            Err(e) => {
                let e = error(e);
                if matches!(e, StoreError::Unavailable(_)) {
                    return Err(Abort::Group(e));
                }
                tx.batch_execute("ROLLBACK TO command; RELEASE command")
                    .await
                    .map_err(g)?;
                results.push(Err(e));
            }
        }
    }
    Ok(results)
}

async fn apply(
    tx: &Transaction<'_>,
    command: &WriteCommand,
    received: Millis,
) -> Result<(WriteOutcome, Vec<AppliedObservation>), tokio_postgres::Error> {
    match command {
        WriteCommand::Observations(batch) => apply_observations(tx, batch, received).await,
        WriteCommand::Note(n) => {
            let stmt = tx
                .prepare_cached(
                    "INSERT INTO note (indicator, kendala, rencana_tindak_lanjut, department, token_id, created)
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                )
                .await?;
            let id: i64 = tx
                .query_one(
                    &stmt,
                    &[
                        &n.indicator.as_str(),
                        &n.kendala,
                        &n.rencana_tindak_lanjut,
                        &n.department.as_ref().map(|d| d.as_str()),
                        &n.token_id,
                        &received,
                    ],
                )
                .await?
                .get(0);
            Ok((
                WriteOutcome::Note {
                    id,
                    created: received,
                },
                Vec::new(),
            ))
        }
        WriteCommand::FeedRun(r) => Ok((
            WriteOutcome::FeedRun {
                id: insert_feed_run(tx, r).await?,
            },
            Vec::new(),
        )),
        WriteCommand::Reminders(list) => {
            let stmt = tx
                .prepare_cached(
                    "INSERT INTO reminder (indicator, period_start, channel, sent) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (indicator, period_start, channel) DO NOTHING",
                )
                .await?;
            for r in list {
                tx.execute(&stmt, &[&r.subject, &r.period_start, &r.channel, &received])
                    .await?;
            }
            Ok((WriteOutcome::Recorded, Vec::new()))
        }
        WriteCommand::PlanVersion(v) => {
            let newest = tx
                .query_opt(
                    "SELECT id, hash FROM plan_version ORDER BY id DESC LIMIT 1",
                    &[],
                )
                .await?;
            if let Some(row) = newest {
                if row.get::<_, &str>(1) == v.hash {
                    return Ok((
                        WriteOutcome::PlanVersion {
                            id: row.get(0),
                            new: false,
                        },
                        Vec::new(),
                    ));
                }
            }
            let id: i64 = tx
                .query_one(
                    "INSERT INTO plan_version (hash, loaded, revision_note, plan, changes)
                     VALUES ($1, $2, $3, $4, $5) RETURNING id",
                    &[&v.hash, &received, &v.revision_note, &v.plan, &v.changes],
                )
                .await?
                .get(0);
            Ok((WriteOutcome::PlanVersion { id, new: true }, Vec::new()))
        }
        WriteCommand::FeedPoll { points, run } => {
            let (outcome, applied) = apply_observations(tx, points, received).await?;
            if let WriteOutcome::Observations { new, corrected, .. } = outcome {
                insert_feed_run(
                    tx,
                    &FeedRunRecord {
                        new,
                        corrected,
                        duration_ms: run.duration_ms.max(received - run.started),
                        ..run.clone()
                    },
                )
                .await?;
            }
            Ok((outcome, applied))
        }
    }
}

async fn insert_feed_run(
    tx: &Transaction<'_>,
    r: &FeedRunRecord,
) -> Result<i64, tokio_postgres::Error> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO feed_run (feed, started, duration_ms, http_status, points, new, corrected, error)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .await?;
    Ok(tx
        .query_one(
            &stmt,
            &[
                &r.feed.as_str(),
                &r.started,
                &r.duration_ms,
                &r.http_status.map(i32::from),
                &(r.points as i64),
                &(r.new as i64),
                &(r.corrected as i64),
                &r.error,
            ],
        )
        .await?
        .get(0))
}

/// Each row: inserted when its (indicator, time) is new (`ON CONFLICT DO NOTHING RETURNING`);
/// otherwise compared with the stored value, and a different value is stored as a correction
/// with the old one kept in `revision`.
async fn apply_observations(
    tx: &Transaction<'_>,
    batch: &ObservationBatch,
    received: Millis,
) -> Result<(WriteOutcome, Vec<AppliedObservation>), tokio_postgres::Error> {
    let source = batch.origin.source.as_string();
    let department = batch.origin.department.as_ref().map(|d| d.as_str());
    let token = batch.origin.token_id;
    let insert = tx
        .prepare_cached(
            "INSERT INTO observation (indicator, t, value, source, department, token_id, note, received)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (indicator, t) DO NOTHING RETURNING 1",
        )
        .await?;
    let existing = tx
        .prepare_cached(
            "SELECT value, source, received FROM observation WHERE indicator = $1 AND t = $2",
        )
        .await?;
    let revise = tx
        .prepare_cached(
            "INSERT INTO revision (indicator, t, previous_value, previous_source, previous_received, value, source, department, token_id, received)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .await?;
    let update = tx
        .prepare_cached(
            "UPDATE observation SET value = $3, source = $4, department = $5, token_id = $6, note = $7, received = $8
             WHERE indicator = $1 AND t = $2",
        )
        .await?;
    let (mut new, mut corrected, mut unchanged) = (0u64, 0u64, 0u64);
    let mut applied = Vec::new();
    for o in &batch.rows {
        let id = o.indicator.as_str();
        let inserted = tx
            .query_opt(
                &insert,
                &[
                    &id,
                    &o.time,
                    &o.value,
                    &source,
                    &department,
                    &token,
                    &o.note,
                    &received,
                ],
            )
            .await?;
        if inserted.is_some() {
            new += 1;
            applied.push(AppliedObservation {
                indicator: o.indicator.clone(),
                time: o.time,
                value: o.value,
                previous: None,
            });
            continue;
        }
        let row = tx.query_one(&existing, &[&id, &o.time]).await?;
        let (old, old_source, old_received): (f64, String, i64) =
            (row.get(0), row.get(1), row.get(2));
        if old == o.value {
            unchanged += 1;
            continue;
        }
        tx.execute(
            &revise,
            &[
                &id,
                &o.time,
                &old,
                &old_source,
                &old_received,
                &o.value,
                &source,
                &department,
                &token,
                &received,
            ],
        )
        .await?;
        tx.execute(
            &update,
            &[
                &id,
                &o.time,
                &o.value,
                &source,
                &department,
                &token,
                &o.note,
                &received,
            ],
        )
        .await?;
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
