//! Alertmanager webhooks (payload version 4): which objects an alert names, and the facts of the
//! alert itself. Pure. The alert never supplies evidence: its labels only say where to look, and
//! the evidence is read from the live objects they name.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::objref::WorkloadKind;

/// Why a payload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlertError {
    #[error("malformed Alertmanager payload: {0}")]
    Malformed(String),
    #[error("unsupported Alertmanager payload version {0:?} (suture reads version 4)")]
    Version(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    Firing,
    Resolved,
}

/// One alert of a notification, as Alertmanager sent it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    pub status: AlertStatus,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    pub starts_at: jiff::Timestamp,
    /// `0001-01-01T00:00:00Z` while firing.
    #[serde(default)]
    pub ends_at: Option<jiff::Timestamp>,
    #[serde(rename = "generatorURL", default)]
    pub generator_url: String,
    #[serde(default)]
    pub fingerprint: String,
}

/// A notification: one group of alerts.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub version: String,
    #[serde(default)]
    pub receiver: String,
    pub status: AlertStatus,
    #[serde(default)]
    pub group_key: String,
    #[serde(default)]
    pub external_url: String,
    pub alerts: Vec<Alert>,
    #[serde(default)]
    pub truncated_alerts: u64,
}

/// Parse a webhook body. Only version 4 (every Alertmanager since 0.7) is read.
pub fn parse(body: &[u8]) -> Result<Notification, AlertError> {
    #[derive(Deserialize)]
    struct Probe {
        version: Option<String>,
    }
    let probe: Probe =
        serde_json::from_slice(body).map_err(|e| AlertError::Malformed(e.to_string()))?;
    match probe.version.as_deref() {
        Some("4") => {}
        Some(v) => return Err(AlertError::Version(v.to_string())),
        None => return Err(AlertError::Malformed("missing `version`".into())),
    }
    serde_json::from_slice(body).map_err(|e| AlertError::Malformed(e.to_string()))
}

/// The workload-level object an alert's labels name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertTarget {
    pub namespace: String,
    /// `Pod`, `Deployment`, `StatefulSet`, `DaemonSet`, `Job`, `CronJob` or `ReplicaSet`.
    pub kind: WorkloadKind,
    pub name: String,
    /// The `container` label, when the alert names one.
    pub container: Option<String>,
}

/// Labels that name an object, most specific first: a pod label wins over its workload's.
/// These are the label names kube-state-metrics and the kubernetes-mixin alerts use.
const OBJECT_LABELS: [(&str, WorkloadKind); 7] = [
    ("pod", WorkloadKind::Pod),
    ("job_name", WorkloadKind::Job),
    ("replicaset", WorkloadKind::ReplicaSet),
    ("deployment", WorkloadKind::Deployment),
    ("statefulset", WorkloadKind::StatefulSet),
    ("daemonset", WorkloadKind::DaemonSet),
    ("cronjob", WorkloadKind::CronJob),
];

impl Alert {
    /// The object the labels name, or `None` when they name none (no namespace, or no object
    /// label): such an alert is escalated with its labels, never guessed into a fix.
    pub fn target(&self) -> Option<AlertTarget> {
        let namespace = self.labels.get("namespace").filter(|n| !n.is_empty())?;
        let (kind, name) = OBJECT_LABELS.iter().find_map(|(label, kind)| {
            self.labels
                .get(*label)
                .filter(|v| !v.is_empty())
                .map(|v| (*kind, v.clone()))
        })?;
        Some(AlertTarget {
            namespace: namespace.clone(),
            kind,
            name,
            container: self
                .labels
                .get("container")
                .filter(|c| !c.is_empty())
                .cloned(),
        })
    }

    pub fn name(&self) -> &str {
        self.labels.get("alertname").map_or("", String::as_str)
    }

    /// The PromQL expression that fired, decoded from Prometheus's `generatorURL`
    /// (`/graph?g0.expr=<urlencoded>&g0.tab=1`).
    pub fn expression(&self) -> Option<String> {
        let query = self.generator_url.split_once('?')?.1;
        form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "g0.expr")
            .map(|(_, v)| v.into_owned())
            .filter(|e| !e.is_empty())
    }

    /// Alertmanager writes the zero time for "not ended".
    pub fn ended(&self) -> Option<jiff::Timestamp> {
        self.ends_at
            .filter(|t| t.as_second() > 0 || self.status == AlertStatus::Resolved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/alertmanager/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn notification(name: &str) -> Notification {
        parse(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    #[test]
    fn oom_alert_names_the_pod_and_container() {
        let n = notification("pod-oom-killed.firing.json");
        assert_eq!(n.status, AlertStatus::Firing);
        assert_eq!(n.receiver, "suture");
        let [alert] = n.alerts.as_slice() else {
            panic!("one alert expected, got {}", n.alerts.len());
        };
        assert_eq!(alert.name(), "PodOOMKilled");
        assert_eq!(
            alert.target(),
            Some(AlertTarget {
                namespace: "payments".into(),
                kind: WorkloadKind::Pod,
                name: "checkout-api-7d9f8c6b5d-x2k4p".into(),
                container: Some("checkout-api".into()),
            })
        );
        assert_eq!(
            alert.expression().as_deref(),
            Some(
                "kube_pod_container_status_restarts_total{namespace=\"payments\"} > 0 and on (pod) kube_pod_container_status_last_terminated_reason{reason=\"OOMKilled\"} == 1"
            )
        );
        assert_eq!(alert.ended(), None);
        assert_eq!(alert.starts_at.to_string(), "2026-11-22T10:54:04.958Z");
    }

    #[test]
    fn resolved_alert_has_an_end() {
        let n = notification("pod-oom-killed.resolved.json");
        assert_eq!(n.status, AlertStatus::Resolved);
        assert!(n.alerts.iter().all(|a| a.status == AlertStatus::Resolved));
        assert!(n.alerts.iter().all(|a| a.ended().is_some()));
    }

    #[test]
    fn crash_loop_alert_maps_too() {
        let n = notification("kube-pod-crash-looping.firing.json");
        assert!(!n.alerts.is_empty());
        for a in &n.alerts {
            let t = a
                .target()
                .unwrap_or_else(|| panic!("no target in {:?}", a.labels));
            assert_eq!(t.kind, WorkloadKind::Pod);
            assert!(
                a.expression()
                    .is_some_and(|e| e.contains("CrashLoopBackOff"))
            );
        }
    }

    #[test]
    fn workload_labels_and_unresolvable_alerts() {
        let alert = |labels: &[(&str, &str)]| Alert {
            status: AlertStatus::Firing,
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            annotations: BTreeMap::new(),
            starts_at: jiff::Timestamp::UNIX_EPOCH,
            ends_at: None,
            generator_url: String::new(),
            fingerprint: String::new(),
        };
        let t = alert(&[("namespace", "shop"), ("deployment", "web")]).target();
        assert_eq!(
            t.map(|t| (t.kind, t.name)),
            Some((WorkloadKind::Deployment, "web".into()))
        );
        let t = alert(&[("namespace", "batch"), ("job_name", "nightly-123")]).target();
        assert_eq!(t.map(|t| t.kind), Some(WorkloadKind::Job));
        // The pod is more specific than the workload it belongs to.
        let t = alert(&[
            ("namespace", "shop"),
            ("statefulset", "db"),
            ("pod", "db-0"),
        ])
        .target();
        assert_eq!(
            t.map(|t| (t.kind, t.name)),
            Some((WorkloadKind::Pod, "db-0".into()))
        );
        // No namespace, or no object: nothing to look at.
        assert_eq!(alert(&[("pod", "x")]).target(), None);
        assert_eq!(
            alert(&[("namespace", "shop"), ("node", "n1")]).target(),
            None
        );
        assert_eq!(alert(&[("namespace", "shop"), ("pod", "")]).target(), None);
        assert_eq!(alert(&[]).expression(), None);
    }

    #[test]
    fn bad_payloads_are_refused_clearly() {
        assert!(matches!(parse(b"{"), Err(AlertError::Malformed(_))));
        assert!(matches!(parse(b"[]"), Err(AlertError::Malformed(_))));
        assert_eq!(
            parse(br#"{"version":"3","status":"firing","alerts":[]}"#),
            Err(AlertError::Version("3".into()))
        );
        assert!(matches!(
            parse(br#"{"version":"4","status":"firing"}"#),
            Err(AlertError::Malformed(m)) if m.contains("alerts")
        ));
        assert!(matches!(
            parse(br#"{"version":"4","status":"burning","alerts":[]}"#),
            Err(AlertError::Malformed(_))
        ));
    }
}
