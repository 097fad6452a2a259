use super::*;

fn view() -> PullRequestView {
    PullRequestView {
        incident_key: "prod/payments/Deployment/checkout-api/oom-killed".into(),
        fault: "oom-killed".into(),
        fault_doc: "https://example.com/suture/docs/faults.md#oom-killed".into(),
        kind: "Deployment".into(),
        namespace: "payments".into(),
        name: "checkout-api".into(),
        container: "api".into(),
        summary: "raise memory limit 512Mi -> 640Mi".into(),
        root_cause: "Container api was OOMKilled (exit 137) 4 times at its 512Mi limit".into(),
        evidence: vec![
            ("reason".into(), "OOMKilled".into()),
            ("restarts".into(), "4".into()),
        ],
        basis: "max(512Mi x 1.2, 512Mi + 100Mi) = 614.4Mi, rounded up to 640Mi".into(),
        confidence: "est. 80% (OOM at the limit)".into(),
        changes: vec![ChangeView {
            field: "spec.template.spec.containers[name=api].resources.limits.memory".into(),
            from: "512Mi".into(),
            to: "640Mi".into(),
        }],
        rollback: vec![ChangeView {
            field: "spec.template.spec.containers[name=api].resources.limits.memory".into(),
            from: "640Mi".into(),
            to: "512Mi".into(),
        }],
        rollback_description: "set the memory limit back to 512Mi".into(),
        application: "argocd/payments".into(),
        file: "payments/deployment.yaml".into(),
        sync: "Auto-sync of argocd/payments is paused until 2026-12-02T10:00:00Z.".into(),
        verification: "After the merge is deployed, suture watches new pods for 10 minutes.".into(),
        checks: vec![CheckView {
            name: "limit_range".into(),
            result: "passed".into(),
            detail: "within memory max 1Gi (caps)".into(),
        }],
        machine: serde_json::json!({
            "incident": "prod/payments/Deployment/checkout-api/oom-killed",
            "rollback": [{"field": "limits.memory", "value": "512Mi"}],
        }),
    }
}

#[test]
fn title_follows_the_design() {
    let t = Templates::bundled();
    assert_eq!(
        t.title(&view()).unwrap_or_default(),
        "fix(payments/checkout-api): raise memory limit 512Mi -> 640Mi"
    );
}

#[test]
fn body_has_every_section_and_the_machine_block() {
    let body = Templates::bundled()
        .body(&view())
        .unwrap_or_else(|e| panic!("{e}"));
    for section in [
        "## Root cause",
        "## Evidence",
        "## Change",
        "## Basis",
        "## Checks",
        "## Rollback",
        "## Incident",
        "## Argo CD sync",
        "## Verification",
    ] {
        assert!(body.contains(section), "{section} missing:\n{body}");
    }
    assert!(body.contains("| restarts | `4` |"), "{body}");
    assert!(
        body.contains("| limit\\_range | passed | within memory max 1Gi (caps) |"),
        "{body}"
    );
    assert!(
        body.contains(
            "| `spec.template.spec.containers[name=api].resources.limits.memory` | `512Mi` | `640Mi` |"
        ),
        "{body}"
    );
    assert_eq!(machine_block(&body), Some(view().machine));
}

#[test]
fn commit_message_ends_with_the_incident_trailer() {
    let msg = Templates::bundled()
        .render("commit-message.txt", &view())
        .unwrap_or_default();
    assert!(msg.starts_with("fix(payments/checkout-api): raise memory limit 512Mi -> 640Mi\n\n"));
    assert_eq!(
        msg.trim_end().lines().last(),
        Some("Incident: prod/payments/Deployment/checkout-api/oom-killed")
    );
}

#[test]
fn cluster_text_cannot_inject_markdown_html_or_mentions() {
    let mut v = view();
    let hostile = "boom <img src=x onerror=alert(1)> @octocat **bold** [link](http://evil) | col\nnext line -->";
    v.root_cause = hostile.into();
    v.evidence = vec![("message".into(), hostile.into())];
    v.checks[0].detail = hostile.into();
    v.machine = serde_json::json!({"note": hostile});
    let body = Templates::bundled()
        .body(&v)
        .unwrap_or_else(|e| panic!("{e}"));
    // Outside code spans (which Markdown shows verbatim and never links) and the hidden block
    // (an HTML comment, never shown) nothing is live.
    let shown = &body[..body.find(MACHINE_OPEN).unwrap_or(body.len())];
    let prose = outside_code_spans(shown);
    assert!(!prose.contains("<img"), "{prose}");
    assert!(!prose.contains("@octocat"), "{prose}");
    assert!(!prose.contains("**bold**"), "{prose}");
    assert!(!prose.contains("[link](http://evil)"), "{prose}");
    // The hidden block closes where suture closed it; the hostile text reads back intact.
    let block = &body[body.find(MACHINE_OPEN).unwrap_or(0)..];
    assert_eq!(block.matches("-->").count(), 1, "{block}");
    assert_eq!(machine_block(&body), Some(v.machine.clone()));
    // In the table the value is a code span with its pipe escaped, on one line.
    let row = body
        .lines()
        .find(|l| l.starts_with("| message |"))
        .unwrap_or_default();
    assert!(row.contains("\\| col next line"), "{row}");
    assert!(row.ends_with("` |"), "{row}");
    let title = Templates::bundled().title(&v).unwrap_or_default();
    assert!(!title.contains('\n'));
}

#[test]
fn values_are_bounded() {
    let mut v = view();
    v.root_cause = "x".repeat(10_000);
    let body = Templates::bundled().body(&v).unwrap_or_default();
    let line = body
        .lines()
        .find(|l| l.starts_with("xxx"))
        .unwrap_or_default();
    assert!(
        line.chars().count() < MAX_VALUE_CHARS + 100,
        "{}",
        line.len()
    );
    assert!(line.contains('…'));
}

#[test]
fn escaping_helpers() {
    assert_eq!(escape_markdown("a_b*c", 100), "a\\_b\\*c");
    assert_eq!(escape_markdown("@team", 100), "@&#8203;team");
    assert_eq!(escape_markdown("abcdef", 3), "abc…");
    // Punctuation inside a line stays as written; what would start a block is escaped.
    assert_eq!(
        escape_markdown("pod checkout-api-7d9: oom-killed (exit 137).", 100),
        "pod checkout-api-7d9: oom-killed (exit 137)."
    );
    assert_eq!(escape_markdown("- item", 100), "\\- item");
    assert_eq!(escape_markdown("> quote", 100), "\\> quote");
    assert_eq!(escape_markdown("12. step", 100), "12\\. step");
    assert_eq!(
        escape_markdown("see #12 [x](y) ~~z~~", 100),
        "see \\#12 \\[x\\](y) \\~\\~z\\~\\~"
    );
    assert_eq!(code_span("plain", 100), "`plain`");
    assert_eq!(code_span("has ` tick", 100), "``has ` tick``");
    assert_eq!(code_span("`edge", 100), "`` `edge ``");
    assert_eq!(code_span("a|b", 100), "`a\\|b`");
    assert_eq!(plain_text("@x\ny", 100), "@\u{200B}x y");
    assert_eq!(
        comment_json(&serde_json::json!({"a": "-->"})),
        "{\"a\":\"--\\u003e\"}"
    );
}

#[test]
fn user_templates_override_by_name_and_typos_are_refused() {
    let mut overrides = BTreeMap::new();
    overrides.insert(
        "pr-title.txt".to_string(),
        "[suture] {{ namespace }}/{{ name }}: {{ summary }}".to_string(),
    );
    let t = Templates::new(overrides).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        t.title(&view()).unwrap_or_default(),
        "[suture] payments/checkout-api: raise memory limit 512Mi -> 640Mi"
    );
    // The body is still the bundled one.
    assert!(
        t.body(&view())
            .unwrap_or_default()
            .contains("## Root cause")
    );
    let mut typo = BTreeMap::new();
    typo.insert("pr_body.md".to_string(), "x".to_string());
    assert!(matches!(Templates::new(typo), Err(BodyError::Unknown(n)) if n == "pr_body.md"));
    let mut broken = BTreeMap::new();
    broken.insert("pr-body.md".to_string(), "{% for %}".to_string());
    assert!(matches!(
        Templates::new(broken),
        Err(BodyError::Template { name, .. }) if name == "pr-body.md"
    ));
    // A template naming a field the view lacks fails instead of printing nothing.
    let mut unknown = BTreeMap::new();
    unknown.insert("pr-title.txt".to_string(), "{{ nmae }}".to_string());
    let t = Templates::new(unknown).unwrap_or_else(|e| panic!("{e}"));
    assert!(t.title(&view()).is_err());
}

/// The body with every inline code span removed (fences of n backticks close on n backticks).
fn outside_code_spans(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let fence_len = rest[start..].chars().take_while(|c| *c == '`').count();
        let fence = "`".repeat(fence_len);
        let after = &rest[start + fence_len..];
        match after.find(&fence) {
            Some(end) => rest = &after[end + fence_len..],
            None => {
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}
