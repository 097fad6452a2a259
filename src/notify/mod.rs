//! Escalation notifications (design.md §1 "Notify"): every `escalated` hop goes to the
//! configured receivers (a Slack-compatible incoming webhook and/or a generic JSON webhook) and
//! is sent again every `notify.repeat_every` until a human acknowledges the incident.
//!
//! The notifier is its own task on the clock, apart from the runner: a receiver that is down or
//! slow delays only notifications. Work goes through the ledger's outbox (one row per
//! escalation and receiver), so a crash, a restart or a receiver down for minutes loses
//! nothing; a failing receiver is retried with exponential back-off and jitter.

pub mod message;
pub mod schedule;
pub mod send;

use std::sync::Arc;
use std::time::Duration;

use jiff::SignedDuration;

use crate::clock::Clock;
use crate::config::Settings;
use crate::incident::IncidentState;
use crate::ledger::{Ledger, LedgerError, Notification};

pub use message::Escalation;
pub use schedule::Repeats;
pub use send::{Format, Receiver, SendError, Sender};

/// How long a claimed row stays with its sender: a sender that dies mid-send is retried then.
const LEASE: SignedDuration = SignedDuration::from_mins(2);
/// Rows handled per pass; the rest wait for the next one.
const BATCH: i64 = 50;
/// How often `serve` runs a pass, in the clock's time.
pub const EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// What one pass did (for tests and the log).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pass {
    /// New outbox rows (escalations seen for the first time, per receiver).
    pub queued: u64,
    pub delivered: u32,
    pub failed: u32,
    /// Rows ended without a send (acknowledged, superseded, resolved).
    pub closed: u32,
}

pub struct Notifier {
    ledger: Ledger,
    clock: Clock,
    receivers: Vec<Receiver>,
    repeats: Repeats,
    /// `api.public_url`, for the incident link.
    public_url: Option<String>,
    sender: Sender,
}

impl Notifier {
    pub fn new(
        ledger: Ledger,
        clock: Clock,
        receivers: Vec<Receiver>,
        repeats: Repeats,
        public_url: Option<String>,
    ) -> Notifier {
        Notifier {
            ledger,
            clock,
            receivers,
            repeats,
            public_url,
            sender: Sender::new(),
        }
    }

    /// The receivers `notify:` configures; `None` when there are none (nothing to run).
    pub fn from_settings(settings: &Settings, ledger: Ledger, clock: Clock) -> Option<Notifier> {
        let mut receivers = Vec::new();
        if let Some(url) = &settings.slack_webhook_url {
            receivers.push(Receiver::new(
                "slack",
                Format::Slack,
                url.secret.clone(),
                None,
            ));
        }
        if let Some(url) = &settings.webhook_url {
            let token = settings.webhook_token.as_ref().map(|t| t.secret.clone());
            receivers.push(Receiver::new(
                "webhook",
                Format::Generic,
                url.secret.clone(),
                token,
            ));
        }
        if receivers.is_empty() {
            return None;
        }
        let repeats = Repeats::new(settings.repeat_every, &settings.repeat_overrides);
        Some(Notifier::new(
            ledger,
            clock,
            receivers,
            repeats,
            settings.config.api.public_url.clone(),
        ))
    }

    /// Run a pass every `every` of the clock's time, until the task is aborted.
    pub async fn run(self: Arc<Self>, every: Duration) {
        let mut ticks = tokio::time::interval(self.clock.wall(every));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(e) = self.pass().await {
                tracing::warn!(error = %e, "notify: pass failed; the next one retries");
            }
        }
    }

    /// Queue the escalations not yet in the outbox, then send what is due.
    pub async fn pass(&self) -> Result<Pass, NotifyError> {
        let mut pass = Pass::default();
        let now = self.clock.now();
        for r in &self.receivers {
            pass.queued += self.ledger.enqueue_escalations(&r.name, now).await?;
        }
        for n in self.ledger.due_notifications(now, BATCH).await? {
            self.one(&n, &mut pass).await?;
        }
        Ok(pass)
    }

    async fn one(&self, n: &Notification, pass: &mut Pass) -> Result<(), NotifyError> {
        let now = self.clock.now();
        let Some(receiver) = self.receivers.iter().find(|r| r.name == n.receiver) else {
            // The receiver was removed from the configuration.
            self.ledger
                .close_notification(n, "unconfigured", now)
                .await?;
            pass.closed += 1;
            return Ok(());
        };
        if !self
            .ledger
            .claim_notification(n, now.saturating_add(LEASE).unwrap_or(now))
            .await?
        {
            return Ok(());
        }
        let key = &n.incident_key;
        let Some(incident) = self.ledger.incident(key).await? else {
            self.ledger.close_notification(n, "gone", now).await?;
            pass.closed += 1;
            return Ok(());
        };
        let hops = self.ledger.hops(key).await?;
        let later = |kind: &str| {
            hops.iter()
                .any(|h| h.kind == kind && h.id > n.escalation_id)
        };
        let ended = if later("acknowledged") {
            Some("acknowledged")
        } else if later("escalated") {
            // A newer escalation has its own row: one reminder per incident at a time.
            Some("superseded")
        } else if incident.state == IncidentState::Resolved {
            Some("resolved")
        } else {
            None
        };
        let hop = hops.iter().find(|h| h.id == n.escalation_id);
        let (Some(hop), None) = (hop, ended) else {
            self.ledger
                .close_notification(n, ended.unwrap_or("gone"), now)
                .await?;
            pass.closed += 1;
            return Ok(());
        };
        let prs = self.ledger.pull_requests(key).await?;
        let view = Escalation::new(
            &incident,
            hop,
            &prs,
            self.public_url.as_deref(),
            n.sends + 1,
        );
        let body = match receiver.format {
            Format::Slack => view.slack(),
            Format::Generic => view.generic(),
        };
        match self.sender.send(receiver, &body).await {
            Ok(()) => {
                let now = self.clock.now();
                let every = self.repeats.every(&incident.namespace);
                let repeat_at = now.saturating_add(every).unwrap_or(now);
                self.ledger.notification_sent(n, now, repeat_at).await?;
                tracing::info!(
                    receiver = %receiver.name,
                    incident = %key,
                    attempt = n.sends + 1,
                    "escalation notified"
                );
                pass.delivered += 1;
            }
            Err(e) => {
                let failures = u32::try_from(n.attempts + 1).unwrap_or(u32::MAX);
                let wait = schedule::backoff(failures, fastrand::f64(), e.retry_after());
                let wait = SignedDuration::try_from(wait).unwrap_or(SignedDuration::ZERO);
                let now = self.clock.now();
                let retry_at = now.saturating_add(wait).unwrap_or(now);
                self.ledger
                    .notification_failed(n, &e.to_string(), retry_at)
                    .await?;
                // The receiver's name only: its URL may be a credential.
                tracing::warn!(
                    receiver = %receiver.name,
                    incident = %key,
                    failures,
                    error = %e,
                    "escalation notification failed; retrying"
                );
                pass.failed += 1;
            }
        }
        Ok(())
    }
}
