//! Human-readable text of a plan, for the terminal.

use std::fmt::Write;

use crate::plan::Plan;

pub fn text(plan: &Plan) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "findings: {}", plan.findings.len());
    for f in &plan.findings {
        let place = match (&f.pod, &f.container) {
            (Some(p), Some(c)) => format!("pod {p} container {c}"),
            (Some(p), None) => format!("pod {p}"),
            _ => format!("{} {}", f.subject.kind, f.subject.name),
        };
        let ns = if f.namespace.is_empty() {
            "-"
        } else {
            &f.namespace
        };
        let _ = writeln!(
            s,
            "  {:<30} {ns}  {}/{}  {place}",
            f.fault, f.owner.kind, f.owner.name
        );
    }
    let _ = writeln!(s, "\nproposals: {}", plan.proposals.len());
    for p in &plan.proposals {
        let d = &p.draft;
        let _ = writeln!(s, "\n  {}", d.title());
        let _ = writeln!(s, "    key:        {}", d.key);
        let _ = writeln!(
            s,
            "    primitive:  {} ({} rail)",
            d.primitive.as_str(),
            rail(d.rail)
        );
        let _ = writeln!(
            s,
            "    change:     {}: {} -> {}",
            d.change.field, d.change.from, d.change.to
        );
        for also in &d.also {
            let _ = writeln!(
                s,
                "    and:        {}: {} -> {}",
                also.field, also.from, also.to
            );
        }
        let _ = writeln!(s, "    basis:      {}", d.basis);
        let _ = writeln!(s, "    rollback:   {}", d.rollback.description);
        let _ = writeln!(s, "    confidence: {}", d.confidence);
        match &p.application {
            Some(a) => {
                let _ = writeln!(s, "    argo cd:    {}/{}", a.namespace, a.name);
            }
            None => {
                let _ = writeln!(s, "    argo cd:    none found");
            }
        }
        if let Some(location) = &p.location {
            let _ = writeln!(s, "    location:   {location}");
        }
        if let Some(note) = &p.note {
            let _ = writeln!(s, "    note:       {note}");
        }
        if let Some(diff) = &p.diff {
            let _ = writeln!(s, "    diff:");
            for line in diff.lines() {
                let _ = writeln!(s, "      {line}");
            }
        }
    }
    let _ = writeln!(s, "\nescalations: {}", plan.escalations.len());
    for e in &plan.escalations {
        let _ = writeln!(s, "  {}\n    {}", e.key, e.reason);
        // The evidence as a two-column table, labels aligned.
        let rows = crate::detection::evidence::rows(&e.evidence);
        let width = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
        for (label, value) in rows {
            let _ = writeln!(s, "      {label:<width$}  {value}");
        }
    }
    for w in &plan.warnings {
        let _ = writeln!(s, "warning: {w}");
    }
    s
}

fn rail(r: crate::proposal::Rail) -> &'static str {
    match r {
        crate::proposal::Rail::PullRequest => "pull-request",
        crate::proposal::Rail::DirectApply => "direct-apply",
        crate::proposal::Rail::EscalateOnly => "escalate-only",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detection::FaultId;
    use crate::proposal::Escalation;

    #[test]
    fn an_escalation_shows_its_evidence_as_an_aligned_table() {
        let mut evidence = crate::detection::evidence::Table::new();
        evidence.insert("container".into(), "web".into());
        evidence.insert("restart_count".into(), 5.into());
        evidence.insert("finalizers".into(), serde_json::json!(["a/b"]));
        let plan = Plan {
            escalations: vec![Escalation {
                key: "default/shop/Deployment/web/container-error-exit"
                    .parse()
                    .unwrap(),
                fault: FaultId::ContainerErrorExit,
                reason: "container web exits with code 1".into(),
                evidence,
            }],
            ..Plan::default()
        };
        let text = text(&plan);
        let expected = "escalations: 1\n  default/shop/Deployment/web/container-error-exit\n    container web exits with code 1\n      container      web\n      restart_count  5\n      finalizers     [\"a/b\"]\n";
        assert!(text.contains(expected), "{text}");
    }
}
