//! Pausing and resuming an Argo CD Application's auto-sync while its fix is in review
//! (design.md §6). Pure: the Application as read from the API in, a JSON Patch out.
//!
//! - Argo CD 3.1+ has `spec.syncPolicy.automated.enabled`: set it to `false` and read it back.
//!   An older CRD prunes the unknown field on write, so the read-back shows the flag missing and
//!   the caller falls back to the second mode.
//! - Older: the stored `automated` object is set to null, and restored verbatim on resume.
//!
//! Every patch starts with a `test` of the policy suture read, so a concurrent edit by a person
//! fails the patch instead of being overwritten. The prior policy is also written to an
//! annotation on the Application, so a lost ledger cannot leave an app paused for good.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::argocd::ApplicationSet;

/// The annotation holding suture's [`PauseRecord`] while an app is paused.
pub const PAUSE_ANNOTATION: &str = "suture.dev/paused";

/// How auto-sync was switched off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PauseMode {
    /// `automated.enabled: false` (Argo CD >= 3.1).
    EnabledFlag,
    /// `automated: null`, the prior object kept to restore.
    NullAutomated,
}

/// What suture wrote, and what it must restore.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PauseRecord {
    pub incident: String,
    pub mode: PauseMode,
    /// `spec.syncPolicy.automated` as it was before the pause, verbatim.
    pub prior: Value,
    pub paused_at: jiff::Timestamp,
    pub expires_at: jiff::Timestamp,
}

/// Why an app is not paused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PauseRefusal {
    #[error(
        "owned by ApplicationSet {0}, which would revert the pause (it does not ignore /spec/syncPolicy)"
    )]
    ApplicationSetWouldRevert(String),
    #[error("owned by ApplicationSet {0}, which is not visible to suture")]
    ApplicationSetUnknown(String),
    #[error("already paused by suture for incident {0}")]
    PausedForOtherIncident(String),
    #[error("the pause annotation {PAUSE_ANNOTATION} is not suture's record: {0}")]
    ForeignAnnotation(String),
}

/// The outcome of planning a pause.
#[derive(Clone, Debug, PartialEq)]
pub enum PausePlan {
    /// Send this JSON Patch, then read the app back and [`confirm`] it.
    Patch {
        patch: json_patch::Patch,
        record: PauseRecord,
    },
    /// Auto-sync is not on (no `automated`, or it is disabled already): nothing to pause, and
    /// nothing to resume later.
    NotAutomated,
    /// Paused already by suture for this incident (a retry after a crash).
    AlreadyPaused(PauseRecord),
    Refused(PauseRefusal),
}

fn automated(app: &Value) -> Option<&Value> {
    app.pointer("/spec/syncPolicy/automated")
        .filter(|v| !v.is_null())
}

fn enabled(auto: &Value) -> bool {
    auto.get("enabled").and_then(Value::as_bool) != Some(false)
}

/// suture's record on the app, if it carries one.
pub fn record(app: &Value) -> Result<Option<PauseRecord>, PauseRefusal> {
    match app
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(PAUSE_ANNOTATION))
    {
        None => Ok(None),
        Some(Value::String(text)) => serde_json::from_str(text)
            .map(Some)
            .map_err(|e| PauseRefusal::ForeignAnnotation(e.to_string())),
        Some(other) => Err(PauseRefusal::ForeignAnnotation(format!(
            "not a string: {other}"
        ))),
    }
}

/// Whether auto-sync is off the way `record` says suture switched it off.
pub fn is_paused(app: &Value, record: &PauseRecord) -> bool {
    match record.mode {
        PauseMode::EnabledFlag => {
            automated(app)
                .and_then(|a| a.get("enabled"))
                .and_then(Value::as_bool)
                == Some(false)
        }
        PauseMode::NullAutomated => automated(app).is_none(),
    }
}

fn pointer_escape(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

fn ops(value: Value) -> json_patch::Patch {
    // Built from fixed shapes, so decoding cannot fail on input; were it ever to, the empty
    // patch changes nothing and the read-back (`confirm`) reports the app still automated.
    serde_json::from_value(value).unwrap_or(json_patch::Patch(Vec::new()))
}

/// The `test` op guarding the policy suture read. When the path is absent there is no value to
/// test (RFC 6902 cannot test absence), so the object's resourceVersion is tested instead.
fn guard(app: &Value, path: &str) -> Value {
    match app.pointer(path) {
        Some(v) => json!({"op": "test", "path": path, "value": v}),
        None => json!({
            "op": "test",
            "path": "/metadata/resourceVersion",
            "value": app.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null),
        }),
    }
}

fn set_annotation(app: &Value, value: Option<String>) -> Value {
    let has_annotations = app
        .pointer("/metadata/annotations")
        .is_some_and(Value::is_object);
    let path = format!("/metadata/annotations/{}", pointer_escape(PAUSE_ANNOTATION));
    match (value, has_annotations) {
        (Some(v), true) => json!({"op": "add", "path": path, "value": v}),
        (Some(v), false) => {
            json!({"op": "add", "path": "/metadata/annotations", "value": {PAUSE_ANNOTATION: v}})
        }
        (None, _) => json!({"op": "remove", "path": path}),
    }
}

/// Would the owning ApplicationSet undo a change to `spec.syncPolicy`? Argo CD's ApplicationSet
/// controller re-templates its apps unless `applicationsSync` forbids updates or
/// `ignoreApplicationDifferences` covers the field.
fn appset_refusal(app: &Value, appsets: &[ApplicationSet]) -> Option<PauseRefusal> {
    let owner = app
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)?
        .iter()
        .find(|r| r.get("kind").and_then(Value::as_str) == Some("ApplicationSet"))?;
    let name = owner.get("name").and_then(Value::as_str).unwrap_or("");
    let namespace = app
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("");
    let Some(set) = appsets.iter().find(|s| {
        s.metadata.name.as_deref() == Some(name)
            && s.metadata.namespace.as_deref().unwrap_or("") == namespace
    }) else {
        return Some(PauseRefusal::ApplicationSetUnknown(name.to_string()));
    };
    let sync = set
        .spec
        .pointer("/syncPolicy/applicationsSync")
        .and_then(Value::as_str);
    if matches!(sync, Some("create-only" | "create-delete")) {
        return None;
    }
    let app_name = app
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let ignored = set
        .spec
        .get("ignoreApplicationDifferences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|rule| {
            rule.get("name")
                .and_then(Value::as_str)
                .is_none_or(|n| n == app_name)
        })
        .any(|rule| {
            let listed = |field: &str, covering: [&str; 2]| {
                rule.get(field)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .any(|p| covering.contains(&p))
            };
            listed("jsonPointers", ["/spec/syncPolicy", "/spec"])
                || listed("jqPathExpressions", [".spec.syncPolicy", ".spec"])
        });
    (!ignored).then(|| PauseRefusal::ApplicationSetWouldRevert(name.to_string()))
}

/// Plan the pause of `app` for `incident`, in `mode`.
pub fn plan_pause(
    app: &Value,
    appsets: &[ApplicationSet],
    mode: PauseMode,
    incident: &str,
    now: jiff::Timestamp,
    expires_at: jiff::Timestamp,
) -> PausePlan {
    let existing = match record(app) {
        Ok(r) => r,
        Err(e) => return PausePlan::Refused(e),
    };
    if let Some(r) = &existing {
        if r.incident != incident {
            return PausePlan::Refused(PauseRefusal::PausedForOtherIncident(r.incident.clone()));
        }
        if is_paused(app, r) {
            return PausePlan::AlreadyPaused(r.clone());
        }
    }
    let Some(auto) = automated(app) else {
        return PausePlan::NotAutomated;
    };
    if !enabled(auto) {
        return PausePlan::NotAutomated;
    }
    if let Some(refusal) = appset_refusal(app, appsets) {
        return PausePlan::Refused(refusal);
    }
    // A retry after the 3.1 flag was pruned keeps the first record's prior (the same object).
    let prior = existing
        .as_ref()
        .map_or_else(|| auto.clone(), |r| r.prior.clone());
    let record = PauseRecord {
        incident: incident.to_string(),
        mode,
        prior,
        paused_at: existing.as_ref().map_or(now, |r| r.paused_at),
        expires_at: existing.as_ref().map_or(expires_at, |r| r.expires_at),
    };
    let change = match mode {
        PauseMode::EnabledFlag => {
            json!({"op": "add", "path": "/spec/syncPolicy/automated/enabled", "value": false})
        }
        PauseMode::NullAutomated => {
            json!({"op": "replace", "path": "/spec/syncPolicy/automated", "value": null})
        }
    };
    let text = serde_json::to_string(&record).unwrap_or_default();
    let patch = ops(json!([
        guard(app, "/spec/syncPolicy/automated"),
        change,
        set_annotation(app, Some(text)),
    ]));
    PausePlan::Patch { patch, record }
}

/// What the read-back after a pause patch says.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReadBack {
    /// The API accepted the patch but dropped `automated.enabled`: a CRD older than Argo CD 3.1.
    /// Pause again with [`PauseMode::NullAutomated`].
    #[error("the Application CRD dropped automated.enabled (Argo CD older than 3.1)")]
    FlagDropped,
    #[error("auto-sync is still on after the pause")]
    StillAutomated,
}

/// Check the app as read back after the pause patch.
pub fn confirm(app_after: &Value, record: &PauseRecord) -> Result<(), ReadBack> {
    if is_paused(app_after, record) {
        return Ok(());
    }
    match (record.mode, automated(app_after)) {
        (PauseMode::EnabledFlag, Some(a)) if a.get("enabled").is_none() => {
            Err(ReadBack::FlagDropped)
        }
        _ => Err(ReadBack::StillAutomated),
    }
}

/// The outcome of planning a resume.
#[derive(Clone, Debug, PartialEq)]
pub enum ResumePlan {
    Patch(json_patch::Patch),
    /// No suture record on the app: nothing of suture's to undo.
    NotPaused,
    /// The record is another incident's; leave it.
    OtherIncident(String),
    /// Someone changed the policy since suture paused it: restoring would overwrite them. The
    /// annotation is removed (so nothing waits on it) and the policy left as the person set it.
    ChangedSince {
        patch: json_patch::Patch,
        current: Value,
    },
    Unreadable(PauseRefusal),
}

/// Plan the resume of `app` for `incident`: restore the prior policy verbatim.
pub fn plan_resume(app: &Value, incident: &str) -> ResumePlan {
    let record = match record(app) {
        Ok(Some(r)) => r,
        Ok(None) => return ResumePlan::NotPaused,
        Err(e) => return ResumePlan::Unreadable(e),
    };
    if record.incident != incident {
        return ResumePlan::OtherIncident(record.incident);
    }
    let drop_record = set_annotation(app, None);
    if !is_paused(app, &record) {
        let current = automated(app).cloned().unwrap_or(Value::Null);
        return ResumePlan::ChangedSince {
            patch: ops(json!([
                guard(app, "/spec/syncPolicy/automated"),
                drop_record
            ])),
            current,
        };
    }
    // What the pause wrote must still be there, else a person changed it in between.
    let restore = match (record.mode, app.pointer("/spec/syncPolicy")) {
        (PauseMode::EnabledFlag, _) => vec![
            guard(app, "/spec/syncPolicy/automated"),
            json!({"op": "replace", "path": "/spec/syncPolicy/automated", "value": record.prior}),
        ],
        (PauseMode::NullAutomated, Some(policy)) if policy.is_object() => vec![
            guard(app, "/spec/syncPolicy"),
            json!({"op": "add", "path": "/spec/syncPolicy/automated", "value": record.prior}),
        ],
        // The API server pruned the emptied syncPolicy altogether.
        (PauseMode::NullAutomated, _) => vec![
            guard(app, "/spec/syncPolicy"),
            json!({"op": "add", "path": "/spec/syncPolicy", "value": {"automated": record.prior}}),
        ],
    };
    let mut all = restore;
    all.push(drop_record);
    ResumePlan::Patch(ops(Value::Array(all)))
}

#[cfg(test)]
mod tests;
