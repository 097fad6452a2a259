//! Minimal-diff YAML edits: set a value, add or remove a key, append to a sequence, keeping
//! every comment, quote style, key order, indentation and line ending. Pure: text in, text
//! out, or a reason the edit is unsafe.
//!
//! How: yaml-edit's lossless syntax tree (`cst`) finds the node a path leads to and the
//! byte offsets around it; the edit is a splice of the original text there (a scalar's
//! text replaced, whole lines inserted after a collection's last line, or a removed entry's
//! whole lines cut), so every other byte stays as it was. New text follows the file's own
//! conventions (`render`): its indentation step, sequence style (`- x` flush or indented),
//! line ending and quotes. A string keeps the replaced scalar's quotes; a plain one stays
//! plain unless a YAML 1.1 or 1.2 reader would take it for another type (`1.10`, `yes`,
//! `0123`, `12:30`) or syntax, and then takes the quotes the file uses most.
//! Then `verify` parses before and after with serde-saphyr, an independent parser, and
//! requires the edited document to equal the old one with the op applied to its JSON
//! model, and all other documents' bytes to be unchanged.
//!
//! Refused: paths through aliases, anchored nodes or merge keys, and removing an entry that
//! defines an anchor or sits next to a merge key (`Alias`: shared YAML would change
//! elsewhere); tagged nodes, block scalars (`|`, `>`) as targets, duplicate keys, ambiguous
//! `Match`es, removals from multi-line or commented flow mappings, and setting a mapping or
//! sequence to something that would drop existing keys or items (`Unsafe`; set leaves or
//! remove keys instead).

mod cst;
mod render;
mod verify;

use serde::Serialize;
use serde_json::{Map, Value};
use yaml_edit::SyntaxKind;

use cst::Found;
use render::QuoteStyle;

/// One step of a path into a YAML document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
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
    /// Remove the mapping entry that the last key of `path` names, with its whole value
    /// (the rollback of an added key).
    Remove { path: Vec<PathSeg> },
}

/// An edit of one file: ops on the document with index `document` (0 for single-document).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct YamlEdit {
    pub document: usize,
    pub op: YamlOp,
}

/// Why an edit was refused; the message is for the escalation a human reads. No variant
/// is worth retrying on the same text: callers re-locate (`NoDocument`, `PathNotFound`: the
/// file is not shaped as located) or escalate (the rest).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EditError {
    /// The file does not parse (serde-saphyr's first error line).
    #[error("file is not valid YAML: {0}")]
    Parse(String),
    #[error("document {0} not found in file")]
    NoDocument(usize),
    /// The path (and why it stops) as `a.b[name=x] (a.b is ...)`.
    #[error("path {0} not found")]
    PathNotFound(String),
    /// The edit would change YAML shared through an anchor, alias or merge key.
    #[error("edit would go through an alias or anchor at {0}; refusing to change shared YAML")]
    Alias(String),
    /// A shape the editor does not change in place (tags, block scalars, flow layouts, ...).
    #[error("cannot edit safely: {0}")]
    Unsafe(String),
    /// The edited text did not re-parse to the intended document: an editor bug, never
    /// written.
    #[error("verification failed: {0}")]
    Verify(String),
}

/// Apply `edit` to `text` and return the new text. The result is verified: both texts are
/// parsed and the only semantic difference must be the intended one.
pub fn apply(text: &str, edit: &YamlEdit) -> Result<String, EditError> {
    let before = verify::documents(text)?;
    if edit.document >= before.len() {
        return Err(EditError::NoDocument(edit.document));
    }
    let after = match &edit.op {
        YamlOp::Set { path, value } => set(text, edit.document, path, value)?,
        YamlOp::Append { path, value } => append(text, edit.document, path, value)?,
        YamlOp::Remove { path } => remove(text, edit.document, path)?,
    };
    verify::check(&before, text, &after, edit)?;
    Ok(after)
}

/// A replacement of `text[start..end]`.
struct Splice {
    start: usize,
    end: usize,
    with: String,
}

/// Apply non-overlapping splices.
fn splice(text: &str, mut splices: Vec<Splice>) -> Result<String, EditError> {
    splices.sort_by_key(|s| s.start);
    let mut out = String::with_capacity(text.len() + 64);
    let mut at = 0;
    for s in &splices {
        let (Some(keep), true) = (text.get(at..s.start), s.end >= s.start) else {
            return Err(EditError::Unsafe(
                "overlapping or misaligned edit ranges".into(),
            ));
        };
        out.push_str(keep);
        out.push_str(&s.with);
        at = s.end;
    }
    out.push_str(text.get(at..).unwrap_or_default());
    Ok(out)
}

/// The line ending used in `text` (CRLF if its first line break is one).
fn newline_of(text: &str) -> &'static str {
    match text.find('\n') {
        Some(i) if text[..i].ends_with('\r') => "\r\n",
        _ => "\n",
    }
}

/// Whether a value written at `offset` is already separated from a preceding `:` or `-`.
fn space_before(text: &str, offset: usize) -> bool {
    text.get(..offset).is_some_and(|t| t.ends_with([' ', '\t']))
}

/// Insert whole `lines` after the line holding `offset`.
fn insert_lines_after(text: &str, offset: usize, lines: &[String]) -> Splice {
    let line_end = match text.get(..offset) {
        Some(before) if offset > 0 && before.ends_with('\n') => Some(offset),
        _ => text
            .get(offset..)
            .and_then(|t| t.find('\n'))
            .map(|i| offset + i + 1),
    };
    let (at, with) = match line_end {
        Some(at) => {
            let nl = if text.get(..at).is_some_and(|t| t.ends_with("\r\n")) {
                "\r\n"
            } else {
                "\n"
            };
            (at, format!("{}{nl}", lines.join(nl)))
        }
        None => {
            let nl = newline_of(text);
            (text.len(), format!("{nl}{}", lines.join(nl)))
        }
    };
    Splice {
        start: at,
        end: at,
        with,
    }
}

fn locate(text: &str, doc: usize, path: &[PathSeg]) -> Result<(cst::Node, Found), EditError> {
    let root = cst::parse(text)?;
    let d = cst::documents(&root)
        .nth(doc)
        .ok_or(EditError::NoDocument(doc))?;
    let found = cst::walk(&d, path, text)?;
    Ok((d, found))
}

/// `value` nested under the keys `keys` (all of which must be mapping keys).
fn nest(path: &[PathSeg], from: usize, value: Value) -> Result<(String, Value), EditError> {
    let mut v = value;
    for (i, seg) in path.iter().enumerate().skip(from).rev() {
        let PathSeg::Key(k) = seg else {
            return Err(EditError::PathNotFound(path_to_string(&path[..=i])));
        };
        if i == from {
            return Ok((k.clone(), v));
        }
        let mut m = Map::new();
        m.insert(k.clone(), v);
        v = Value::Object(m);
    }
    Err(EditError::Unsafe("empty path".into()))
}

fn set(text: &str, doc: usize, path: &[PathSeg], value: &Value) -> Result<String, EditError> {
    let (d, found) = locate(text, doc, path)?;
    let splices = match found {
        Found::Node { node, holder } => match node.kind() {
            SyntaxKind::SCALAR => set_scalar(text, &d, &node, &holder, path, value)?,
            SyntaxKind::MAPPING => return set_mapping(text, doc, &node, path, value),
            SyntaxKind::SEQUENCE => return set_sequence(text, doc, &node, path, value),
            _ => {
                return Err(EditError::Unsafe(format!(
                    "cannot edit {}",
                    path_to_string(path)
                )));
            }
        },
        Found::MissingKey { mapping, rest } => {
            let (k, v) = nest(path, rest, value.clone())?;
            vec![insert_key(text, &d, &mapping, &k, &v)?]
        }
        Found::UnderNull { node, holder, rest } => {
            let (k, v) = nest(path, rest, value.clone())?;
            let mut m = Map::new();
            m.insert(k, v);
            replace_with_collection(text, &d, &node, &holder, &Value::Object(m))?
        }
    };
    splice(text, splices)
}

fn append(text: &str, doc: usize, path: &[PathSeg], value: &Value) -> Result<String, EditError> {
    let (d, found) = locate(text, doc, path)?;
    let list = Value::Array(vec![value.clone()]);
    let splices = match found {
        Found::Node { node, .. } if node.kind() == SyntaxKind::SEQUENCE => {
            if cst::is_flow(&node) {
                let quote = cst::style(&d, None, text).quote;
                vec![flow_insert(
                    &node,
                    render::inline(value, QuoteStyle::Plain, quote, true),
                )?]
            } else {
                let first = cst::seq_entries(&node).next();
                let start = first.map_or(cst::content_range(&node).0, |e| cst::range(&e).0);
                let mut lines = Vec::new();
                let st = cst::style(&d, None, text);
                render::seq_lines(
                    std::slice::from_ref(value),
                    cst::column(text, start),
                    st,
                    &mut lines,
                );
                vec![insert_lines_after(text, cst::content_end(&node), &lines)]
            }
        }
        Found::Node { node, holder } if cst::is_null(&node, text) => {
            replace_with_collection(text, &d, &node, &holder, &list)?
        }
        Found::Node { .. } => {
            return Err(EditError::Unsafe(format!(
                "{} is not a sequence",
                path_to_string(path)
            )));
        }
        Found::MissingKey { mapping, rest } => {
            let (k, v) = nest(path, rest, list)?;
            vec![insert_key(text, &d, &mapping, &k, &v)?]
        }
        Found::UnderNull { node, holder, rest } => {
            let (k, v) = nest(path, rest, list)?;
            let mut m = Map::new();
            m.insert(k, v);
            replace_with_collection(text, &d, &node, &holder, &Value::Object(m))?
        }
    };
    splice(text, splices)
}

/// Remove the entry `path` names from its mapping. Block entries lose their whole lines
/// (the key's line to the end of its value, plus comment lines indented deeper than the key
/// that follow it, which describe its value); comments above the key and blank lines stay,
/// as they may head more than this key. The last entry of a mapping becomes `{}`.
fn remove(text: &str, doc: usize, path: &[PathSeg]) -> Result<String, EditError> {
    let Some((PathSeg::Key(key), parent_path)) = path.split_last() else {
        return Err(EditError::Unsafe(format!(
            "{}: only a mapping key can be removed",
            path_to_string(path)
        )));
    };
    let (_, found) = locate(text, doc, parent_path)?;
    let missing = |why: &str| EditError::PathNotFound(format!("{} ({why})", path_to_string(path)));
    let mapping = match found {
        Found::Node { node, .. } if node.kind() == SyntaxKind::MAPPING => node,
        Found::Node { .. } => return Err(missing("its parent is not a mapping")),
        Found::MissingKey { .. } | Found::UnderNull { .. } => {
            return Err(missing("its parent does not exist"));
        }
    };
    let entries: Vec<cst::Node> = cst::entries(&mapping).collect();
    if entries.iter().any(|e| cst::is_merge(e, text)) {
        // The merged mapping may hold the key too: removing it here would not remove it.
        return Err(EditError::Alias(path_to_string(path)));
    }
    let hits: Vec<usize> = (0..entries.len())
        .filter(|&i| cst::entry_key(&entries[i], text).as_deref() == Some(key.as_str()))
        .collect();
    let i = match hits.as_slice() {
        [] => return Err(missing("no such key")),
        [i] => *i,
        _ => {
            return Err(EditError::Unsafe(format!(
                "duplicate key at {}",
                path_to_string(path)
            )));
        }
    };
    if cst::defines_anchor(&entries[i]) {
        return Err(EditError::Alias(format!(
            "{} (it defines an anchor other YAML may use)",
            path_to_string(path)
        )));
    }
    let cut = if cst::is_flow(&mapping) {
        remove_flow_entry(text, &mapping, &entries, i, path)?
    } else {
        remove_block_entry(text, &entries, i, path)?
    };
    splice(text, vec![cut])
}

/// The splice that removes block entry `entries[i]`.
fn remove_block_entry(
    text: &str,
    entries: &[cst::Node],
    i: usize,
    path: &[PathSeg],
) -> Result<Splice, EditError> {
    let entry = &entries[i];
    let (start, _) = cst::range(entry);
    let col = cst::column(text, start);
    let end = own_lines_end(text, cst::content_end(entry), col);
    let line = cst::line_start(text, start);
    let alone_on_line = text[line..start].chars().all(|c| c == ' ');
    if entries.len() == 1 {
        // The mapping would be empty: write `{}` where the entry was, on its first line.
        let body_end = end - trailing_newline(&text[..end]);
        return Ok(Splice {
            start,
            end: body_end,
            with: "{}".into(),
        });
    }
    if alone_on_line {
        let (mut start, mut end) = (line, end);
        if end == text.len() && !text.ends_with('\n') && line > 0 {
            // Keep the file's missing final line break: take the one before instead.
            start -= trailing_newline(&text[..line]);
            end = text.len();
        }
        return Ok(Splice {
            start,
            end,
            with: String::new(),
        });
    }
    // The first entry of a `- key: v` item: the next entry moves up onto the `- ` line.
    let unsafe_ =
        |why: &str| EditError::Unsafe(format!("cannot remove {}: {why}", path_to_string(path)));
    let next = entries
        .get(i + 1)
        .ok_or_else(|| unsafe_("it shares its line"))?;
    let (next_start, _) = cst::range(next);
    let between = text.get(end..next_start).unwrap_or("#");
    if between.lines().any(|l| !l.trim().is_empty()) {
        return Err(unsafe_(
            "a comment between it and the next key would have to move onto the `- ` line",
        ));
    }
    if cst::column(text, next_start) != col {
        return Err(unsafe_("the next key is not aligned with it"));
    }
    Ok(Splice {
        start,
        end: next_start,
        with: String::new(),
    })
}

/// Length of the line break `s` ends with (0, 1 or 2).
fn trailing_newline(s: &str) -> usize {
    if s.ends_with("\r\n") {
        2
    } else {
        usize::from(s.ends_with('\n'))
    }
}

/// The end of an entry's own lines: past the line break of the line holding `content_end`,
/// and past any comment lines after it that are indented deeper than the key (at `col`).
fn own_lines_end(text: &str, content_end: usize, col: usize) -> usize {
    let mut end = match text.get(..content_end) {
        Some(t) if content_end > 0 && t.ends_with('\n') => content_end,
        _ => text
            .get(content_end..)
            .and_then(|t| t.find('\n'))
            .map_or(text.len(), |n| content_end + n + 1),
    };
    while let Some(rest) = text.get(end..).filter(|r| !r.is_empty()) {
        let line_len = rest.find('\n').map_or(rest.len(), |n| n + 1);
        let line = &rest[..line_len];
        let indent = line.len() - line.trim_start_matches(' ').len();
        if !(line.trim_start_matches(' ').starts_with('#') && indent > col) {
            break;
        }
        end += line_len;
    }
    end
}

/// The splice that removes `entries[i]` from a one-line flow mapping, with one comma.
fn remove_flow_entry(
    text: &str,
    mapping: &cst::Node,
    entries: &[cst::Node],
    i: usize,
    path: &[PathSeg],
) -> Result<Splice, EditError> {
    let (m_start, m_end) = cst::range(mapping);
    if text[m_start..m_end].contains('\n') || cst::has_trivia(mapping) {
        return Err(EditError::Unsafe(format!(
            "cannot remove {}: its flow mapping spans lines or holds comments",
            path_to_string(path)
        )));
    }
    let (start, end) = match (i.checked_sub(1), entries.get(i + 1)) {
        // `{a: 1, b: 2}` -> `{b: 2}`: up to the next entry.
        (_, Some(next)) => (cst::range(&entries[i]).0, cst::range(next).0),
        // `{a: 1, b: 2}` -> `{a: 1}`: from the end of the previous one.
        (Some(prev), None) => (
            cst::flow_item_end(&entries[prev]),
            cst::flow_item_end(&entries[i]),
        ),
        // `{ a: 1 }` -> `{}`.
        (None, None) => cst::flow_inner(mapping)
            .ok_or_else(|| EditError::Unsafe("cannot find the braces of a flow mapping".into()))?,
    };
    Ok(Splice {
        start,
        end,
        with: String::new(),
    })
}

/// Replace a scalar's text, keeping its quote style for strings.
fn set_scalar(
    text: &str,
    doc: &cst::Node,
    scalar: &cst::Node,
    holder: &cst::Node,
    path: &[PathSeg],
    value: &Value,
) -> Result<Vec<Splice>, EditError> {
    let raw = cst::scalar_text(scalar, text);
    if cst::is_block_scalar(scalar) {
        return Err(EditError::Unsafe(format!(
            "{} is a block scalar (| or >); replacing it is not supported",
            path_to_string(path)
        )));
    }
    // Same value already: change nothing (not even the spelling, e.g. `yes` for true).
    if !raw.is_empty() && serde_saphyr::from_str::<Value>(raw).ok().as_ref() == Some(value) {
        return Ok(Vec::new());
    }
    if matches!(value, Value::Object(m) if !m.is_empty())
        || matches!(value, Value::Array(a) if !a.is_empty())
    {
        return replace_with_collection(text, doc, scalar, holder, value);
    }
    let (start, end) = cst::scalar_span(scalar);
    let quote = cst::style(doc, None, text).quote;
    let mut with = render::inline(value, QuoteStyle::of(raw), quote, cst::in_flow(scalar));
    if raw.is_empty() && !space_before(text, start) {
        with.insert(0, ' '); // `key:` -> `key: value`
    }
    Ok(vec![Splice { start, end, with }])
}

/// Set an object onto an existing mapping, key by key; refuse to drop keys.
fn set_mapping(
    text: &str,
    doc: usize,
    mapping: &cst::Node,
    path: &[PathSeg],
    value: &Value,
) -> Result<String, EditError> {
    let Value::Object(m) = value else {
        return Err(EditError::Unsafe(format!(
            "{} is a mapping; replacing it with a non-mapping is not supported",
            path_to_string(path)
        )));
    };
    let dropped: Vec<String> = cst::entries(mapping)
        .map(|e| cst::entry_key(&e, text).unwrap_or_else(|| "?".into()))
        .filter(|k| !m.contains_key(k))
        .collect();
    if !dropped.is_empty() {
        return Err(EditError::Unsafe(format!(
            "setting {} to this object would remove {}; set its leaves instead",
            path_to_string(path),
            dropped.join(", ")
        )));
    }
    let mut out = text.to_string();
    for (k, v) in m {
        let mut p = path.to_vec();
        p.push(PathSeg::Key(k.clone()));
        out = set(&out, doc, &p, v)?;
    }
    Ok(out)
}

/// Set an array onto an existing sequence, item by item; refuse to drop items.
fn set_sequence(
    text: &str,
    doc: usize,
    seq: &cst::Node,
    path: &[PathSeg],
    value: &Value,
) -> Result<String, EditError> {
    let old_len = cst::seq_entries(seq).count();
    let items = match value {
        Value::Array(items) if items.len() >= old_len => items,
        _ => {
            return Err(EditError::Unsafe(format!(
                "setting {} would remove items of its sequence",
                path_to_string(path)
            )));
        }
    };
    let mut out = text.to_string();
    for (i, v) in items.iter().enumerate() {
        let mut p = path.to_vec();
        out = if i < old_len {
            p.push(PathSeg::Index(i));
            set(&out, doc, &p, v)?
        } else {
            append(&out, doc, &p, v)?
        };
    }
    Ok(out)
}

/// Add `key: value` to an existing mapping, in its own style.
fn insert_key(
    text: &str,
    doc: &cst::Node,
    mapping: &cst::Node,
    key: &str,
    value: &Value,
) -> Result<Splice, EditError> {
    let st = cst::style(doc, Some(mapping), text);
    if cst::is_flow(mapping) {
        let item = format!(
            "{}: {}",
            render::key(key, st.quote, true),
            render::inline(value, QuoteStyle::Plain, st.quote, true)
        );
        return flow_insert(mapping, item);
    }
    let first = cst::entries(mapping)
        .next()
        .ok_or_else(|| EditError::Unsafe("empty block mapping".into()))?;
    let col = cst::column(text, cst::range(&first).0);
    let mut lines = Vec::new();
    render::entry_lines(key, value, col, st, &mut lines);
    // After the last entry's own trailing comments, so that removing the new key (a
    // rollback) takes exactly the lines added here.
    let at = own_lines_end(text, cst::content_end(mapping), col);
    Ok(insert_lines_after(text, at, &lines))
}

/// Add `item` as the last item of a flow collection.
fn flow_insert(collection: &cst::Node, item: String) -> Result<Splice, EditError> {
    let (at, comma) = cst::flow_insert_point(collection)
        .ok_or_else(|| EditError::Unsafe("cannot find the end of a flow collection".into()))?;
    let with = match comma {
        Some(sep) => format!("{sep}{item}"),
        None => item,
    };
    Ok(Splice {
        start: at,
        end: at,
        with,
    })
}

/// Replace a scalar (typically a null) with a non-empty collection: as an indented block
/// under a block mapping key, in flow style anywhere else.
fn replace_with_collection(
    text: &str,
    doc: &cst::Node,
    scalar: &cst::Node,
    holder: &cst::Node,
    value: &Value,
) -> Result<Vec<Splice>, EditError> {
    let (start, end) = cst::scalar_span(scalar);
    let entry = holder
        .parent()
        .filter(|e| holder.kind() == SyntaxKind::VALUE && e.kind() == SyntaxKind::MAPPING_ENTRY);
    let block_entry = entry.filter(|_| !cst::in_flow(scalar) && !cst::is_block_scalar(scalar));
    let Some(entry) = block_entry else {
        let quote = cst::style(doc, None, text).quote;
        let mut with = render::inline(value, QuoteStyle::Plain, quote, cst::in_flow(scalar));
        if start == end && !space_before(text, start) {
            with.insert(0, ' ');
        }
        return Ok(vec![Splice { start, end, with }]);
    };
    let colon = cst::colon_end(&entry)
        .filter(|&c| c <= start)
        .ok_or_else(|| EditError::Unsafe("mapping entry without a colon".into()))?;
    let col = cst::column(text, cst::range(&entry).0);
    let mapping = entry.parent();
    let st = cst::style(doc, mapping.as_ref(), text);
    let mut lines = Vec::new();
    match value {
        Value::Object(m) => {
            for (k, v) in m {
                render::entry_lines(k, v, col + st.step, st, &mut lines);
            }
        }
        Value::Array(items) => render::seq_lines(items, col + st.seq_offset, st, &mut lines),
        _ => return Err(EditError::Unsafe("not a collection".into())),
    }
    // `key: ~  # note` becomes `key:  # note` followed by the block.
    let remove = Splice {
        start: colon,
        end,
        with: String::new(),
    };
    Ok(vec![remove, insert_lines_after(text, end, &lines)])
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

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
