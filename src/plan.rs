//! `suture plan`: detection, proposals, Argo CD lookup, location and edits over one snapshot.
//! Pure: the snapshot and repo trees come in, the plan goes out; nothing is written anywhere.
//! Placement itself is `gitops::place`; this module is the offline wiring and the JSON contract.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use crate::detection::{self, Finding};
use crate::gitops;
use crate::gitops::argocd::{self, ArgoSettings};
use crate::gitops::place::{PlaceError, PlaceInput};
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

/// Compute the plan for `state` at `now`.
pub fn plan(
    state: &ClusterState,
    repos: &Repos,
    settings: &Settings,
    now: jiff::Timestamp,
) -> Plan {
    let findings = detection::detect(state, now);
    let mut out = Plan::default();
    for (key, group) in proposal::group_findings(&findings, &settings.policy.cluster) {
        match proposal::propose(&key, &group, state, &settings.policy, History::default()) {
            Outcome::Propose(draft) => match place(*draft, state, repos, settings) {
                Ok(p) => out.proposals.push(p),
                Err(e) => out.escalations.push(*e),
            },
            Outcome::Escalate(e) => out.escalations.push(e),
        }
    }
    out.findings = findings;
    out
}

/// The live metadata of a workload, for its Argo CD tracking annotation or label.
pub fn live_meta(state: &ClusterState, workload: &ObjectRef) -> Option<ObjectMeta> {
    let kind = workload.workload_kind()?;
    crate::owner::workload_meta(state, kind, &workload.namespace, &workload.name).cloned()
}

/// Place the draft in Git and turn the outcome into the plan's contract: a placed proposal; an
/// escalate-only proposal with a `note` when suture lacks an input (no Application, no
/// checkout); an escalation when Git cannot take the change.
fn place(
    draft: Draft,
    state: &ClusterState,
    repos: &Repos,
    settings: &Settings,
) -> Result<Proposal, Box<Escalation>> {
    let live = live_meta(state, &draft.target.workload).unwrap_or_default();
    let repo_for = |url: &str| repos.get(url);
    let input = PlaceInput {
        live: &live,
        applications: &state.applications,
        repo_for: &repo_for,
        argo: &settings.argo,
    };
    let unplaced = |mut draft: Draft, application: Option<AppRef>, note: String| {
        draft.rail = Rail::EscalateOnly;
        Proposal {
            draft,
            application,
            file: None,
            diff: None,
            location: None,
            note: Some(note),
            files: Vec::new(),
        }
    };
    match gitops::place::place(&draft, &input) {
        Ok(placed) => Ok(Proposal {
            location: Some(placed.location),
            application: Some(placed.application),
            file: placed.files.first().map(|w| w.path.clone()),
            diff: Some(placed.diff),
            note: None,
            files: placed.files.into_iter().map(|w| (w.path, w.new)).collect(),
            draft,
        }),
        Err(e @ PlaceError::NoApplication { .. }) => Ok(unplaced(draft, None, e.to_string())),
        Err(PlaceError::NoCheckout { url, application }) => {
            let note = format!("no checkout given for {url} (pass --repo {url}=DIR)");
            Ok(unplaced(draft, Some(application), note))
        }
        Err(e) => Err(escalation(&draft, e.to_string())),
    }
}

fn escalation(draft: &Draft, reason: String) -> Box<Escalation> {
    let mut evidence = serde_json::Map::new();
    evidence.insert(
        "proposed_change".into(),
        serde_json::to_value(&draft.change).unwrap_or_default(),
    );
    evidence.insert("basis".into(), draft.basis.clone().into());
    Box::new(Escalation {
        key: draft.key.clone(),
        fault: draft.fault,
        reason,
        evidence,
    })
}
