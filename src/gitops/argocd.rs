//! Argo CD's Application model and the pure question "which Application owns this workload?".

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

use crate::objref::ObjectRef;

/// argoproj.io/v1alpha1 Application, the fields suture reads (shape per the real CRD in
/// `fixtures/argocd/application-crd.yaml`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct Application {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: ApplicationSpec,
    #[serde(default)]
    pub status: Option<ApplicationStatus>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSpec {
    #[serde(default)]
    pub project: Option<String>,
    #[serde(default)]
    pub source: Option<ApplicationSource>,
    #[serde(default)]
    pub sources: Vec<ApplicationSource>,
    #[serde(default)]
    pub destination: Option<Destination>,
    /// Kept raw: pausing must restore the exact prior object.
    #[serde(default)]
    pub sync_policy: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Destination {
    #[serde(default)]
    pub server: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSource {
    #[serde(default, rename = "repoURL")]
    pub repo_url: String,
    #[serde(default)]
    pub target_revision: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    /// Set for a chart from a Helm repository (not Git): suture cannot edit it.
    #[serde(default)]
    pub chart: Option<String>,
    /// Names this source for `$ref/...` value files of other sources.
    #[serde(default, rename = "ref")]
    pub ref_: Option<String>,
    #[serde(default)]
    pub helm: Option<HelmSource>,
    #[serde(default)]
    pub kustomize: Option<serde_json::Value>,
    #[serde(default)]
    pub directory: Option<DirectorySource>,
    #[serde(default)]
    pub plugin: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HelmSource {
    #[serde(default)]
    pub value_files: Vec<String>,
    /// Inline values as a YAML string.
    #[serde(default)]
    pub values: Option<String>,
    #[serde(default)]
    pub values_object: Option<serde_json::Value>,
    #[serde(default)]
    pub parameters: Vec<HelmParameter>,
    #[serde(default)]
    pub release_name: Option<String>,
    #[serde(default)]
    pub ignore_missing_value_files: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HelmParameter {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub value: String,
    #[serde(default)]
    pub force_string: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DirectorySource {
    #[serde(default)]
    pub recurse: Option<bool>,
    #[serde(default)]
    pub include: Option<String>,
    #[serde(default)]
    pub exclude: Option<String>,
    #[serde(default)]
    pub jsonnet: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationStatus {
    #[serde(default)]
    pub resources: Vec<ResourceStatus>,
    #[serde(default)]
    pub history: Vec<serde_json::Value>,
    #[serde(default)]
    pub sync: Option<serde_json::Value>,
    #[serde(default)]
    pub health: Option<serde_json::Value>,
    #[serde(default)]
    pub operation_state: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ResourceStatus {
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub name: String,
}

/// argoproj.io/v1alpha1 ApplicationSet: metadata and raw spec (for `ignoreApplicationDifferences`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct ApplicationSet {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: serde_json::Value,
}

/// How the Argo CD instance tracks resources (argocd-cm `application.resourceTrackingMethod`,
/// `application.instanceLabelKey`) and where its control plane lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgoSettings {
    pub instance_label_key: String,
    pub control_plane_namespace: String,
}

impl Default for ArgoSettings {
    fn default() -> Self {
        ArgoSettings {
            instance_label_key: "app.kubernetes.io/instance".into(),
            control_plane_namespace: "argocd".into(),
        }
    }
}

/// The annotation Argo CD 3.x writes on every resource it manages.
pub const TRACKING_ANNOTATION: &str = "argocd.argoproj.io/tracking-id";

/// A parsed tracking id `<app>:<group>/<kind>:<namespace>/<name>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackingId {
    /// The app's instance name: `<name>`, or `<namespace>_<name>` outside the control plane.
    pub app: String,
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl TrackingId {
    pub fn parse(id: &str) -> Option<TrackingId> {
        let (app, rest) = id.split_once(':')?;
        let (group_kind, ns_name) = rest.split_once(':')?;
        let (group, kind) = group_kind.split_once('/')?;
        let (namespace, name) = ns_name.split_once('/')?;
        if app.is_empty() || kind.is_empty() || name.is_empty() {
            return None;
        }
        Some(TrackingId {
            app: app.into(),
            group: group.into(),
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
        })
    }

    /// True when the id names `w` itself. A ReplicaSet carries its Deployment's id (annotations
    /// are copied), so an id is only trusted on the object it names.
    pub fn names(&self, w: &ObjectRef) -> bool {
        self.group == w.group
            && self.kind == w.kind
            && self.namespace == w.namespace
            && self.name == w.name
    }
}

/// The name Argo CD uses for `app` in tracking ids, labels and `.argocd-source-<app>.yaml`:
/// `<name>` in the control-plane namespace, `<namespace>_<name>` elsewhere (apps in any
/// namespace). Object names cannot contain `_`, so the form is unambiguous.
pub fn instance_name(app: &Application, settings: &ArgoSettings) -> String {
    let name = app.metadata.name.clone().unwrap_or_default();
    match app.metadata.namespace.as_deref() {
        Some(ns) if !ns.is_empty() && ns != settings.control_plane_namespace => {
            format!("{ns}_{name}")
        }
        _ => name,
    }
}

/// The Application whose instance name is `instance`.
fn by_instance<'a>(
    apps: &'a [Application],
    instance: &str,
    settings: &ArgoSettings,
) -> Option<&'a Application> {
    apps.iter()
        .find(|a| a.metadata.name.is_some() && instance_name(a, settings) == instance)
}

/// True when the app's `status.resources[]` lists `w`.
fn lists(app: &Application, w: &ObjectRef) -> bool {
    app.status.as_ref().is_some_and(|s| {
        s.resources.iter().any(|r| {
            r.group.as_deref().unwrap_or("") == w.group
                && r.kind == w.kind
                && r.namespace.as_deref().unwrap_or("") == w.namespace
                && r.name == w.name
        })
    })
}

/// The Application that manages `workload`, whose live metadata is `meta`. Tracking annotation
/// first (accepted only when it names this very object), then the instance label, then
/// `status.resources[]`.
pub fn find_application<'a>(
    apps: &'a [Application],
    workload: &ObjectRef,
    meta: &ObjectMeta,
    settings: &ArgoSettings,
) -> Option<&'a Application> {
    let annotation = meta
        .annotations
        .as_ref()
        .and_then(|a| a.get(TRACKING_ANNOTATION));
    if let Some(id) = annotation.and_then(|v| TrackingId::parse(v))
        && id.names(workload)
        && let Some(app) = by_instance(apps, &id.app, settings)
    {
        return Some(app);
    }
    // The label can also come from a Helm chart's own `app.kubernetes.io/instance` label copied
    // from the pod template: trust it only if the app's known resources do not contradict it.
    let label = meta
        .labels
        .as_ref()
        .and_then(|l| l.get(&settings.instance_label_key));
    if let Some(app) = label.and_then(|v| by_instance(apps, v, settings)) {
        let known = app.status.as_ref().is_some_and(|s| !s.resources.is_empty());
        if !known || lists(app, workload) {
            return Some(app);
        }
    }
    // Several apps listing one resource is Argo CD's SharedResourceWarning: do not guess.
    let mut listing = apps.iter().filter(|a| lists(a, workload));
    match (listing.next(), listing.next()) {
        (Some(app), None) => Some(app),
        _ => None,
    }
}

/// Normalize a repo URL for comparison: lower-case scheme and host, no trailing `/` or `.git`,
/// and the scp form `git@host:org/repo` as `ssh://git@host/org/repo`. The path keeps its case.
pub fn normalize_repo_url(url: &str) -> String {
    let url = url.trim();
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest.to_string()),
        None => match scp_to_ssh(url) {
            Some(rest) => ("ssh".to_string(), rest),
            None => return strip_suffixes(url).to_string(),
        },
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest.as_str(), ""),
    };
    // Keep the user part as written; only the host is case-insensitive.
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => format!("{user}@{}", host.to_ascii_lowercase()),
        None => authority.to_ascii_lowercase(),
    };
    strip_suffixes(&format!("{scheme}://{authority}{path}")).to_string()
}

/// `[user@]host:path` (no `://`, no `/` before the `:`) as `[user@]host/path`.
fn scp_to_ssh(url: &str) -> Option<String> {
    let (head, path) = url.split_once(':')?;
    if head.is_empty() || head.contains('/') || path.is_empty() {
        return None;
    }
    Some(format!("{head}/{}", path.trim_start_matches('/')))
}

fn strip_suffixes(mut url: &str) -> &str {
    loop {
        let before = url.len();
        url = url.trim_end_matches('/');
        url = url.strip_suffix(".git").unwrap_or(url);
        if url.len() == before {
            return url;
        }
    }
}

#[cfg(test)]
mod tests;
