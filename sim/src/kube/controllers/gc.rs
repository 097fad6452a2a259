//! Garbage collection by owner references (background propagation): a dependent whose owners
//! are all gone is deleted, so deleting a Deployment removes its ReplicaSets, then their
//! Pods; a CronJob its Jobs, then their Pods.

use serde_json::Value;

use super::meta::{self, s};
use super::{Cx, log_err};
use crate::kube::DeleteOptions;

pub fn sync(cx: &mut Cx) {
    let k = cx.kinds;
    for res in [k.replica_set, k.job, k.pod] {
        for obj in cx.list(res) {
            if orphaned(cx, &obj) {
                let ns = meta::namespace(&obj);
                let opts = DeleteOptions {
                    uid: Some(meta::uid(&obj).to_string()),
                    ..DeleteOptions::default()
                };
                log_err(
                    "garbage collection",
                    cx.store.delete(res, Some(ns), meta::name(&obj), &opts),
                );
            }
        }
    }
}

/// True when the object has owners and none of them exists any more. Owners of kinds the
/// store does not serve are assumed alive (nothing can tell otherwise).
fn orphaned(cx: &Cx, obj: &Value) -> bool {
    let Some(refs) = obj
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
    else {
        return false;
    };
    if refs.is_empty() {
        return false;
    }
    refs.iter().all(|r| {
        let Ok(res) = cx.store.res(s(r, "/apiVersion"), s(r, "/kind")) else {
            return false;
        };
        let ns = Some(meta::namespace(obj));
        match cx.store.get(res, ns, s(r, "/name")) {
            Ok(owner) => meta::uid(&owner) != s(r, "/uid"),
            Err(e) => e.code == 404,
        }
    })
}
