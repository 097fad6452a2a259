//! The escalation outbox and acknowledgements. An escalation is an `escalated` hop; the outbox
//! holds one row per (incident, escalation, receiver), derived from those hops by the notifier,
//! so nothing the runner records is lost between the hop and the send. An `acknowledged` hop
//! ends every escalation before it.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Hop, Ledger, LedgerError, Result, insert_hop, log_hop, millis, timestamp};

/// One outbox row.
#[derive(Clone, Debug, PartialEq)]
pub struct Notification {
    pub incident_key: String,
    /// The id of the `escalated` hop this row notifies about.
    pub escalation_id: i64,
    /// `slack` or `webhook`.
    pub receiver: String,
    pub escalated_at: jiff::Timestamp,
    /// Deliveries made: the first notification and its repeats.
    pub sends: i64,
    /// Failed tries since the last delivery (the back-off exponent).
    pub attempts: i64,
    pub next_attempt_at: jiff::Timestamp,
    /// A status or an error kind; never a URL (receiver URLs can hold tokens).
    pub last_error: Option<String>,
    pub sent_at: Option<jiff::Timestamp>,
    pub closed_at: Option<jiff::Timestamp>,
    pub closed_reason: Option<String>,
}

const COLUMNS: &str = "incident_key, escalation_id, receiver, escalated_at, sends, attempts, \
                       next_attempt_at, last_error, sent_at, closed_at, closed_reason";

fn row(r: &AnyRow) -> Result<Notification> {
    let key: String = r.try_get("incident_key")?;
    let opt = |col: &str| -> Result<Option<jiff::Timestamp>> {
        r.try_get::<Option<i64>, _>(col)?
            .map(|ms| timestamp(&key, ms))
            .transpose()
    };
    Ok(Notification {
        escalation_id: r.try_get("escalation_id")?,
        receiver: r.try_get("receiver")?,
        escalated_at: timestamp(&key, r.try_get("escalated_at")?)?,
        sends: r.try_get("sends")?,
        attempts: r.try_get("attempts")?,
        next_attempt_at: timestamp(&key, r.try_get("next_attempt_at")?)?,
        last_error: r.try_get("last_error")?,
        sent_at: opt("sent_at")?,
        closed_at: opt("closed_at")?,
        closed_reason: r.try_get("closed_reason")?,
        incident_key: key,
    })
}

impl Ledger {
    /// Add an outbox row for `receiver` for every escalation that has none, is newer than the
    /// notifications migration and is not acknowledged. Safe to run from several replicas at
    /// once. Returns how many rows were added.
    pub async fn enqueue_escalations(&self, receiver: &str, now: jiff::Timestamp) -> Result<u64> {
        // SQLite needs the WHERE for `INSERT ... SELECT ... ON CONFLICT` to parse.
        let n = sqlx::query(
            "INSERT INTO notifications (incident_key, escalation_id, receiver, escalated_at, \
             next_attempt_at) \
             SELECT h.incident_key, h.id, $1, h.at, $2 FROM hops h \
             WHERE h.kind = 'escalated' \
             AND h.id > (SELECT MAX(hop_id) FROM notify_baseline) \
             AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.incident_key = h.incident_key \
                 AND n.escalation_id = h.id AND n.receiver = $1) \
             AND NOT EXISTS (SELECT 1 FROM hops a WHERE a.incident_key = h.incident_key \
                 AND a.kind = 'acknowledged' AND a.id > h.id) \
             ON CONFLICT DO NOTHING",
        )
        .bind(receiver)
        .bind(millis(now))
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n)
    }

    /// Open rows whose next attempt is due, the longest waiting first.
    pub async fn due_notifications(
        &self,
        now: jiff::Timestamp,
        limit: i64,
    ) -> Result<Vec<Notification>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM notifications WHERE closed_at IS NULL \
             AND next_attempt_at <= $1 ORDER BY next_attempt_at, escalation_id, receiver LIMIT $2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(millis(now))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(row).collect()
    }

    /// Every row of one incident, oldest escalation first.
    pub async fn notifications(&self, incident_key: &str) -> Result<Vec<Notification>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM notifications WHERE incident_key = $1 \
             ORDER BY escalation_id, receiver"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(incident_key)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(row).collect()
    }

    /// Take a due row for one send: its next attempt moves to `until` (a lease, so a sender that
    /// dies mid-send is retried then). `false`: another replica took it first.
    pub async fn claim_notification(
        &self,
        n: &Notification,
        until: jiff::Timestamp,
    ) -> Result<bool> {
        let moved = sqlx::query(
            "UPDATE notifications SET next_attempt_at = $1 WHERE incident_key = $2 \
             AND escalation_id = $3 AND receiver = $4 AND next_attempt_at = $5 \
             AND closed_at IS NULL",
        )
        .bind(millis(until))
        .bind(&n.incident_key)
        .bind(n.escalation_id)
        .bind(&n.receiver)
        .bind(millis(n.next_attempt_at))
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(moved == 1)
    }

    /// Delivered: count it, clear the failures, and schedule the repeat at `repeat_at`.
    pub async fn notification_sent(
        &self,
        n: &Notification,
        now: jiff::Timestamp,
        repeat_at: jiff::Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE notifications SET sends = sends + 1, attempts = 0, last_error = NULL, \
             sent_at = $1, next_attempt_at = $2 WHERE incident_key = $3 AND escalation_id = $4 \
             AND receiver = $5",
        )
        .bind(millis(now))
        .bind(millis(repeat_at))
        .bind(&n.incident_key)
        .bind(n.escalation_id)
        .bind(&n.receiver)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Not delivered: keep why (no URL in it) and try again at `retry_at`.
    pub async fn notification_failed(
        &self,
        n: &Notification,
        error: &str,
        retry_at: jiff::Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE notifications SET attempts = attempts + 1, last_error = $1, \
             next_attempt_at = $2 WHERE incident_key = $3 AND escalation_id = $4 \
             AND receiver = $5",
        )
        .bind(error)
        .bind(millis(retry_at))
        .bind(&n.incident_key)
        .bind(n.escalation_id)
        .bind(&n.receiver)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// No more sends for this row (`acknowledged`, `superseded`, `resolved`, ...).
    pub async fn close_notification(
        &self,
        n: &Notification,
        reason: &str,
        now: jiff::Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE notifications SET closed_at = $1, closed_reason = $2 WHERE incident_key = $3 \
             AND escalation_id = $4 AND receiver = $5 AND closed_at IS NULL",
        )
        .bind(millis(now))
        .bind(reason)
        .bind(&n.incident_key)
        .bind(n.escalation_id)
        .bind(&n.receiver)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A human acknowledged the incident: one `acknowledged` hop (with `by`) unless it is already
    /// acknowledged since its last escalation, and its open notifications closed, in one
    /// transaction. Returns whether a hop was recorded (`false`: already acknowledged).
    pub async fn acknowledge(&self, key: &str, by: &str, now: jiff::Timestamp) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        // The same row lock `transition` and `append_hop` take: two acks cannot both record.
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
        let last = sqlx::query(
            "SELECT MAX(CASE WHEN kind = 'escalated' THEN id END) AS escalated, \
             MAX(CASE WHEN kind = 'acknowledged' THEN id END) AS acknowledged \
             FROM hops WHERE incident_key = $1",
        )
        .bind(key)
        .fetch_one(&mut *tx)
        .await?;
        let escalated: Option<i64> = last.try_get("escalated")?;
        let acknowledged: Option<i64> = last.try_get("acknowledged")?;
        if acknowledged.is_some_and(|a| a > escalated.unwrap_or(0)) {
            tx.rollback().await?;
            return Ok(false);
        }
        let hop = Hop::new(
            "acknowledged",
            serde_json::json!({ "by": by, "escalation_id": escalated }),
        );
        insert_hop(&mut tx, key, &hop, None, None, now).await?;
        sqlx::query(
            "UPDATE notifications SET closed_at = $1, closed_reason = 'acknowledged' \
             WHERE incident_key = $2 AND closed_at IS NULL",
        )
        .bind(millis(now))
        .bind(key)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        log_hop(key, &hop, None);
        Ok(true)
    }
}
