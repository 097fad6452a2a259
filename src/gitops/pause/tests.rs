use super::*;

const INCIDENT: &str = "prod/payments/Deployment/checkout-api/oom-killed";

fn t(s: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(1_764_000_000 + s).unwrap_or_default()
}

fn app(sync_policy: Value) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": "payments", "namespace": "argocd", "resourceVersion": "41",
            "annotations": {"team": "payments"},
        },
        "spec": {
            "project": "default",
            "source": {"repoURL": "https://github.com/org/gitops.git", "path": "payments"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "payments"},
            "syncPolicy": sync_policy,
        },
    })
}

fn policy() -> Value {
    json!({"automated": {"prune": true, "selfHeal": true}, "syncOptions": ["CreateNamespace=true"]})
}

fn apply(app: &Value, patch: &json_patch::Patch) -> Result<Value, String> {
    let mut out = app.clone();
    json_patch::patch(&mut out, patch).map_err(|e| e.to_string())?;
    Ok(out)
}

fn pause(app: &Value, mode: PauseMode) -> (json_patch::Patch, PauseRecord) {
    match plan_pause(app, &[], mode, INCIDENT, t(0), t(86_400)) {
        PausePlan::Patch { patch, record } => (patch, record),
        other => panic!("expected a patch, got {other:?}"),
    }
}

fn resume(app: &Value) -> json_patch::Patch {
    match plan_resume(app, INCIDENT) {
        ResumePlan::Patch(p) => p,
        other => panic!("expected a resume patch, got {other:?}"),
    }
}

#[test]
fn argo_3_1_pause_sets_the_flag_and_resume_restores_verbatim() {
    let before = app(policy());
    let (patch, record) = pause(&before, PauseMode::EnabledFlag);
    assert_eq!(record.prior, json!({"prune": true, "selfHeal": true}));
    let paused = apply(&before, &patch).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        paused.pointer("/spec/syncPolicy/automated"),
        Some(&json!({"prune": true, "selfHeal": true, "enabled": false}))
    );
    // Nothing else in the policy or metadata moved; the record is on the app.
    assert_eq!(
        paused.pointer("/spec/syncPolicy/syncOptions"),
        before.pointer("/spec/syncPolicy/syncOptions")
    );
    assert_eq!(
        paused.pointer("/metadata/annotations/team"),
        Some(&json!("payments"))
    );
    assert_eq!(super::record(&paused), Ok(Some(record.clone())));
    assert_eq!(confirm(&paused, &record), Ok(()));
    let resumed = apply(&paused, &resume(&paused)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resumed, before, "resume restores the app exactly as it was");
}

#[test]
fn pre_3_1_flag_is_pruned_then_the_null_mode_pauses_and_restores() {
    let before = app(policy());
    let (patch, first) = pause(&before, PauseMode::EnabledFlag);
    let mut after = apply(&before, &patch).unwrap_or_else(|e| panic!("{e}"));
    // What an API server with the pre-3.1 CRD stores: the unknown field is pruned.
    if let Some(auto) = after
        .pointer_mut("/spec/syncPolicy/automated")
        .and_then(Value::as_object_mut)
    {
        auto.remove("enabled");
    }
    assert_eq!(confirm(&after, &first), Err(ReadBack::FlagDropped));
    let (patch, record) = match plan_pause(
        &after,
        &[],
        PauseMode::NullAutomated,
        INCIDENT,
        t(5),
        t(99_999),
    ) {
        PausePlan::Patch { patch, record } => (patch, record),
        other => panic!("expected a patch, got {other:?}"),
    };
    // The retry keeps the first record's prior and times.
    assert_eq!(record.prior, first.prior);
    assert_eq!((record.paused_at, record.expires_at), (t(0), t(86_400)));
    let paused = apply(&after, &patch).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        paused.pointer("/spec/syncPolicy/automated"),
        Some(&Value::Null)
    );
    assert_eq!(confirm(&paused, &record), Ok(()));
    let resumed = apply(&paused, &resume(&paused)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resumed, before);
}

#[test]
fn null_mode_resume_when_the_server_pruned_the_policy() {
    let before = app(json!({"automated": {"prune": false}}));
    let (patch, record) = pause(&before, PauseMode::NullAutomated);
    let mut paused = apply(&before, &patch).unwrap_or_else(|e| panic!("{e}"));
    // A structural schema drops the null, and here the emptied syncPolicy with it.
    if let Some(spec) = paused.pointer_mut("/spec").and_then(Value::as_object_mut) {
        spec.remove("syncPolicy");
    }
    assert!(is_paused(&paused, &record));
    let resumed = apply(&paused, &resume(&paused)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resumed, before);
    // With the policy object kept but empty.
    let mut emptied = apply(&before, &patch).unwrap_or_else(|e| panic!("{e}"));
    if let Some(p) = emptied
        .pointer_mut("/spec/syncPolicy")
        .and_then(Value::as_object_mut)
    {
        p.remove("automated");
    }
    let resumed = apply(&emptied, &resume(&emptied)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resumed, before);
}

#[test]
fn a_concurrent_edit_fails_the_patch_instead_of_being_overwritten() {
    let before = app(policy());
    let (patch, _) = pause(&before, PauseMode::EnabledFlag);
    // A person turns selfHeal off between suture's read and its patch.
    let mut edited = before.clone();
    edited["spec"]["syncPolicy"]["automated"]["selfHeal"] = json!(false);
    assert!(apply(&edited, &patch).is_err());
}

#[test]
fn resume_after_a_person_changed_the_policy_keeps_their_change() {
    let before = app(policy());
    let (patch, _) = pause(&before, PauseMode::EnabledFlag);
    let mut paused = apply(&before, &patch).unwrap_or_else(|e| panic!("{e}"));
    // During review, someone re-enables auto-sync with different settings.
    paused["spec"]["syncPolicy"]["automated"] = json!({"prune": false, "enabled": true});
    match plan_resume(&paused, INCIDENT) {
        ResumePlan::ChangedSince { patch, current } => {
            assert_eq!(current, json!({"prune": false, "enabled": true}));
            let out = apply(&paused, &patch).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(out.pointer("/spec/syncPolicy/automated"), Some(&current));
            assert_eq!(super::record(&out), Ok(None), "the record is removed");
        }
        other => panic!("expected ChangedSince, got {other:?}"),
    }
}

#[test]
fn nothing_to_pause_without_auto_sync() {
    for policy in [
        Value::Null,
        json!({}),
        json!({"automated": null}),
        json!({"automated": {"enabled": false, "prune": true}}),
    ] {
        let a = app(policy.clone());
        assert_eq!(
            plan_pause(&a, &[], PauseMode::EnabledFlag, INCIDENT, t(0), t(1)),
            PausePlan::NotAutomated,
            "{policy}"
        );
    }
}

#[test]
fn pausing_twice_is_a_no_op_and_other_incidents_are_left_alone() {
    let before = app(policy());
    let (patch, record) = pause(&before, PauseMode::EnabledFlag);
    let paused = apply(&before, &patch).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        plan_pause(&paused, &[], PauseMode::EnabledFlag, INCIDENT, t(9), t(10)),
        PausePlan::AlreadyPaused(record)
    );
    let other = "prod/payments/Deployment/cart/oom-killed";
    assert_eq!(
        plan_pause(&paused, &[], PauseMode::EnabledFlag, other, t(9), t(10)),
        PausePlan::Refused(PauseRefusal::PausedForOtherIncident(INCIDENT.into()))
    );
    assert_eq!(
        plan_resume(&paused, other),
        ResumePlan::OtherIncident(INCIDENT.into())
    );
    assert_eq!(plan_resume(&before, INCIDENT), ResumePlan::NotPaused);
}

#[test]
fn an_app_without_annotations_gets_the_map() {
    let mut before = app(policy());
    if let Some(m) = before
        .pointer_mut("/metadata")
        .and_then(Value::as_object_mut)
    {
        m.remove("annotations");
    }
    let (patch, record) = pause(&before, PauseMode::EnabledFlag);
    let paused = apply(&before, &patch).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(super::record(&paused), Ok(Some(record)));
}

#[test]
fn a_foreign_annotation_is_not_trusted() {
    let mut a = app(policy());
    a["metadata"]["annotations"][PAUSE_ANNOTATION] = json!("yes please");
    assert!(matches!(
        plan_pause(&a, &[], PauseMode::EnabledFlag, INCIDENT, t(0), t(1)),
        PausePlan::Refused(PauseRefusal::ForeignAnnotation(_))
    ));
    assert!(matches!(
        plan_resume(&a, INCIDENT),
        ResumePlan::Unreadable(PauseRefusal::ForeignAnnotation(_))
    ));
}

fn owned_app() -> Value {
    let mut a = app(policy());
    a["metadata"]["ownerReferences"] = json!([{
        "apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet", "name": "tenants",
        "uid": "9f0b", "controller": true, "blockOwnerDeletion": true,
    }]);
    a
}

fn appset(spec: Value) -> ApplicationSet {
    serde_json::from_value(json!({
        "metadata": {"name": "tenants", "namespace": "argocd"},
        "spec": spec,
    }))
    .unwrap_or_default()
}

fn plan_owned(spec: Value) -> PausePlan {
    plan_pause(
        &owned_app(),
        &[appset(spec)],
        PauseMode::EnabledFlag,
        INCIDENT,
        t(0),
        t(1),
    )
}

#[test]
fn application_set_owned_apps_pause_only_when_the_set_lets_the_pause_stand() {
    let refused = PausePlan::Refused(PauseRefusal::ApplicationSetWouldRevert("tenants".into()));
    assert_eq!(plan_owned(json!({"generators": []})), refused);
    // Ignoring another field, or the field for another app, does not help.
    assert_eq!(
        plan_owned(
            json!({"ignoreApplicationDifferences": [{"jsonPointers": ["/spec/source/targetRevision"]}]})
        ),
        refused
    );
    assert_eq!(
        plan_owned(
            json!({"ignoreApplicationDifferences": [{"name": "orders", "jsonPointers": ["/spec/syncPolicy"]}]})
        ),
        refused
    );
    for ok in [
        json!({"ignoreApplicationDifferences": [{"jsonPointers": ["/spec/syncPolicy"]}]}),
        json!({"ignoreApplicationDifferences": [{"name": "payments", "jsonPointers": ["/spec/syncPolicy"]}]}),
        json!({"ignoreApplicationDifferences": [{"jqPathExpressions": [".spec.syncPolicy"]}]}),
        json!({"syncPolicy": {"applicationsSync": "create-only"}}),
    ] {
        assert!(
            matches!(plan_owned(ok.clone()), PausePlan::Patch { .. }),
            "{ok}"
        );
    }
    assert_eq!(
        plan_pause(
            &owned_app(),
            &[],
            PauseMode::EnabledFlag,
            INCIDENT,
            t(0),
            t(1)
        ),
        PausePlan::Refused(PauseRefusal::ApplicationSetUnknown("tenants".into()))
    );
}
