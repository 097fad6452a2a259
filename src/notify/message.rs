//! What an escalation notification says (pure): the ledger's records in, a Slack incoming-webhook
//! body or the generic JSON document out.

use serde::Serialize;
use serde_json::{Value, json};

use crate::incident::IncidentState;
use crate::ledger::{HopRecord, Incident, PullRequest};

/// Evidence rows in a notification: enough to orient, the ledger has the rest.
const EVIDENCE_ROWS: usize = 8;
/// Values copied from cluster objects are bounded.
const VALUE_CHARS: usize = 200;

/// One escalation, as its notification shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Escalation {
    pub incident: IncidentRef,
    pub reason: String,
    /// `(field, value)` rows of the incident's evidence, in its order.
    pub evidence: Vec<(String, String)>,
    pub links: Links,
    pub decide: String,
    /// 1 for the first notification of this escalation, 2 for its first repeat, ...
    pub attempt: i64,
    pub first_escalated_at: jiff::Timestamp,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IncidentRef {
    pub key: String,
    pub state: IncidentState,
    pub fault: String,
    pub namespace: String,
    pub kind: String,
    pub name: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Links {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident: Option<String>,
}

/// The reason an `escalated` hop gives: `reason` (alerts, verification) or the machine's `note`.
pub fn reason(hop: &HopRecord) -> String {
    ["reason", "note"]
        .iter()
        .find_map(|k| hop.detail.get(*k).and_then(Value::as_str))
        .unwrap_or("escalated without a recorded reason")
        .to_string()
}

/// The `(field, value)` rows of the incident's evidence (`detail.evidence`), bounded.
pub fn evidence_rows(incident: &Incident) -> Vec<(String, String)> {
    let Some(Value::Object(table)) = incident.detail.get("evidence") else {
        return Vec::new();
    };
    crate::detection::evidence::rows(table)
        .into_iter()
        .take(EVIDENCE_ROWS)
        .map(|(k, v)| (k, bounded(&v)))
        .collect()
}

fn bounded(text: &str) -> String {
    let mut out: String = text.chars().take(VALUE_CHARS).collect();
    if text.chars().count() > VALUE_CHARS {
        out.push('…');
    }
    out
}

/// The incident API URL under `public_url` (the key's slashes are path segments there).
pub fn incident_url(public_url: &str, key: &str) -> String {
    format!("{}/api/incidents/{key}", public_url.trim_end_matches('/'))
}

/// The newest pull request's URL, if any.
pub fn pull_request_url(prs: &[PullRequest]) -> Option<String> {
    prs.iter()
        .max_by_key(|p| (p.opened_at, p.number))
        .map(|p| p.url.clone())
}

/// What a human must decide, by where the incident stands.
pub fn decide(state: IncidentState, key: &str) -> String {
    let ack = format!("then acknowledge it (`suture ack {key}`) to stop these reminders");
    match state {
        IncidentState::Regressed | IncidentState::Reverted => format!(
            "suture's fix made things worse and is being reverted: decide whether the workload \
             needs another change, {ack}"
        ),
        IncidentState::StillFiring => format!(
            "the merged fix did not stop the fault: decide on a different fix (a leak, a wrong \
             limit, a bad image), {ack}"
        ),
        _ => format!(
            "suture will not change this workload on its own: decide the fix from the reason and \
             the evidence, {ack}"
        ),
    }
}

impl Escalation {
    /// Build the view from the ledger's records of one escalation.
    pub fn new(
        incident: &Incident,
        hop: &HopRecord,
        prs: &[PullRequest],
        public_url: Option<&str>,
        attempt: i64,
    ) -> Escalation {
        Escalation {
            incident: IncidentRef {
                key: incident.key.clone(),
                state: incident.state,
                fault: incident.fault.clone(),
                namespace: incident.namespace.clone(),
                kind: incident.kind.clone(),
                name: incident.name.clone(),
            },
            reason: reason(hop),
            evidence: evidence_rows(incident),
            links: Links {
                pull_request: pull_request_url(prs),
                incident: public_url.map(|u| incident_url(u, &incident.key)),
            },
            decide: decide(incident.state, &incident.key),
            attempt,
            first_escalated_at: hop.at,
        }
    }

    /// The generic JSON document (`kind: suture.escalation`).
    pub fn generic(&self) -> Value {
        let evidence: serde_json::Map<String, Value> = self
            .evidence
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        json!({
            "kind": "suture.escalation",
            "incident": self.incident,
            "reason": self.reason,
            "evidence": evidence,
            "links": self.links,
            "decide": self.decide,
            "attempt": self.attempt,
            "first_escalated_at": self.first_escalated_at,
        })
    }

    /// A Slack incoming-webhook body: `text` (the notification line, and what clients without
    /// blocks show) and `blocks`.
    pub fn slack(&self) -> Value {
        let i = &self.incident;
        let repeat = if self.attempt > 1 {
            format!(" (reminder {}, unacknowledged)", self.attempt - 1)
        } else {
            String::new()
        };
        let text = format!(
            "suture escalated {}/{} ({}){repeat}: {}",
            mrkdwn(&i.namespace),
            mrkdwn(&i.name),
            mrkdwn(&i.fault),
            mrkdwn(&self.reason)
        );
        let evidence = if self.evidence.is_empty() {
            "_none recorded_".to_string()
        } else {
            self.evidence
                .iter()
                // Slack reads `<!channel>` even inside a code span: escape there too.
                .map(|(k, v)| format!("• {}: `{}`", mrkdwn(k), mrkdwn(&v.replace('`', "'"))))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let mut links = Vec::new();
        if let Some(pr) = &self.links.pull_request {
            links.push(format!("<{}|pull request>", link_target(pr)));
        }
        if let Some(api) = &self.links.incident {
            links.push(format!("<{}|incident record>", link_target(api)));
        }
        let mut blocks = vec![
            json!({"type": "header", "text": {"type": "plain_text",
                "text": bounded_plain(&format!("Escalated: {}/{} {}", i.namespace, i.name, i.fault), 150)}}),
            json!({"type": "section", "fields": [
                {"type": "mrkdwn", "text": format!("*Incident*\n`{}`", mrkdwn(&i.key.replace('`', "'")))},
                {"type": "mrkdwn", "text": format!("*State*\n{}", i.state)},
                {"type": "mrkdwn", "text": format!("*Target*\n{} {}/{}", mrkdwn(&i.kind), mrkdwn(&i.namespace), mrkdwn(&i.name))},
                {"type": "mrkdwn", "text": format!("*Escalated at*\n{}", self.first_escalated_at)},
            ]}),
            json!({"type": "section", "text": {"type": "mrkdwn",
                "text": format!("*Reason*\n{}", mrkdwn(&self.reason))}}),
            json!({"type": "section", "text": {"type": "mrkdwn",
                "text": format!("*Evidence*\n{evidence}")}}),
            json!({"type": "section", "text": {"type": "mrkdwn",
                "text": format!("*To decide*\n{}", mrkdwn(&self.decide))}}),
        ];
        if !links.is_empty() {
            blocks.push(json!({"type": "context", "elements": [
                {"type": "mrkdwn", "text": links.join(" · ")}
            ]}));
        }
        json!({ "text": text, "blocks": blocks })
    }
}

/// Slack's mrkdwn escaping: `&`, `<`, `>` (so no `<!channel>` mention or link from copied text).
fn mrkdwn(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A URL inside `<url|label>`: the characters that would end the link are escaped.
fn link_target(url: &str) -> String {
    url.replace('|', "%7C")
        .replace('>', "%3E")
        .replace('<', "%3C")
}

/// Slack rejects header text over 150 characters.
fn bounded_plain(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_764_000_000 + s).unwrap_or_default()
    }

    fn incident() -> Incident {
        Incident {
            key: "prod/payments/Deployment/checkout-api/oom-killed".into(),
            state: IncidentState::Escalated,
            fault: "oom-killed".into(),
            cluster: "prod".into(),
            namespace: "payments".into(),
            kind: "Deployment".into(),
            name: "checkout-api".into(),
            detail: json!({"evidence": {"container": "web", "limit": "512Mi",
                                        "message": "<!channel> & friends"}}),
            opened_at: t(0),
            updated_at: t(60),
        }
    }

    fn hop() -> HopRecord {
        HopRecord {
            id: 7,
            at: t(60),
            kind: "escalated".into(),
            from_state: Some(IncidentState::Open),
            to_state: Some(IncidentState::Escalated),
            detail: json!({"note": "no memory limit set"}),
        }
    }

    fn pr() -> PullRequest {
        PullRequest {
            incident_key: incident().key,
            forge: "github".into(),
            repo: "org/gitops".into(),
            number: 7,
            url: "https://github.com/org/gitops/pull/7".into(),
            head_branch: "suture/x".into(),
            state: "closed".into(),
            merge_sha: None,
            opened_at: t(30),
            updated_at: t(40),
        }
    }

    #[test]
    fn the_generic_document_carries_incident_reason_evidence_links_and_decision() {
        let e = Escalation::new(
            &incident(),
            &hop(),
            &[pr()],
            Some("https://suture.example.com/"),
            2,
        );
        let doc = e.generic();
        assert_eq!(doc["kind"], "suture.escalation");
        assert_eq!(doc["incident"]["key"], incident().key);
        assert_eq!(doc["incident"]["state"], "escalated");
        assert_eq!(doc["incident"]["kind"], "Deployment");
        assert_eq!(doc["reason"], "no memory limit set");
        assert_eq!(doc["evidence"]["limit"], "512Mi");
        assert_eq!(
            doc["links"]["pull_request"],
            "https://github.com/org/gitops/pull/7"
        );
        assert_eq!(
            doc["links"]["incident"],
            "https://suture.example.com/api/incidents/prod/payments/Deployment/checkout-api/oom-killed"
        );
        assert!(
            doc["decide"]
                .as_str()
                .is_some_and(|d| d.contains("suture ack prod/payments"))
        );
        assert_eq!(doc["attempt"], 2);
        assert_eq!(doc["first_escalated_at"], t(60).to_string());
    }

    #[test]
    fn slack_text_and_blocks_escape_copied_text_and_link_the_records() {
        let mut hop = hop();
        hop.detail = json!({"reason": "alert <b>Fired</b>", "note": "ignored"});
        let body = Escalation::new(&incident(), &hop, &[pr()], Some("http://s:8080"), 1).slack();
        let text = body["text"].as_str().unwrap_or_default();
        assert_eq!(
            text,
            "suture escalated payments/checkout-api (oom-killed): alert &lt;b&gt;Fired&lt;/b&gt;"
        );
        let all = body["blocks"].to_string();
        assert!(!all.contains("<!channel>"), "{all}");
        assert!(all.contains("&lt;!channel&gt; &amp; friends"), "{all}");
        assert!(all.contains("<https://github.com/org/gitops/pull/7|pull request>"));
        assert!(all.contains(
            "<http://s:8080/api/incidents/prod/payments/Deployment/checkout-api/oom-killed|incident record>"
        ));
        assert!(all.contains("*To decide*"));
        assert_eq!(body["blocks"][0]["type"], "header");
    }

    #[test]
    fn repeats_say_so_and_a_bare_escalation_still_reads() {
        let mut inc = incident();
        inc.detail = json!({});
        let mut hop = hop();
        hop.detail = json!({});
        let e = Escalation::new(&inc, &hop, &[], None, 3);
        let body = e.slack();
        assert!(
            body["text"]
                .as_str()
                .is_some_and(|t| t.contains("(reminder 2, unacknowledged)"))
        );
        assert!(body["blocks"].to_string().contains("_none recorded_"));
        assert_eq!(e.links, Links::default());
        assert_eq!(e.reason, "escalated without a recorded reason");
        assert!(
            e.generic()["links"]
                .as_object()
                .is_some_and(|m| m.is_empty())
        );
    }

    #[test]
    fn decisions_follow_the_state() {
        assert!(decide(IncidentState::Regressed, "k").contains("worse"));
        assert!(decide(IncidentState::StillFiring, "k").contains("did not stop"));
        assert!(decide(IncidentState::Escalated, "k").contains("suture ack k"));
    }
}
