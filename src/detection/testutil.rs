//! Test helpers: realistic objects and a fixed clock.

use super::{Finding, detect};
use crate::state::ClusterState;

/// The clock all detector tests run at.
pub const NOW: &str = "2026-01-01T01:00:00Z";

/// A pod with two containers, `sidecar` first, so index 0 is never the right answer; `web`
/// gets the given status lines (indented by four spaces).
pub fn pod(web_status: &str) -> String {
    format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: web-1, namespace: shop, uid: p-1}}
spec:
  containers:
  - {{name: sidecar, image: "envoy:1.30", resources: {{limits: {{memory: 64Mi}}}}}}
  - name: web
    image: "shop/web:2.0"
    resources: {{requests: {{memory: 256Mi}}, limits: {{memory: 512Mi}}}}
    livenessProbe: {{httpGet: {{path: /healthz, port: 8080}}, initialDelaySeconds: 5, periodSeconds: 10, failureThreshold: 3}}
    readinessProbe: {{httpGet: {{path: /ready, port: 8080}}}}
status:
  phase: Running
  containerStatuses:
  - {{name: sidecar, image: "envoy:1.30", imageID: "", ready: true, restartCount: 0, state: {{running: {{startedAt: "2026-01-01T00:00:00Z"}}}}}}
  - name: web
    image: "shop/web:2.0"
    imageID: ""
    ready: false
{web_status}
"#
    )
}

/// A core/v1 Event about pod `web-1` (uid `p-1`) in `shop`.
pub fn pod_event(reason: &str, field_path: Option<&str>, message: &str, count: i32) -> String {
    let field = field_path
        .map(|f| format!(", fieldPath: \"{f}\""))
        .unwrap_or_default();
    format!(
        "---\napiVersion: v1\nkind: Event\nmetadata: {{name: e-{reason}-{count}, namespace: shop}}\ninvolvedObject: {{kind: Pod, name: web-1, namespace: shop, uid: p-1{field}}}\nreason: {reason}\nmessage: {message:?}\ntype: Warning\ncount: {count}\nlastTimestamp: \"2026-01-01T00:50:00Z\"\n"
    )
}

pub fn run(yaml: &str) -> Vec<Finding> {
    run_at(yaml, NOW)
}

pub fn run_at(yaml: &str, now: &str) -> Vec<Finding> {
    let state = ClusterState::from_text(yaml).unwrap();
    detect(&state, now.parse().unwrap())
}
