//! Minimal-diff YAML edits: change one value, keep every comment, quote style, key order,
//! indentation and line ending. Pure: text in, text out, or a reason the edit is unsafe.

use serde::Serialize;

/// One step of a path into a YAML document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum PathSeg {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
    /// The element of a sequence whose mapping has `key: value` (e.g. `containers[name=web]`).
    Match { key: String, value: String },
}

/// One logical change to one document of a file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum YamlOp {
    /// Set the value at `path` (creating missing mapping keys on the way).
    Set {
        path: Vec<PathSeg>,
        value: serde_json::Value,
    },
    /// Append `value` to the sequence at `path` (creating the sequence if missing).
    Append {
        path: Vec<PathSeg>,
        value: serde_json::Value,
    },
}

/// An edit of one file: ops on the document with index `document` (0 for single-document).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct YamlEdit {
    pub document: usize,
    pub op: YamlOp,
}

/// Why an edit was refused; the message is for the escalation a human reads.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EditError {
    #[error("file is not valid YAML: {0}")]
    Parse(String),
    #[error("document {0} not found in file")]
    NoDocument(usize),
    #[error("path {0} not found")]
    PathNotFound(String),
    #[error("edit would go through an alias or anchor at {0}; refusing to change shared YAML")]
    Alias(String),
    #[error("cannot edit safely: {0}")]
    Unsafe(String),
    #[error("verification failed: {0}")]
    Verify(String),
}

/// Apply `edit` to `text` and return the new text. The result is verified: both texts are
/// parsed and the only semantic difference must be the intended one.
pub fn apply(text: &str, edit: &YamlEdit) -> Result<String, EditError> {
    let _ = (text, edit);
    Err(EditError::Unsafe("not implemented".into()))
}

/// Render a path for messages: `spec.template.spec.containers[name=web].resources`.
pub fn path_to_string(path: &[PathSeg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            PathSeg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            PathSeg::Index(i) => out.push_str(&format!("[{i}]")),
            PathSeg::Match { key, value } => out.push_str(&format!("[{key}={value}]")),
        }
    }
    out
}
