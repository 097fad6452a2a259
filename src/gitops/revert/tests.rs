use serde_json::json;

use super::*;
use crate::gitops::place::AppRef;

const MANIFEST: &str = "apps/web/deployment.yaml";

/// A deployment as people write them: comments, a sidecar first, quoted and plain scalars.
const ORIGINAL: &str = "\
# checkout API, owned by team payments
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: log-shipper
          image: fluent/fluent-bit:3.1.4
        - name: api # the service itself
          image: \"ghcr.io/example/web:1.14.2\"
          resources:
            limits:
              memory: 512Mi # sized for the 2025 catalogue
";

fn seg(path: &[&str]) -> Vec<PathSeg> {
    path.iter()
        .map(|s| match s.strip_prefix("containers=") {
            Some(name) => PathSeg::Match {
                key: "name".into(),
                value: name.into(),
            },
            None => PathSeg::Key((*s).into()),
        })
        .collect()
}

const API: [&str; 4] = ["spec", "template", "spec", "containers"];

fn api(rest: &[&str]) -> Vec<PathSeg> {
    let mut p: Vec<&str> = API.to_vec();
    p.push("containers=api");
    p.extend_from_slice(rest);
    seg(&p)
}

fn set(path: Vec<PathSeg>, value: Value) -> FileChange {
    FileChange::Edit {
        file: MANIFEST.into(),
        edit: YamlEdit {
            document: 0,
            op: YamlOp::Set { path, value },
        },
    }
}

/// A fix placed on `ORIGINAL` the way placement does it: the changes and the written files.
fn placed(changes: Vec<FileChange>) -> Placed {
    let files = compose::apply_changes(&changes, |f| (f == MANIFEST).then_some(ORIGINAL)).unwrap();
    Placed {
        application: AppRef {
            name: "web".into(),
            namespace: "argocd".into(),
        },
        repo_url: "https://git.example.com/platform/gitops.git".into(),
        diff: compose::diff_all(&files),
        changes,
        files,
        location: String::new(),
    }
}

fn revert_on(undos: &[Undo], text: &str) -> Result<String, RevertError> {
    let files = revert(undos, |f| (f == MANIFEST).then_some(text))?;
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].path, MANIFEST);
    assert_eq!(files[0].old.as_deref(), Some(text));
    Ok(files[0].new.clone())
}

#[test]
fn a_value_edit_reverts_to_the_original_bytes() {
    let fix = placed(vec![set(
        api(&["resources", "limits", "memory"]),
        json!("640Mi"),
    )]);
    let undos = undo_of(&fix);
    assert_eq!(
        undos,
        [Undo::Restore {
            file: MANIFEST.into(),
            document: 0,
            path: api(&["resources", "limits", "memory"]),
            before: Some(json!("512Mi")),
            after: json!("640Mi"),
        }]
    );
    let merged = &fix.files[0].new;
    assert!(merged.contains("memory: 640Mi # sized for the 2025 catalogue"));
    assert_eq!(revert_on(&undos, merged).unwrap(), ORIGINAL);
}

#[test]
fn an_added_key_is_removed_and_so_are_the_parents_the_fix_created() {
    // `requests` did not exist: the fix creates it; the revert removes `requests` as a whole,
    // not only `requests.memory` (which would leave an empty mapping behind).
    let fix = placed(vec![
        set(api(&["resources", "limits", "memory"]), json!("640Mi")),
        set(api(&["resources", "requests", "memory"]), json!("640Mi")),
        set(
            api(&["startupProbe"]),
            json!({"httpGet": {"path": "/healthz", "port": 8080}, "failureThreshold": 30}),
        ),
    ]);
    let undos = undo_of(&fix);
    assert_eq!(undos.len(), 3);
    assert!(
        matches!(&undos[1], Undo::Restore { path, before: None, after, .. }
        if *path == api(&["resources", "requests"]) && *after == json!({"memory": "640Mi"}))
    );
    assert!(matches!(&undos[2], Undo::Restore { path, before: None, .. }
        if *path == api(&["startupProbe"])));
    let merged = &fix.files[0].new;
    assert!(merged.contains("startupProbe:"), "{merged}");
    assert_eq!(revert_on(&undos, merged).unwrap(), ORIGINAL);
}

#[test]
fn changes_by_others_elsewhere_survive_the_revert() {
    let fix = placed(vec![set(
        api(&["resources", "limits", "memory"]),
        json!("640Mi"),
    )]);
    // Renovate bumped the sidecar after suture's merge: a different line.
    let moved = fix.files[0]
        .new
        .replace("fluent-bit:3.1.4", "fluent-bit:3.1.5");
    let reverted = revert_on(&undo_of(&fix), &moved).unwrap();
    assert_eq!(
        reverted,
        ORIGINAL.replace("fluent-bit:3.1.4", "fluent-bit:3.1.5")
    );
}

#[test]
fn a_value_someone_changed_after_the_merge_is_not_reverted() {
    let fix = placed(vec![set(
        api(&["resources", "limits", "memory"]),
        json!("640Mi"),
    )]);
    let human = fix.files[0].new.replace("memory: 640Mi", "memory: 1Gi");
    let err = revert_on(&undo_of(&fix), &human).unwrap_err();
    assert_eq!(
        err,
        RevertError::ChangedSince {
            file: MANIFEST.into(),
            field: "spec.template.spec.containers[name=api].resources.limits.memory".into(),
            now: "1Gi".into(),
            wrote: "640Mi".into(),
        }
    );
    assert!(
        err.to_string()
            .contains("is now 1Gi, not the 640Mi suture wrote"),
        "{err}"
    );

    // Removed by someone: also theirs to decide.
    let gone = fix.files[0].new.replace(
        "              memory: 640Mi # sized for the 2025 catalogue\n",
        "              cpu: 500m\n",
    );
    assert!(matches!(
        revert_on(&undo_of(&fix), &gone).unwrap_err(),
        RevertError::ChangedSince { now, .. } if now == "absent"
    ));
}

#[test]
fn numbers_and_their_text_are_the_same_write() {
    let fix = placed(vec![set(
        api(&["terminationGracePeriodSeconds"]),
        json!(45),
    )]);
    let undos = undo_of(&fix);
    // A reformat that quoted the number is still suture's value.
    let quoted = fix.files[0].new.replace(
        "terminationGracePeriodSeconds: 45",
        "terminationGracePeriodSeconds: \"45\"",
    );
    assert!(quoted.contains("\"45\""), "{quoted}");
    assert_eq!(revert_on(&undos, &fix.files[0].new).unwrap(), ORIGINAL);
    assert!(revert_on(&undos, &quoted).is_ok());
}

#[test]
fn writes_the_editor_cannot_take_back_are_left_to_a_person() {
    let create = FileChange::Create {
        file: "apps/web/patch-memory.yaml".into(),
        content: "kind: Deployment\n".into(),
    };
    let undos = vec![Undo::Manual {
        file: "apps/web/patch-memory.yaml".into(),
        why: "created a new file".into(),
    }];
    let fix = Placed {
        changes: vec![create],
        files: vec![],
        ..placed(vec![])
    };
    assert_eq!(undo_of(&fix), undos);
    let err = revert(&undos, |_| Some("")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the fix created a new file in apps/web/patch-memory.yaml; suture reverts only value edits, so a person must revert it"
    );
    assert_eq!(revert(&[], |_| None).unwrap_err(), RevertError::Nothing);
}

#[test]
fn a_file_gone_from_the_branch_is_named() {
    let fix = placed(vec![set(
        api(&["resources", "limits", "memory"]),
        json!("640Mi"),
    )]);
    assert_eq!(
        revert(&undo_of(&fix), |_| None).unwrap_err(),
        RevertError::Missing(MANIFEST.into())
    );
}

#[test]
fn undos_survive_the_ledger_round_trip() {
    let fix = placed(vec![
        set(api(&["resources", "limits", "memory"]), json!("640Mi")),
        set(api(&["startupProbe"]), json!({"failureThreshold": 30})),
    ]);
    let undos = undo_of(&fix);
    let stored = serde_json::to_value(&undos).unwrap();
    let back: Vec<Undo> = serde_json::from_value(stored).unwrap();
    assert_eq!(back, undos);
}

#[test]
fn a_fix_is_made_again_on_a_base_that_moved_elsewhere() {
    let fix = placed(vec![
        set(api(&["resources", "limits", "memory"]), json!("640Mi")),
        set(api(&["startupProbe"]), json!({"failureThreshold": 30})),
    ]);
    let undos = undo_of(&fix);
    // The base moved: a teammate bumped the sidecar. The fix applies again, theirs kept.
    let moved = ORIGINAL.replace("fluent-bit:3.1.4", "fluent-bit:3.1.5");
    let files = reapply(&undos, |f| (f == MANIFEST).then_some(moved.as_str())).unwrap();
    assert_eq!(
        files[0].new,
        fix.files[0]
            .new
            .replace("fluent-bit:3.1.4", "fluent-bit:3.1.5")
    );
}

#[test]
fn a_fix_is_not_made_again_over_a_changed_line() {
    let fix = placed(vec![set(
        api(&["resources", "limits", "memory"]),
        json!("640Mi"),
    )]);
    let moved = ORIGINAL.replace("memory: 512Mi", "memory: 768Mi");
    let err = reapply(&undo_of(&fix), |f| {
        (f == MANIFEST).then_some(moved.as_str())
    })
    .unwrap_err();
    assert_eq!(
        err,
        RevertError::BaseChanged {
            file: MANIFEST.into(),
            field: "spec.template.spec.containers[name=api].resources.limits.memory".into(),
            now: "768Mi".into(),
            was: "512Mi".into(),
        }
    );
    // A key the fix adds, added meanwhile by someone else, is theirs too.
    let probe = placed(vec![set(
        api(&["startupProbe"]),
        json!({"failureThreshold": 30}),
    )]);
    let theirs = probe.files[0]
        .new
        .replace("failureThreshold: 30", "failureThreshold: 10");
    assert!(matches!(
        reapply(&undo_of(&probe), |f| (f == MANIFEST).then_some(theirs.as_str())).unwrap_err(),
        RevertError::BaseChanged { was, .. } if was == "absent"
    ));
}
