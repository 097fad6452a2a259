//! Reverting a fix from its rollback spec (pure). When a fix is placed, each write it makes is
//! recorded as an [`Undo`]: the file, document and path, the exact value before (none when the
//! fix added the key) and the value suture wrote. A revert re-reads those paths on the branch as
//! it is now, refuses if anyone changed them since (a human, an image updater, Renovate), and
//! otherwise restores the prior values with the same minimal-diff editor: a changed value is
//! set back, an added key is removed. GitHub has no revert endpoint and GitLab's commits onto
//! the target branch, so suture builds the revert itself and sends it for review.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::compose::{self, ComposeError, WrittenFile};
use super::edit::{PathSeg, YamlEdit, YamlOp, path_to_string};
use super::locate::FileChange;
use super::locate::manifest::{get, parse_docs};
use super::place::Placed;

/// How to undo one write of a fix.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Undo {
    /// A value edit: put `before` back (remove the key when `before` is none), provided the
    /// file still holds `after`, the value suture wrote.
    Restore {
        file: String,
        document: usize,
        path: Vec<PathSeg>,
        before: Option<Value>,
        after: Value,
    },
    /// A write the editor cannot take back exactly (a new file, an appended list item): a
    /// revert of this fix is left to a person.
    Manual { file: String, why: String },
}

/// Why a revert cannot be built; each is escalated instead of opened.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RevertError {
    #[error("the fix {why} in {file}; suture reverts only value edits, so a person must revert it")]
    Manual { file: String, why: String },
    #[error("{0} is no longer in the repository")]
    Missing(String),
    #[error(
        "{file} changed after suture's merge: {field} is now {now}, not the {wrote} suture wrote; someone else edited it, so suture does not revert over their change"
    )]
    ChangedSince {
        file: String,
        field: String,
        now: String,
        wrote: String,
    },
    #[error("the fix recorded no writes to undo")]
    Nothing,
    #[error(
        "the base branch changed {field} in {file} to {now} (the fix was made against {was}); suture does not rebase over someone else's change"
    )]
    BaseChanged {
        file: String,
        field: String,
        now: String,
        was: String,
    },
    #[error(transparent)]
    Edit(#[from] ComposeError),
}

/// The undo of every write `placed` makes, read against the files as they were before it and
/// as the fix leaves them. A write that created keys is undone by removing the outermost key it
/// created, so the file comes back byte for byte.
pub fn undo_of(placed: &Placed) -> Vec<Undo> {
    let docs = |file: &str, old: bool| {
        let written = placed.files.iter().find(|w| w.path == file)?;
        let text = if old {
            written.old.as_deref()?
        } else {
            &written.new
        };
        parse_docs(file, text)
    };
    let mut out: Vec<Undo> = Vec::new();
    for change in &placed.changes {
        let undo = match change {
            FileChange::Create { file, .. } => Undo::Manual {
                file: file.clone(),
                why: "created a new file".into(),
            },
            FileChange::Edit { file, edit } => match &edit.op {
                YamlOp::Set { path, .. } => {
                    let before_doc =
                        docs(file, true).and_then(|d| d.into_iter().nth(edit.document));
                    let after_doc =
                        docs(file, false).and_then(|d| d.into_iter().nth(edit.document));
                    // The outermost key the write created, or the whole path when it existed.
                    let existing = (0..=path.len())
                        .take_while(|n| {
                            before_doc
                                .as_ref()
                                .is_some_and(|d| get(d, &path[..*n]).is_some())
                        })
                        .last()
                        .unwrap_or(0);
                    let target = &path[..(existing + 1).min(path.len())];
                    let before = match existing == path.len() {
                        true => before_doc.as_ref().and_then(|d| get(d, path)).cloned(),
                        false => None,
                    };
                    match after_doc.as_ref().and_then(|d| get(d, target)) {
                        Some(after) => Undo::Restore {
                            file: file.clone(),
                            document: edit.document,
                            path: target.to_vec(),
                            before,
                            after: after.clone(),
                        },
                        None => Undo::Manual {
                            file: file.clone(),
                            why: format!(
                                "wrote {} where it cannot be read back",
                                path_to_string(path)
                            ),
                        },
                    }
                }
                YamlOp::Append { path, .. } => Undo::Manual {
                    file: file.clone(),
                    why: format!("appended an item to {}", path_to_string(path)),
                },
                YamlOp::Remove { path } => Undo::Manual {
                    file: file.clone(),
                    why: format!("removed {}", path_to_string(path)),
                },
            },
        };
        // Two writes under one created key undo as one removal.
        if !out.contains(&undo) {
            out.push(undo);
        }
    }
    out
}

/// The files of the revert, on the branch as `read` gives it now.
pub fn revert<'a>(
    undos: &[Undo],
    read: impl Fn(&str) -> Option<&'a str>,
) -> Result<Vec<WrittenFile>, RevertError> {
    if undos.is_empty() {
        return Err(RevertError::Nothing);
    }
    let mut changes = Vec::new();
    for undo in undos {
        let (file, document, path, before, after) = match undo {
            Undo::Manual { file, why } => {
                return Err(RevertError::Manual {
                    file: file.clone(),
                    why: why.clone(),
                });
            }
            Undo::Restore {
                file,
                document,
                path,
                before,
                after,
            } => (file, *document, path, before, after),
        };
        let text = read(file).ok_or_else(|| RevertError::Missing(file.clone()))?;
        let now = parse_docs(file, text)
            .and_then(|docs| docs.get(document).and_then(|d| get(d, path)).cloned());
        if !now.as_ref().is_some_and(|v| same(v, after)) {
            return Err(RevertError::ChangedSince {
                file: file.clone(),
                field: path_to_string(path),
                now: now.as_ref().map_or_else(|| "absent".to_string(), show),
                wrote: show(after),
            });
        }
        let op = match before {
            Some(value) => YamlOp::Set {
                path: path.clone(),
                value: value.clone(),
            },
            None => YamlOp::Remove { path: path.clone() },
        };
        changes.push(FileChange::Edit {
            file: file.clone(),
            edit: YamlEdit { document, op },
        });
    }
    Ok(compose::apply_changes(&changes, read)?)
}

/// The fix again, on a base that moved under it (a rebase): each write is made anew where the
/// base still holds the value the fix replaced. The errors name what someone else changed.
pub fn reapply<'a>(
    undos: &[Undo],
    read: impl Fn(&str) -> Option<&'a str>,
) -> Result<Vec<WrittenFile>, RevertError> {
    if undos.is_empty() {
        return Err(RevertError::Nothing);
    }
    let mut changes = Vec::new();
    for undo in undos {
        let Undo::Restore {
            file,
            document,
            path,
            before,
            after,
        } = undo
        else {
            let Undo::Manual { file, why } = undo else {
                continue;
            };
            return Err(RevertError::Manual {
                file: file.clone(),
                why: why.clone(),
            });
        };
        let text = read(file).ok_or_else(|| RevertError::Missing(file.clone()))?;
        let now = parse_docs(file, text)
            .and_then(|docs| docs.get(*document).and_then(|d| get(d, path)).cloned());
        let unchanged = match (&now, before) {
            (None, None) => true,
            (Some(n), Some(b)) => same(n, b),
            _ => false,
        };
        if !unchanged {
            return Err(RevertError::BaseChanged {
                file: file.clone(),
                field: path_to_string(path),
                now: now.as_ref().map_or_else(|| "absent".to_string(), show),
                was: before.as_ref().map_or_else(|| "absent".to_string(), show),
            });
        }
        changes.push(FileChange::Edit {
            file: file.clone(),
            edit: YamlEdit {
                document: *document,
                op: YamlOp::Set {
                    path: path.clone(),
                    value: after.clone(),
                },
            },
        });
    }
    Ok(compose::apply_changes(&changes, read)?)
}

/// Scalars compare by their text (`30` and `"30"` are the same write); anything else exactly.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(_) | Value::Number(_) | Value::Bool(_), _) => show(a) == show(b),
        _ => a == b,
    }
}

/// A value as a reviewer reads it: strings bare, anything else as JSON.
pub(crate) fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
