//! The server-side dry run (design §7), pure part: the PATCH that applies exactly the draft's
//! changes to the live workload, and what the API server's answer to it means.
//!
//! The API server runs a `dryRun=All` request through everything a real write goes through
//! (defaulting, validation, mutating and validating admission: Kyverno, Gatekeeper,
//! ValidatingAdmissionPolicies) and persists nothing, so a change it would refuse is caught
//! before the PR instead of after the merge, when Argo CD fails to sync it.
//!
//! The body is a strategic merge patch: the containers list merges by `name`, so the patch
//! names only the container it changes. A JSON merge patch cannot: it replaces lists whole.
//! Kinds without strategic merge (Argo Rollouts, other custom resources) are skipped.

use serde_json::{Map, Value, json};

use super::{CheckOutcome, CheckResult};
use crate::objref::{ObjectRef, WorkloadKind};
use crate::proposal::{Change, Draft};

pub const NAME: &str = "dry_run";

/// The detail of a passed dry run.
pub const ACCEPTED: &str = "the API server accepted the change as a server-side dry run (dryRun=All); nothing was persisted";

/// The most of the API server's message a result carries (it can list many causes).
const MAX_MESSAGE: usize = 400;

/// The PATCH to send: `Patch::Strategic(body)` on `kind` `namespace/name` of `api_version`.
#[derive(Clone, Debug, PartialEq)]
pub struct DryRunPatch {
    /// `apps/v1`, `batch/v1`.
    pub api_version: String,
    pub kind: WorkloadKind,
    pub namespace: String,
    pub name: String,
    pub body: Value,
}

/// What the API server answered the dry-run PATCH.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// 2xx.
    Accepted,
    /// A `Status` failure: its code, reason (`Invalid`, `Forbidden`, ...) and message.
    Rejected {
        code: u16,
        reason: String,
        message: String,
    },
    /// No answer: connection refused, timeout, an unreadable response.
    Unreachable(String),
}

/// Why a change cannot be sent as a strategic merge patch: the dry run is skipped with it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    #[error(
        "Rollout is a custom resource (argoproj.io): the API server has no strategic merge \
         patch for it, and a JSON merge patch would replace the whole containers list"
    )]
    Rollout,
    #[error(
        "a bare Pod's spec cannot be patched (the API server allows few pod updates); it is \
         replaced, not patched"
    )]
    BarePod,
    #[error(
        "{kind} ({group}) is not a built-in workload kind: the API server has no strategic merge patch for it"
    )]
    NotBuiltIn { kind: String, group: String },
    #[error("the draft changes nothing")]
    NoChange,
    #[error("{field} is outside the {kind} pod template ({})", .kind.pod_spec_path())]
    OutsideTemplate { field: String, kind: WorkloadKind },
    /// The field's path cannot be written into the patch.
    #[error("{field}: {why}")]
    Field { field: String, why: FieldError },
}

/// Why one field path cannot be written into a strategic merge patch.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error("an empty path")]
    EmptyPath,
    #[error("an empty path segment")]
    EmptySegment,
    #[error("an unclosed [")]
    Unclosed,
    #[error(
        "the list item {list}[{selector}] is positional; a strategic merge patch addresses list items by their merge key"
    )]
    Positional { list: String, selector: String },
    #[error("{0} is not a list the API server merges by name")]
    NotMergedByName(String),
    #[error("{0} is both a value and a map")]
    NotAMap(String),
    #[error("{0} is both a value and a list")]
    NotAList(String),
    #[error("{0} holds a non-object")]
    NotAnObject(String),
    #[error("replacing the whole {list} item {name} is not a field change")]
    WholeItem { list: String, name: String },
}

/// The patch for `draft` (its change and the changes that go with it), or why the dry run
/// cannot be expressed for it (the check is then skipped with that reason).
pub fn patch_for_draft(draft: &Draft) -> Result<DryRunPatch, PatchError> {
    let changes: Vec<&Change> = std::iter::once(&draft.change)
        .chain(draft.also.iter())
        .collect();
    patch_for(&draft.target.workload, &changes)
}

/// The strategic merge patch that applies exactly `changes` to `workload`.
pub fn patch_for(workload: &ObjectRef, changes: &[&Change]) -> Result<DryRunPatch, PatchError> {
    let kind = match workload.workload_kind() {
        Some(
            k @ (WorkloadKind::Deployment
            | WorkloadKind::StatefulSet
            | WorkloadKind::DaemonSet
            | WorkloadKind::ReplicaSet
            | WorkloadKind::Job
            | WorkloadKind::CronJob),
        ) => k,
        Some(WorkloadKind::Rollout) => return Err(PatchError::Rollout),
        Some(WorkloadKind::Pod) => return Err(PatchError::BarePod),
        None => {
            let group = match workload.group.as_str() {
                "" => "core",
                g => g,
            };
            return Err(PatchError::NotBuiltIn {
                kind: workload.kind.clone(),
                group: group.to_string(),
            });
        }
    };
    if changes.is_empty() {
        return Err(PatchError::NoChange);
    }
    let prefix = format!("{}.", kind.pod_spec_path());
    let mut body = Map::new();
    for change in changes {
        let field = &change.field;
        if !field.starts_with(&prefix) {
            return Err(PatchError::OutsideTemplate {
                field: field.clone(),
                kind,
            });
        }
        let in_field = |why| PatchError::Field {
            field: field.clone(),
            why,
        };
        let segments = parse(field).map_err(in_field)?;
        insert(&mut body, &segments, &change.to).map_err(in_field)?;
    }
    Ok(DryRunPatch {
        api_version: format!("{}/v1", kind.group()),
        kind,
        namespace: workload.namespace.clone(),
        name: workload.name.clone(),
        body: Value::Object(body),
    })
}

/// One step of a field path: a map key, or the item of a list with `name` = the value.
#[derive(Debug, PartialEq)]
enum Segment<'a> {
    Key(&'a str),
    Named { list: &'a str, name: &'a str },
}

/// `spec.template.spec.containers[name=api].resources.limits.memory` as segments. Positional
/// items (`args[1]`) cannot be addressed by a strategic merge patch.
fn parse(field: &str) -> Result<Vec<Segment<'_>>, FieldError> {
    let mut out = Vec::new();
    let mut rest = field;
    while !rest.is_empty() {
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        let key = &rest[..end];
        if key.is_empty() {
            return Err(FieldError::EmptySegment);
        }
        rest = &rest[end..];
        if let Some(after) = rest.strip_prefix('[') {
            let close = after.find(']').ok_or(FieldError::Unclosed)?;
            let selector = &after[..close];
            let Some(name) = selector.strip_prefix("name=") else {
                return Err(FieldError::Positional {
                    list: key.to_string(),
                    selector: selector.to_string(),
                });
            };
            if !merges_by_name(key) {
                return Err(FieldError::NotMergedByName(key.to_string()));
            }
            out.push(Segment::Named { list: key, name });
            rest = &after[close + 1..];
        } else {
            out.push(Segment::Key(key));
        }
        rest = rest.strip_prefix('.').unwrap_or(rest);
    }
    Ok(out)
}

/// Lists a strategic merge patch merges by `name` (k8s.io/api's `patchMergeKey:"name"`).
fn merges_by_name(list: &str) -> bool {
    matches!(
        list,
        "containers"
            | "initContainers"
            | "ephemeralContainers"
            | "env"
            | "volumes"
            | "imagePullSecrets"
            | "resourceClaims"
    )
}

/// Lists a strategic merge patch merges item by item (by any merge key): a whole new value
/// for one of them must say `$patch: replace`, or the old items would stay.
fn merges_items(list: &str) -> bool {
    merges_by_name(list)
        || matches!(
            list,
            "ports"
                | "volumeMounts"
                | "volumeDevices"
                | "hostAliases"
                | "topologySpreadConstraints"
                | "tolerations"
        )
}

/// Writes `to` at `segments` into the patch, merging with what earlier changes wrote (two
/// changes to one container share its list item).
fn insert(
    body: &mut Map<String, Value>,
    segments: &[Segment<'_>],
    to: &Value,
) -> Result<(), FieldError> {
    let Some((last, path)) = segments.split_last() else {
        return Err(FieldError::EmptyPath);
    };
    let mut at = body;
    for seg in path {
        at = match seg {
            Segment::Key(k) => at
                .entry(k.to_string())
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .ok_or_else(|| FieldError::NotAMap(k.to_string()))?,
            Segment::Named { list, name } => named_item(at, list, name)?,
        };
    }
    match last {
        Segment::Key(k) => {
            at.insert(k.to_string(), exact(k, to));
        }
        // The whole item: only its removal is expressible (`$patch: delete`).
        Segment::Named { list, name } if to.is_null() => {
            let item = named_item(at, list, name)?;
            item.insert("$patch".into(), json!("delete"));
        }
        Segment::Named { list, name } => {
            return Err(FieldError::WholeItem {
                list: list.to_string(),
                name: name.to_string(),
            });
        }
    }
    Ok(())
}

/// The item of `list` named `name` in the patch, added when absent.
fn named_item<'m>(
    at: &'m mut Map<String, Value>,
    list: &str,
    name: &str,
) -> Result<&'m mut Map<String, Value>, FieldError> {
    let items = at
        .entry(list.to_string())
        .or_insert_with(|| json!([]))
        .as_array_mut()
        .ok_or_else(|| FieldError::NotAList(list.to_string()))?;
    let pos = match items.iter().position(|i| i["name"] == name) {
        Some(p) => p,
        None => {
            items.push(json!({ "name": name }));
            items.len() - 1
        }
    };
    items[pos]
        .as_object_mut()
        .ok_or_else(|| FieldError::NotAnObject(list.to_string()))
}

/// `to` as the patch must say it to set exactly `to`: a map replaces the old one (a probe
/// loses fields the new one does not set) instead of merging into it, and so does a list
/// the server would merge item by item. Scalars and `null` (delete) are as they are.
fn exact(key: &str, to: &Value) -> Value {
    match to {
        Value::Object(m) => {
            let mut m = m.clone();
            m.insert("$patch".into(), json!("replace"));
            Value::Object(m)
        }
        Value::Array(items) if merges_items(key) => {
            let mut items = items.clone();
            items.push(json!({"$patch": "replace"}));
            Value::Array(items)
        }
        other => other.clone(),
    }
}

/// A dry run that did not run, and why.
pub fn skipped(why: impl std::fmt::Display) -> CheckResult {
    CheckResult::new(NAME, CheckOutcome::Skipped, format!("not run: {why}"))
}

/// What the API server's answer means for the change.
///
/// - 2xx: passed.
/// - 400, 422 and an admission denial's 403: failed, with the API server's message (bounded):
///   Argo CD's sync of the merged change would get the same answer.
/// - Everything that says nothing about the change (an API outage, 5xx, a timeout, 401, 404,
///   409, 429, a 403 from RBAC denying suture itself): skipped, "could not run: ...". The
///   choice: an outage must not block every fix (failed would escalate them all while it
///   lasts) and must not pass silently either, so the PR's Checks table shows the row as
///   `skipped` with the reason, for the reviewer to weigh.
pub fn interpret(answer: &Answer) -> CheckResult {
    match answer {
        Answer::Accepted => CheckResult::new(NAME, CheckOutcome::Passed, ACCEPTED),
        Answer::Rejected {
            code,
            reason,
            message,
        } => {
            let shown = bounded(message);
            let status = if reason.is_empty() {
                format!("HTTP {code}")
            } else {
                format!("HTTP {code} {reason}")
            };
            let denial = match code {
                400 | 422 => true,
                403 => !rbac_denial(message),
                _ => false,
            };
            if denial {
                CheckResult::new(NAME, CheckOutcome::Failed, format!("{shown} ({status})"))
            } else {
                CheckResult::new(
                    NAME,
                    CheckOutcome::Skipped,
                    format!("could not run ({status}): {shown}"),
                )
            }
        }
        Answer::Unreachable(e) => CheckResult::new(
            NAME,
            CheckOutcome::Skipped,
            format!(
                "could not run (no answer from the API server): {}",
                bounded(e)
            ),
        ),
    }
}

/// A 403 from the authorizer (`... is forbidden: User "..." cannot patch resource ...`) is about
/// suture's permissions, not the change; an admission webhook's 403 is about the change.
fn rbac_denial(message: &str) -> bool {
    !message.starts_with("admission webhook ")
        && (message.contains("cannot patch resource") || message.contains("is forbidden: User "))
}

/// At most [`MAX_MESSAGE`] characters, marked when cut.
fn bounded(message: &str) -> String {
    let message = message.trim();
    match message.char_indices().nth(MAX_MESSAGE) {
        Some((i, _)) => format!("{}…", &message[..i]),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(field: &str, from: Value, to: Value) -> Change {
        Change {
            field: field.into(),
            from,
            to,
        }
    }

    fn memory(prefix: &str, container: &str, kind: &str, from: &str, to: &str) -> Change {
        change(
            &format!("{prefix}.containers[name={container}].resources.{kind}.memory"),
            json!(from),
            json!(to),
        )
    }

    fn workload(kind: WorkloadKind) -> ObjectRef {
        ObjectRef::workload(kind, "payments", "checkout-api")
    }

    #[test]
    fn a_deployment_limit_and_request_merge_into_one_container_item() {
        let limit = memory("spec.template.spec", "api", "limits", "512Mi", "640Mi");
        let request = memory("spec.template.spec", "api", "requests", "512Mi", "640Mi");
        let p = patch_for(&workload(WorkloadKind::Deployment), &[&limit, &request]).unwrap();
        assert_eq!(p.api_version, "apps/v1");
        assert_eq!(p.kind, WorkloadKind::Deployment);
        assert_eq!(
            (p.namespace.as_str(), p.name.as_str()),
            ("payments", "checkout-api")
        );
        assert_eq!(
            p.body,
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "api", "resources": {
                    "limits": {"memory": "640Mi"}, "requests": {"memory": "640Mi"}
                }}
            ]}}}})
        );
    }

    #[test]
    fn statefulsets_daemonsets_and_replicasets_share_the_template_path() {
        for (kind, api) in [
            (WorkloadKind::StatefulSet, "apps/v1"),
            (WorkloadKind::DaemonSet, "apps/v1"),
            (WorkloadKind::ReplicaSet, "apps/v1"),
            (WorkloadKind::Job, "batch/v1"),
        ] {
            let c = memory("spec.template.spec", "api", "limits", "1Gi", "2Gi");
            let p = patch_for(&workload(kind), &[&c]).unwrap();
            assert_eq!(p.api_version, api, "{kind}");
            assert_eq!(
                p.body,
                json!({"spec": {"template": {"spec": {"containers": [
                    {"name": "api", "resources": {"limits": {"memory": "2Gi"}}}
                ]}}}}),
                "{kind}"
            );
        }
    }

    #[test]
    fn a_cronjob_patch_follows_the_job_template() {
        let c = memory(
            "spec.jobTemplate.spec.template.spec",
            "job",
            "limits",
            "256Mi",
            "320Mi",
        );
        let p = patch_for(&workload(WorkloadKind::CronJob), &[&c]).unwrap();
        assert_eq!(p.api_version, "batch/v1");
        assert_eq!(
            p.body,
            json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [
                {"name": "job", "resources": {"limits": {"memory": "320Mi"}}}
            ]}}}}}})
        );
        // A Deployment-shaped field on a CronJob is not its template.
        let wrong = memory("spec.template.spec", "job", "limits", "256Mi", "320Mi");
        let e = patch_for(&workload(WorkloadKind::CronJob), &[&wrong]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "spec.template.spec.containers[name=job].resources.limits.memory is outside the \
             CronJob pod template (spec.jobTemplate.spec.template.spec)"
        );
    }

    #[test]
    fn init_containers_images_probes_and_removals() {
        let init = change(
            "spec.template.spec.initContainers[name=migrate].image",
            json!("migrate:1"),
            json!("migrate:2"),
        );
        let probe = change(
            "spec.template.spec.containers[name=api].startupProbe",
            Value::Null,
            json!({"httpGet": {"path": "/healthz", "port": 8080}, "failureThreshold": 30}),
        );
        let unset = change(
            "spec.template.spec.containers[name=api].resources.limits.cpu",
            json!("1"),
            Value::Null,
        );
        let p = patch_for(
            &workload(WorkloadKind::Deployment),
            &[&init, &probe, &unset],
        )
        .unwrap();
        assert_eq!(
            p.body,
            json!({"spec": {"template": {"spec": {
                "initContainers": [{"name": "migrate", "image": "migrate:2"}],
                "containers": [{"name": "api",
                    "startupProbe": {"httpGet": {"path": "/healthz", "port": 8080},
                                     "failureThreshold": 30, "$patch": "replace"},
                    "resources": {"limits": {"cpu": null}}}]
            }}}})
        );
        // A whole env list replaces the old one; a list of scalars is replaced anyway.
        let env = change(
            "spec.template.spec.containers[name=api].env",
            json!([]),
            json!([{"name": "A", "value": "1"}]),
        );
        let args = change(
            "spec.template.spec.containers[name=api].args",
            json!(["a"]),
            json!(["b"]),
        );
        let p = patch_for(&workload(WorkloadKind::Deployment), &[&env, &args]).unwrap();
        assert_eq!(
            p.body["spec"]["template"]["spec"]["containers"][0],
            json!({"name": "api", "env": [{"name": "A", "value": "1"}, {"$patch": "replace"}],
                   "args": ["b"]})
        );
    }

    #[test]
    fn positional_items_and_kinds_without_strategic_merge_are_skipped() {
        let positional = change(
            "spec.template.spec.containers[name=api].args[1]",
            json!("a"),
            json!("b"),
        );
        let e = patch_for(&workload(WorkloadKind::Deployment), &[&positional]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "spec.template.spec.containers[name=api].args[1]: the list item args[1] is \
             positional; a strategic merge patch addresses list items by their merge key"
        );
        let c = memory("spec.template.spec", "api", "limits", "512Mi", "640Mi");
        let e = patch_for(&workload(WorkloadKind::Rollout), &[&c]).unwrap_err();
        assert_eq!(e, PatchError::Rollout);
        assert!(
            e.to_string().starts_with("Rollout is a custom resource"),
            "{e}"
        );
        let crd = ObjectRef::new("example.com", "Widget", "payments", "w");
        let e = patch_for(&crd, &[&c]).unwrap_err();
        assert!(
            e.to_string()
                .contains("Widget (example.com) is not a built-in workload kind"),
            "{e}"
        );
        let pod = memory("spec", "api", "limits", "512Mi", "640Mi");
        assert_eq!(
            patch_for(&workload(WorkloadKind::Pod), &[&pod]),
            Err(PatchError::BarePod)
        );
        let r = skipped(e);
        assert_eq!(r.outcome, CheckOutcome::Skipped);
        assert!(r.detail.starts_with("not run: Widget"), "{}", r.detail);
    }

    fn rejected(code: u16, reason: &str, message: &str) -> CheckResult {
        interpret(&Answer::Rejected {
            code,
            reason: reason.into(),
            message: message.into(),
        })
    }

    #[test]
    fn an_accepted_dry_run_passes() {
        let r = interpret(&Answer::Accepted);
        assert_eq!(r.name, "dry_run");
        assert_eq!(r.outcome, CheckOutcome::Passed);
        assert_eq!(r.detail, ACCEPTED);
    }

    #[test]
    fn validation_and_admission_denials_fail_with_the_servers_message() {
        let webhook = "admission webhook \"memory-ceiling.policy.example.com\" denied the request: container \"api\" memory limit 640Mi exceeds the ceiling 600Mi";
        let r = rejected(403, "Forbidden", webhook);
        assert_eq!(r.outcome, CheckOutcome::Failed);
        assert_eq!(r.detail, format!("{webhook} (HTTP 403 Forbidden)"));
        assert!(
            super::super::failure(&[r])
                .unwrap()
                .starts_with("check dry_run failed: admission webhook \"memory-ceiling.policy.example.com\" denied the request")
        );
        let invalid = "Deployment.apps \"checkout-api\" is invalid: spec.template.spec.containers[1].resources.requests: Invalid value: \"1Gi\": must be less than or equal to memory limit of 640Mi";
        let r = rejected(422, "Invalid", invalid);
        assert_eq!(r.outcome, CheckOutcome::Failed);
        assert!(r.detail.starts_with(invalid), "{}", r.detail);
        let r = rejected(
            400,
            "BadRequest",
            "quantities must match the regular expression",
        );
        assert_eq!(r.outcome, CheckOutcome::Failed);
        // A ValidatingAdmissionPolicy's denial without the webhook prefix is a denial too.
        let vap = "deployments.apps \"checkout-api\" is forbidden: ValidatingAdmissionPolicy 'ceiling' with binding 'ceiling' denied request: too big";
        assert_eq!(
            rejected(403, "Forbidden", vap).outcome,
            CheckOutcome::Failed
        );
    }

    #[test]
    fn a_long_message_is_bounded() {
        let long = format!(
            "admission webhook \"w\" denied the request: {}",
            "é".repeat(2000)
        );
        let r = rejected(403, "Forbidden", &long);
        assert_eq!(r.outcome, CheckOutcome::Failed);
        assert!(
            r.detail.chars().count() < MAX_MESSAGE + 40,
            "{}",
            r.detail.len()
        );
        assert!(r.detail.contains("…"));
    }

    #[test]
    fn answers_that_say_nothing_about_the_change_skip_as_could_not_run() {
        let rbac = "deployments.apps \"checkout-api\" is forbidden: User \"system:serviceaccount:suture:suture\" cannot patch resource \"deployments\" in API group \"apps\" in the namespace \"payments\"";
        for r in [
            rejected(403, "Forbidden", rbac),
            rejected(
                500,
                "InternalError",
                "Internal error occurred: failed calling webhook",
            ),
            rejected(
                503,
                "ServiceUnavailable",
                "the server is currently unable to handle the request",
            ),
            rejected(
                404,
                "NotFound",
                "deployments.apps \"checkout-api\" not found",
            ),
            rejected(409, "Conflict", "the object has been modified"),
            rejected(429, "TooManyRequests", "slow down"),
            rejected(401, "Unauthorized", "Unauthorized"),
            interpret(&Answer::Unreachable("connection refused".into())),
        ] {
            assert_eq!(r.outcome, CheckOutcome::Skipped, "{}", r.detail);
            assert!(r.detail.starts_with("could not run"), "{}", r.detail);
        }
        let r = rejected(503, "ServiceUnavailable", "down");
        assert_eq!(
            r.detail,
            "could not run (HTTP 503 ServiceUnavailable): down"
        );
        let table = super::super::render_table(&[r]);
        assert!(
            table.contains("| dry\\_run | skipped | could not run"),
            "{table}"
        );
    }
}
