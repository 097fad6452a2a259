//! The ResourceQuota controller: `status.hard` = `spec.hard`, `status.used` = what the
//! namespace's non-terminal pods that the quota's scopes select count (see `kube::quota`),
//! recomputed every pass (the real one resyncs on pod changes and every five minutes).

use serde_json::{Value, json};

use super::meta;
use super::{Cx, log_err};
use crate::kube::Subresource;
use crate::kube::quota;

pub fn sync(cx: &mut Cx) {
    let Some(res) = cx.kinds.resource_quota else {
        return;
    };
    let quotas = cx.list(res);
    if quotas.is_empty() {
        return;
    }
    let pods = cx.list(cx.kinds.pod);
    for q in quotas {
        if q.pointer("/metadata/deletionTimestamp").is_some() {
            continue;
        }
        let ns = meta::namespace(&q);
        let in_ns: Vec<&Value> = pods.iter().filter(|p| meta::namespace(p) == ns).collect();
        let hard = q
            .pointer("/spec/hard")
            .cloned()
            .unwrap_or_else(|| json!({}));
        let status = json!({"hard": hard, "used": quota::used(&q, &in_ns)});
        if q.get("status") == Some(&status) {
            continue;
        }
        log_err(
            "resourcequota status",
            cx.store
                .update_with(res, Some(ns), meta::name(&q), Subresource::Status, |o| {
                    o["status"] = status
                }),
        );
    }
}
