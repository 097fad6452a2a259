//! Workload faults read from controller conditions: failed Jobs, Deployments past their
//! progress deadline, ReplicaSets that cannot create pods.

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use serde_json::{Value, json};

use super::common::{msg, object_finding, time};
use super::evidence::{
    ConditionFacts, Facts, FailingPod, JobFacts, ProgressFacts, ReplicaSetFacts, Table,
};
use super::{FaultId, Finding};
use crate::objref::WorkloadKind;
use crate::owner::is_controlled_by;
use crate::state::ClusterState;

const REVISION: &str = "deployment.kubernetes.io/revision";

/// Job condition `Failed=True` with reason `BackoffLimitExceeded` or `DeadlineExceeded`.
/// Other failure reasons (pod failure policy, failed indexes) are not in the catalog.
pub fn jobs(state: &ClusterState, out: &mut Vec<Finding>) {
    for job in &state.jobs {
        let Some(status) = job.status.as_ref() else {
            continue;
        };
        let failed = status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == "Failed" && c.status == "True");
        let Some(cond) = failed else {
            continue;
        };
        let fault = match cond.reason.as_deref() {
            Some("BackoffLimitExceeded") => FaultId::JobBackoffLimitExceeded,
            Some("DeadlineExceeded") => FaultId::JobDeadlineExceeded,
            _ => continue,
        };
        let spec = job.spec.as_ref();
        let facts = JobFacts {
            reason: cond.reason.clone(),
            message: msg(cond.message.as_deref()),
            since: time(cond.last_transition_time.as_ref()),
            failed: status.failed.unwrap_or(0),
            succeeded: status.succeeded.unwrap_or(0),
            backoff_limit: spec.and_then(|s| s.backoff_limit),
            active_deadline_seconds: spec.and_then(|s| s.active_deadline_seconds),
            start_time: time(status.start_time.as_ref()),
            failing_pods: failing_pods(state, &job.metadata),
        };
        out.push(object_finding(
            state,
            fault,
            "Job",
            &job.metadata,
            Facts::Job(facts),
        ));
    }
}

/// Pods controlled by the job, with every non-zero container exit they record.
fn failing_pods(
    state: &ClusterState,
    job: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> Vec<FailingPod> {
    let mut pods = Vec::new();
    for pod in state
        .pods
        .iter()
        .filter(|p| is_controlled_by(&p.metadata, WorkloadKind::Job, job))
    {
        let Some(status) = pod.status.as_ref() else {
            continue;
        };
        let all = status
            .init_container_statuses
            .iter()
            .flatten()
            .chain(status.container_statuses.iter().flatten());
        for cs in all {
            let states = [cs.state.as_ref(), cs.last_state.as_ref()];
            for t in states
                .into_iter()
                .flatten()
                .filter_map(|s| s.terminated.as_ref())
            {
                if t.exit_code != 0 {
                    pods.push(FailingPod {
                        pod: pod.metadata.name.clone(),
                        container: cs.name.clone(),
                        exit_code: t.exit_code,
                        reason: t.reason.clone(),
                        finished_at: time(t.finished_at.as_ref()),
                    });
                }
            }
        }
    }
    pods
}

/// Deployment condition `Progressing=False` with reason `ProgressDeadlineExceeded`, with the
/// new and previous ReplicaSets compared (revision, images, availability, failing pods).
pub fn progress_deadline(state: &ClusterState, pod_findings: &[Finding]) -> Vec<Finding> {
    let mut out = Vec::new();
    for deploy in &state.deployments {
        let conditions = deploy.status.as_ref().and_then(|s| s.conditions.as_ref());
        let stuck = conditions.into_iter().flatten().find(|c| {
            c.type_ == "Progressing"
                && c.status == "False"
                && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
        });
        let Some(cond) = stuck else {
            continue;
        };
        let mut facts = ProgressFacts {
            message: msg(cond.message.as_deref()),
            since: time(cond.last_transition_time.as_ref()),
            progress_deadline_seconds: deploy
                .spec
                .as_ref()
                .and_then(|s| s.progress_deadline_seconds),
            revision: deploy
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(REVISION).cloned()),
            images: images(deploy.spec.as_ref().map(|s| &s.template)),
            ..ProgressFacts::default()
        };

        let mut owned: Vec<&ReplicaSet> = state
            .replica_sets
            .iter()
            .filter(|rs| is_controlled_by(&rs.metadata, WorkloadKind::Deployment, &deploy.metadata))
            .collect();
        owned.sort_by_key(|rs| std::cmp::Reverse(revision(rs)));
        match owned.first() {
            Some(new) => facts.new = Some(replica_set(state, pod_findings, new, "new")),
            // Not captured: the condition message still names it.
            None => facts.new_replica_set = quoted(cond.message.as_deref().unwrap_or("")),
        }
        facts.previous = owned
            .get(1)
            .map(|prev| replica_set(state, pod_findings, prev, "previous"));
        out.push(object_finding(
            state,
            FaultId::ProgressDeadlineExceeded,
            "Deployment",
            &deploy.metadata,
            Facts::Progress(facts),
        ));
    }
    out
}

fn revision(rs: &ReplicaSet) -> i64 {
    rs.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(REVISION)?.parse().ok())
        .unwrap_or(0)
}

fn quoted(message: &str) -> Option<String> {
    let (_, rest) = message.split_once('"')?;
    Some(rest.split_once('"')?.0.to_string())
}

/// `{container: image}` of a pod template, in spec order.
fn images(template: Option<&PodTemplateSpec>) -> Table {
    let containers = template
        .and_then(|t| t.spec.as_ref())
        .map(|s| s.containers.as_slice());
    containers
        .unwrap_or_default()
        .iter()
        .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default().into()))
        .collect()
}

/// `<prefix>_replica_set`, `_revision`, `_images`, `_replicas`, `_available_replicas` and the
/// faults found on its pods as `<prefix>_pod_faults`.
fn replica_set(
    state: &ClusterState,
    pod_findings: &[Finding],
    rs: &ReplicaSet,
    prefix: &'static str,
) -> ReplicaSetFacts {
    let namespace = rs.metadata.namespace.as_deref().unwrap_or("");
    let pods: Vec<&str> = state
        .pods
        .iter()
        .filter(|p| is_controlled_by(&p.metadata, WorkloadKind::ReplicaSet, &rs.metadata))
        .filter_map(|p| p.metadata.name.as_deref())
        .collect();
    let faults: Vec<Value> = pod_findings
        .iter()
        .filter(|f| f.namespace == namespace && f.pod.as_deref().is_some_and(|p| pods.contains(&p)))
        .map(|f| json!({"pod": f.pod, "container": f.container, "fault": f.fault}))
        .collect();
    ReplicaSetFacts {
        prefix,
        replica_set: rs.metadata.name.clone().unwrap_or_default(),
        revision: revision(rs),
        images: images(rs.spec.as_ref().and_then(|s| s.template.as_ref())),
        // The API omits zero counts.
        replicas: rs
            .status
            .as_ref()
            .map(|s| (s.replicas, s.available_replicas.unwrap_or(0))),
        pod_count: pods.len(),
        pod_faults: faults,
    }
}

/// ReplicaSet condition `ReplicaFailure=True` (reason `FailedCreate`: quota, admission). The
/// Deployment mirrors it; its copy is reported only when no owned ReplicaSet was captured.
pub fn replica_failure(state: &ClusterState, out: &mut Vec<Finding>) {
    for rs in &state.replica_sets {
        let conds = rs.status.as_ref().and_then(|s| s.conditions.as_ref());
        if let Some(c) = conds
            .into_iter()
            .flatten()
            .find(|c| c.type_ == "ReplicaFailure" && c.status == "True")
        {
            let facts = ConditionFacts {
                replicas: rs.spec.as_ref().and_then(|s| s.replicas),
                current_replicas: rs.status.as_ref().map(|s| s.replicas),
                ..failure_evidence(
                    c.reason.as_deref(),
                    c.message.as_deref(),
                    c.last_transition_time.as_ref(),
                )
            };
            out.push(object_finding(
                state,
                FaultId::ReplicaFailure,
                "ReplicaSet",
                &rs.metadata,
                Facts::Condition(facts),
            ));
        }
    }
    for d in &state.deployments {
        let conds = d.status.as_ref().and_then(|s| s.conditions.as_ref());
        let Some(c) = conds
            .into_iter()
            .flatten()
            .find(|c| c.type_ == "ReplicaFailure" && c.status == "True")
        else {
            continue;
        };
        if state
            .replica_sets
            .iter()
            .any(|rs| is_controlled_by(&rs.metadata, WorkloadKind::Deployment, &d.metadata))
        {
            continue;
        }
        let ev = failure_evidence(
            c.reason.as_deref(),
            c.message.as_deref(),
            c.last_transition_time.as_ref(),
        );
        out.push(object_finding(
            state,
            FaultId::ReplicaFailure,
            "Deployment",
            &d.metadata,
            Facts::Condition(ev),
        ));
    }
}

fn failure_evidence(
    reason: Option<&str>,
    message: Option<&str>,
    since: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
) -> ConditionFacts {
    ConditionFacts {
        reason: reason.map(str::to_string),
        message: msg(message),
        since: time(since),
        ..ConditionFacts::default()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::run;
    use super::*;

    fn rs(name: &str, revision: u32, image: &str, available: u32) -> String {
        format!(
            "---\napiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: {name}\n  namespace: shop\n  uid: {name}\n  annotations: {{deployment.kubernetes.io/revision: \"{revision}\"}}\n  ownerReferences: [{{apiVersion: apps/v1, kind: Deployment, name: web, uid: d-1, controller: true}}]\nspec:\n  replicas: 2\n  selector: {{matchLabels: {{app: web}}}}\n  template: {{spec: {{containers: [{{name: web, image: \"{image}\"}}]}}}}\nstatus: {{replicas: 2, availableReplicas: {available}}}\n"
        )
    }

    const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop, uid: d-1, annotations: {deployment.kubernetes.io/revision: '7'}}\nspec:\n  selector: {matchLabels: {app: web}}\n  progressDeadlineSeconds: 600\n  template: {spec: {containers: [{name: web, image: 'shop/web:2.0'}]}}\nstatus:\n  conditions:\n  - {type: Progressing, status: 'False', reason: ProgressDeadlineExceeded, message: 'ReplicaSet \"web-new\" has timed out progressing.'}\n";

    const FAILING_POD: &str = "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: web-new-x1\n  namespace: shop\n  uid: px\n  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-new, uid: web-new, controller: true}]\nspec: {containers: [{name: web, image: 'shop/web:2.0'}]}\nstatus:\n  phase: Pending\n  containerStatuses:\n  - {name: web, image: 'shop/web:2.0', imageID: '', ready: false, restartCount: 0, state: {waiting: {reason: ImagePullBackOff, message: 'Back-off pulling image'}}}\n";

    #[test]
    fn progress_deadline_compares_new_and_previous_replica_sets() {
        let yaml = format!(
            "{DEPLOY}{}{}{FAILING_POD}",
            rs("web-new", 7, "shop/web:2.0", 0),
            rs("web-old", 6, "shop/web:1.9", 2)
        );
        let found = run(&yaml);
        let f = found
            .iter()
            .find(|f| f.fault == FaultId::ProgressDeadlineExceeded)
            .unwrap();
        assert_eq!(
            (f.owner.kind.as_str(), f.owner.name.as_str()),
            ("Deployment", "web")
        );
        let e = &f.evidence;
        assert_eq!(
            (&e["new_replica_set"], &e["new_revision"]),
            (&json!("web-new"), &json!(7))
        );
        assert_eq!(e["new_images"]["web"], "shop/web:2.0");
        assert_eq!(e["new_pod_faults"][0]["fault"], "image-pull-back-off");
        assert_eq!(e["previous_replica_set"], "web-old");
        assert_eq!(e["previous_available_replicas"], 2);
        assert_eq!(e["previous_images"]["web"], "shop/web:1.9");
        // The pod's own finding is reported too, owned by the Deployment.
        let pod = found
            .iter()
            .find(|f| f.fault == FaultId::ImagePullBackOff)
            .unwrap();
        assert_eq!(pod.owner.name, "web");
    }

    #[test]
    fn job_backoff_limit_with_failing_pods() {
        let yaml = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: migrate, namespace: shop, uid: j-1}\nspec: {backoffLimit: 2, template: {spec: {containers: [{name: m, image: m}]}}}\nstatus:\n  failed: 3\n  conditions: [{type: Failed, status: 'True', reason: BackoffLimitExceeded, message: Job has reached the specified backoff limit}]\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: migrate-abc\n  namespace: shop\n  uid: p-1\n  ownerReferences: [{apiVersion: batch/v1, kind: Job, name: migrate, uid: j-1, controller: true}]\nspec: {restartPolicy: Never, containers: [{name: m, image: m}]}\nstatus:\n  phase: Failed\n  containerStatuses: [{name: m, image: m, imageID: '', ready: false, restartCount: 0, state: {terminated: {exitCode: 3, reason: Error}}}]\n";
        let found = run(yaml);
        let job = found
            .iter()
            .find(|f| f.fault == FaultId::JobBackoffLimitExceeded)
            .unwrap();
        assert_eq!(job.evidence["failed"], 3);
        assert_eq!(job.evidence["backoff_limit"], 2);
        assert_eq!(job.evidence["failing_pods"][0]["exit_code"], 3);
        let deadline = yaml.replace("BackoffLimitExceeded", "DeadlineExceeded");
        assert!(
            run(&deadline)
                .iter()
                .any(|f| f.fault == FaultId::JobDeadlineExceeded)
        );
    }

    #[test]
    fn replica_failure_on_replicaset_resolves_to_deployment() {
        let yaml = format!("{DEPLOY}{}", rs("web-new", 7, "shop/web:2.0", 0))
            .replace("status: {replicas: 2, availableReplicas: 0}", "status:\n  replicas: 0\n  conditions: [{type: ReplicaFailure, status: 'True', reason: FailedCreate, message: 'pods \"web-new-x\" is forbidden: exceeded quota: compute, requested: limits.memory=1Gi, used: limits.memory=4Gi, limited: limits.memory=4Gi'}]");
        let found = run(&yaml);
        let f = found
            .iter()
            .find(|f| f.fault == FaultId::ReplicaFailure)
            .unwrap();
        assert_eq!(
            (f.subject.kind.as_str(), f.owner.kind.as_str()),
            ("ReplicaSet", "Deployment")
        );
        assert_eq!(f.evidence["reason"], "FailedCreate");
        assert!(
            f.evidence["message"]
                .as_str()
                .unwrap()
                .contains("exceeded quota")
        );
    }
}
