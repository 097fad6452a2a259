//! Finding nodes and byte offsets in yaml-edit's lossless syntax tree. Nothing here changes
//! the tree: edits are text splices computed from these offsets.

use rowan::ast::AstNode;
use yaml_edit::{Lang, SyntaxKind as K, YamlFile};

use super::render::QuoteStyle;
use super::{EditError, PathSeg, path_to_string};

pub(super) type Node = rowan::SyntaxNode<Lang>;
type Token = rowan::SyntaxToken<Lang>;

/// Parse `text` into yaml-edit's tree; refuse when the parser is unsure or not lossless.
pub(super) fn parse(text: &str) -> Result<Node, EditError> {
    // A parser bug must not take the service down: `apply` never panics on any input.
    let parsed = std::panic::catch_unwind(|| YamlFile::parse(text))
        .map_err(|_| EditError::Unsafe("the lossless YAML parser crashed on this file".into()))?;
    let errors = parsed.errors();
    if !errors.is_empty() {
        return Err(EditError::Unsafe(format!(
            "the lossless YAML parser could not read the file: {}",
            errors.join("; ")
        )));
    }
    let root = parsed.tree().syntax().clone();
    if root.text() != text {
        return Err(EditError::Unsafe(
            "the lossless YAML parser did not reproduce the file byte for byte".into(),
        ));
    }
    Ok(root)
}

pub(super) fn documents(root: &Node) -> impl Iterator<Item = Node> + use<> {
    root.children().filter(|n| n.kind() == K::DOCUMENT)
}

pub(super) fn range(node: &Node) -> (usize, usize) {
    let r = node.text_range();
    (r.start().into(), r.end().into())
}

fn token_range(t: &Token) -> (usize, usize) {
    let r = t.text_range();
    (r.start().into(), r.end().into())
}

fn is_trivia(kind: K) -> bool {
    matches!(kind, K::WHITESPACE | K::NEWLINE | K::INDENT | K::COMMENT)
}

fn content_tokens(node: &Node) -> impl Iterator<Item = Token> + use<> {
    node.descendants_with_tokens()
        .filter_map(|e| e.into_token())
        .filter(|t| !is_trivia(t.kind()))
}

/// Byte range from the first to the last non-trivia token: a scalar's text without the
/// line end or comment the parser may attach to it. Empty (at the node) for an implicit null.
pub(super) fn content_range(node: &Node) -> (usize, usize) {
    let mut tokens = content_tokens(node);
    let Some(first) = tokens.next() else {
        let (start, _) = range(node);
        return (start, start);
    };
    let last = tokens.last().unwrap_or_else(|| first.clone());
    (token_range(&first).0, token_range(&last).1)
}

/// Where a scalar's text is, for replacing it. An implicit null (`key:  # note`) has no
/// text; the parser puts its empty token after the comment, so use the end of the `:` or
/// `-` before it instead.
pub(super) fn scalar_span(scalar: &Node) -> (usize, usize) {
    let (start, end) = content_range(scalar);
    if start < end {
        return (start, end);
    }
    let mut t = scalar.first_token().and_then(|t| t.prev_token());
    while let Some(tok) = t {
        if !is_trivia(tok.kind()) {
            let at = token_range(&tok).1;
            return (at, at);
        }
        t = tok.prev_token();
    }
    (start, end)
}

/// Offset of the start of the line holding `offset`.
pub(super) fn line_start(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .and_then(|t| t.rfind('\n'))
        .map_or(0, |i| i + 1)
}

pub(super) fn column(text: &str, offset: usize) -> usize {
    offset - line_start(text, offset)
}

/// The node a holder (DOCUMENT, VALUE, SEQUENCE_ENTRY, KEY) wraps.
pub(super) fn content(holder: &Node) -> Option<Node> {
    holder.children().find(|n| {
        matches!(
            n.kind(),
            K::MAPPING | K::SEQUENCE | K::SCALAR | K::ALIAS | K::TAGGED_NODE
        )
    })
}

pub(super) fn is_flow(collection: &Node) -> bool {
    collection
        .first_token()
        .is_some_and(|t| matches!(t.kind(), K::LEFT_BRACE | K::LEFT_BRACKET))
}

/// True when `node` sits inside a flow collection (or is one).
pub(super) fn in_flow(node: &Node) -> bool {
    node.ancestors()
        .any(|a| matches!(a.kind(), K::MAPPING | K::SEQUENCE) && is_flow(&a))
}

pub(super) fn is_block_scalar(scalar: &Node) -> bool {
    content_tokens(scalar)
        .next()
        .is_some_and(|t| matches!(t.kind(), K::PIPE | K::GREATER))
}

/// The scalar's source text (quotes included).
pub(super) fn scalar_text<'t>(scalar: &Node, text: &'t str) -> &'t str {
    let (start, end) = content_range(scalar);
    text.get(start..end).unwrap_or("")
}

pub(super) fn is_null(node: &Node, text: &str) -> bool {
    node.kind() == K::SCALAR
        && matches!(scalar_text(node, text), "" | "~" | "null" | "Null" | "NULL")
}

/// The string a one-line plain or quoted scalar stands for (for matching keys and values).
pub(super) fn scalar_value(scalar: &Node, text: &str) -> Option<String> {
    if scalar.kind() != K::SCALAR || is_block_scalar(scalar) {
        return None;
    }
    let raw = scalar_text(scalar, text);
    if raw.contains('\n') {
        return None;
    }
    if let Some(inner) = raw.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        return Some(inner.replace("''", "'"));
    }
    if raw.starts_with('"') {
        // Let the YAML parser deal with escapes.
        return serde_saphyr::from_str::<String>(raw).ok();
    }
    Some(raw.to_string())
}

pub(super) fn entries(mapping: &Node) -> impl Iterator<Item = Node> + use<> {
    mapping.children().filter(|n| n.kind() == K::MAPPING_ENTRY)
}

pub(super) fn seq_entries(seq: &Node) -> impl Iterator<Item = Node> + use<> {
    seq.children().filter(|n| n.kind() == K::SEQUENCE_ENTRY)
}

fn child(node: &Node, kind: K) -> Option<Node> {
    node.children().find(|n| n.kind() == kind)
}

pub(super) fn entry_key(entry: &Node, text: &str) -> Option<String> {
    let key = content(&child(entry, K::KEY)?)?;
    scalar_value(&key, text)
}

pub(super) fn entry_value(entry: &Node) -> Option<Node> {
    child(entry, K::VALUE)
}

pub(super) fn is_merge(entry: &Node, text: &str) -> bool {
    let merge_token = child(entry, K::KEY).is_some_and(|k| {
        k.descendants_with_tokens()
            .any(|e| e.kind() == K::MERGE_KEY)
    });
    merge_token || entry_key(entry, text).as_deref() == Some("<<")
}

/// End offset of the colon of a mapping entry.
pub(super) fn colon_end(entry: &Node) -> Option<usize> {
    entry
        .children_with_tokens()
        .filter_map(|e| e.into_token())
        .find(|t| t.kind() == K::COLON)
        .map(|t| token_range(&t).1)
}

/// Where a block collection's content stops: the end of its last non-trivia token, or of
/// a trailing keep-chomping block scalar (`|+`), whose blank lines are part of its value.
pub(super) fn content_end(node: &Node) -> usize {
    let Some(last) = content_tokens(node).last() else {
        return range(node).1;
    };
    let keep = last
        .parent_ancestors()
        .find(|a| a.kind() == K::SCALAR)
        .filter(|s| is_block_scalar(s) && header(s).contains('+'));
    match keep {
        Some(scalar) => range(&scalar).1,
        None => token_range(&last).1,
    }
}

/// A block scalar's header (`|`, `>-`, `|+2`, ...): its tokens before the first line break.
fn header(scalar: &Node) -> String {
    scalar
        .descendants_with_tokens()
        .filter_map(|e| e.into_token())
        .take_while(|t| t.kind() != K::NEWLINE)
        .map(|t| t.text().to_string())
        .collect()
}

/// Where a new item goes in a flow collection: the offset, and the separator to write
/// before it (`None` right after the opening bracket).
pub(super) fn flow_insert_point(collection: &Node) -> Option<(usize, Option<&'static str>)> {
    let close = collection
        .children_with_tokens()
        .filter_map(|e| e.into_token())
        .filter(|t| matches!(t.kind(), K::RIGHT_BRACE | K::RIGHT_BRACKET))
        .last()?;
    let close_start = token_range(&close).0;
    let prev = content_tokens(collection)
        .take_while(|t| token_range(t).1 <= close_start)
        .last()?;
    let sep = match prev.kind() {
        K::LEFT_BRACE | K::LEFT_BRACKET => None,
        K::COMMA => Some(" "),
        _ => Some(", "),
    };
    Some((token_range(&prev).1, sep))
}

/// True when an anchor (`&name`) is defined anywhere in `node`.
pub(super) fn defines_anchor(node: &Node) -> bool {
    node.descendants_with_tokens()
        .any(|e| e.kind() == K::ANCHOR)
}

/// True when a comment or line break sits anywhere inside `node`.
pub(super) fn has_trivia(node: &Node) -> bool {
    node.descendants_with_tokens()
        .any(|e| matches!(e.kind(), K::COMMENT | K::NEWLINE))
}

/// End of a flow entry's key or value, before its comma.
pub(super) fn flow_item_end(entry: &Node) -> usize {
    content_tokens(entry)
        .filter(|t| t.kind() != K::COMMA)
        .last()
        .map_or(range(entry).1, |t| token_range(&t).1)
}

/// The range between a flow collection's brackets.
pub(super) fn flow_inner(collection: &Node) -> Option<(usize, usize)> {
    let mut brackets = collection
        .children_with_tokens()
        .filter_map(|e| e.into_token())
        .filter(|t| {
            matches!(
                t.kind(),
                K::LEFT_BRACE | K::LEFT_BRACKET | K::RIGHT_BRACE | K::RIGHT_BRACKET
            )
        });
    let open = brackets.next()?;
    let close = brackets.last()?;
    Some((token_range(&open).1, token_range(&close).0))
}

fn has_anchor(node: &Node) -> bool {
    node.children_with_tokens().any(|e| e.kind() == K::ANCHOR)
}

/// Where a path leads in a document.
#[derive(Debug)]
pub(super) enum Found {
    /// The node at the whole path, with the node that holds it (DOCUMENT, VALUE or
    /// SEQUENCE_ENTRY).
    Node { node: Node, holder: Node },
    /// `path[rest]` is a key that `mapping` lacks (and so do the keys after it).
    MissingKey { mapping: Node, rest: usize },
    /// The path continues (from `path[rest]`) below a null scalar.
    UnderNull {
        node: Node,
        holder: Node,
        rest: usize,
    },
}

/// Refuse to go through shared or tagged YAML: an edit there changes other places too.
fn check_plain(holder: &Node, node: &Node, path: &[PathSeg]) -> Result<(), EditError> {
    if node.kind() == K::ALIAS || has_anchor(holder) || has_anchor(node) {
        return Err(EditError::Alias(path_to_string(path)));
    }
    if node.kind() == K::TAGGED_NODE {
        return Err(EditError::Unsafe(format!(
            "{} carries a YAML tag; tagged nodes are not edited",
            path_to_string(path)
        )));
    }
    Ok(())
}

pub(super) fn walk(doc: &Node, path: &[PathSeg], text: &str) -> Result<Found, EditError> {
    let mut holder = doc.clone();
    let mut node = content(doc).ok_or_else(|| EditError::Unsafe("the document is empty".into()))?;
    for (i, seg) in path.iter().enumerate() {
        check_plain(&holder, &node, &path[..i])?;
        let here = path_to_string(&path[..=i]);
        let not_found = |what: &str| {
            EditError::PathNotFound(format!("{here} ({} is {what})", shown(&path[..i])))
        };
        let next_holder = match seg {
            PathSeg::Key(k) => {
                if is_null(&node, text) {
                    return Ok(Found::UnderNull {
                        node,
                        holder,
                        rest: i,
                    });
                }
                if node.kind() != K::MAPPING {
                    return Err(not_found("not a mapping"));
                }
                let hits: Vec<Node> = entries(&node)
                    .filter(|e| entry_key(e, text).as_deref() == Some(k.as_str()))
                    .collect();
                match hits.as_slice() {
                    [] if entries(&node).any(|e| is_merge(&e, text)) => {
                        return Err(EditError::Alias(here));
                    }
                    [] => {
                        return Ok(Found::MissingKey {
                            mapping: node,
                            rest: i,
                        });
                    }
                    [entry] => entry_value(entry).ok_or_else(|| unrepresented(&here))?,
                    _ => {
                        return Err(EditError::Unsafe(format!("duplicate key at {here}")));
                    }
                }
            }
            PathSeg::Index(n) => {
                if node.kind() != K::SEQUENCE {
                    return Err(not_found("not a sequence"));
                }
                seq_entries(&node)
                    .nth(*n)
                    .ok_or_else(|| not_found("shorter"))?
            }
            PathSeg::Match { key, value } => {
                if node.kind() != K::SEQUENCE {
                    return Err(not_found("not a sequence"));
                }
                let mut merges = false;
                let mut hits = Vec::new();
                for entry in seq_entries(&node) {
                    let Some(item) = content(&entry).filter(|c| c.kind() == K::MAPPING) else {
                        continue;
                    };
                    merges |= entries(&item).any(|e| is_merge(&e, text));
                    let matched = entries(&item).any(|e| {
                        entry_key(&e, text).as_deref() == Some(key.as_str())
                            && entry_value(&e)
                                .and_then(|v| content(&v))
                                .and_then(|v| scalar_value(&v, text))
                                .as_deref()
                                == Some(value.as_str())
                    });
                    if matched {
                        hits.push(entry);
                    }
                }
                match hits.as_slice() {
                    [] if merges => return Err(EditError::Alias(here)),
                    [] => return Err(not_found(&format!("without an item with {key}: {value}"))),
                    [entry] => entry.clone(),
                    _ => {
                        return Err(EditError::Unsafe(format!(
                            "{here} matches {} items",
                            hits.len()
                        )));
                    }
                }
            }
        };
        node = content(&next_holder).ok_or_else(|| unrepresented(&here))?;
        holder = next_holder;
    }
    check_plain(&holder, &node, path)?;
    Ok(Found::Node { node, holder })
}

fn shown(path: &[PathSeg]) -> String {
    if path.is_empty() {
        "the document".into()
    } else {
        path_to_string(path)
    }
}

fn unrepresented(here: &str) -> EditError {
    EditError::Unsafe(format!(
        "the value at {here} has no node in the syntax tree"
    ))
}

/// Indentation conventions near `mapping` (or anywhere in `doc`); defaults: 2, indented.
pub(super) fn style(doc: &Node, near: Option<&Node>, text: &str) -> super::render::Style {
    // (entry column, child column, child is a sequence) for block children on their own line.
    let nested = |entry: &Node| -> Option<(usize, usize, bool)> {
        let value = content(&entry_value(entry)?)?;
        if !matches!(value.kind(), K::MAPPING | K::SEQUENCE) || is_flow(&value) {
            return None;
        }
        let (entry_start, _) = range(entry);
        let (child_start, _) = content_range(&value);
        let same_line = !text.get(entry_start..child_start)?.contains('\n');
        if same_line {
            return None;
        }
        let (ec, cc) = (column(text, entry_start), column(text, child_start));
        (cc >= ec).then_some((ec, cc, value.kind() == K::SEQUENCE))
    };
    let local: Vec<Node> = near.map(|m| entries(m).collect()).unwrap_or_default();
    let everywhere: Vec<Node> = doc
        .descendants()
        .filter(|n| n.kind() == K::MAPPING_ENTRY)
        .collect();
    let find = |seq: bool| {
        local
            .iter()
            .chain(everywhere.iter())
            .filter_map(nested)
            .find(|&(ec, cc, s)| s == seq && (seq || cc > ec))
            .map(|(ec, cc, _)| cc - ec)
    };
    let step = find(false).unwrap_or(2);
    let seq_offset = find(true).unwrap_or(step);
    super::render::Style {
        step,
        seq_offset,
        quote: quote_style(doc, text),
    }
}

/// The quotes the file uses: the more common of single and double among the document's
/// quoted scalars (keys too), else the whole file's; double when neither is used more.
fn quote_style(doc: &Node, text: &str) -> QuoteStyle {
    let count = |n: &Node| {
        let mut counts = (0usize, 0usize);
        for scalar in n.descendants().filter(|d| d.kind() == K::SCALAR) {
            match QuoteStyle::of(scalar_text(&scalar, text)) {
                QuoteStyle::Single => counts.0 += 1,
                QuoteStyle::Double => counts.1 += 1,
                QuoteStyle::Plain => {}
            }
        }
        counts
    };
    let mut counts = count(doc);
    if counts == (0, 0)
        && let Some(root) = doc.parent()
    {
        counts = count(&root);
    }
    if counts.0 > counts.1 {
        QuoteStyle::Single
    } else {
        QuoteStyle::Double
    }
}
