//! Placement: a proposal's draft -> the Argo CD Application that owns the workload -> where each
//! write goes in Git (locate) -> the drift check -> the edited files -> the diff. The one path
//! from a fix to a change in Git, used by `plan` and by the incident runner. Pure: the live
//! metadata, the Applications and the repository snapshots come in as data.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use super::argocd::{self, Application, ArgoSettings};
use super::compose::{self, ComposeError, WrittenFile};
use super::drift::{self, DriftError};
use super::locate::{self, FileChange, LocateError, LocateRequest};
use super::tree::RepoTree;
use crate::objref::ObjectRef;
use crate::proposal::Draft;

/// An Application by name and namespace, as the plan JSON shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AppRef {
    pub name: String,
    pub namespace: String,
}

impl AppRef {
    pub fn of(app: &Application) -> AppRef {
        AppRef {
            name: app.metadata.name.clone().unwrap_or_default(),
            namespace: app.metadata.namespace.clone().unwrap_or_default(),
        }
    }
}

/// What placement reads besides the draft.
pub struct PlaceInput<'i, 'a> {
    /// Live metadata of the draft's target workload (tracking annotation, instance label);
    /// an empty one when the workload was not captured.
    pub live: &'i ObjectMeta,
    /// Every Application known (to find the owner, and which Kustomize bases are shared).
    pub applications: &'i [Application],
    /// A checkout by source repoURL.
    pub repo_for: &'i dyn Fn(&str) -> Option<&'a RepoTree>,
    pub argo: &'i ArgoSettings,
}

/// A fix placed in Git: everything a pull request needs.
#[derive(Clone, Debug, PartialEq)]
pub struct Placed {
    pub application: AppRef,
    /// The repository every change goes to (one pull request, one repository).
    pub repo_url: String,
    /// The located changes, in order (the first is the file a reviewer looks at).
    pub changes: Vec<FileChange>,
    /// The files as they will be, in first-touched order.
    pub files: Vec<WrittenFile>,
    pub diff: String,
    /// Why these files and fields, one sentence per write.
    pub location: String,
}

/// Why a fix cannot be placed. The first two mean "suture was not given what it needs" (no
/// owner known, no checkout), the rest that Git cannot safely take the change.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PlaceError {
    #[error("no Argo CD Application in the snapshot manages {} {}/{}", .workload.kind, .workload.namespace, .workload.name)]
    NoApplication { workload: ObjectRef },
    #[error("no checkout given for {url}")]
    NoCheckout { url: String, application: AppRef },
    #[error(
        "the change spans two repositories ({first} and {second}); one pull request cannot carry it"
    )]
    SpansRepositories { first: String, second: String },
    #[error("cannot write the fix in Git: {0}")]
    Locate(LocateError),
    #[error(transparent)]
    Drift(#[from] DriftError),
    #[error(transparent)]
    Edit(#[from] ComposeError),
}

/// Place `draft`: find its Application, locate every write (primary change first, then
/// `also`), check each against the live value, apply the edits and diff them.
pub fn place(draft: &Draft, input: &PlaceInput<'_, '_>) -> Result<Placed, PlaceError> {
    let workload = &draft.target.workload;
    let app = argocd::find_application(input.applications, workload, input.live, input.argo)
        .ok_or_else(|| PlaceError::NoApplication {
            workload: workload.clone(),
        })?;
    let mut changes: Vec<FileChange> = Vec::new();
    let mut repo: Option<(String, Option<&RepoTree>)> = None;
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
            container: draft.target.container.clone(),
            init_container: draft.target.init_container,
            target: write.clone(),
        };
        let located = match locate::locate(app, input.applications, input.repo_for, &req) {
            Ok(l) => l,
            Err(LocateError::NoRepo(url)) => {
                return Err(PlaceError::NoCheckout {
                    url,
                    application: AppRef::of(app),
                });
            }
            Err(e) => return Err(PlaceError::Locate(e)),
        };
        if let Some((first, _)) = &repo
            && *first != located.repo_url
        {
            return Err(PlaceError::SpansRepositories {
                first: first.clone(),
                second: located.repo_url,
            });
        }
        // Locate read this checkout; were it gone, composing reports the missing files.
        let tree = (input.repo_for)(&located.repo_url);
        for change in &located.changes {
            let text = match change {
                FileChange::Edit { file, .. } => tree.and_then(|t| t.file(file)),
                FileChange::Create { .. } => None,
            };
            drift::check(write, from, change, text)?;
        }
        repo = Some((located.repo_url, tree));
        why.push(located.why);
        changes.extend(located.changes);
    }
    let (repo_url, tree) = repo.unwrap_or_default();
    let files = compose::apply_changes(&changes, |file| tree.and_then(|t| t.file(file)))?;
    Ok(Placed {
        application: AppRef::of(app),
        repo_url,
        diff: compose::diff_all(&files),
        location: why.join(" "),
        changes,
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detection::detect;
    use crate::proposal::{History, Outcome, Policy, group_findings, propose};
    use crate::state::ClusterState;

    const REPO: &str = "https://git.example.com/platform/gitops.git";
    const MANIFEST: &str = "apps/checkout-api/deployment.yaml";
    const MANIFEST_TEXT: &str =
        include_str!("../../scenarios/oom/repo/apps/checkout-api/deployment.yaml");

    /// The bundled OOM scenario: a Deployment OOMKilled at 512Mi, its Application and draft.
    fn scenario() -> (ClusterState, RepoTree, Draft) {
        let state =
            ClusterState::from_text(include_str!("../../scenarios/oom/cluster.yaml")).unwrap();
        let mut tree = RepoTree::default();
        tree.insert_file(MANIFEST, MANIFEST_TEXT);
        let findings = detect(&state, "2026-11-23T08:45:00Z".parse().unwrap());
        let groups = group_findings(&findings, "default");
        let (key, group) = &groups[0];
        let draft = match propose(key, group, &state, &Policy::default(), History::default()) {
            Outcome::Propose(d) => *d,
            Outcome::Escalate(e) => panic!("escalated: {}", e.reason),
        };
        (state, tree, draft)
    }

    fn place_with(
        draft: &Draft,
        state: &ClusterState,
        apps: &[Application],
        tree: Option<&RepoTree>,
    ) -> Result<Placed, PlaceError> {
        let live = crate::plan::live_meta(state, &draft.target.workload).unwrap_or_default();
        let repo_for = |url: &str| {
            tree.filter(|_| argocd::normalize_repo_url(url) == argocd::normalize_repo_url(REPO))
        };
        place(
            draft,
            &PlaceInput {
                live: &live,
                applications: apps,
                repo_for: &repo_for,
                argo: &ArgoSettings::default(),
            },
        )
    }

    #[test]
    fn a_draft_is_placed_as_a_one_line_diff_of_the_declaring_file() {
        let (state, tree, draft) = scenario();
        let placed = place_with(&draft, &state, &state.applications, Some(&tree)).unwrap();
        assert_eq!(
            placed.application,
            AppRef {
                name: "checkout-api".into(),
                namespace: "argocd".into()
            }
        );
        assert_eq!(placed.repo_url, REPO);
        assert_eq!(placed.files.len(), 1);
        assert_eq!(placed.files[0].path, MANIFEST);
        assert_eq!(placed.files[0].old.as_deref(), Some(MANIFEST_TEXT));
        assert_eq!(
            placed.files[0].new,
            MANIFEST_TEXT.replace(
                "memory: 512Mi # sized for the 2025 catalogue",
                "memory: 640Mi # sized for the 2025 catalogue"
            )
        );
        let changed: Vec<&str> = placed
            .diff
            .lines()
            .filter(|l| {
                (l.starts_with('+') || l.starts_with('-'))
                    && !l.starts_with("+++")
                    && !l.starts_with("---")
            })
            .collect();
        assert_eq!(
            changed,
            [
                "-              memory: 512Mi # sized for the 2025 catalogue",
                "+              memory: 640Mi # sized for the 2025 catalogue"
            ]
        );
        assert!(!placed.location.is_empty());
    }

    #[test]
    fn what_suture_lacks_and_what_git_refuses_are_distinct_errors() {
        let (state, tree, draft) = scenario();
        let err = place_with(&draft, &state, &[], Some(&tree)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no Argo CD Application in the snapshot manages Deployment payments/checkout-api"
        );
        assert!(
            matches!(err, PlaceError::NoApplication { workload } if workload == draft.target.workload)
        );

        match place_with(&draft, &state, &state.applications, None).unwrap_err() {
            PlaceError::NoCheckout { url, application } => {
                assert_eq!(url, REPO);
                assert_eq!(application.name, "checkout-api");
            }
            other => panic!("expected NoCheckout, got {other:?}"),
        }

        let mut drifted = RepoTree::default();
        drifted.insert_file(
            MANIFEST,
            MANIFEST_TEXT.replace("memory: 512Mi", "memory: 768Mi"),
        );
        match place_with(&draft, &state, &state.applications, Some(&drifted)).unwrap_err() {
            PlaceError::Drift(d) => {
                assert_eq!(
                    (d.file.as_str(), d.git.as_str(), d.live.as_str()),
                    (MANIFEST, "768Mi", "512Mi")
                );
            }
            other => panic!("expected Drift, got {other:?}"),
        }

        let mut unparsable = RepoTree::default();
        unparsable.insert_file(MANIFEST, "kind: Deployment\nmetadata: [\n");
        let err = place_with(&draft, &state, &state.applications, Some(&unparsable)).unwrap_err();
        assert!(matches!(err, PlaceError::Locate(_)), "{err:?}");
        assert!(
            err.to_string().starts_with("cannot write the fix in Git: "),
            "{err}"
        );
    }
}
