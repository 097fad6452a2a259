//! The CronJob controller: creates a Job (`<cronjob>-<minutes since epoch>`) at each
//! scheduled minute (five-field cron: `*`, `*/n`, `a`, `a-b`, `a-b/n`, lists; UTC), honours
//! `suspend` and `concurrencyPolicy`, keeps `status.active` / `lastScheduleTime` /
//! `lastSuccessfulTime`, and trims finished Jobs to the history limits. `trigger` starts a
//! Job at once, like `kubectl create job --from=cronjob/...`.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::events::{Note, Source};
use super::job::finished;
use super::meta::{self, int, parse_ts, s, ts};
use super::{Cx, log_err};
use crate::kube::{ApiError, DeleteOptions, Subresource, WriteOptions};

const COMPONENT: &str = "cronjob-controller";
/// Minutes searched for the next schedule (a week): enough for any `*/n` or daily schedule.
const SEARCH_MINUTES: i64 = 7 * 24 * 60;

pub fn sync(cx: &mut Cx) {
    let jobs = cx.list(cx.kinds.job);
    for cj in cx.list(cx.kinds.cron_job) {
        if cj.pointer("/metadata/deletionTimestamp").is_some() {
            continue;
        }
        let owned: Vec<&Value> = jobs
            .iter()
            .filter(|j| meta::is_controlled_by(j, &cj))
            .collect();
        sync_one(cx, &cj, &owned);
    }
}

fn sync_one(cx: &mut Cx, cj: &Value, owned: &[&Value]) {
    let Some(schedule) = Schedule::parse(s(cj, "/spec/schedule")) else {
        return;
    };
    let suspended = cj.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true);
    let active: Vec<&Value> = owned.iter().copied().filter(|j| !finished(j)).collect();
    let from = parse_ts(cj, "/status/lastScheduleTime")
        .or_else(|| parse_ts(cj, "/metadata/creationTimestamp"))
        .unwrap_or(cx.now);
    let mut last_schedule = parse_ts(cj, "/status/lastScheduleTime");
    if !suspended {
        // Only the most recent missed run is started, as the real controller does.
        let mut due = None;
        let mut t = schedule.next_after(from);
        while let Some(at) = t.filter(|at| *at <= cx.now) {
            due = Some(at);
            t = schedule.next_after(at);
        }
        if let Some(next) = t {
            cx.wake_at(next);
        }
        if let Some(at) = due {
            let policy = s(cj, "/spec/concurrencyPolicy");
            let skip = policy == "Forbid" && !active.is_empty();
            if !skip {
                if policy == "Replace" {
                    for j in &active {
                        delete(cx, j);
                    }
                }
                let name = format!("{}-{}", meta::name(cj), at.as_second() / 60);
                log_err("create job", create_job(cx, cj, &name, at, false));
            }
            last_schedule = Some(at);
        }
    }
    trim_history(cx, cj, owned);
    write_status(cx, cj, &active, last_schedule, owned);
}

fn create_job(
    cx: &mut Cx,
    cj: &Value,
    name: &str,
    scheduled: Timestamp,
    manual: bool,
) -> Result<String, ApiError> {
    let template = cj.pointer("/spec/jobTemplate").cloned().unwrap_or_default();
    let mut annotations = meta::labels(&template, "/metadata/annotations");
    if manual {
        annotations.insert("cronjob.kubernetes.io/instantiate".into(), json!("manual"));
    } else {
        annotations.insert(
            "batch.kubernetes.io/cronjob-scheduled-timestamp".into(),
            json!(ts(scheduled)),
        );
    }
    let job = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": meta::namespace(cj),
            "labels": meta::labels(&template, "/metadata/labels"),
            "annotations": annotations,
            "ownerReferences": [meta::owner_ref(cj)],
        },
        "spec": template.get("spec").cloned().unwrap_or_else(|| json!({})),
    });
    let ns = meta::namespace(cj);
    let created = cx
        .store
        .create(cx.kinds.job, Some(ns), job, &WriteOptions::default())?;
    let job_name = meta::name(&created.object).to_string();
    let now = cx.now;
    cx.event(
        now,
        Note {
            object: cj,
            field_path: None,
            warning: false,
            reason: "SuccessfulCreate",
            message: format!("Created job {job_name}"),
            source: Source::controller(COMPONENT),
        },
    );
    Ok(job_name)
}

/// A Job from CronJob `ns/name` now (`<name>-manual-<suffix>`).
pub fn trigger(cx: &mut Cx, ns: &str, name: &str) -> Result<String, ApiError> {
    let cj = cx.store.get(cx.kinds.cron_job, Some(ns), name)?;
    let suffix = meta::safe_encode(&format!("{:05}", cx.now.as_second() % 100_000));
    let job = format!("{name}-manual-{suffix}");
    let now = cx.now;
    create_job(cx, &cj, &job, now, true)
}

fn delete(cx: &mut Cx, job: &Value) {
    let ns = meta::namespace(job);
    log_err(
        "delete job",
        cx.store.delete(
            cx.kinds.job,
            Some(ns),
            meta::name(job),
            &DeleteOptions::default(),
        ),
    );
}

/// Keeps the newest `successfulJobsHistoryLimit` (3) and `failedJobsHistoryLimit` (1).
fn trim_history(cx: &mut Cx, cj: &Value, owned: &[&Value]) {
    for (ctype, field, default) in [
        ("Complete", "successfulJobsHistoryLimit", 3),
        ("Failed", "failedJobsHistoryLimit", 1),
    ] {
        let limit = int(cj, &format!("/spec/{field}")).unwrap_or(default).max(0) as usize;
        let mut done: Vec<&Value> = owned
            .iter()
            .copied()
            .filter(|j| meta::condition_true(j, ctype))
            .collect();
        if done.len() <= limit {
            continue;
        }
        done.sort_by_key(|j| s(j, "/metadata/creationTimestamp").to_string());
        for j in done.iter().take(done.len() - limit) {
            delete(cx, j);
        }
    }
}

fn write_status(
    cx: &mut Cx,
    cj: &Value,
    active: &[&Value],
    last_schedule: Option<Timestamp>,
    owned: &[&Value],
) {
    let mut status = json!({});
    if !active.is_empty() {
        let refs: Vec<Value> = active
            .iter()
            .map(|j| {
                json!({"apiVersion": "batch/v1", "kind": "Job", "namespace": meta::namespace(j),
                            "name": meta::name(j), "uid": meta::uid(j),
                            "resourceVersion": s(j, "/metadata/resourceVersion")})
            })
            .collect();
        status["active"] = json!(refs);
    }
    if let Some(t) = last_schedule {
        status["lastScheduleTime"] = json!(ts(t));
    }
    let last_success = owned
        .iter()
        .filter_map(|j| parse_ts(j, "/status/completionTime"))
        .max()
        .or_else(|| parse_ts(cj, "/status/lastSuccessfulTime"));
    if let Some(t) = last_success {
        status["lastSuccessfulTime"] = json!(ts(t));
    }
    if cj.get("status") == Some(&status) {
        return;
    }
    let ns = meta::namespace(cj).to_string();
    log_err(
        "cronjob status",
        cx.store.update_with(
            cx.kinds.cron_job,
            Some(&ns),
            meta::name(cj),
            Subresource::Status,
            |o| o["status"] = status,
        ),
    );
}

/// A five-field cron schedule: minute, hour, day of month, month, day of week (UTC).
#[derive(Debug, PartialEq)]
pub struct Schedule {
    fields: [Vec<bool>; 5],
}

impl Schedule {
    pub fn parse(spec: &str) -> Option<Schedule> {
        let spec = match spec.trim() {
            "@hourly" => "0 * * * *",
            "@daily" | "@midnight" => "0 0 * * *",
            "@weekly" => "0 0 * * 0",
            "@monthly" => "0 0 1 * *",
            "@yearly" | "@annually" => "0 0 1 1 *",
            other => other,
        };
        let parts: Vec<&str> = spec.split_whitespace().collect();
        if parts.len() != 5 {
            return None;
        }
        let ranges = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 6)];
        let mut fields: [Vec<bool>; 5] = Default::default();
        for (i, (part, (lo, hi))) in parts.iter().zip(ranges).enumerate() {
            fields[i] = field(part, lo, hi)?;
        }
        Some(Schedule { fields })
    }

    fn matches(&self, t: Timestamp) -> bool {
        let dt = t.to_zoned(jiff::tz::TimeZone::UTC);
        let values = [
            i64::from(dt.minute()),
            i64::from(dt.hour()),
            i64::from(dt.day()),
            i64::from(dt.month()),
            i64::from(dt.weekday().to_sunday_zero_offset()),
        ];
        values
            .iter()
            .zip(&self.fields)
            .all(|(v, f)| f.get(*v as usize).copied().unwrap_or(false))
    }

    /// The first scheduled minute strictly after `t`, within a week.
    pub fn next_after(&self, t: Timestamp) -> Option<Timestamp> {
        let minute = t.as_second().div_euclid(60) + 1;
        (minute..minute + SEARCH_MINUTES)
            .filter_map(|m| Timestamp::from_second(m * 60).ok())
            .find(|at| self.matches(*at))
    }
}

/// One cron field as a table of allowed values (index = value).
fn field(part: &str, lo: i64, hi: i64) -> Option<Vec<bool>> {
    let mut allowed = vec![false; (hi + 1) as usize];
    for item in part.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, st)) => (r, st.parse::<i64>().ok().filter(|n| *n > 0)?),
            None => (item, 1),
        };
        let (a, b) = if range == "*" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            (a.parse().ok()?, b.parse().ok()?)
        } else {
            let a: i64 = range.parse().ok()?;
            (a, if item.contains('/') { hi } else { a })
        };
        if a < lo || b > hi || a > b {
            return None;
        }
        let mut v = a;
        while v <= b {
            allowed[v as usize] = true;
            v += step;
        }
    }
    Some(allowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_parse_and_step() {
        let every5 = Schedule::parse("*/5 * * * *").expect("valid");
        let t: Timestamp = "2026-01-01T00:02:30Z".parse().expect("ts");
        assert_eq!(
            every5.next_after(t).map(|t| t.to_string()),
            Some("2026-01-01T00:05:00Z".to_string())
        );
        let fixed = Schedule::parse("15,45 3 * * *").expect("valid");
        assert_eq!(
            fixed.next_after(t).map(|t| t.to_string()),
            Some("2026-01-01T03:15:00Z".to_string())
        );
        assert!(Schedule::parse("61 * * * *").is_none());
        assert!(Schedule::parse("* * *").is_none());
        assert!(Schedule::parse("@hourly").is_some());
    }
}
