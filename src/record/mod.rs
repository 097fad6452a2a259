//! The incident record (pure): what `suture incidents list` and `suture incidents show` print,
//! from the ledger's rows. Text for people, JSON in the shape of `GET /api/incidents/{key}`,
//! and a blameless postmortem in Markdown ([`postmortem`]).

pub mod postmortem;

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use crate::ledger::{HopRecord, Incident, PullRequest};
use crate::server::api::{HopView, IncidentDetail, IncidentSummary, PullRequestView};

/// One incident with everything the ledger holds about it.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub incident: Incident,
    /// Oldest first.
    pub hops: Vec<HopRecord>,
    pub pull_requests: Vec<PullRequest>,
}

/// Detail keys worth a word on a timeline line, in this order; the bulky ones (evidence, diff)
/// stay in the ledger.
const SUMMARY_KEYS: &[&str] = &[
    "reason", "note", "change", "verdict", "by", "kind", "number", "app", "mode", "outcome",
    "branch", "commit", "why", "until", "authors",
];
const LINE_CHARS: usize = 160;

/// The incident list: one line per incident, newest update first (as the ledger returns them).
pub fn list_text(incidents: &[Incident]) -> String {
    if incidents.is_empty() {
        return "no incidents\n".to_string();
    }
    let width = incidents
        .iter()
        .map(|i| i.state.as_str().len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for i in incidents {
        out.push_str(&format!(
            "{}  {:<width$}  {}\n",
            i.updated_at, i.state, i.key
        ));
    }
    out
}

pub fn list_json(incidents: &[Incident]) -> Value {
    let list: Vec<IncidentSummary> = incidents.iter().map(IncidentSummary::from).collect();
    serde_json::to_value(list).unwrap_or(Value::Null)
}

/// The same document `GET /api/incidents/{key}` answers.
pub fn show_json(r: &Record) -> Value {
    let detail = IncidentDetail {
        summary: IncidentSummary::from(&r.incident),
        cluster: r.incident.cluster.clone(),
        pull_requests: r
            .pull_requests
            .iter()
            .cloned()
            .map(PullRequestView::from)
            .collect(),
        hops: r.hops.iter().cloned().map(HopView::from).collect(),
    };
    serde_json::to_value(detail).unwrap_or(Value::Null)
}

/// The incident and its full timeline, for a terminal.
pub fn show_text(r: &Record) -> String {
    let i = &r.incident;
    let mut out = format!(
        "incident  {}\nstate     {}\nfault     {}\ntarget    {} {}/{} (cluster {})\nopened    {}\nupdated   {}\n",
        i.key, i.state, i.fault, i.kind, i.namespace, i.name, i.cluster, i.opened_at, i.updated_at
    );
    if !r.pull_requests.is_empty() {
        out.push_str("pull requests\n");
        for p in &r.pull_requests {
            out.push_str(&format!(
                "  {} {} #{} {} {}\n",
                p.forge, p.repo, p.number, p.state, p.url
            ));
        }
    }
    out.push_str("timeline\n");
    let width = r.hops.iter().map(|h| h.kind.len()).max().unwrap_or(0);
    for h in &r.hops {
        let line = format!(
            "  {}  {:<width$}  {:<24}  {}",
            h.at,
            h.kind,
            transition(h),
            summary(&h.detail)
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `open -> escalated`, `-> open` for the first hop, empty when the state did not change.
pub fn transition(h: &HopRecord) -> String {
    match (h.from_state, h.to_state) {
        (Some(from), Some(to)) => format!("{from} -> {to}"),
        (None, Some(to)) => format!("-> {to}"),
        _ => String::new(),
    }
}

/// A hop's detail in one bounded line: its telling fields as `key=value`.
pub fn summary(detail: &Value) -> String {
    let Value::Object(map) = detail else {
        return String::new();
    };
    let parts: Vec<String> = SUMMARY_KEYS
        .iter()
        .filter_map(|k| match map.get(*k) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(format!("{k}={s}")),
            Some(v) => Some(format!("{k}={v}")),
        })
        .collect();
    let line = parts.join(" ").replace(['\n', '\r'], " ");
    if line.chars().count() > LINE_CHARS {
        let mut cut: String = line.chars().take(LINE_CHARS).collect();
        cut.push('…');
        cut
    } else {
        line
    }
}

/// The first hop that brought the incident to a state (or had a kind), after detection.
fn first(r: &Record, hit: impl Fn(&HopRecord) -> bool) -> Option<Timestamp> {
    r.hops.iter().find(|h| hit(h)).map(|h| h.at)
}

/// Detection to pull request, to merge and to resolved: `None` when not reached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Times {
    pub to_pr: Option<SignedDuration>,
    pub to_merge: Option<SignedDuration>,
    pub to_resolved: Option<SignedDuration>,
}

pub fn times(r: &Record) -> Times {
    use crate::incident::IncidentState as S;
    let since = |t: Option<Timestamp>| t.map(|t| t.duration_since(r.incident.opened_at));
    Times {
        to_pr: since(first(r, |h| {
            h.kind == "pr_opened" || h.to_state == Some(S::PrOpen)
        })),
        to_merge: since(first(r, |h| h.to_state == Some(S::Merged))),
        to_resolved: since(first(r, |h| h.to_state == Some(S::Resolved))),
    }
}

/// `45s`, `3m 20s`, `2h 5m`, `1d 3h`; `n/a` for a milestone not reached.
pub fn human(d: Option<SignedDuration>) -> String {
    let Some(d) = d else {
        return "n/a".to_string();
    };
    let s = d.as_secs().max(0);
    let (days, hours, mins, secs) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    match (days, hours, mins) {
        (0, 0, 0) => format!("{secs}s"),
        (0, 0, _) => format!("{mins}m {secs}s"),
        (0, _, _) => format!("{hours}h {mins}m"),
        _ => format!("{days}d {hours}h"),
    }
}

#[cfg(test)]
mod tests;
