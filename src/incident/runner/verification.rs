//! The verification sweep, wired (design.md §7): the baseline is captured when the merge
//! arrives (before sync resumes), every reconcile tick asks the pure `verify` for a verdict,
//! the first sight of the deploy is stored as a mark, and a final verdict moves the incident
//! and reaches reviewers as the `suture/verify` commit status and a comment.
//!
//! Everything the sweep needs is in the ledger (the `verification_started` hop, the latest
//! `deploy_seen` hop), so a restart in the middle of a window resumes it where it stood.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::{RunError, Runner};
use crate::forge::RepoPath;
use crate::forge::status::{CommitStatus, StatusState, VERIFY_CONTEXT};
use crate::gitops::argocd::Application;
use crate::gitops::place::AppRef;
use crate::incident::IncidentState;
use crate::incident::key::IncidentKey;
use crate::incident::machine::{self, Budget, Event, Outcome};
use crate::incident::verify::{
    self, Baseline, BaselinePod, DeployMark, DeployStatus, Inputs, Verdict, revision,
};
use crate::ledger::{Effect, Hop, HopRecord, LedgerError};
use crate::objref::ObjectRef;

/// The hop that starts a verification and carries its baseline.
const STARTED: &str = "verification_started";
/// The hop that stores the deploy mark (the first sight of the merge deployed).
const DEPLOY_SEEN: &str = "deploy_seen";
/// The hop that carries a final verdict with its evidence (what the status and comment show).
const VERDICT: &str = "verdict";

impl Runner {
    /// The merge arrived: record the baseline (the workload's pods now, before the merge is
    /// deployed), move to `verifying`, and mark the merge commit pending.
    pub(super) async fn start_verification(
        &self,
        key: &str,
        sha: &str,
        revert: bool,
    ) -> Result<(), RunError> {
        let Some(incident) = self.ledger.incident(key).await? else {
            return Ok(());
        };
        let workload = ObjectRef::of_kind(&incident.kind, &incident.namespace, &incident.name);
        let pods = match &self.slice {
            Some(slice_of) => revision::baseline_pods(&slice_of(&workload), &workload),
            None => Vec::new(),
        };
        let hops = self.ledger.hops(key).await?;
        let app = self
            .application_of(key, &hops)
            .await?
            .map(|a| json!({"namespace": a.namespace, "name": a.name}));
        let alert_sourced = hops.iter().any(|h| h.kind == "alert_firing");
        let expression = hops
            .iter()
            .rev()
            .filter(|h| h.kind == "alert_firing")
            .find_map(|h| h.detail["expression"].as_str());
        // A revert is verified against the fault the fix brought (the regression's).
        let regression = revert.then(|| regression_fault(&hops)).flatten();
        let hop = Hop::new(
            STARTED,
            json!({"merge_sha": sha, "pods": pods, "app": app, "alert_sourced": alert_sourced,
                   "revert": revert, "fault": regression, "expression": expression}),
        );
        let now = self.now();
        match self
            .ledger
            .transition(
                key,
                IncidentState::Merged,
                IncidentState::Verifying,
                &hop,
                now,
            )
            .await
        {
            Ok(()) => {}
            Err(LedgerError::StateConflict { .. }) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        let status = CommitStatus {
            state: StatusState::Pending,
            context: VERIFY_CONTEXT.to_string(),
            description: Some("waiting for Argo CD to deploy the merge".into()),
            target_url: None,
        };
        self.post_status(key, sha, &status, "pending").await
    }

    /// The Application the incident paused (or found unpaused).
    async fn application_of(
        &self,
        key: &str,
        hops: &[HopRecord],
    ) -> Result<Option<AppRef>, RunError> {
        if let Some(p) = self.ledger.incident_pauses(key).await?.first() {
            return Ok(Some(AppRef {
                namespace: p.app_namespace.clone(),
                name: p.app_name.clone(),
            }));
        }
        let named = hops
            .iter()
            .rev()
            .filter(|h| h.kind.starts_with("sync_"))
            .find_map(|h| h.detail.get("app").and_then(Value::as_str))
            .and_then(|a| a.split_once('/'))
            .map(|(namespace, name)| AppRef {
                namespace: namespace.to_string(),
                name: name.to_string(),
            });
        Ok(named)
    }

    /// One verification step for every incident in `verifying`.
    pub(super) async fn reconcile_verifications(&self) -> Result<(), RunError> {
        let mut first_error = None;
        for incident in self
            .ledger
            .incidents(Some(IncidentState::Verifying), 100)
            .await?
        {
            if let Err(e) = self.verify_step(&incident.key).await {
                tracing::warn!(incident = %incident.key, error = %e, "verification step failed");
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    async fn verify_step(&self, key: &str) -> Result<(), RunError> {
        let Some(slice_of) = self.slice.clone() else {
            return Ok(());
        };
        let Ok(parsed) = key.parse::<IncidentKey>() else {
            return Ok(());
        };
        let hops = self.ledger.hops(key).await?;
        let Some(started) = hops.iter().rev().find(|h| h.kind == STARTED) else {
            return Ok(());
        };
        let (baseline, app) = baseline(parsed, started, &hops);
        let argo = match &app {
            Some(app) => match self.argo.get(app).await {
                Ok(value) => serde_json::from_value::<Application>(value)
                    .map(|a| DeployStatus::from_application(&a))
                    .unwrap_or_default(),
                Err(crate::gitops::sync::SyncError::NotFound(_)) => DeployStatus::default(),
                Err(e) => return Err(e.into()),
            },
            None => DeployStatus::default(),
        };
        // This verification's mark: a later bump or a revert has its own.
        let mark: Option<DeployMark> = hops
            .iter()
            .rev()
            .take_while(|h| h.id != started.id)
            .find(|h| h.kind == DEPLOY_SEEN)
            .and_then(|h| serde_json::from_value(h.detail.clone()).ok());
        let state = slice_of(&baseline.workload);
        let now = self.now();
        let reverting = started.detail["revert"] == json!(true);
        let verify_fn = if reverting {
            verify::verify_revert
        } else {
            verify::verify
        };
        let report = verify_fn(&Inputs {
            baseline: &baseline,
            argo: &argo,
            state: &state,
            alert: self
                .alert_over_window(&started.detail, mark.as_ref(), now)
                .await,
            mark: mark.as_ref(),
            windows: self.cfg.windows,
            now,
        });
        if let Some(new_mark) = &report.mark
            && mark.as_ref() != Some(new_mark)
        {
            let detail = serde_json::to_value(new_mark).unwrap_or_default();
            self.ledger
                .append_hop(key, &Hop::new(DEPLOY_SEEN, detail), now)
                .await?;
        }
        let outcome = match &report.verdict {
            Verdict::Pending { .. } => return Ok(()),
            Verdict::Healthy { .. } => Outcome::Healthy,
            Verdict::StillFiring { .. } => Outcome::StillFiring,
            Verdict::Regressed { .. } => Outcome::Regressed,
            Verdict::Inconclusive { .. } => Outcome::Inconclusive,
            Verdict::NotDeployed { .. } => Outcome::NotDeployed,
        };
        let mut detail = verdict_detail(&report.verdict);
        detail["revert"] = json!(reverting);
        self.ledger
            .append_hop(key, &Hop::new(VERDICT, detail), now)
            .await?;
        let ctx = self.context(key).await?;
        let step = machine::step(
            &ctx,
            &Event::Verified(outcome),
            &self.cfg.machine,
            Budget::default(),
            now,
        );
        self.apply(key, &ctx, step, None, None).await
    }

    /// The alert's own expression over the window, once the window is over: `None` when
    /// there is no expression or no Prometheus, or it answered with no data or an error, so an
    /// alert-sourced incident ends inconclusive rather than passing on pod state alone.
    async fn alert_over_window(
        &self,
        started: &Value,
        mark: Option<&DeployMark>,
        now: Timestamp,
    ) -> Option<bool> {
        let (prometheus, expr, mark) = (
            self.prometheus.as_ref()?,
            started["expression"].as_str()?,
            mark?,
        );
        let window = self.cfg.windows.window;
        let ends = mark.at.saturating_add(window).ok()?;
        if now < ends {
            return None;
        }
        // The window's last quarter: early on, the alert may still see the old revision's
        // series (as a rule's `for:` would), which the pod-level verdict already tells apart.
        let from = ends.saturating_sub(window / 4).unwrap_or(mark.at);
        // Prometheus stamps samples with the wall clock; a simulated world's clock runs ahead.
        let (from, to) = (self.clock.wall_time_of(from), self.clock.wall_time_of(now));
        match prometheus.condition_over(expr, from, to).await {
            Ok(condition) => condition.as_alert(),
            Err(e) => {
                tracing::warn!(error = %e, "evaluating the alert's expression failed");
                None
            }
        }
    }

    /// The latest verdict, as a commit status on the merge commit and a comment on the pull
    /// request; each once per verdict (idempotency keys), whatever retries happen.
    pub(super) async fn report_verdict(&self, key: &str) -> Result<(), RunError> {
        let hops = self.ledger.hops(key).await?;
        let Some(verdict) = hops.iter().rev().find(|h| h.kind == VERDICT) else {
            return Ok(());
        };
        let sha = verdict.detail["merge_sha"].as_str().unwrap_or_default();
        let name = verdict.detail["verdict"].as_str().unwrap_or_default();
        let healthy = name == "healthy";
        let status = CommitStatus {
            state: if healthy {
                StatusState::Success
            } else {
                StatusState::Failure
            },
            context: VERIFY_CONTEXT.to_string(),
            description: Some(status_line(&verdict.detail)),
            target_url: None,
        };
        self.post_status(key, sha, &status, name).await?;

        let effect = format!("verdict_comment:{key}:{}", verdict.id);
        if matches!(
            self.ledger
                .begin_effect(&effect, key, "comment", self.now())
                .await?,
            Effect::Done { .. }
        ) {
            return Ok(());
        }
        let Some((entry, pr)) = self.merged_pull_request(key, sha).await? else {
            return Ok(());
        };
        let repo = RepoPath::new(&pr.repo)?;
        let number = u64::try_from(pr.number).unwrap_or_default();
        if !self.cfg.dry_run {
            entry
                .forge
                .comment(&repo, number, &comment(key, &verdict.detail))
                .await?;
        }
        self.ledger
            .finish_effect(&effect, &json!({"number": pr.number}), self.now())
            .await?;
        let hop = Hop::new(
            "commented",
            json!({"kind": "verdict", "verdict": name, "number": pr.number}),
        );
        self.ledger.append_hop(key, &hop, self.now()).await?;
        Ok(())
    }

    /// The pull request whose merge is `sha` (the fix's or the revert's), else the newest merged.
    async fn merged_pull_request(
        &self,
        key: &str,
        sha: &str,
    ) -> Result<Option<(&super::ForgeEntry, crate::ledger::PullRequest)>, RunError> {
        // Newest first.
        let merged: Vec<_> = self
            .ledger
            .pull_requests(key)
            .await?
            .into_iter()
            .filter(|p| p.state == "merged")
            .collect();
        let pr = merged
            .iter()
            .find(|p| p.merge_sha.as_deref() == Some(sha))
            .or(merged.first())
            .cloned();
        Ok(pr.and_then(|pr| self.forge_for(&pr.url).map(|e| (e, pr))))
    }

    /// `suture/verify` on `sha`, once per (incident, sha, state word).
    async fn post_status(
        &self,
        key: &str,
        sha: &str,
        status: &CommitStatus,
        word: &str,
    ) -> Result<(), RunError> {
        if sha.is_empty() {
            return Ok(());
        }
        let effect = format!("status:{key}:{sha}:{word}");
        if matches!(
            self.ledger
                .begin_effect(&effect, key, "commit_status", self.now())
                .await?,
            Effect::Done { .. }
        ) {
            return Ok(());
        }
        let Some((entry, pr)) = self.merged_pull_request(key, sha).await? else {
            return Ok(());
        };
        if !self.cfg.dry_run {
            let repo = RepoPath::new(&pr.repo)?;
            entry.forge.set_status(&repo, sha, status).await?;
        }
        self.ledger
            .finish_effect(&effect, &json!({"state": word}), self.now())
            .await?;
        let hop = Hop::new(
            "status_posted",
            json!({"context": VERIFY_CONTEXT, "sha": sha, "state": status.state.github()}),
        );
        self.ledger.append_hop(key, &hop, self.now()).await?;
        Ok(())
    }
}

/// The baseline and the Application, from the `verification_started` hop and the resume.
fn baseline(
    mut key: IncidentKey,
    started: &HopRecord,
    hops: &[HopRecord],
) -> (Baseline, Option<AppRef>) {
    let d = &started.detail;
    if let Some(fault) = d["fault"].as_str().and_then(|f| f.parse().ok()) {
        key.fault = fault;
    }
    let workload = ObjectRef::of_kind(&key.kind, &key.namespace, &key.name);
    let pods: Vec<BaselinePod> = serde_json::from_value(d["pods"].clone()).unwrap_or_default();
    let app = d["app"].as_object().map(|a| AppRef {
        namespace: a
            .get("namespace")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .into(),
        name: a
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .into(),
    });
    // The deploy timeout counts from the resume; an app that was never paused deploys (or
    // not) from the merge on.
    let resumed = hops
        .iter()
        .filter(|h| h.id > started.id && h.kind == "sync_resumed")
        .find(|h| h.detail["reason"] == "merged");
    let resumed_at: Timestamp = resumed.map_or(started.at, |h| h.at);
    let resumed_auto_sync = resumed.is_some_and(|h| h.detail["outcome"] == "restored");
    let baseline = Baseline {
        key,
        workload,
        container: None,
        pods,
        merge_sha: d["merge_sha"].as_str().unwrap_or_default().to_string(),
        resumed_at,
        resumed_auto_sync,
        alert_sourced: d["alert_sourced"].as_bool().unwrap_or(false),
    };
    (baseline, app)
}

/// The fault of the latest `regressed` verdict: what a revert must clear.
pub(super) fn regression_fault(hops: &[HopRecord]) -> Option<String> {
    hops.iter()
        .rev()
        .filter(|h| h.kind == VERDICT && h.detail["verdict"] == "regressed")
        .find_map(|h| {
            h.detail["findings"][0]["fault"]
                .as_str()
                .map(str::to_string)
        })
}

/// What the `verdict` hop stores: the verdict, why, and its evidence (typed fields).
fn verdict_detail(v: &Verdict) -> Value {
    let findings = match v {
        Verdict::StillFiring { findings, .. } | Verdict::Regressed { findings, .. } => findings
            .iter()
            .map(|f| {
                json!({"fault": f.fault.as_str(), "pod": f.pod, "container": f.container,
                       "evidence": f.evidence.rows()})
            })
            .collect(),
        _ => Vec::new(),
    };
    let evidence = v.evidence();
    json!({
        "verdict": v.name(),
        "merge_sha": evidence.merge_sha,
        "evidence": evidence,
        "rows": evidence.rows(),
        "findings": findings,
    })
}

/// One line for the commit status (GitHub cuts descriptions at 140 characters).
pub(super) fn status_line(d: &Value) -> String {
    let fault = d["evidence"]["fault"].as_str().unwrap_or("the regression");
    let line = match d["verdict"].as_str().unwrap_or_default() {
        "healthy" if d["revert"] == json!(true) => {
            format!("reverted: {fault} is gone from the workload")
        }
        "still_firing" if d["revert"] == json!(true) => {
            format!("revert failed: {fault} is still on the workload")
        }
        "healthy" => "healthy: the fault did not recur on the new pods".to_string(),
        "still_firing" => "still firing: the fault recurred on the new pods".to_string(),
        "regressed" => "regressed: a different fault appeared on the new pods".to_string(),
        "not_deployed" => "not deployed: Argo CD did not deploy the merge in time".to_string(),
        "inconclusive" => {
            let why = d["evidence"]["reasons"]
                .as_array()
                .and_then(|r| r.first())
                .and_then(Value::as_str)
                .unwrap_or("no proof either way");
            format!("inconclusive: {why}")
        }
        other => other.to_string(),
    };
    line.chars().take(140).collect()
}

/// The PR comment: the verdict and its evidence as a table.
fn comment(key: &str, d: &Value) -> String {
    use crate::forge::body::{code_span, escape_markdown};
    let mut out = format!(
        "**suture verification: {}**\n\n{}\n\n| | |\n|---|---|\n",
        d["verdict"].as_str().unwrap_or_default(),
        status_line(d)
    );
    for row in d["rows"].as_array().into_iter().flatten() {
        let label = row[0].as_str().unwrap_or_default();
        let value = row[1].as_str().unwrap_or_default();
        out.push_str(&format!(
            "| {} | {} |\n",
            escape_markdown(label, 80),
            escape_markdown(value, 300)
        ));
    }
    for f in d["findings"].as_array().into_iter().flatten() {
        let fault = f["fault"].as_str().unwrap_or_default();
        let pod = f["pod"].as_str().unwrap_or_default();
        out.push_str(&format!(
            "\nFault on the new pods: {} on {}\n",
            code_span(fault, 80),
            code_span(pod, 120)
        ));
    }
    out.push_str(&format!("\nIncident {}\n", code_span(key, 300)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(id: i64, at: &str, kind: &str, detail: Value) -> HopRecord {
        HopRecord {
            id,
            at: at.parse().unwrap(),
            kind: kind.into(),
            from_state: None,
            to_state: None,
            detail,
        }
    }

    const KEY: &str = "prod/payments/Deployment/checkout-api/oom-killed";

    #[test]
    fn the_baseline_is_read_back_from_the_ledger_with_the_resume_that_followed_it() {
        let started = hop(
            7,
            "2026-12-01T10:00:00Z",
            STARTED,
            json!({"merge_sha": "a".repeat(40), "alert_sourced": true,
                   "app": {"namespace": "argocd", "name": "payments"},
                   "pods": [{"name": "checkout-api-1", "uid": "u1", "revision": "abc"}]}),
        );
        let hops = vec![
            // An earlier incident cycle's resume does not count.
            hop(
                3,
                "2026-12-01T09:00:00Z",
                "sync_resumed",
                json!({"reason": "merged", "outcome": "restored"}),
            ),
            started.clone(),
            hop(
                8,
                "2026-12-01T10:00:05Z",
                "sync_resumed",
                json!({"reason": "merged", "outcome": "restored"}),
            ),
        ];
        let (b, app) = baseline(KEY.parse().unwrap(), &started, &hops);
        assert_eq!(b.merge_sha, "a".repeat(40));
        assert_eq!(
            b.resumed_at,
            "2026-12-01T10:00:05Z".parse::<Timestamp>().unwrap()
        );
        assert!(b.resumed_auto_sync);
        assert!(b.alert_sourced);
        assert_eq!(b.pods.len(), 1);
        assert_eq!(b.pods[0].revision.as_deref(), Some("abc"));
        assert_eq!(
            (b.workload.kind.as_str(), b.workload.name.as_str()),
            ("Deployment", "checkout-api")
        );
        assert_eq!(
            app,
            Some(AppRef {
                namespace: "argocd".into(),
                name: "payments".into()
            })
        );

        // Never resumed (an app without auto-sync): the deploy timeout counts from the start,
        // and auto-sync found off later is not someone else's pause.
        let (b, _) = baseline(
            KEY.parse().unwrap(),
            &started,
            std::slice::from_ref(&started),
        );
        assert_eq!(b.resumed_at, started.at);
        assert!(!b.resumed_auto_sync);
    }

    #[test]
    fn status_lines_name_the_verdict_and_fit_githubs_limit() {
        let d = |verdict: &str, reasons: Vec<&str>| json!({"verdict": verdict, "evidence": {"reasons": reasons}});
        assert_eq!(
            status_line(&d("healthy", vec![])),
            "healthy: the fault did not recur on the new pods"
        );
        assert_eq!(
            status_line(&d(
                "inconclusive",
                vec!["no pod of the new revision appeared"]
            )),
            "inconclusive: no pod of the new revision appeared"
        );
        let long = "x".repeat(500);
        assert_eq!(
            status_line(&d("inconclusive", vec![&long])).chars().count(),
            140
        );
    }

    #[test]
    fn the_verdict_comment_escapes_what_came_from_the_cluster() {
        let d = json!({
            "verdict": "regressed",
            "rows": [["pod", "evil <img src=x> @octocat | next"]],
            "findings": [{"fault": "unschedulable", "pod": "p`` @admin"}],
            "evidence": {},
        });
        let text = comment(KEY, &d);
        assert!(
            text.starts_with("**suture verification: regressed**"),
            "{text}"
        );
        assert!(!text.contains("<img"), "{text}");
        assert!(!text.contains(" @octocat"), "{text}");
        assert!(text.contains(KEY), "{text}");
        let row = text
            .lines()
            .find(|l| l.starts_with("| pod |"))
            .unwrap_or_default();
        assert_eq!(row.matches(" | ").count(), 1, "one cell boundary: {row}");
    }
}
