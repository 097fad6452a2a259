//! A blameless postmortem in Markdown from the ledger's record of one incident: what happened
//! and when, on what evidence, what changed and why, and how long each step took. It says what
//! the system did; it names no one but the acknowledger the ledger recorded.

use serde_json::Value;

use super::{Record, human, summary, times, transition};
use crate::ledger::HopRecord;

const CELL_CHARS: usize = 300;

/// Text from the cluster or the ledger inside a Markdown table cell: no pipes, no line breaks,
/// no HTML, bounded.
fn cell(text: &str) -> String {
    let mut out = String::new();
    for (n, c) in text.chars().enumerate() {
        if n == CELL_CHARS {
            out.push('…');
            break;
        }
        match c {
            '|' => out.push_str("\\|"),
            '\n' | '\r' => out.push(' '),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '`' => out.push('\''),
            c => out.push(c),
        }
    }
    out
}

/// A fenced block that no backtick run in `text` can close early.
fn fenced(lang: &str, text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}{lang}\n{}\n{fence}\n", text.trim_end_matches('\n'))
}

fn text_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn outcome(r: &Record) -> &'static str {
    use crate::incident::IncidentState as S;
    match r.incident.state {
        S::Resolved => "The fix was merged, deployed and verified: the incident is resolved.",
        S::Reverted => "The fix made things worse and was reverted.",
        S::Regressed => "The fix made things worse; automation is held until a human acknowledges.",
        S::Reverting => {
            "The fix made things worse; suture's revert is out for review or being verified."
        }
        S::StillFiring => "The fix was merged but the fault recurred.",
        S::Escalated => "suture did not change the workload on its own: a human decides.",
        S::Declined => "The pull request was closed without merge.",
        S::Merged | S::Verifying => "The fix is merged; verification has not concluded.",
        S::PrOpen | S::Proposed => "A fix is proposed and awaits review.",
        S::Applied => "The fix was applied directly (the guarded direct rail).",
        S::Open => "The fault is recorded; nothing has been proposed yet.",
    }
}

/// The postmortem document.
pub fn markdown(r: &Record) -> String {
    let i = &r.incident;
    let mut md = format!(
        "# Postmortem: {} {}/{} ({})\n\n\
         _A blameless record written by suture from its ledger. Times are UTC._\n\n## Summary\n\n",
        cell(&i.kind),
        cell(&i.namespace),
        cell(&i.name),
        cell(&i.fault)
    );
    md.push_str(&format!(
        "- Incident: `{}`\n- Target: {} {}/{} in cluster {}\n- Fault: {}\n- State: {}\n\
         - Opened: {}; last updated: {}\n",
        i.key.replace('`', "'"),
        cell(&i.kind),
        cell(&i.namespace),
        cell(&i.name),
        cell(&i.cluster),
        cell(&i.fault),
        i.state,
        i.opened_at,
        i.updated_at
    ));
    for p in &r.pull_requests {
        md.push_str(&format!(
            "- Pull request: [{} #{}]({}) ({})\n",
            cell(&p.repo),
            p.number,
            p.url.replace(['(', ')', ' '], ""),
            p.state
        ));
    }
    md.push_str(&format!("\n{}\n", outcome(r)));

    let t = times(r);
    md.push_str("\n## Time to\n\n| milestone | since detection |\n| --- | --- |\n");
    md.push_str(&format!(
        "| pull request | {} |\n| merge | {} |\n| resolved | {} |\n",
        human(t.to_pr),
        human(t.to_merge),
        human(t.to_resolved)
    ));

    md.push_str("\n## Timeline\n\n| time | event | state | detail |\n| --- | --- | --- | --- |\n");
    for h in &r.hops {
        md.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            h.at,
            cell(&h.kind),
            transition(h),
            cell(&summary(&h.detail))
        ));
    }

    md.push_str("\n## Evidence\n\n");
    let evidence = i
        .detail
        .get("evidence")
        .or_else(|| first_with(r, "evidence").and_then(|h| h.detail.get("evidence")));
    match evidence {
        Some(Value::Object(table)) if !table.is_empty() => {
            md.push_str("| field | value |\n| --- | --- |\n");
            for (k, v) in crate::detection::evidence::rows(table) {
                md.push_str(&format!("| {} | {} |\n", cell(&k), cell(&v)));
            }
        }
        _ => md.push_str("No evidence recorded.\n"),
    }

    md.push_str("\n## The change and its basis\n\n");
    match last_with(r, "diff") {
        Some(h) => {
            let d = &h.detail;
            if let Some(change) = text_of(d.get("change")) {
                md.push_str(&format!("- Change: {}\n", cell(&change)));
            }
            if let Some(basis) = text_of(d.get("basis")) {
                md.push_str(&format!("- Basis: {}\n", cell(&basis)));
            }
            if let Some(rollback) = text_of(d.get("rollback")) {
                md.push_str(&format!("- Rollback: {}\n", cell(&rollback)));
            }
            if let Some(commit) = text_of(d.get("commit")) {
                md.push_str(&format!("- Commit: `{}`\n", commit.replace('`', "'")));
            }
            if let Some(diff) = text_of(d.get("diff")) {
                md.push('\n');
                md.push_str(&fenced("diff", &diff));
            }
        }
        None => md.push_str("No change was made.\n"),
    }

    section(&mut md, "Checks", "No checks recorded.", r, |h| {
        h.detail.get("checks").is_some() || h.kind.starts_with("check")
    });
    section(
        &mut md,
        "Verification",
        "No verification recorded.",
        r,
        |h| {
            h.kind.starts_with("verif")
                || matches!(h.kind.as_str(), "deploy_seen" | "status_posted")
                || h.detail.get("verdict").is_some()
        },
    );
    section(&mut md, "Revert", "No revert.", r, |h| {
        h.kind.contains("revert")
    });
    section(
        &mut md,
        "Escalations and acknowledgements",
        "None.",
        r,
        |h| h.kind == "escalated" || h.kind == "acknowledged",
    );
    md
}

fn first_with<'a>(r: &'a Record, key: &str) -> Option<&'a HopRecord> {
    r.hops.iter().find(|h| h.detail.get(key).is_some())
}

fn last_with<'a>(r: &'a Record, key: &str) -> Option<&'a HopRecord> {
    r.hops.iter().rev().find(|h| h.detail.get(key).is_some())
}

/// A section listing the hops `hit` picks; check results are tabled when hops carry them.
fn section(md: &mut String, title: &str, none: &str, r: &Record, hit: impl Fn(&HopRecord) -> bool) {
    md.push_str(&format!("\n## {title}\n\n"));
    let hops: Vec<&HopRecord> = r.hops.iter().filter(|h| hit(h)).collect();
    if hops.is_empty() {
        md.push_str(none);
        md.push('\n');
        return;
    }
    for h in hops {
        let line = summary(&h.detail);
        md.push_str(&format!("- {} {}", h.at, cell(&h.kind)));
        if !line.is_empty() {
            md.push_str(&format!(": {}", cell(&line)));
        }
        md.push('\n');
        if let Some(Value::Array(checks)) = h.detail.get("checks") {
            md.push_str("\n| check | result | detail |\n| --- | --- | --- |\n");
            for c in checks {
                let field = |names: &[&str]| {
                    names
                        .iter()
                        .find_map(|n| text_of(c.get(*n)))
                        .unwrap_or_default()
                };
                md.push_str(&format!(
                    "| {} | {} | {} |\n",
                    cell(&field(&["name", "check"])),
                    cell(&field(&["result", "status", "outcome", "passed"])),
                    cell(&field(&["detail", "message", "reason"]))
                ));
            }
            md.push('\n');
        }
    }
}
