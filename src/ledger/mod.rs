//! The incident ledger (design.md §8): incidents, their append-only hops, idempotency keys for
//! side effects, pull requests, Argo CD sync pauses, webhook delivery ids, and the outbox of
//! escalation notifications with their acknowledgements (`notify`).
//!
//! One code path for both databases: sqlx's `Any` driver over SQLite (the default, a file) or
//! PostgreSQL (for HA). The SQL is the subset both speak (`$n` placeholders in order, `ON
//! CONFLICT`), times are Unix milliseconds and JSON is text, so no dialect-specific types leak
//! into the queries. A state change and its hop are always one transaction.

pub mod migrations;
mod notify;

pub use notify::Notification;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

use crate::incident::IncidentState;

/// Which database a ledger URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// From a URL's scheme: `sqlite:` or `postgres:`/`postgresql:`.
    pub fn of(url: &str) -> Result<Dialect, LedgerError> {
        let scheme = url.split_once(':').map_or("", |(s, _)| s);
        match scheme {
            "sqlite" => Ok(Dialect::Sqlite),
            "postgres" | "postgresql" => Ok(Dialect::Postgres),
            // Only the scheme is echoed: the rest of a URL may hold a password.
            other => Err(LedgerError::UnsupportedUrl(other.to_string())),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("unsupported ledger URL scheme {0:?}: use sqlite://PATH or postgres://HOST/DB")]
    UnsupportedUrl(String),
    #[error("ledger database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("ledger migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Another writer moved the incident first (compare-and-set failed).
    #[error("incident {key} is {actual}, expected {expected}")]
    StateConflict {
        key: String,
        expected: IncidentState,
        actual: IncidentState,
    },
    #[error("no incident {0}")]
    NotFound(String),
    #[error("ledger row for {key} is unreadable: {reason}")]
    Corrupt { key: String, reason: String },
}

impl LedgerError {
    /// Worth retrying: the database was unreachable or busy, not the request wrong.
    pub fn is_transient(&self) -> bool {
        match self {
            LedgerError::Database(e) => matches!(
                e,
                sqlx::Error::Io(_)
                    | sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::WorkerCrashed
            ),
            _ => false,
        }
    }
}

type Result<T, E = LedgerError> = std::result::Result<T, E>;

fn millis(t: jiff::Timestamp) -> i64 {
    t.as_millisecond()
}

fn timestamp(key: &str, ms: i64) -> Result<jiff::Timestamp> {
    jiff::Timestamp::from_millisecond(ms).map_err(|e| LedgerError::Corrupt {
        key: key.to_string(),
        reason: e.to_string(),
    })
}

fn json(key: &str, text: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| LedgerError::Corrupt {
        key: key.to_string(),
        reason: e.to_string(),
    })
}

fn state(key: &str, text: &str) -> Result<IncidentState> {
    text.parse()
        .map_err(|e: crate::incident::UnknownState| LedgerError::Corrupt {
            key: key.to_string(),
            reason: e.to_string(),
        })
}

/// A new incident, as detection first sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct NewIncident {
    /// `cluster/namespace/kind/name/fault-id`.
    pub key: String,
    pub fault: String,
    pub cluster: String,
    pub namespace: String,
    pub kind: String,
    pub name: String,
    /// The evidence and whatever else the runner wants to keep with it.
    pub detail: serde_json::Value,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Incident {
    pub key: String,
    pub state: IncidentState,
    pub fault: String,
    pub cluster: String,
    pub namespace: String,
    pub kind: String,
    pub name: String,
    pub detail: serde_json::Value,
    pub opened_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
}

/// One line of an incident's audit trail.
#[derive(Clone, Debug, PartialEq)]
pub struct Hop {
    /// What happened: `detected`, `proposed`, `pr_opened`, `sync_paused`, `webhook`, ...
    pub kind: String,
    pub detail: serde_json::Value,
}

impl Hop {
    pub fn new(kind: impl Into<String>, detail: serde_json::Value) -> Self {
        Hop {
            kind: kind.into(),
            detail,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct HopRecord {
    pub id: i64,
    pub at: jiff::Timestamp,
    pub kind: String,
    pub from_state: Option<IncidentState>,
    pub to_state: Option<IncidentState>,
    pub detail: serde_json::Value,
}

/// The state of a side effect, as its idempotency key records it.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Nobody started it: the caller now owns it and must `finish_effect` when done.
    Claimed,
    /// Started at this time and never finished: a crash happened in between. The caller must
    /// find out whether it took effect (e.g. look the PR up by branch) before repeating it.
    Started { at: jiff::Timestamp },
    /// Done; here is what it produced.
    Done { result: serde_json::Value },
}

#[derive(Clone, Debug, PartialEq)]
pub struct PullRequest {
    pub incident_key: String,
    /// `github` or `gitlab`.
    pub forge: String,
    /// `owner/name` or the GitLab project path.
    pub repo: String,
    pub number: i64,
    pub url: String,
    pub head_branch: String,
    /// `open`, `merged` or `closed`.
    pub state: String,
    pub merge_sha: Option<String>,
    pub opened_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SyncPause {
    pub id: i64,
    pub incident_key: String,
    pub app_namespace: String,
    pub app_name: String,
    /// The `spec.syncPolicy.automated` read before pausing, verbatim.
    pub prior_policy: serde_json::Value,
    pub paused_at: jiff::Timestamp,
    pub expires_at: jiff::Timestamp,
    pub resumed_at: Option<jiff::Timestamp>,
    pub resume_reason: Option<String>,
}

/// The ledger: a pool over SQLite or PostgreSQL.
#[derive(Clone, Debug)]
pub struct Ledger {
    pool: AnyPool,
    dialect: Dialect,
}

const INCIDENT_COLUMNS: &str =
    "key, state, fault, cluster, namespace, kind, name, detail, opened_at, updated_at";

/// Every recorded hop is also a log line, so operators can follow incidents without the API
/// (the kind and the key only: the detail stays in the ledger).
fn log_hop(key: &str, hop: &Hop, to: Option<IncidentState>) {
    match to {
        Some(to) => {
            tracing::info!(incident = key, hop = %hop.kind, state = to.as_str(), "incident")
        }
        None => tracing::info!(incident = key, hop = %hop.kind, "incident"),
    }
}

impl Ledger {
    /// Connect (a SQLite file is created when missing) without migrating.
    pub async fn connect(url: &str) -> Result<Ledger> {
        let dialect = Dialect::of(url)?;
        sqlx::any::install_default_drivers();
        let url = match dialect {
            // sqlx opens SQLite read-write but does not create the file unless asked.
            Dialect::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_string(),
        };
        let pool = AnyPoolOptions::new()
            // Fail a request within seconds when the database is gone, rather than hang a webhook.
            .acquire_timeout(std::time::Duration::from_secs(10))
            // One writer at a time is all SQLite allows; waiting beats SQLITE_BUSY errors.
            .max_connections(match dialect {
                Dialect::Sqlite => 1,
                Dialect::Postgres => 8,
            })
            .connect(&url)
            .await?;
        Ok(Ledger { pool, dialect })
    }

    /// Connect and apply every migration: what `serve` does at start.
    pub async fn open(url: &str) -> Result<Ledger> {
        let ledger = Ledger::connect(url).await?;
        ledger.migrate().await?;
        Ok(ledger)
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Apply the migrations not yet applied (all of them when `upto` is `None`).
    pub async fn migrate_to(&self, upto: Option<i64>) -> Result<()> {
        migrations::migrator(self.dialect, upto)
            .run(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn migrate(&self) -> Result<()> {
        self.migrate_to(None).await
    }

    /// The ledger answers (for `/readyz`).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// The pool, for tests and maintenance that need raw SQL.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Record a new incident in state `open` with its first hop, unless the key already exists.
    /// Returns whether it was new.
    pub async fn open_incident(
        &self,
        new: &NewIncident,
        hop: &Hop,
        now: jiff::Timestamp,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO incidents (key, state, fault, cluster, namespace, kind, name, detail, \
             opened_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(&new.key)
        .bind(IncidentState::Open.as_str())
        .bind(&new.fault)
        .bind(&new.cluster)
        .bind(&new.namespace)
        .bind(&new.kind)
        .bind(&new.name)
        .bind(new.detail.to_string())
        .bind(millis(now))
        .bind(millis(now))
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if inserted {
            insert_hop(&mut tx, &new.key, hop, None, Some(IncidentState::Open), now).await?;
        }
        tx.commit().await?;
        if inserted {
            log_hop(&new.key, hop, Some(IncidentState::Open));
        }
        Ok(inserted)
    }

    /// Move an incident from `from` to `to` and record the hop, in one transaction. Fails with
    /// [`LedgerError::StateConflict`] (and changes nothing) when the incident is not in `from`.
    pub async fn transition(
        &self,
        key: &str,
        from: IncidentState,
        to: IncidentState,
        hop: &Hop,
        now: jiff::Timestamp,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let moved = sqlx::query(
            "UPDATE incidents SET state = $1, updated_at = $2 WHERE key = $3 AND state = $4",
        )
        .bind(to.as_str())
        .bind(millis(now))
        .bind(key)
        .bind(from.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if moved != 1 {
            let actual: Option<String> = sqlx::query("SELECT state FROM incidents WHERE key = $1")
                .bind(key)
                .fetch_optional(&mut *tx)
                .await?
                .map(|row| row.try_get::<String, _>("state"))
                .transpose()?;
            tx.rollback().await?;
            return match actual {
                None => Err(LedgerError::NotFound(key.to_string())),
                Some(actual) => Err(LedgerError::StateConflict {
                    key: key.to_string(),
                    expected: from,
                    actual: state(key, &actual)?,
                }),
            };
        }
        insert_hop(&mut tx, key, hop, Some(from), Some(to), now).await?;
        tx.commit().await?;
        log_hop(key, hop, Some(to));
        Ok(())
    }

    /// Record a hop that changes no state (a recurrence, a comment, a resolved alert).
    pub async fn append_hop(&self, key: &str, hop: &Hop, now: jiff::Timestamp) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let touched = sqlx::query("UPDATE incidents SET updated_at = $1 WHERE key = $2")
            .bind(millis(now))
            .bind(key)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if touched != 1 {
            tx.rollback().await?;
            return Err(LedgerError::NotFound(key.to_string()));
        }
        insert_hop(&mut tx, key, hop, None, None, now).await?;
        tx.commit().await?;
        log_hop(key, hop, None);
        Ok(())
    }

    pub async fn incident(&self, key: &str) -> Result<Option<Incident>> {
        let sql = format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE key = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| incident_row(&r)).transpose()
    }

    /// Incidents, most recently updated first, optionally only those in `in_state`.
    pub async fn incidents(
        &self,
        in_state: Option<IncidentState>,
        limit: i64,
    ) -> Result<Vec<Incident>> {
        let rows = match in_state {
            Some(s) => {
                let sql = format!(
                    "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE state = $1 \
                     ORDER BY updated_at DESC, key LIMIT $2"
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(s.as_str())
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                let sql = format!(
                    "SELECT {INCIDENT_COLUMNS} FROM incidents ORDER BY updated_at DESC, key LIMIT $1"
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter().map(incident_row).collect()
    }

    /// Count of incidents per (fault, state), for metrics.
    pub async fn counts(&self) -> Result<Vec<(String, IncidentState, i64)>> {
        let rows = sqlx::query(
            "SELECT fault, state, COUNT(*) AS n FROM incidents GROUP BY fault, state \
             ORDER BY fault, state",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let fault: String = r.try_get("fault")?;
                let s: String = r.try_get("state")?;
                Ok((fault.clone(), state(&fault, &s)?, r.try_get::<i64, _>("n")?))
            })
            .collect()
    }

    /// An incident's hops, oldest first.
    pub async fn hops(&self, key: &str) -> Result<Vec<HopRecord>> {
        let rows = sqlx::query(
            "SELECT id, at, kind, from_state, to_state, detail FROM hops \
             WHERE incident_key = $1 ORDER BY id",
        )
        .bind(key)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let opt_state = |col: &str| -> Result<Option<IncidentState>> {
                    r.try_get::<Option<String>, _>(col)?
                        .map(|s| state(key, &s))
                        .transpose()
                };
                Ok(HopRecord {
                    id: r.try_get("id")?,
                    at: timestamp(key, r.try_get("at")?)?,
                    kind: r.try_get("kind")?,
                    from_state: opt_state("from_state")?,
                    to_state: opt_state("to_state")?,
                    detail: json(key, &r.try_get::<String, _>("detail")?)?,
                })
            })
            .collect()
    }

    /// Write the idempotency key of a side effect before running it. The first caller gets
    /// [`Effect::Claimed`]; later callers learn whether it finished.
    pub async fn begin_effect(
        &self,
        idem_key: &str,
        incident_key: &str,
        action: &str,
        now: jiff::Timestamp,
    ) -> Result<Effect> {
        let claimed = sqlx::query(
            "INSERT INTO idempotency_keys (key, incident_key, action, started_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO NOTHING",
        )
        .bind(idem_key)
        .bind(incident_key)
        .bind(action)
        .bind(millis(now))
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1;
        if claimed {
            return Ok(Effect::Claimed);
        }
        let row = sqlx::query("SELECT started_at, result FROM idempotency_keys WHERE key = $1")
            .bind(idem_key)
            .fetch_one(&self.pool)
            .await?;
        match row.try_get::<Option<String>, _>("result")? {
            Some(result) => Ok(Effect::Done {
                result: json(idem_key, &result)?,
            }),
            None => Ok(Effect::Started {
                at: timestamp(idem_key, row.try_get("started_at")?)?,
            }),
        }
    }

    /// Mark a side effect done with what it produced (e.g. the PR number).
    pub async fn finish_effect(
        &self,
        idem_key: &str,
        result: &serde_json::Value,
        now: jiff::Timestamp,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE idempotency_keys SET completed_at = $1, result = $2 WHERE key = $3",
        )
        .bind(millis(now))
        .bind(result.to_string())
        .bind(idem_key)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if done == 1 {
            Ok(())
        } else {
            Err(LedgerError::NotFound(idem_key.to_string()))
        }
    }

    /// Record a webhook delivery id; `true` the first time it is seen, `false` on a redelivery.
    pub async fn first_delivery(
        &self,
        source: &str,
        delivery_id: &str,
        now: jiff::Timestamp,
    ) -> Result<bool> {
        let inserted = sqlx::query(
            "INSERT INTO webhook_deliveries (source, delivery_id, received_at) \
             VALUES ($1, $2, $3) ON CONFLICT (source, delivery_id) DO NOTHING",
        )
        .bind(source)
        .bind(delivery_id)
        .bind(millis(now))
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(inserted == 1)
    }

    /// Record a pull request, or update its state, URL and merge sha when it is known.
    pub async fn record_pull_request(&self, pr: &PullRequest) -> Result<()> {
        sqlx::query(
            "INSERT INTO pull_requests (incident_key, forge, repo, number, url, head_branch, \
             state, merge_sha, opened_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (forge, repo, number) DO UPDATE SET state = excluded.state, \
             url = excluded.url, merge_sha = excluded.merge_sha, updated_at = excluded.updated_at",
        )
        .bind(&pr.incident_key)
        .bind(&pr.forge)
        .bind(&pr.repo)
        .bind(pr.number)
        .bind(&pr.url)
        .bind(&pr.head_branch)
        .bind(&pr.state)
        .bind(pr.merge_sha.as_deref())
        .bind(millis(pr.opened_at))
        .bind(millis(pr.updated_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The pull requests of one incident, newest first.
    pub async fn pull_requests(&self, incident_key: &str) -> Result<Vec<PullRequest>> {
        let rows = sqlx::query(
            "SELECT incident_key, forge, repo, number, url, head_branch, state, merge_sha, \
             opened_at, updated_at FROM pull_requests WHERE incident_key = $1 \
             ORDER BY opened_at DESC, number DESC",
        )
        .bind(incident_key)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(pull_request_row).collect()
    }

    /// The pull request suture opened from `head_branch` in `repo`, if any: how a webhook finds
    /// its incident (and how events for PRs suture did not open are told apart).
    pub async fn pull_request_by_branch(
        &self,
        forge: &str,
        repo: &str,
        head_branch: &str,
    ) -> Result<Option<PullRequest>> {
        let row = sqlx::query(
            "SELECT incident_key, forge, repo, number, url, head_branch, state, merge_sha, \
             opened_at, updated_at FROM pull_requests \
             WHERE forge = $1 AND repo = $2 AND head_branch = $3 \
             ORDER BY opened_at DESC, number DESC LIMIT 1",
        )
        .bind(forge)
        .bind(repo)
        .bind(head_branch)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(pull_request_row).transpose()
    }

    /// How many pull requests are open, and how many were opened since `since` (the limits of
    /// `policy.max_open_prs` and `policy.max_new_prs_per_hour`).
    pub async fn pull_request_budget(&self, since: jiff::Timestamp) -> Result<(i64, i64)> {
        let row = sqlx::query(
            "SELECT \
             (SELECT COUNT(*) FROM pull_requests WHERE state = 'open') AS open, \
             (SELECT COUNT(*) FROM pull_requests WHERE opened_at >= $1) AS recent",
        )
        .bind(millis(since))
        .fetch_one(&self.pool)
        .await?;
        Ok((row.try_get("open")?, row.try_get("recent")?))
    }

    /// Every pull request in `state` (`open`, ...), oldest first: what the reconcile re-reads.
    pub async fn pull_requests_in(&self, state: &str) -> Result<Vec<PullRequest>> {
        let rows = sqlx::query(
            "SELECT incident_key, forge, repo, number, url, head_branch, state, merge_sha, \
             opened_at, updated_at FROM pull_requests WHERE state = $1 \
             ORDER BY opened_at, number",
        )
        .bind(state)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(pull_request_row).collect()
    }

    /// Pauses of one incident not yet resumed.
    pub async fn incident_pauses(&self, incident_key: &str) -> Result<Vec<SyncPause>> {
        let rows = sqlx::query(
            "SELECT id, incident_key, app_namespace, app_name, prior_policy, paused_at, \
             expires_at, resumed_at, resume_reason FROM sync_pauses \
             WHERE resumed_at IS NULL AND incident_key = $1 ORDER BY id",
        )
        .bind(incident_key)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(pause_row).collect()
    }

    /// Record an Argo CD sync pause with the policy to restore. Returns its id.
    pub async fn record_pause(
        &self,
        incident_key: &str,
        app_namespace: &str,
        app_name: &str,
        prior_policy: &serde_json::Value,
        now: jiff::Timestamp,
        expires_at: jiff::Timestamp,
    ) -> Result<i64> {
        let row = sqlx::query(
            "INSERT INTO sync_pauses (incident_key, app_namespace, app_name, prior_policy, \
             paused_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(incident_key)
        .bind(app_namespace)
        .bind(app_name)
        .bind(prior_policy.to_string())
        .bind(millis(now))
        .bind(millis(expires_at))
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("id")?)
    }

    /// Pauses not yet resumed; with `expired_by`, only those whose expiry has passed.
    pub async fn open_pauses(&self, expired_by: Option<jiff::Timestamp>) -> Result<Vec<SyncPause>> {
        let cutoff = expired_by.map_or(i64::MAX, millis);
        let rows = sqlx::query(
            "SELECT id, incident_key, app_namespace, app_name, prior_policy, paused_at, \
             expires_at, resumed_at, resume_reason FROM sync_pauses \
             WHERE resumed_at IS NULL AND expires_at <= $1 ORDER BY id",
        )
        .bind(cutoff)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(pause_row).collect()
    }

    /// Mark a pause resumed. `false` when it was already resumed (someone else did it).
    pub async fn resume_pause(&self, id: i64, reason: &str, now: jiff::Timestamp) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE sync_pauses SET resumed_at = $1, resume_reason = $2 \
             WHERE id = $3 AND resumed_at IS NULL",
        )
        .bind(millis(now))
        .bind(reason)
        .bind(id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }
}

async fn insert_hop(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    key: &str,
    hop: &Hop,
    from: Option<IncidentState>,
    to: Option<IncidentState>,
    now: jiff::Timestamp,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO hops (incident_key, at, kind, from_state, to_state, detail) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(key)
    .bind(millis(now))
    .bind(&hop.kind)
    .bind(from.map(IncidentState::as_str))
    .bind(to.map(IncidentState::as_str))
    .bind(hop.detail.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn incident_row(r: &AnyRow) -> Result<Incident> {
    let key: String = r.try_get("key")?;
    Ok(Incident {
        state: state(&key, &r.try_get::<String, _>("state")?)?,
        fault: r.try_get("fault")?,
        cluster: r.try_get("cluster")?,
        namespace: r.try_get("namespace")?,
        kind: r.try_get("kind")?,
        name: r.try_get("name")?,
        detail: json(&key, &r.try_get::<String, _>("detail")?)?,
        opened_at: timestamp(&key, r.try_get("opened_at")?)?,
        updated_at: timestamp(&key, r.try_get("updated_at")?)?,
        key,
    })
}

fn pull_request_row(r: &AnyRow) -> Result<PullRequest> {
    let key: String = r.try_get("incident_key")?;
    Ok(PullRequest {
        forge: r.try_get("forge")?,
        repo: r.try_get("repo")?,
        number: r.try_get("number")?,
        url: r.try_get("url")?,
        head_branch: r.try_get("head_branch")?,
        state: r.try_get("state")?,
        merge_sha: r.try_get("merge_sha")?,
        opened_at: timestamp(&key, r.try_get("opened_at")?)?,
        updated_at: timestamp(&key, r.try_get("updated_at")?)?,
        incident_key: key,
    })
}

fn pause_row(r: &AnyRow) -> Result<SyncPause> {
    let key: String = r.try_get("incident_key")?;
    Ok(SyncPause {
        id: r.try_get("id")?,
        app_namespace: r.try_get("app_namespace")?,
        app_name: r.try_get("app_name")?,
        prior_policy: json(&key, &r.try_get::<String, _>("prior_policy")?)?,
        paused_at: timestamp(&key, r.try_get("paused_at")?)?,
        expires_at: timestamp(&key, r.try_get("expires_at")?)?,
        resumed_at: r
            .try_get::<Option<i64>, _>("resumed_at")?
            .map(|ms| timestamp(&key, ms))
            .transpose()?,
        resume_reason: r.try_get("resume_reason")?,
        incident_key: key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialect_from_url_never_echoes_credentials() {
        assert_eq!(
            Dialect::of("sqlite://suture.db").ok(),
            Some(Dialect::Sqlite)
        );
        assert_eq!(Dialect::of("sqlite::memory:").ok(), Some(Dialect::Sqlite));
        assert_eq!(
            Dialect::of("postgres://u:pw@db/suture").ok(),
            Some(Dialect::Postgres)
        );
        assert_eq!(
            Dialect::of("postgresql://db/suture").ok(),
            Some(Dialect::Postgres)
        );
        let err = Dialect::of("mysql://root:hunter2@db/x").err();
        let text = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(text.contains("\"mysql\""), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}
