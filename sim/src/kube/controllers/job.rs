//! The Job controller: runs pods (`batch.kubernetes.io/job-name` labels) until
//! `completions` succeed, counts failed pods against `backoffLimit` (recreating with the
//! controller's 10s, 20s, ... back-off), enforces `activeDeadlineSeconds`, and sets the
//! terminal conditions (`SuccessCriteriaMet`+`Complete`, `FailureTarget`+`Failed` with
//! `BackoffLimitExceeded` / `DeadlineExceeded`).

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::clock::plus;
use super::events::{Note, Source};
use super::meta::{self, int, parse_ts, s, ts};
use super::replicaset::{is_ready, pod_from_template};
use super::{Cx, log_err};
use crate::kube::{DeleteOptions, Subresource, WriteOptions};

const COMPONENT: &str = "job-controller";
const POD_BACKOFF_MAX: f64 = 360.0;

pub fn sync(cx: &mut Cx) {
    let pods = cx.list(cx.kinds.pod);
    for job in cx.list(cx.kinds.job) {
        if job.pointer("/metadata/deletionTimestamp").is_some() || finished(&job) {
            continue;
        }
        let owned: Vec<&Value> = pods
            .iter()
            .filter(|p| meta::is_controlled_by(p, &job))
            .collect();
        sync_one(cx, &job, &owned);
    }
}

pub fn finished(job: &Value) -> bool {
    meta::condition_true(job, "Complete") || meta::condition_true(job, "Failed")
}

fn phase(p: &Value) -> &str {
    s(p, "/status/phase")
}

fn sync_one(cx: &mut Cx, job: &Value, owned: &[&Value]) {
    let now = cx.now;
    let start = parse_ts(job, "/status/startTime").unwrap_or(now);
    let suspended = job.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true);
    let active: Vec<&Value> = owned
        .iter()
        .copied()
        .filter(|p| !matches!(phase(p), "Succeeded" | "Failed"))
        .collect();
    let failed = owned.iter().filter(|p| phase(p) == "Failed").count() as i64;
    let succeeded = owned.iter().filter(|p| phase(p) == "Succeeded").count() as i64;
    let completions = int(job, "/spec/completions").unwrap_or(1).max(1);
    let parallelism = int(job, "/spec/parallelism").unwrap_or(1).max(0);
    let backoff_limit = int(job, "/spec/backoffLimit").unwrap_or(6).max(0);
    let mut conditions = meta::conditions(job);
    let mut terminal: Option<(&str, &str, String)> = None;
    if succeeded >= completions {
        terminal = Some((
            "Complete",
            "CompletionsReached",
            "Reached expected number of succeeded pods".into(),
        ));
    } else if failed > backoff_limit {
        terminal = Some((
            "Failed",
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit".into(),
        ));
    } else if let Some(limit) = int(job, "/spec/activeDeadlineSeconds") {
        let deadline = plus(start, limit as f64);
        if deadline <= now {
            terminal = Some((
                "Failed",
                "DeadlineExceeded",
                "Job was active longer than specified deadline".into(),
            ));
        } else if !suspended {
            cx.wake_at(deadline);
        }
    }
    let mut created = 0;
    match &terminal {
        Some((kind, reason, message)) => {
            for p in &active {
                delete_pod(cx, p);
            }
            let target = if *kind == "Complete" {
                "SuccessCriteriaMet"
            } else {
                "FailureTarget"
            };
            for ctype in [target, kind] {
                conditions.push(
                    json!({"type": ctype, "status": "True", "lastProbeTime": ts(now),
                    "lastTransitionTime": ts(now), "reason": reason, "message": message}),
                );
            }
            let (warning, event_reason) = match *kind {
                "Complete" => (false, "Completed"),
                _ => (true, *reason),
            };
            let message = if *kind == "Complete" {
                "Job completed".to_string()
            } else {
                message.clone()
            };
            note(cx, job, warning, event_reason, message);
        }
        None if !suspended => {
            let want = parallelism.min(completions - succeeded).max(0) as usize;
            if active.len() < want && backoff_passed(cx, owned, failed) {
                for _ in active.len()..want {
                    created += create_pod(cx, job);
                }
            }
        }
        None => {}
    }
    let terminal_now = terminal.is_some();
    let mut status = Map::new();
    status.insert("startTime".into(), json!(ts(start)));
    if !terminal_now && !active.is_empty() || created > 0 {
        status.insert("active".into(), json!(active.len() + created));
    }
    let ready = active.iter().filter(|p| is_ready(p)).count();
    status.insert("ready".into(), json!(if terminal_now { 0 } else { ready }));
    status.insert("terminating".into(), json!(0));
    if failed > 0 {
        status.insert("failed".into(), json!(failed));
    }
    if succeeded > 0 {
        status.insert("succeeded".into(), json!(succeeded));
    }
    if matches!(&terminal, Some((kind, _, _)) if *kind == "Complete") {
        status.insert("completionTime".into(), json!(ts(now)));
    }
    status.insert("uncountedTerminatedPods".into(), json!({}));
    if !conditions.is_empty() {
        status.insert("conditions".into(), json!(conditions));
    }
    let status = Value::Object(status);
    if job.get("status") == Some(&status) {
        return;
    }
    let ns = meta::namespace(job).to_string();
    log_err(
        "job status",
        cx.store.update_with(
            cx.kinds.job,
            Some(&ns),
            meta::name(job),
            Subresource::Status,
            |o| o["status"] = status,
        ),
    );
}

/// After `n` failed pods the controller waits `10s x 2^(n-1)` (at most 6m) from the last
/// failure before creating the next.
fn backoff_passed(cx: &mut Cx, owned: &[&Value], failed: i64) -> bool {
    if failed == 0 {
        return true;
    }
    let last: Option<Timestamp> = owned
        .iter()
        .filter(|p| phase(p) == "Failed")
        .flat_map(|p| {
            p.pointer("/status/containerStatuses")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|c| parse_ts(&c, "/state/terminated/finishedAt"))
        .max();
    let Some(last) = last else {
        return true;
    };
    let delay = (10.0 * 2f64.powi((failed - 1).clamp(0, 30) as i32)).min(POD_BACKOFF_MAX);
    let at = plus(last, delay);
    if at <= cx.now {
        true
    } else {
        cx.wake_at(at);
        false
    }
}

fn create_pod(cx: &mut Cx, job: &Value) -> usize {
    let mut template = job.pointer("/spec/template").cloned().unwrap_or_default();
    let mut labels = meta::labels(&template, "/metadata/labels");
    let uid = meta::uid(job);
    let name = meta::name(job);
    for (k, v) in [
        ("batch.kubernetes.io/controller-uid", uid),
        ("batch.kubernetes.io/job-name", name),
        ("controller-uid", uid),
        ("job-name", name),
    ] {
        labels.insert(k.into(), json!(v));
    }
    template["metadata"]["labels"] = Value::Object(labels);
    let pod = pod_from_template(job, &template);
    let ns = meta::namespace(job);
    let created = cx
        .store
        .create(cx.kinds.pod, Some(ns), pod, &WriteOptions::default());
    match log_err("create job pod", created) {
        Some(w) => {
            let message = format!("Created pod: {}", meta::name(&w.object));
            note(cx, job, false, "SuccessfulCreate", message);
            1
        }
        None => 0,
    }
}

fn delete_pod(cx: &mut Cx, pod: &Value) {
    let ns = meta::namespace(pod);
    log_err(
        "delete job pod",
        cx.store.delete(
            cx.kinds.pod,
            Some(ns),
            meta::name(pod),
            &DeleteOptions::default(),
        ),
    );
}

fn note(cx: &mut Cx, job: &Value, warning: bool, reason: &str, message: String) {
    let now = cx.now;
    cx.event(
        now,
        Note {
            object: job,
            field_path: None,
            warning,
            reason,
            message,
            source: Source::controller(COMPONENT),
        },
    );
}
