//! Decoding workloads without their managed fields. In a snapshot as kubectl prints it the
//! managed fields are most of each object, and k8s-openapi decodes them into JSON trees only
//! for suture to drop them: here they are skipped as they are read. Everything else decodes
//! into the k8s-openapi types as before, with the same checks of `apiVersion` and `kind`.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use serde::de::{Deserialize, Deserializer, Error, Unexpected};

/// An object of a kind with `metadata`, `spec` and `status`.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Object<S, T> {
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    metadata: Option<Meta>,
    #[serde(default = "none")]
    spec: Option<S>,
    #[serde(default = "none")]
    status: Option<T>,
}

fn none<T>() -> Option<T> {
    None
}

/// `ObjectMeta` but `managedFields`.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
    #[serde(default)]
    creation_timestamp: Option<Time>,
    #[serde(default)]
    deletion_grace_period_seconds: Option<i64>,
    #[serde(default)]
    deletion_timestamp: Option<Time>,
    #[serde(default)]
    finalizers: Option<Vec<String>>,
    #[serde(default)]
    generate_name: Option<String>,
    #[serde(default)]
    generation: Option<i64>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    owner_references: Option<Vec<OwnerReference>>,
    #[serde(default)]
    resource_version: Option<String>,
    #[serde(default)]
    self_link: Option<String>,
    #[serde(default)]
    uid: Option<String>,
}

impl From<Meta> for ObjectMeta {
    fn from(m: Meta) -> ObjectMeta {
        ObjectMeta {
            annotations: m.annotations,
            creation_timestamp: m.creation_timestamp,
            deletion_grace_period_seconds: m.deletion_grace_period_seconds,
            deletion_timestamp: m.deletion_timestamp,
            finalizers: m.finalizers,
            generate_name: m.generate_name,
            generation: m.generation,
            labels: m.labels,
            managed_fields: None,
            name: m.name,
            namespace: m.namespace,
            owner_references: m.owner_references,
            resource_version: m.resource_version,
            self_link: m.self_link,
            uid: m.uid,
        }
    }
}

/// Decode an `R` whose spec is `S` and status `T`, built by `build`, refusing another
/// `apiVersion` or `kind` as k8s-openapi does.
pub(super) fn decode<'de, R, S, T, D>(
    de: D,
    build: impl FnOnce(ObjectMeta, Option<S>, Option<T>) -> R,
) -> Result<R, D::Error>
where
    R: k8s_openapi::Resource,
    S: Deserialize<'de>,
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    let o = Object::<S, T>::deserialize(de)?;
    if let Some(v) = o.api_version.as_deref().filter(|v| *v != R::API_VERSION) {
        return Err(D::Error::invalid_value(Unexpected::Str(v), &R::API_VERSION));
    }
    if let Some(k) = o.kind.as_deref().filter(|k| *k != R::KIND) {
        return Err(D::Error::invalid_value(Unexpected::Str(k), &R::KIND));
    }
    let meta = o.metadata.map(ObjectMeta::from).unwrap_or_default();
    Ok(build(meta, o.spec, o.status))
}
