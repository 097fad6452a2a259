//! Composing located changes into new file texts, and the unified diff a reviewer reads.
//! Pure: the current texts come in through `read`.

use super::edit::{self, EditError};
use super::locate::FileChange;

/// One file a change writes: its text before (None for a new file) and after.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrittenFile {
    pub path: String,
    pub old: Option<String>,
    pub new: String,
}

/// Why the changes cannot be written; each becomes an escalation.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ComposeError {
    #[error("refusing to overwrite existing file {0}")]
    Exists(String),
    #[error("{0} is not in the repository")]
    Missing(String),
    #[error("cannot edit {file} safely: {source}")]
    Edit {
        file: String,
        #[source]
        source: EditError,
    },
}

/// Apply file changes in order; several edits of one file compose (each sees the previous
/// one's result), so the files come out in first-touched order.
pub fn apply_changes<'a>(
    changes: &[FileChange],
    read: impl Fn(&str) -> Option<&'a str>,
) -> Result<Vec<WrittenFile>, ComposeError> {
    let mut out: Vec<WrittenFile> = Vec::new();
    for change in changes {
        match change {
            FileChange::Create { file, content } => {
                if read(file).is_some() || out.iter().any(|w| w.path == *file) {
                    return Err(ComposeError::Exists(file.clone()));
                }
                out.push(WrittenFile {
                    path: file.clone(),
                    old: None,
                    new: content.clone(),
                });
            }
            FileChange::Edit { file, edit: e } => {
                let slot = out.iter().position(|w| w.path == *file);
                let current = match slot {
                    Some(i) => out[i].new.clone(),
                    None => read(file)
                        .ok_or_else(|| ComposeError::Missing(file.clone()))?
                        .to_string(),
                };
                let new = edit::apply(&current, e).map_err(|source| ComposeError::Edit {
                    file: file.clone(),
                    source,
                })?;
                match slot {
                    Some(i) => out[i].new = new,
                    None => out.push(WrittenFile {
                        path: file.clone(),
                        old: Some(current),
                        new,
                    }),
                }
            }
        }
    }
    Ok(out)
}

/// A `git diff`-style unified diff of one file (`/dev/null` as the old side of a new file).
pub fn unified_diff(path: &str, old: Option<&str>, new: &str) -> String {
    let before = old.unwrap_or("");
    let diff = similar::TextDiff::from_lines(before, new);
    let old_header = if old.is_some() {
        format!("a/{path}")
    } else {
        "/dev/null".to_string()
    };
    diff.unified_diff()
        .context_radius(3)
        .header(&old_header, &format!("b/{path}"))
        .to_string()
}

/// The diffs of all written files, concatenated in order.
pub fn diff_all(files: &[WrittenFile]) -> String {
    files
        .iter()
        .map(|w| unified_diff(&w.path, w.old.as_deref(), &w.new))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gitops::edit::{PathSeg, YamlEdit, YamlOp};

    fn set(file: &str, path: &[&str], value: &str) -> FileChange {
        FileChange::Edit {
            file: file.into(),
            edit: YamlEdit {
                document: 0,
                op: YamlOp::Set {
                    path: path.iter().map(|k| PathSeg::Key(k.to_string())).collect(),
                    value: value.into(),
                },
            },
        }
    }

    #[test]
    fn two_edits_of_one_file_compose_and_diff_once() {
        let text = "limits:\n  memory: 512Mi\nrequests:\n  memory: 512Mi\n";
        let changes = [
            set("d.yaml", &["limits", "memory"], "640Mi"),
            set("d.yaml", &["requests", "memory"], "640Mi"),
        ];
        let files = apply_changes(&changes, |f| (f == "d.yaml").then_some(text)).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(
            files[0].new,
            "limits:\n  memory: 640Mi\nrequests:\n  memory: 640Mi\n"
        );
        assert_eq!(files[0].old.as_deref(), Some(text));
        let diff = diff_all(&files);
        assert!(diff.starts_with("--- a/d.yaml\n+++ b/d.yaml\n"), "{diff}");
        assert_eq!(diff.lines().filter(|l| l.starts_with('+')).count(), 3);
    }

    #[test]
    fn refusals_name_the_file() {
        let create = FileChange::Create {
            file: "p.yaml".into(),
            content: "x: 1\n".into(),
        };
        assert_eq!(
            apply_changes(std::slice::from_ref(&create), |_| Some("")),
            Err(ComposeError::Exists("p.yaml".into()))
        );
        let err = apply_changes(&[set("gone.yaml", &["a"], "b")], |_| None).unwrap_err();
        assert_eq!(err.to_string(), "gone.yaml is not in the repository");
        let err = apply_changes(&[set("d.yaml", &["a"], "b")], |_| Some("a: [\n")).unwrap_err();
        assert!(
            matches!(&err, ComposeError::Edit { file, .. } if file == "d.yaml"),
            "{err}"
        );
        assert!(err.to_string().starts_with("cannot edit d.yaml safely: "));
    }

    #[test]
    fn a_new_file_diffs_from_dev_null() {
        let diff = unified_diff("p.yaml", None, "a: 1\n");
        assert!(diff.starts_with("--- /dev/null\n+++ b/p.yaml\n"), "{diff}");
    }
}
