//! `pantau migrate --from A --to B`: copies a store into an empty one, SQLite to PostgreSQL or
//! back (or SQLite to SQLite): observations, revisions, notes, tokens, feed runs, reminders and
//! plan versions, with their ids. The copy is one transaction on the destination; afterwards
//! each table is read back from the destination and compared with the source by its row count
//! and a SHA-256 over its rows in key order, and the command fails if any differs.
//!
//! The change log is not copied: it only tells running daemons what changed, and a new store
//! starts without one.

use super::StoreError;
use super::url::{StorageUrl, redact};
use anyhow::{Context, bail};
use rusqlite::types::Value as SqlValue;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::process::ExitCode;

/// `pantau migrate`'s arguments.
#[derive(clap::Args, Debug, Clone)]
pub struct MigrateArgs {
    /// The store to copy from: a SQLite file (`PATH` or `sqlite:PATH`) or `postgres://…`.
    #[arg(long)]
    pub from: String,
    /// The store to copy into (empty): a SQLite file (made if missing) or `postgres://…`.
    #[arg(long)]
    pub to: String,
}

/// How a column is typed: 64-bit integer, an integer PostgreSQL keeps in 32 bits, real, text,
/// bytes.
#[derive(Clone, Copy)]
enum Kind {
    Int,
    Int32,
    Real,
    Text,
    Blob,
}
use Kind::*;

struct Table {
    name: &'static str,
    columns: &'static [(&'static str, Kind)],
    order: &'static str,
    /// The identity column whose sequence PostgreSQL must move past the copied ids.
    identity: Option<&'static str>,
}

const TABLES: &[Table] = &[
    Table {
        name: "observation",
        columns: &[
            ("indicator", Text),
            ("t", Int),
            ("value", Real),
            ("source", Text),
            ("department", Text),
            ("token_id", Int),
            ("note", Text),
            ("received", Int),
        ],
        order: "indicator, t",
        identity: None,
    },
    Table {
        name: "revision",
        columns: &[
            ("id", Int),
            ("indicator", Text),
            ("t", Int),
            ("previous_value", Real),
            ("previous_source", Text),
            ("previous_received", Int),
            ("value", Real),
            ("source", Text),
            ("department", Text),
            ("token_id", Int),
            ("received", Int),
        ],
        order: "id",
        identity: Some("id"),
    },
    Table {
        name: "note",
        columns: &[
            ("id", Int),
            ("indicator", Text),
            ("kendala", Text),
            ("rencana_tindak_lanjut", Text),
            ("department", Text),
            ("token_id", Int),
            ("created", Int),
        ],
        order: "id",
        identity: Some("id"),
    },
    Table {
        name: "token",
        columns: &[
            ("id", Int),
            ("department", Text),
            ("label", Text),
            ("salt", Blob),
            ("hash", Blob),
            ("created", Int),
            ("revoked", Int),
        ],
        order: "id",
        identity: Some("id"),
    },
    Table {
        name: "feed_run",
        columns: &[
            ("id", Int),
            ("feed", Text),
            ("started", Int),
            ("duration_ms", Int),
            ("http_status", Int32),
            ("points", Int),
            ("new", Int),
            ("corrected", Int),
            ("error", Text),
        ],
        order: "id",
        identity: Some("id"),
    },
    Table {
        name: "reminder",
        columns: &[
            ("indicator", Text),
            ("period_start", Int),
            ("channel", Text),
            ("sent", Int),
        ],
        order: "indicator, period_start, channel",
        identity: None,
    },
    Table {
        name: "plan_version",
        columns: &[
            ("id", Int),
            ("hash", Text),
            ("loaded", Int),
            ("revision_note", Text),
            ("plan", Text),
            ("changes", Text),
        ],
        order: "id",
        identity: Some("id"),
    },
];

type Row = Vec<SqlValue>;

impl Table {
    fn select(&self) -> String {
        let cols: Vec<&str> = self.columns.iter().map(|(c, _)| *c).collect();
        format!(
            "SELECT {} FROM {} ORDER BY {}",
            cols.join(", "),
            self.name,
            self.order
        )
    }

    fn insert(&self, placeholder: impl Fn(usize) -> String) -> String {
        let cols: Vec<&str> = self.columns.iter().map(|(c, _)| *c).collect();
        let marks: Vec<String> = (1..=cols.len()).map(placeholder).collect();
        format!(
            "INSERT INTO {} ({}) VALUES ({})",
            self.name,
            cols.join(", "),
            marks.join(", ")
        )
    }
}

/// Count and SHA-256 of rows in key order (the same for equal rows from either backend).
fn checksum(rows: &[Row]) -> (usize, String) {
    let mut h = Sha256::new();
    for row in rows {
        for cell in row {
            match cell {
                SqlValue::Null => h.update(b"n;"),
                SqlValue::Integer(i) => h.update(format!("i{i};")),
                SqlValue::Real(r) => h.update(format!("r{:016x};", r.to_bits())),
                SqlValue::Text(t) => h.update(format!("t{}:{t};", t.len())),
                SqlValue::Blob(b) => h.update(format!("b{};", hex::encode(b))),
            }
        }
        h.update(b"\n");
    }
    (rows.len(), hex::encode(h.finalize()))
}

enum End {
    Sqlite(rusqlite::Connection),
    Postgres(super::postgres::Pools),
}

fn open(text: &str, source: bool) -> anyhow::Result<(End, String)> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    let which = if source { "--from" } else { "--to" };
    match super::url::parse(text, None, None, &env).map_err(|e| anyhow::anyhow!("{which}: {e}"))? {
        StorageUrl::Sqlite(path) => {
            let shown = path.display().to_string();
            if source {
                let conn = super::open_reader(&path)
                    .with_context(|| format!("cannot open {shown} (--from)"))?;
                let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
                if v != super::SCHEMA_VERSION {
                    bail!(
                        "{shown} has schema version {v}, this pantau writes {}; open it once with this pantau (`pantau run`) so it is brought up to date, then migrate",
                        super::SCHEMA_VERSION
                    );
                }
                Ok((End::Sqlite(conn), shown))
            } else {
                Ok((
                    End::Sqlite(super::open_writer(&PathBuf::from(&path))?),
                    shown,
                ))
            }
        }
        StorageUrl::Postgres(p) => {
            let shown = p.shown.clone();
            let pools = super::postgres::run_sync(async move { super::postgres::open(&p).await })
                .with_context(|| format!("cannot open {shown} ({which})"))?;
            Ok((End::Postgres(pools), redact(text)))
        }
    }
}

fn read(end: &End, table: &Table) -> Result<Vec<Row>, StoreError> {
    match end {
        End::Sqlite(conn) => {
            let mut stmt = conn.prepare(&table.select())?;
            let n = table.columns.len();
            let rows = stmt
                .query_map([], |r| (0..n).map(|i| r.get::<_, SqlValue>(i)).collect())?
                .collect::<Result<Vec<Row>, _>>()?;
            Ok(rows)
        }
        End::Postgres(pools) => {
            let (pools, sql, kinds) = (
                pools.clone(),
                table.select(),
                table.columns.iter().map(|(_, k)| *k).collect::<Vec<_>>(),
            );
            super::postgres::run_sync(async move {
                let client = pools
                    .read
                    .get()
                    .await
                    .map_err(super::postgres::pool_error)?;
                let rows = client
                    .query(&sql, &[])
                    .await
                    .map_err(super::postgres::error)?;
                Ok(rows
                    .iter()
                    .map(|r| {
                        kinds
                            .iter()
                            .enumerate()
                            .map(|(i, k)| pg_cell(r, i, *k))
                            .collect()
                    })
                    .collect())
            })
        }
    }
}

fn pg_cell(r: &tokio_postgres::Row, i: usize, kind: Kind) -> SqlValue {
    let v = match kind {
        Int => r.get::<_, Option<i64>>(i).map(SqlValue::Integer),
        Int32 => r
            .get::<_, Option<i32>>(i)
            .map(|v| SqlValue::Integer(v.into())),
        Real => r.get::<_, Option<f64>>(i).map(SqlValue::Real),
        Text => r.get::<_, Option<String>>(i).map(SqlValue::Text),
        Blob => r.get::<_, Option<Vec<u8>>>(i).map(SqlValue::Blob),
    };
    v.unwrap_or(SqlValue::Null)
}

fn pg_param(cell: &SqlValue, kind: Kind) -> Box<dyn tokio_postgres::types::ToSql + Sync + Send> {
    match (cell, kind) {
        (SqlValue::Integer(i), Int32) => Box::new(Some(*i as i32)),
        (SqlValue::Integer(i), _) => Box::new(Some(*i)),
        (SqlValue::Real(r), _) => Box::new(Some(*r)),
        (SqlValue::Text(t), _) => Box::new(Some(t.clone())),
        (SqlValue::Blob(b), _) => Box::new(Some(b.clone())),
        (SqlValue::Null, Int) => Box::new(None::<i64>),
        (SqlValue::Null, Int32) => Box::new(None::<i32>),
        (SqlValue::Null, Real) => Box::new(None::<f64>),
        (SqlValue::Null, Text) => Box::new(None::<String>),
        (SqlValue::Null, Blob) => Box::new(None::<Vec<u8>>),
    }
}

fn count(end: &End, table: &Table) -> Result<i64, StoreError> {
    let sql = format!("SELECT count(*) FROM {}", table.name);
    match end {
        End::Sqlite(conn) => Ok(conn.query_row(&sql, [], |r| r.get(0))?),
        End::Postgres(pools) => {
            let pools = pools.clone();
            super::postgres::run_sync(async move {
                let client = pools
                    .read
                    .get()
                    .await
                    .map_err(super::postgres::pool_error)?;
                Ok(client
                    .query_one(&sql, &[])
                    .await
                    .map_err(super::postgres::error)?
                    .get(0))
            })
        }
    }
}

/// Writes every table in one transaction.
fn write(
    end: &mut End,
    data: &[(&Table, Vec<Row>)],
    bar: &indicatif::ProgressBar,
) -> Result<(), StoreError> {
    match end {
        End::Sqlite(conn) => {
            let tx = conn.transaction()?;
            for (table, rows) in data {
                let mut stmt = tx.prepare(&table.insert(|i| format!("?{i}")))?;
                for row in rows {
                    stmt.execute(rusqlite::params_from_iter(row.iter()))?;
                    bar.inc(1);
                }
            }
            tx.commit()?;
            Ok(())
        }
        End::Postgres(pools) => {
            let pools = pools.clone();
            let owned: Vec<(&'static Table, Vec<Row>)> = data
                .iter()
                .map(|(t, rows)| {
                    let t: &'static Table = TABLES.iter().find(|x| x.name == t.name).unwrap();
                    (t, rows.clone())
                })
                .collect();
            let bar = bar.clone();
            super::postgres::run_sync(async move {
                use super::postgres::error;
                let mut client = pools
                    .write
                    .get()
                    .await
                    .map_err(super::postgres::pool_error)?;
                let tx = client.transaction().await.map_err(error)?;
                tx.execute(
                    "SELECT pg_advisory_xact_lock($1)",
                    &[&super::postgres::WRITE_LOCK],
                )
                .await
                .map_err(error)?;
                for (table, rows) in &owned {
                    let stmt = tx
                        .prepare(&table.insert(|i| format!("${i}")))
                        .await
                        .map_err(error)?;
                    // Sent in chunks that the client pipelines on the one connection.
                    for chunk in rows.chunks(256) {
                        let params: Vec<Vec<Box<dyn tokio_postgres::types::ToSql + Sync + Send>>> =
                            chunk
                                .iter()
                                .map(|row| {
                                    row.iter()
                                        .zip(table.columns)
                                        .map(|(c, (_, k))| pg_param(c, *k))
                                        .collect()
                                })
                                .collect();
                        let refs: Vec<Vec<&(dyn tokio_postgres::types::ToSql + Sync)>> = params
                            .iter()
                            .map(|p| {
                                p.iter()
                                    .map(|b| {
                                        b.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync)
                                    })
                                    .collect()
                            })
                            .collect();
                        futures_util::future::try_join_all(
                            refs.iter().map(|p| tx.execute(&stmt, p)),
                        )
                        .await
                        .map_err(error)?;
                        bar.inc(chunk.len() as u64);
                    }
                    if let Some(id) = table.identity {
                        tx.batch_execute(&format!(
                            "SELECT setval(pg_get_serial_sequence('{0}', '{id}'), coalesce((SELECT max({id}) FROM {0}), 0) + 1, false)",
                            table.name
                        ))
                        .await
                        .map_err(error)?;
                    }
                }
                tx.commit().await.map_err(error)?;
                Ok(())
            })
        }
    }
}

/// Runs `pantau migrate`.
pub fn run(args: &MigrateArgs) -> anyhow::Result<ExitCode> {
    let (source, from) = open(&args.from, true)?;
    let (mut dest, to) = open(&args.to, false)?;
    for table in TABLES {
        let n = count(&dest, table)?;
        if n > 0 {
            bail!(
                "{to} already holds data ({n} rows in {}); migrate copies into an empty database: give --to a new file or an empty PostgreSQL database",
                table.name
            );
        }
    }
    eprintln!("pantau: copying {from} into {to}");
    let mut data = Vec::new();
    let mut total = 0u64;
    for table in TABLES {
        let rows = read(&source, table).with_context(|| format!("cannot read {}", table.name))?;
        total += rows.len() as u64;
        data.push((table, rows));
    }
    let bar = indicatif::ProgressBar::new(total);
    write(&mut dest, &data, &bar).context("cannot write the copy; nothing was stored")?;
    bar.finish_and_clear();
    let mut failed = Vec::new();
    println!("{:<14} {:>10}  sha-256", "table", "rows");
    for (table, rows) in &data {
        let (n, sum) = checksum(rows);
        let copied = read(&dest, table)?;
        let (m, copied_sum) = checksum(&copied);
        println!("{:<14} {:>10}  {}", table.name, n, &sum[..16]);
        if (n, &sum) != (m, &copied_sum) {
            failed.push(format!(
                "{}: {n} rows ({}) in the source, {m} rows ({}) in the copy",
                table.name,
                &sum[..16],
                &copied_sum[..16]
            ));
        }
    }
    if !failed.is_empty() {
        bail!(
            "the copy differs from the source:\n  {}",
            failed.join("\n  ")
        );
    }
    println!("ok: {total} rows copied and verified");
    Ok(ExitCode::SUCCESS)
}
