//! `suture plan`: detection, proposals, Argo CD lookup, location and edits over one snapshot.
//! Pure: the snapshot and repo trees come in, the plan goes out; nothing is written anywhere.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use crate::detection::{self, Finding, ObjRef};
use crate::gitops::argocd::{self, Application, ArgoSettings, WorkloadId};
use crate::gitops::locate::{self, FileChange, LocateRequest};
use crate::gitops::tree::RepoTree;
use crate::gitops::{drift, edit};
use crate::proposal::{self, Draft, Escalation, History, Outcome, Policy, Rail};
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

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AppRef {
    pub name: String,
    pub namespace: String,
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

/// API group of the workload kinds suture targets.
fn group_of(kind: &str) -> &'static str {
    match kind {
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" => "apps",
        "Job" | "CronJob" => "batch",
        "Rollout" => "argoproj.io",
        _ => "",
    }
}

/// The live metadata of a workload, for its Argo CD tracking annotation or label.
pub fn live_meta(state: &ClusterState, namespace: &str, owner: &ObjRef) -> Option<ObjectMeta> {
    crate::owner::find_meta(state, &owner.kind, "", namespace, &owner.name).cloned()
}

/// Find the owning Application, locate every write in Git, apply the edits and diff them.
/// A value Git cannot hold (or suture may not edit) turns the draft into an escalation.
fn place(
    draft: Draft,
    state: &ClusterState,
    repos: &Repos,
    settings: &Settings,
) -> Result<Proposal, Box<Escalation>> {
    let t = &draft.target;
    let workload = WorkloadId {
        group: group_of(&t.kind).to_string(),
        kind: t.kind.clone(),
        namespace: t.namespace.clone(),
        name: t.name.clone(),
    };
    let owner = ObjRef::new(&t.kind, &t.name);
    let meta = live_meta(state, &t.namespace, &owner).unwrap_or_default();
    let unplaced = |mut draft: Draft, app: Option<&Application>, note: String| {
        draft.rail = Rail::EscalateOnly;
        Proposal {
            draft,
            application: app.map(app_ref),
            file: None,
            diff: None,
            location: None,
            note: Some(note),
            files: Vec::new(),
        }
    };
    let Some(app) = argocd::find_application(&state.applications, &workload, &meta, &settings.argo)
    else {
        let note = format!(
            "no Argo CD Application in the snapshot manages {} {}/{}",
            t.kind, t.namespace, t.name
        );
        return Ok(unplaced(draft, None, note));
    };
    let repo_for = |url: &str| repos.get(url);
    let mut changes: Vec<FileChange> = Vec::new();
    let mut repo_url: Option<String> = None;
    let mut why = Vec::new();
    for (i, write) in draft.writes.iter().enumerate() {
        // The live value this write replaces: the primary change first, then `also`.
        let from = match i {
            0 => &draft.change.from,
            n => draft
                .also
                .get(n - 1)
                .map_or(&serde_json::Value::Null, |c| &c.from),
        };
        let req = LocateRequest {
            workload: workload.clone(),
            container: t.container.clone(),
            init_container: t.init_container,
            target: write.clone(),
        };
        match locate::locate(app, &state.applications, &repo_for, &req) {
            Ok(located) => {
                // One pull request goes to one repository.
                if repo_url.as_ref().is_some_and(|u| *u != located.repo_url) {
                    let reason = format!(
                        "the change spans two repositories ({} and {}); one pull request cannot carry it",
                        repo_url.unwrap_or_default(),
                        located.repo_url
                    );
                    return Err(escalation(&draft, reason));
                }
                let tree = repos.get(&located.repo_url);
                for change in &located.changes {
                    let text = match change {
                        FileChange::Edit { file, .. } => tree.and_then(|t| t.file(file)),
                        FileChange::Create { .. } => None,
                    };
                    if let Err(reason) = drift::check(write, from, change, text) {
                        return Err(escalation(&draft, reason));
                    }
                }
                repo_url = Some(located.repo_url);
                why.push(located.why);
                changes.extend(located.changes);
            }
            Err(locate::LocateError::NoRepo(url)) => {
                let note = format!("no checkout given for {url} (pass --repo {url}=DIR)");
                return Ok(unplaced(draft, Some(app), note));
            }
            Err(e) => {
                return Err(escalation(
                    &draft,
                    format!("cannot write the fix in Git: {e}"),
                ));
            }
        }
    }
    let tree_url = repo_url.unwrap_or_default();
    let files = match apply_changes(&changes, |file| {
        repos.get(&tree_url).and_then(|t| t.file(file))
    }) {
        Ok(files) => files,
        Err(reason) => return Err(escalation(&draft, reason)),
    };
    let diff = files
        .iter()
        .map(|(path, old, new)| unified_diff(path, old.as_deref(), new))
        .collect::<String>();
    Ok(Proposal {
        location: Some(why.join(" ")),
        application: Some(app_ref(app)),
        file: files.first().map(|(p, _, _)| p.clone()),
        diff: Some(diff),
        note: None,
        files: files.into_iter().map(|(p, _, new)| (p, new)).collect(),
        draft,
    })
}

fn app_ref(app: &Application) -> AppRef {
    AppRef {
        name: app.metadata.name.clone().unwrap_or_default(),
        namespace: app.metadata.namespace.clone().unwrap_or_default(),
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

type Written = Vec<(String, Option<String>, String)>;

/// Apply file changes in order; several edits of one file compose. Returns (path, old, new).
pub fn apply_changes<'a>(
    changes: &[FileChange],
    read: impl Fn(&str) -> Option<&'a str>,
) -> Result<Written, String> {
    let mut out: Written = Vec::new();
    for change in changes {
        match change {
            FileChange::Create { file, content } => {
                if read(file).is_some() || out.iter().any(|(p, _, _)| p == file) {
                    return Err(format!("refusing to overwrite existing file {file}"));
                }
                out.push((file.clone(), None, content.clone()));
            }
            FileChange::Edit { file, edit: e } => {
                let slot = out.iter().position(|(p, _, _)| p == file);
                let current = match slot {
                    Some(i) => out[i].2.clone(),
                    None => read(file)
                        .ok_or_else(|| format!("{file} is not in the repository"))?
                        .to_string(),
                };
                let new = edit::apply(&current, e)
                    .map_err(|err| format!("cannot edit {file} safely: {err}"))?;
                match slot {
                    Some(i) => out[i].2 = new,
                    None => out.push((file.clone(), Some(current), new)),
                }
            }
        }
    }
    Ok(out)
}

/// A `git diff`-style unified diff of one file.
pub fn unified_diff(path: &str, old: Option<&str>, new: &str) -> String {
    let before = old.unwrap_or("");
    let diff = similar::TextDiff::from_lines(before, new);
    let old_header = if old.is_some() {
        format!("a/{path}")
    } else {
        "/dev/null".to_string()
    };
    diff.unified_diff()
        .context_radius(3)
        .header(&old_header, &format!("b/{path}"))
        .to_string()
}
