//! How the simulated Argo CD behaves: tracking method, control-plane namespace, CRD generation
//! (pre-3.1 drops `automated.enabled`), poll interval, repo URL mapping and Helm bindings.

use std::time::Duration;

use serde_json::Value;

use super::render::helm::HelmChart;
use crate::kube::registry::{Registry, ResourceType, View};

/// How Argo CD marks the objects an Application manages (`application.resourceTrackingMethod`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TrackingMethod {
    /// Argo CD 3.x default: `argocd.argoproj.io/tracking-id: <app>:<group>/<kind>:<ns>/<name>`.
    #[default]
    Annotation,
    /// Argo CD 2.x default: `app.kubernetes.io/instance: <app>`.
    Label,
    AnnotationAndLabel,
}

pub const TRACKING_ANNOTATION: &str = "argocd.argoproj.io/tracking-id";
pub const INSTANCE_LABEL: &str = "app.kubernetes.io/instance";

#[derive(Clone, Debug)]
pub struct Settings {
    pub tracking: TrackingMethod,
    /// The label key of label tracking (`application.instanceLabelKey`).
    pub instance_label: String,
    /// Where Argo CD runs; apps elsewhere are `<ns>_<name>` in tracking ids.
    pub control_plane_namespace: String,
    /// Model an Application CRD older than 3.1: `spec.syncPolicy.automated.enabled` is pruned on
    /// write. Takes effect through [`registry`], which the API server must be started with.
    pub pre_3_1_crd: bool,
    /// How often the background loop refreshes every app (Argo CD: 3 min; tests: fast).
    pub poll_interval: Duration,
    /// Explicit repoURL -> `owner/name` in the `RepoStore`; otherwise the URL's last two path
    /// segments are used (as the simulated Git server serves them).
    pub repos: Vec<(String, String)>,
    /// Helm sources, rendered through declared bindings (no `helm` binary; see `render::helm`).
    pub helm_charts: Vec<HelmChart>,
    /// Upper bound of objects one render may produce (bounded work on hostile repos).
    pub max_objects: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            tracking: TrackingMethod::Annotation,
            instance_label: INSTANCE_LABEL.into(),
            control_plane_namespace: "argocd".into(),
            pre_3_1_crd: false,
            poll_interval: Duration::from_millis(200),
            repos: Vec::new(),
            helm_charts: Vec::new(),
            max_objects: 2000,
        }
    }
}

impl Settings {
    /// The `owner/name` of `repo_url` in the `RepoStore`.
    pub fn repo_full_name(&self, repo_url: &str) -> Option<String> {
        let want = normalize_repo_url(repo_url);
        if let Some((_, full)) = self
            .repos
            .iter()
            .find(|(u, _)| normalize_repo_url(u) == want)
        {
            return Some(full.clone());
        }
        let path = want.split_once("://").map_or(want.as_str(), |(_, r)| r);
        let path = path.split_once('/').map(|(_, p)| p)?;
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        match segs.as_slice() {
            [.., owner, name] => Some(format!("{owner}/{name}")),
            _ => None,
        }
    }
}

/// Argo CD's repo URL normalization: scheme and host lower-cased, trailing `/` and `.git` gone.
pub fn normalize_repo_url(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    let url = url.strip_suffix(".git").unwrap_or(url);
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
            let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
            format!(
                "{}://{}/{}",
                scheme.to_ascii_lowercase(),
                host.to_ascii_lowercase(),
                path
            )
            .trim_end_matches('/')
            .to_string()
        }
        None => url.to_string(),
    }
}

/// The API server registry the Argo CD simulation needs: the standard kinds, plus the plain
/// kinds manifests commonly hold (Service, ConfigMap, ...) as untyped resources when missing,
/// and — for `pre_3_1_crd` — an Application storage that prunes `automated.enabled` the way an
/// older CRD's structural schema would.
pub fn registry(settings: &Settings) -> Registry {
    let standard = Registry::standard();
    let mut out = Registry::empty();
    for (_, t) in standard.iter() {
        let mut t = t.clone();
        if settings.pre_3_1_crd && t.group == "argoproj.io" && t.kind == "Application" {
            t.view = Some(View {
                storage_group: t.group.clone(),
                storage_plural: t.plural.clone(),
                to_storage: prune_automated_enabled,
                from_storage: prune_automated_enabled,
            });
        }
        out.add(t);
    }
    let extra = [
        ("", "v1", "Service", "services", true),
        ("", "v1", "ServiceAccount", "serviceaccounts", true),
        ("", "v1", "ConfigMap", "configmaps", true),
        ("", "v1", "Secret", "secrets", true),
        ("", "v1", "PersistentVolume", "persistentvolumes", false),
        (
            "autoscaling",
            "v2",
            "HorizontalPodAutoscaler",
            "horizontalpodautoscalers",
            true,
        ),
        ("networking.k8s.io", "v1", "Ingress", "ingresses", true),
        (
            "policy",
            "v1",
            "PodDisruptionBudget",
            "poddisruptionbudgets",
            true,
        ),
        ("rbac.authorization.k8s.io", "v1", "Role", "roles", true),
        (
            "rbac.authorization.k8s.io",
            "v1",
            "RoleBinding",
            "rolebindings",
            true,
        ),
        (
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRole",
            "clusterroles",
            false,
        ),
        (
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRoleBinding",
            "clusterrolebindings",
            false,
        ),
    ];
    for (group, version, kind, plural, namespaced) in extra {
        let api_version = if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        };
        if out.by_kind(&api_version, kind).is_none() {
            out.add(ResourceType::custom(
                group, version, kind, plural, namespaced,
            ));
        }
    }
    out
}

fn prune_automated_enabled(mut obj: Value) -> Value {
    if let Some(auto) = obj
        .pointer_mut("/spec/syncPolicy/automated")
        .and_then(Value::as_object_mut)
    {
        auto.remove("enabled");
    }
    obj
}
