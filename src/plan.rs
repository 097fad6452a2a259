//! `suture plan`: detection, proposals, Argo CD lookup, location and edits over one snapshot.
//! Pure: the snapshot and repo trees come in, the plan goes out; nothing is written anywhere.
//! Placement itself is `gitops::place`; this module is the offline wiring and the JSON contract.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use rayon::prelude::*;
use serde::Serialize;

use crate::cluster::{self, Ready, Tables};
use crate::detection::{self, Finding};
use crate::gitops;
use crate::gitops::argocd::{self, Application, ArgoSettings};
use crate::gitops::place::{PlaceError, PlaceInput, Placed};
use crate::gitops::tree::RepoTree;
use crate::objref::ObjectRef;
use crate::proposal::{self, Draft, Escalation, History, Outcome, Policy, Rail};

pub use crate::gitops::place::AppRef;
use crate::state::ClusterState;

/// Which checkout serves which Application source.
#[derive(Clone, Debug, Default)]
pub struct Repos {
    /// normalized repoURL -> checkout
    pub by_url: BTreeMap<String, RepoTree>,
    /// serves every source not mapped by URL (`--repo DIR`)
    pub fallback: Option<RepoTree>,
}

impl Repos {
    pub fn get(&self, url: &str) -> Option<&RepoTree> {
        self.by_url
            .get(&argocd::normalize_repo_url(url))
            .or(self.fallback.as_ref())
    }
}

/// A located, edited proposal: the JSON contract of `suture plan --format json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Proposal {
    #[serde(flatten)]
    pub draft: Draft,
    pub application: Option<AppRef>,
    pub file: Option<String>,
    pub diff: Option<String>,
    /// Why this file and field: which source, overlay, patch or values file declares it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Why `file`/`diff` are missing, when they are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Every file the change writes, with its new text (not part of the JSON output).
    #[serde(skip)]
    pub files: Vec<(String, String)>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Plan {
    pub findings: Vec<Finding>,
    pub proposals: Vec<Proposal>,
    pub escalations: Vec<Escalation>,
    /// Input problems that did not stop the plan (undecodable objects, unreadable repos).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

#[derive(Default)]
pub struct Settings {
    pub policy: Policy,
    pub argo: ArgoSettings,
}

/// Compute the plan for `state` at `now` (a state built in memory; `suture plan` loads its
/// snapshot straight into tables and calls [`plan_snapshot`]).
pub fn plan(
    state: &ClusterState,
    repos: &Repos,
    settings: &Settings,
    now: jiff::Timestamp,
) -> Plan {
    let tables = Tables::of_snapshot([Ready::of(state.clone())]);
    plan_snapshot(&tables, repos, settings, now)
}

/// The plan over a snapshot's tables. Each root (a workload and everything it controls, a
/// node, a PVC) is sliced and detected alone, as `serve` does, and each incident is proposed
/// and placed over its root's slice: the work grows with the cluster, not with its square,
/// and runs on every core. The output is that of detecting the whole snapshot at once.
pub fn plan_snapshot(
    tables: &Tables,
    repos: &Repos,
    settings: &Settings,
    now: jiff::Timestamp,
) -> Plan {
    let detected: Vec<(ClusterState, Vec<Finding>)> = tables
        .roots()
        .par_iter()
        .filter_map(|root| {
            let slice = tables.slice_without_argo(root);
            let findings: Vec<Finding> = detection::detect(&slice, now)
                .into_iter()
                .filter(|f| cluster::belongs(root, f))
                .collect();
            (!findings.is_empty()).then_some((slice, findings))
        })
        .collect();
    let mut findings: Vec<(Finding, usize)> = Vec::new();
    let mut slices = Vec::with_capacity(detected.len());
    for (i, (slice, found)) in detected.into_iter().enumerate() {
        findings.extend(found.into_iter().map(|f| (f, i)));
        slices.push(slice);
    }
    findings.sort_by(|a, b| detection::order(&a.0, &b.0));
    // An incident's findings share an owner, and so a root and its slice.
    let slice_of: HashMap<ObjectRef, usize> = findings
        .iter()
        .map(|(f, i)| (f.owner.clone(), *i))
        .collect();
    let findings: Vec<Finding> = findings.into_iter().map(|(f, _)| f).collect();
    let applications: Vec<Application> = tables
        .applications
        .all()
        .map(std::borrow::Cow::into_owned)
        .collect();
    let groups = proposal::group_findings(&findings, &settings.policy.cluster);
    let decided: Vec<Decided> = groups
        .par_iter()
        .map(|(key, group)| {
            let state = &slices[slice_of[&group[0].owner]];
            match proposal::propose(key, group, state, &settings.policy, History::default()) {
                Outcome::Propose(draft) => {
                    match place(&draft, state, &applications, repos, settings) {
                        Ok(placed) => Decided::Placed(Box::new(Proposal::placed(*draft, placed))),
                        Err(e) => Decided::Unplaced(draft, e),
                    }
                }
                Outcome::Escalate(e) => Decided::Escalated(e),
            }
        })
        .collect();
    let mut out = Plan::default();
    for d in decided {
        match d {
            Decided::Placed(p) => out.proposals.push(*p),
            Decided::Unplaced(draft, e) => out.unplaced(*draft, e),
            Decided::Escalated(e) => out.escalations.push(e),
        }
    }
    drop(groups);
    out.findings = findings;
    out
}

/// What became of one incident.
enum Decided {
    Placed(Box<Proposal>),
    Unplaced(Box<Draft>, PlaceError),
    Escalated(Escalation),
}

/// The live metadata of a workload, for its Argo CD tracking annotation or label.
pub fn live_meta(state: &ClusterState, workload: &ObjectRef) -> Option<ObjectMeta> {
    let kind = workload.workload_kind()?;
    crate::owner::workload_meta(state, kind, &workload.namespace, &workload.name).cloned()
}

/// Place the draft in Git over the snapshot and the given checkouts.
fn place(
    draft: &Draft,
    state: &ClusterState,
    applications: &[Application],
    repos: &Repos,
    settings: &Settings,
) -> Result<Placed, PlaceError> {
    let live = live_meta(state, &draft.target.workload).unwrap_or_default();
    let repo_for = |url: &str| repos.get(url);
    let input = PlaceInput {
        live: &live,
        applications,
        repo_for: &repo_for,
        argo: &settings.argo,
    };
    gitops::place::place(draft, &input)
}

impl Proposal {
    fn placed(draft: Draft, placed: Placed) -> Proposal {
        Proposal {
            location: Some(placed.location),
            application: Some(placed.application),
            file: placed.files.first().map(|w| w.path.clone()),
            diff: Some(placed.diff),
            note: None,
            files: placed.files.into_iter().map(|w| (w.path, w.new)).collect(),
            draft,
        }
    }
}

impl Plan {
    /// The JSON view of a fix that cannot be placed, and the only place a [`PlaceError`]
    /// becomes plan output. Placement has one answer (`Err`); the documented contract
    /// (docs/plan.md) shows the two errors that mean "suture was not given an input" (no
    /// Application, no checkout) as an `escalate-only` proposal whose `note` says what to pass,
    /// so the draft stays visible; every other error is an escalation.
    fn unplaced(&mut self, mut draft: Draft, e: PlaceError) {
        let (application, note) = match e {
            PlaceError::NoApplication { .. } => (None, e.to_string()),
            PlaceError::NoCheckout { url, application } => (
                Some(application),
                format!("no checkout given for {url} (pass --repo {url}=DIR)"),
            ),
            e => {
                self.escalations.push(escalation(&draft, e.to_string()));
                return;
            }
        };
        draft.rail = Rail::EscalateOnly;
        self.proposals.push(Proposal {
            draft,
            application,
            file: None,
            diff: None,
            location: None,
            note: Some(note),
            files: Vec::new(),
        });
    }
}

fn escalation(draft: &Draft, reason: String) -> Escalation {
    let mut evidence = serde_json::Map::new();
    evidence.insert(
        "proposed_change".into(),
        serde_json::to_value(&draft.change).unwrap_or_default(),
    );
    evidence.insert("basis".into(), draft.basis.clone().into());
    Escalation {
        key: draft.key.clone(),
        fault: draft.fault,
        reason,
        evidence,
    }
}
