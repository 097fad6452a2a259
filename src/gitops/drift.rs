//! Drift check: the value suture is about to replace in Git must be the value the live object
//! runs. When they differ, Git and the cluster disagree (a sync is pending, or someone already
//! changed the file), and an edit computed from the live value would be wrong.

use serde_json::Value;

use super::edit::{YamlEdit, YamlOp, path_to_string};
use super::locate::FieldTarget;
use super::locate::FileChange;
use super::locate::manifest::{get, parse_docs};
use crate::quantity::Quantity;

/// Git sets a value other than the one the live object runs.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "Git and the cluster disagree: {file} sets {field} to {git} but the live object runs {live}; an Argo CD sync may be pending or the file was changed since, so suture does not edit over it"
)]
pub struct DriftError {
    pub file: String,
    /// The path in the file, e.g. `spec.template.spec.containers[name=web].image`.
    pub field: String,
    pub git: String,
    pub live: String,
}

/// Check one located change of `write` against the live value `from`. `text` is the file's
/// current content. Creating a file or setting a value that is absent is never drift.
pub fn check(
    write: &FieldTarget,
    from: &Value,
    change: &FileChange,
    text: Option<&str>,
) -> Result<(), DriftError> {
    let FileChange::Edit {
        file,
        edit: YamlEdit {
            document,
            op: YamlOp::Set { path, .. },
        },
    } = change
    else {
        return Ok(());
    };
    let Some(text) = text else { return Ok(()) };
    let Some(docs) = parse_docs(file, text) else {
        return Ok(());
    };
    let Some(old) = docs.get(*document).and_then(|d| get(d, path)) else {
        return Ok(());
    };
    let consistent = match (write, old) {
        (_, Value::Null) => true,
        (FieldTarget::Image { current, .. }, Value::String(s)) => {
            s == current
                || current.ends_with(&format!(":{s}"))
                || current.ends_with(&format!("@{s}"))
        }
        (FieldTarget::Container { .. }, _) if !old.is_string() && !old.is_number() => true,
        (FieldTarget::Container { .. }, old) => same_scalar(old, from),
        _ => true,
    };
    match consistent {
        true => Ok(()),
        false => Err(DriftError {
            file: file.clone(),
            field: path_to_string(path),
            git: show(old),
            live: match write {
                FieldTarget::Image { current, .. } => current.clone(),
                FieldTarget::Container { .. } => show(from),
            },
        }),
    }
}

/// Equal as written, or equal as quantities (`0.5Gi` == `512Mi`).
fn same_scalar(a: &Value, b: &Value) -> bool {
    if a == b || show(a) == show(b) {
        return true;
    }
    let q = |v: &Value| Quantity::parse(&show(v)).ok().map(|(q, _)| q);
    matches!((q(a), q(b)), (Some(x), Some(y)) if x == y)
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gitops::edit::PathSeg;

    fn set(path: &[&str]) -> FileChange {
        FileChange::Edit {
            file: "d.yaml".into(),
            edit: YamlEdit {
                document: 0,
                op: YamlOp::Set {
                    path: path.iter().map(|k| PathSeg::Key(k.to_string())).collect(),
                    value: Value::Null,
                },
            },
        }
    }

    fn memory() -> FieldTarget {
        FieldTarget::Container {
            field: vec!["memory".into()],
            value: "640Mi".into(),
        }
    }

    #[test]
    fn equal_quantities_in_other_units_are_not_drift() {
        let text = "limits:\n  memory: 0.5Gi\n";
        assert!(
            check(
                &memory(),
                &"512Mi".into(),
                &set(&["limits", "memory"]),
                Some(text)
            )
            .is_ok()
        );
    }

    #[test]
    fn a_different_value_in_git_is_drift_and_says_both() {
        let text = "limits:\n  memory: 768Mi\n";
        let err = check(
            &memory(),
            &"512Mi".into(),
            &set(&["limits", "memory"]),
            Some(text),
        )
        .unwrap_err();
        assert_eq!(
            (err.file.as_str(), err.git.as_str(), err.live.as_str()),
            ("d.yaml", "768Mi", "512Mi")
        );
        assert!(err.to_string().starts_with(
            "Git and the cluster disagree: d.yaml sets limits.memory to 768Mi but the live object runs 512Mi;"
        ), "{err}");
    }

    #[test]
    fn image_tags_and_full_references_both_match_the_live_image() {
        let image = |current: &str| FieldTarget::Image {
            current: current.into(),
            desired: "x:1".into(),
        };
        let tag = "image:\n  tag: v5\n";
        assert!(
            check(
                &image("gcr.io/a/b:v5"),
                &Value::Null,
                &set(&["image", "tag"]),
                Some(tag)
            )
            .is_ok()
        );
        assert!(
            check(
                &image("gcr.io/a/b:v6"),
                &Value::Null,
                &set(&["image", "tag"]),
                Some(tag)
            )
            .is_err()
        );
        let full = "image: gcr.io/a/b:v5\n";
        assert!(
            check(
                &image("gcr.io/a/b:v5"),
                &Value::Null,
                &set(&["image"]),
                Some(full)
            )
            .is_ok()
        );
    }

    #[test]
    fn absent_values_and_new_files_are_not_drift() {
        assert!(
            check(
                &memory(),
                &"512Mi".into(),
                &set(&["limits", "memory"]),
                Some("limits: {}\n")
            )
            .is_ok()
        );
        let create = FileChange::Create {
            file: "p.yaml".into(),
            content: String::new(),
        };
        assert!(check(&memory(), &"512Mi".into(), &create, None).is_ok());
    }
}
