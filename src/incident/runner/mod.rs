//! The one orchestrator (design.md §2): it takes what reaches the queue (findings, forge
//! deliveries, alerts, reconcile ticks), asks the pure machine what to do, records the hop in
//! the same transaction as the state change, and performs the actions. Every side effect has an
//! idempotency key written before it runs, and is itself safe to repeat (it first looks for
//! what an interrupted earlier run left), so a crash and restart never does anything twice.

mod alerts;
mod change;
mod dry_run;
mod forge_events;
mod rebase;
mod repos;
mod revert;
mod unplaceable;
mod verification;

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use tokio::sync::mpsc;

use crate::clock::Clock;
use crate::detection::Finding;
use crate::forge::body::Templates;
use crate::gitops::argocd::ArgoSettings;
use crate::gitops::sync::ArgoApps;
use crate::incident::IncidentState;
use crate::incident::event::Inbound;
use crate::incident::key::IncidentKey;
use crate::incident::machine::{self, Action, Budget, Context, Event, Observation, Step};
use crate::ledger::{Hop, Ledger, LedgerError, NewIncident};
use crate::objref::ObjectRef;
use crate::proposal::{self, History, Outcome};
use crate::server::Metrics;
use crate::state::ClusterState;

pub use change::Prepared;
pub use repos::{ForgeEntry, GitIdentity};
pub use unplaceable::Unplaceable;

/// What the runner's work can fail on. Each variant says whether to retry.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Forge(#[from] crate::forge::ForgeError),
    #[error(transparent)]
    Repo(#[from] crate::gitops::repo::RepoError),
    #[error(transparent)]
    Sync(#[from] crate::gitops::sync::SyncError),
    #[error(transparent)]
    Body(#[from] crate::forge::body::BodyError),
    #[error("no forge configured for {0}")]
    NoForge(String),
    /// A ledger key that is not an incident key (written by something other than suture).
    #[error(transparent)]
    Key(#[from] crate::incident::key::KeyParseError),
    #[error("git task failed: {0}")]
    Join(String),
}

/// The runner's policy (config `policy:`, `argocd:`, `git:`).
#[derive(Clone, Debug)]
pub struct RunnerConfig {
    /// The first part of every incident key.
    pub cluster: String,
    pub machine: machine::Policy,
    pub proposal: proposal::Policy,
    pub argo: ArgoSettings,
    pub pause_ttl: SignedDuration,
    /// Everything but the writes; each write is logged as a hop instead.
    pub dry_run: bool,
    pub include_namespaces: Vec<String>,
    pub exclude_namespaces: Vec<String>,
    pub forbidden_kinds: Vec<String>,
    pub git: GitIdentity,
    /// The verification window and the deploy timeout.
    pub windows: crate::incident::verify::Windows,
    /// Merge suture's own revert PR of a regressed fix without a reviewer.
    pub auto_merge_reverts: bool,
}

/// Reads the cluster slice around an object (the watchers' caches), for alerts and reconcile.
pub type SliceFn = Arc<dyn Fn(&ObjectRef) -> ClusterState + Send + Sync>;

/// Reads every node (the watchers' cache), for the node-fit check.
pub type NodesFn = Arc<dyn Fn() -> Vec<k8s_openapi::api::core::v1::Node> + Send + Sync>;

pub struct Runner {
    cfg: RunnerConfig,
    ledger: Ledger,
    clock: Clock,
    argo: ArgoApps,
    forges: Vec<ForgeEntry>,
    templates: Templates,
    slice: Option<SliceFn>,
    nodes: Option<NodesFn>,
    metrics: Option<Metrics>,
    /// Where alert-sourced incidents' expressions are evaluated (config `prometheus:`).
    prometheus: Option<Arc<crate::prometheus::Prometheus>>,
    /// The workload cluster, for the server-side dry run of a fix; `None`: that check skips.
    workload: Option<kube::Client>,
    repos: repos::Locks,
}

impl Runner {
    pub fn new(
        cfg: RunnerConfig,
        ledger: Ledger,
        clock: Clock,
        argo: ArgoApps,
        forges: Vec<ForgeEntry>,
        templates: Templates,
    ) -> Runner {
        Runner {
            cfg,
            ledger,
            clock,
            argo,
            forges,
            templates,
            slice: None,
            nodes: None,
            metrics: None,
            prometheus: None,
            workload: None,
            repos: repos::Locks::default(),
        }
    }

    /// Where alerts and the reconcile read live objects from.
    pub fn with_slices(mut self, slice: SliceFn) -> Runner {
        self.slice = Some(slice);
        self
    }

    /// Where the node-fit check reads every node.
    pub fn with_nodes(mut self, nodes: NodesFn) -> Runner {
        self.nodes = Some(nodes);
        self
    }

    /// Where pull requests opened and detection-to-PR times are counted.
    pub fn with_metrics(mut self, metrics: Metrics) -> Runner {
        self.metrics = Some(metrics);
        self
    }

    /// Where alert expressions are evaluated over the verification window.
    pub fn with_prometheus(mut self, prometheus: crate::prometheus::Prometheus) -> Runner {
        self.prometheus = Some(Arc::new(prometheus));
        self
    }

    /// Where a fix is dry-run (`dryRun=All`) before its PR: the workload cluster.
    pub fn with_workload_client(mut self, client: kube::Client) -> Runner {
        self.workload = Some(client);
        self
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Work the queue until it closes. A failed item is logged and its hop kept; the
    /// reconcile retries whatever it left half done.
    pub async fn run(self: Arc<Self>, mut queue: mpsc::Receiver<Inbound>) {
        while let Some(item) = queue.recv().await {
            if let Err(e) = self.handle(item).await {
                tracing::warn!(error = %e, "runner: item failed; the reconcile retries it");
            }
        }
    }

    pub async fn handle(&self, item: Inbound) -> Result<(), RunError> {
        match item {
            Inbound::Findings { slice, findings } => self.findings(&slice, &findings).await,
            Inbound::Change { delivery, event } => self.change_event(&delivery, &event).await,
            Inbound::Alerts { delivery, alerts } => self.alerts(&delivery, &alerts).await,
            Inbound::Reconcile => self.reconcile().await,
        }
    }

    /// Findings from one slice of the cluster: one observation per incident key.
    pub async fn findings(
        &self,
        slice: &ClusterState,
        findings: &[Finding],
    ) -> Result<(), RunError> {
        let mut first_error = None;
        for (key, group) in proposal::group_findings(findings, &self.cfg.cluster) {
            if !self.in_scope(&key) {
                continue;
            }
            if let Err(e) = self.observe(&key, &group, slice).await {
                tracing::warn!(incident = %key, error = %e, "runner: observation failed");
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn in_scope(&self, key: &IncidentKey) -> bool {
        let ns = &key.namespace;
        let included = self.cfg.include_namespaces.is_empty()
            || self.cfg.include_namespaces.iter().any(|n| n == ns);
        included && !self.cfg.exclude_namespaces.iter().any(|n| n == ns)
    }

    /// One sighting of a fault: record it, decide, act.
    async fn observe(
        &self,
        key: &IncidentKey,
        group: &[&Finding],
        slice: &ClusterState,
    ) -> Result<(), RunError> {
        let now = self.now();
        let ledger_key = key.ledger_key();
        let evidence = group
            .first()
            .map(|f| serde_json::to_value(&f.evidence).unwrap_or_default())
            .unwrap_or_default();
        let new = NewIncident {
            key: ledger_key.clone(),
            fault: key.fault.as_str().to_string(),
            cluster: key.cluster.clone(),
            namespace: key.namespace.clone(),
            kind: key.kind.clone(),
            name: key.name.clone(),
            detail: json!({ "evidence": evidence }),
        };
        let hop = Hop::new("detected", json!({ "evidence": evidence }));
        self.ledger.open_incident(&new, &hop, now).await?;
        let ctx = self.context(&ledger_key).await?;

        // Placing a fix reads Git; an incident whose change is out needs only the sighting.
        let held = matches!(
            ctx.state,
            Some(IncidentState::Regressed | IncidentState::Reverted)
        ) && !ctx.acknowledged;
        let out = matches!(
            ctx.state,
            Some(
                IncidentState::PrOpen
                    | IncidentState::Merged
                    | IncidentState::Verifying
                    | IncidentState::Applied
                    | IncidentState::Reverting
            )
        );
        let needs_fix = !(out || held);
        let (observation, prepared) = if needs_fix {
            match self.prepare(key, group, slice, &ctx).await? {
                Ok(p) => (Observation::Fix, Some(p)),
                // The edge: the reason becomes the escalated hop's text here.
                Err(why) => (Observation::Escalate(why.to_string()), None),
            }
        } else {
            (Observation::Fix, None)
        };
        let budget = self.budget(now).await?;
        let step = machine::step(
            &ctx,
            &Event::Observed(observation),
            &self.cfg.machine,
            budget,
            now,
        );
        self.apply(
            &ledger_key,
            &ctx,
            step,
            prepared.as_ref(),
            group.first().copied(),
        )
        .await
    }

    /// The fix for this sighting, placed in Git; `Ok(Err(_))` when it must escalate.
    async fn prepare(
        &self,
        key: &IncidentKey,
        group: &[&Finding],
        slice: &ClusterState,
        ctx: &Context,
    ) -> Result<Result<Prepared, Unplaceable>, RunError> {
        if self
            .cfg
            .forbidden_kinds
            .iter()
            .any(|k| k.eq_ignore_ascii_case(&key.kind))
        {
            return Ok(Err(Unplaceable::ForbiddenKind {
                kind: key.kind.clone(),
            }));
        }
        let history = History {
            prior_bumps: self.prior_bumps(&key.ledger_key()).await?,
        };
        let draft = match proposal::propose(key, group, slice, &self.cfg.proposal, history) {
            Outcome::Propose(draft) => *draft,
            Outcome::Escalate(e) => return Ok(Err(Unplaceable::Refused(e.reason))),
        };
        let _ = ctx;
        let mut prepared = match self.place(draft, group, slice).await? {
            Ok(p) => p,
            Err(why) => return Ok(Err(why)),
        };
        // Predict before the PR (design.md §7): a check that fails escalates with its result.
        // Whether some node has room is asked of every node, not only those the pods run on.
        let every_node;
        let slice = match &self.nodes {
            Some(nodes) => {
                every_node = ClusterState {
                    nodes: nodes(),
                    ..slice.clone()
                };
                &every_node
            }
            None => slice,
        };
        let mut results = crate::checks::run(slice, &prepared.draft);
        results.push(dry_run::check(self.workload.as_ref(), &prepared.draft).await);
        results.push(crate::checks::CheckResult::new(
            "drift",
            crate::checks::CheckOutcome::Passed,
            "Git holds the value that runs (checked when the fix was placed)",
        ));
        if let Some(reason) = crate::checks::failure(&results) {
            return Ok(Err(Unplaceable::CheckFailed(reason)));
        }
        prepared.checks = results;
        Ok(Ok(prepared))
    }

    /// How many fixes this incident already merged (the leak stop after two bumps).
    async fn prior_bumps(&self, key: &str) -> Result<u32, RunError> {
        let merged = self
            .ledger
            .pull_requests(key)
            .await?
            .iter()
            .filter(|p| p.state == "merged" && !revert::is_revert(p))
            .count();
        Ok(u32::try_from(merged).unwrap_or(u32::MAX))
    }

    async fn budget(&self, now: Timestamp) -> Result<Budget, RunError> {
        let hour_ago = now - SignedDuration::from_hours(1);
        let (open, recent) = self.ledger.pull_request_budget(hour_ago).await?;
        Ok(Budget {
            open: u32::try_from(open).unwrap_or(u32::MAX),
            opened_last_hour: u32::try_from(recent).unwrap_or(u32::MAX),
        })
    }

    /// What the machine needs to know about an incident, from its ledger rows.
    async fn context(&self, key: &str) -> Result<Context, RunError> {
        let Some(incident) = self.ledger.incident(key).await? else {
            return Ok(Context::default());
        };
        let hops = self.ledger.hops(key).await?;
        let last = |kind: &str| hops.iter().rev().find(|h| h.kind == kind).map(|h| h.at);
        let proposed_at = last("proposed");
        let human_pushed = hops
            .iter()
            .rev()
            .take_while(|h| h.kind != "proposed")
            .any(|h| h.kind == "human_pushed");
        let reverting = hops
            .iter()
            .rev()
            .find(|h| h.kind == "verification_started")
            .is_some_and(|h| h.detail.get("revert") == Some(&json!(true)));
        let acknowledged = match (last("acknowledged"), last("regressed")) {
            (Some(ack), Some(held)) => ack >= held,
            _ => false,
        };
        Ok(Context {
            state: Some(incident.state),
            last_comment_at: last("commented").max(proposed_at),
            declined_at: last("declined"),
            human_pushed,
            reverting,
            acknowledged,
        })
    }

    /// Record the step (state change and hop in one transaction), then perform its actions.
    async fn apply(
        &self,
        key: &str,
        ctx: &Context,
        step: Step,
        prepared: Option<&Prepared>,
        finding: Option<&Finding>,
    ) -> Result<(), RunError> {
        let now = self.now();
        let detail = json!({ "note": step.note });
        let hop_kind = step.hop;
        let hop = Hop::new(step.hop, detail);
        match (ctx.state, step.next) {
            (Some(from), Some(to)) if from != to => {
                match self.ledger.transition(key, from, to, &hop, now).await {
                    Ok(()) => {}
                    // Another worker moved it first; it owns the actions.
                    Err(LedgerError::StateConflict { .. }) => return Ok(()),
                    Err(e) => return Err(e.into()),
                }
            }
            _ if !step.actions.is_empty() || step.note.is_some() => {
                self.ledger.append_hop(key, &hop, now).await?;
            }
            _ => {}
        }
        for action in step.actions {
            match action {
                Action::OpenChange => match prepared {
                    Some(p) => self.open_change(key, p).await?,
                    None => tracing::debug!(incident = key, "open change without a placed fix"),
                },
                Action::Comment(kind) => self.comment(key, kind, finding).await?,
                Action::ResumeSync { reason } => self.resume(key, reason).await?,
                Action::StartVerification { sha, revert } => {
                    self.start_verification(key, &sha, revert).await?
                }
                Action::Revert => self.revert(key).await?,
                Action::ReportVerdict => self.report_verdict(key).await?,
                Action::Escalate(reason) => {
                    tracing::warn!(incident = key, reason = %reason, "escalated");
                    // The notifier reads `escalated` hops: a transition of that name already
                    // is one; any other step that escalates (a verdict) records one.
                    let kind = if hop_kind == "escalated" {
                        "escalation"
                    } else {
                        "escalated"
                    };
                    let hop = Hop::new(kind, json!({ "reason": reason }));
                    self.ledger.append_hop(key, &hop, self.now()).await?;
                }
            }
        }
        Ok(())
    }

    /// Missed webhooks, expired pauses, half-done proposals.
    pub async fn reconcile(&self) -> Result<(), RunError> {
        let now = self.now();
        for pause in self.ledger.open_pauses(Some(now)).await? {
            let ctx = self.context(&pause.incident_key).await?;
            let step = machine::step(
                &ctx,
                &Event::PauseExpired,
                &self.cfg.machine,
                Budget::default(),
                now,
            );
            self.apply(&pause.incident_key, &ctx, step, None, None)
                .await?;
        }
        self.reconcile_pull_requests().await?;
        self.reconcile_rebases().await?;
        self.reconcile_verifications().await?;
        self.reconcile_reverts().await?;
        self.reconcile_proposed().await
    }

    /// Incidents left `proposed` (a crash between push, pause and pull request): sighted again
    /// from the live objects, which finishes the effects.
    async fn reconcile_proposed(&self) -> Result<(), RunError> {
        let Some(slice_of) = self.slice.clone() else {
            return Ok(());
        };
        for incident in self
            .ledger
            .incidents(Some(IncidentState::Proposed), 100)
            .await?
        {
            let owner = ObjectRef::of_kind(&incident.kind, &incident.namespace, &incident.name);
            let slice = slice_of(&owner);
            let now = self.now();
            let findings: Vec<Finding> = crate::detection::detect(&slice, now)
                .into_iter()
                .filter(|f| f.owner.same_object(&owner) && f.fault.as_str() == incident.fault)
                .collect();
            self.findings(&slice, &findings).await?;
        }
        Ok(())
    }
}
