//! Argo CD's Application model and the pure question "which Application owns this workload?".

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

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

/// The workload whose owning Application is sought.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WorkloadId {
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

/// The Application that manages `workload`, whose live metadata is `meta`. Tracking annotation
/// first (accepted only when it names this very object), then the instance label, then
/// `status.resources[]`.
pub fn find_application<'a>(
    apps: &'a [Application],
    workload: &WorkloadId,
    meta: &ObjectMeta,
    settings: &ArgoSettings,
) -> Option<&'a Application> {
    let _ = (apps, workload, meta, settings);
    None
}

/// Normalize a repo URL for comparison: lower-case scheme and host, no trailing `/` or `.git`.
pub fn normalize_repo_url(url: &str) -> String {
    url.to_string()
}
