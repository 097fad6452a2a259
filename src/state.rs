//! The cluster snapshot suture reasons over, and loading it from `kubectl get -o yaml|json` files.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{LimitRange, Node, PersistentVolumeClaim, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

use crate::gitops::argocd::{Application, ApplicationSet};

/// An Argo Rollout (argoproj.io/v1alpha1). Only metadata and the raw spec are kept: suture
/// reads its pod template like a Deployment's.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct Rollout {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: serde_json::Value,
    #[serde(default)]
    pub status: serde_json::Value,
}

/// A Kubernetes Event, normalized from core/v1 `Event` or events.k8s.io/v1 `Event`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ObservedEvent {
    pub namespace: String,
    /// The object the event is about (`involvedObject` / `regarding`).
    pub object_kind: String,
    pub object_name: String,
    pub object_uid: Option<String>,
    /// `involvedObject.fieldPath`, e.g. `spec.containers{web}`.
    pub field_path: Option<String>,
    pub reason: String,
    /// `message` (core/v1) or `note` (events.k8s.io/v1).
    pub message: String,
    /// `Normal` or `Warning`.
    pub type_: String,
    /// `count` (core/v1) or `series.count` (events.k8s.io/v1); 1 when absent.
    pub count: i32,
    pub first_seen: Option<jiff::Timestamp>,
    pub last_seen: Option<jiff::Timestamp>,
}

/// Everything suture reads from a cluster, as plain data.
#[derive(Clone, Debug, Default)]
pub struct ClusterState {
    pub pods: Vec<Pod>,
    pub replica_sets: Vec<ReplicaSet>,
    pub deployments: Vec<Deployment>,
    pub stateful_sets: Vec<StatefulSet>,
    pub daemon_sets: Vec<DaemonSet>,
    pub jobs: Vec<Job>,
    pub cron_jobs: Vec<CronJob>,
    pub events: Vec<ObservedEvent>,
    pub nodes: Vec<Node>,
    pub pvcs: Vec<PersistentVolumeClaim>,
    pub limit_ranges: Vec<LimitRange>,
    pub applications: Vec<Application>,
    pub application_sets: Vec<ApplicationSet>,
    pub rollouts: Vec<Rollout>,
}
