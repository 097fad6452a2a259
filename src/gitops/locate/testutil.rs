//! Shared test helpers: fixture checkouts, Applications from YAML, requests.

use std::path::Path;
use std::sync::OnceLock;

use super::*;
use crate::gitops::edit::{PathSeg, YamlOp};

pub(crate) const EXAMPLE_APPS: &str = "https://github.com/argoproj/argocd-example-apps.git";
pub(crate) const PODINFO: &str = "https://github.com/stefanprodan/podinfo";

fn load(name: &str) -> RepoTree {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/gitops-repos/");
    crate::inputs::load_tree(&Path::new(root).join(name)).unwrap_or_default()
}

pub(crate) fn example_apps() -> &'static RepoTree {
    static TREE: OnceLock<RepoTree> = OnceLock::new();
    TREE.get_or_init(|| load("argocd-example-apps"))
}

pub(crate) fn podinfo() -> &'static RepoTree {
    static TREE: OnceLock<RepoTree> = OnceLock::new();
    TREE.get_or_init(|| load("podinfo"))
}

pub(crate) fn app(yaml: &str) -> Application {
    match serde_saphyr::from_str(yaml) {
        Ok(app) => app,
        Err(e) => panic!("test Application does not parse: {e}\n{yaml}"),
    }
}

/// A minimal single-source Application.
pub(crate) fn simple_app(
    name: &str,
    repo: &str,
    path: &str,
    dest_ns: &str,
    extra: &str,
) -> Application {
    app(&format!(
        "metadata: {{name: {name}, namespace: argocd}}\nspec:\n  destination: {{server: https://kubernetes.default.svc, namespace: {dest_ns}}}\n  source:\n    repoURL: {repo}\n    path: {path}\n    targetRevision: HEAD\n{extra}"
    ))
}

pub(crate) fn workload(kind: &str, ns: &str, name: &str) -> ObjectRef {
    ObjectRef::of_kind(kind, ns, name)
}

pub(crate) fn memory(
    kind: &str,
    ns: &str,
    name: &str,
    container: &str,
    value: &str,
) -> LocateRequest {
    LocateRequest {
        workload: workload(kind, ns, name),
        container: container.into(),
        init_container: false,
        target: FieldTarget::Container {
            field: vec!["resources".into(), "limits".into(), "memory".into()],
            value: serde_json::Value::String(value.into()),
        },
    }
}

pub(crate) fn image(
    kind: &str,
    ns: &str,
    name: &str,
    container: &str,
    current: &str,
    desired: &str,
) -> LocateRequest {
    LocateRequest {
        workload: workload(kind, ns, name),
        container: container.into(),
        init_container: false,
        target: FieldTarget::Image {
            current: current.into(),
            desired: desired.into(),
        },
    }
}

/// Run `locate` with the given checkouts.
pub(crate) fn run(
    app: &Application,
    all: &[Application],
    repos: &[(&str, &RepoTree)],
    req: &LocateRequest,
) -> Result<Located, LocateError> {
    let lookup = |url: &str| {
        repos
            .iter()
            .find(|(u, _)| same_repo(u, url))
            .map(|(_, t)| *t)
    };
    locate(app, all, &lookup, req)
}

pub(crate) fn k(s: &str) -> PathSeg {
    PathSeg::Key(s.into())
}

pub(crate) fn m(value: &str) -> PathSeg {
    PathSeg::Match {
        key: "name".into(),
        value: value.into(),
    }
}

pub(crate) fn keys(path: &str) -> Vec<PathSeg> {
    path.split('.').map(k).collect()
}

/// The single `Set` edit of a result: (file, document, path, value).
pub(crate) fn only_set(located: &Located) -> (&str, usize, &[PathSeg], &serde_json::Value) {
    assert_eq!(located.changes.len(), 1, "{located:#?}");
    match &located.changes[0] {
        FileChange::Edit { file, edit } => match &edit.op {
            YamlOp::Set { path, value } => (file.as_str(), edit.document, path.as_slice(), value),
            other => panic!("expected Set, got {other:?}"),
        },
        other => panic!("expected Edit, got {other:?}"),
    }
}

/// `spec.template.spec.containers[name=c].` + `field`.
pub(crate) fn container_field(c: &str, field: &str) -> Vec<PathSeg> {
    let mut p = keys("spec.template.spec.containers");
    p.push(m(c));
    p.extend(keys(field));
    p
}
