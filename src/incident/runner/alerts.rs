//! Alertmanager notifications: each alert names objects by its labels; the evidence is read
//! from those live objects, never from the alert's text.

use serde_json::json;

use super::{RunError, Runner};
use crate::alerts::{Alert, AlertStatus};
use crate::detection::Finding;
use crate::incident::IncidentState;
use crate::ledger::{Hop, NewIncident};
use crate::objref::ObjectRef;

impl Runner {
    pub(super) async fn alerts(&self, delivery: &str, alerts: &[Alert]) -> Result<(), RunError> {
        for alert in alerts {
            match alert.status {
                AlertStatus::Firing => self.firing(delivery, alert).await?,
                AlertStatus::Resolved => self.resolved(delivery, alert).await?,
            }
        }
        Ok(())
    }

    async fn firing(&self, delivery: &str, alert: &Alert) -> Result<(), RunError> {
        let Some(target) = alert.target() else {
            return self
                .escalate_alert(
                    delivery,
                    alert,
                    "the alert's labels name no object suture can read",
                )
                .await;
        };
        let object = ObjectRef::workload(target.kind, &target.namespace, &target.name);
        let Some(slice_of) = self.slice.clone() else {
            return self
                .escalate_alert(
                    delivery,
                    alert,
                    "suture has no view of the cluster to read the alert's object",
                )
                .await;
        };
        let slice = slice_of(&object);
        let findings: Vec<Finding> = crate::detection::detect(&slice, self.now())
            .into_iter()
            .filter(|f| {
                let named = f.subject.same_object(&object) || f.owner.same_object(&object);
                let container = target
                    .container
                    .as_deref()
                    .is_none_or(|c| f.container.as_deref().is_none_or(|fc| fc == c));
                named && container
            })
            .collect();
        if findings.is_empty() {
            let why = format!(
                "{} {}/{} shows no fault suture can read",
                target.kind, target.namespace, target.name
            );
            return self.escalate_alert(delivery, alert, &why).await;
        }
        // The timeline shows the alert on the incident its live evidence belongs to: before the
        // work it triggers when the incident is already known, after the sighting that opens it.
        let keys: Vec<String> = crate::proposal::group_findings(&findings, &self.cfg.cluster)
            .into_iter()
            .map(|(k, _)| k.ledger_key())
            .collect();
        let mut known = Vec::new();
        for key in &keys {
            if self.ledger.incident(key).await?.is_some() {
                self.alert_hop(key, delivery, alert, false).await?;
                known.push(key);
            }
        }
        let result = self.findings(&slice, &findings).await;
        for key in keys.iter().filter(|k| !known.contains(k)) {
            // Out-of-scope keys open no incident and get no hop.
            if self.ledger.incident(key).await?.is_some() {
                self.alert_hop(key, delivery, alert, true).await?;
            }
        }
        result
    }

    /// `alert_firing` on an incident read from live objects: which delivery and alert, and
    /// whether this alert's sighting opened the incident.
    async fn alert_hop(
        &self,
        key: &str,
        delivery: &str,
        alert: &Alert,
        opened: bool,
    ) -> Result<(), RunError> {
        let hop = Hop::new(
            "alert_firing",
            json!({
                "delivery": delivery,
                "alert": alert.name(),
                "fingerprint": alert.fingerprint,
                "labels": alert.labels,
                "opened": opened,
                // What the verification evaluates in Prometheus over its window.
                "expression": alert.expression(),
            }),
        );
        Ok(self.ledger.append_hop(key, &hop, self.now()).await?)
    }

    /// An alert that leads to no fix: its own incident, escalated with its labels.
    async fn escalate_alert(
        &self,
        delivery: &str,
        alert: &Alert,
        why: &str,
    ) -> Result<(), RunError> {
        let now = self.now();
        let namespace = alert.labels.get("namespace").cloned().unwrap_or_default();
        let name = alert.name().to_string();
        let key = format!("{}/{namespace}/Alert/{name}/alert", self.cfg.cluster);
        let labels = json!(alert.labels);
        let new = NewIncident {
            key: key.clone(),
            fault: "alert".into(),
            cluster: self.cfg.cluster.clone(),
            namespace,
            kind: "Alert".into(),
            name,
            detail: json!({"labels": labels, "fingerprint": alert.fingerprint}),
        };
        let hop = Hop::new(
            "alert_firing",
            json!({"delivery": delivery, "alert": alert.name(), "labels": labels}),
        );
        self.ledger.open_incident(&new, &hop, now).await?;
        let Some(incident) = self.ledger.incident(&key).await? else {
            return Ok(());
        };
        let hop = Hop::new("escalated", json!({"reason": why, "labels": labels}));
        if incident.state == IncidentState::Escalated {
            self.ledger.append_hop(&key, &hop, now).await?;
        } else if let Err(e) = self
            .ledger
            .transition(&key, incident.state, IncidentState::Escalated, &hop, now)
            .await
            && !matches!(e, crate::ledger::LedgerError::StateConflict { .. })
        {
            return Err(e.into());
        }
        tracing::warn!(incident = %key, reason = why, "alert escalated");
        Ok(())
    }

    /// A resolved alert closes nothing by itself: it is a hop on the incidents it named.
    async fn resolved(&self, delivery: &str, alert: &Alert) -> Result<(), RunError> {
        let now = self.now();
        let namespace = alert.labels.get("namespace").cloned().unwrap_or_default();
        let target = alert.target();
        let hop = Hop::new(
            "alert_resolved",
            json!({"delivery": delivery, "alert": alert.name(), "labels": alert.labels}),
        );
        for incident in self.ledger.incidents(None, 1000).await? {
            let own = incident.kind == "Alert" && incident.name == alert.name();
            let names = target.as_ref().is_some_and(|t| {
                incident.name == t.name || t.name.starts_with(&format!("{}-", incident.name))
            });
            if incident.namespace == namespace && (own || names) {
                self.ledger.append_hop(&incident.key, &hop, now).await?;
            }
        }
        Ok(())
    }
}
