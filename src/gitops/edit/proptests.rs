//! Property tests: generated block-style documents (comments, 2/3/4-space indentation, flush
//! or indented sequences, CRLF, all quote styles, block scalars, flow mappings).

use proptest::prelude::*;
use serde_json::{Value, json};

use super::render::{QuoteStyle, needs_quotes, string_scalar};
use super::*;

#[derive(Clone, Debug)]
enum Scal {
    Str {
        s: String,
        style: QuoteStyle,
    },
    Int(i64),
    Bool(bool),
    /// `key:` (0), `key: ~` (1), `key: null` (2).
    Null(u8),
}

#[derive(Clone, Debug)]
enum Node {
    Scalar(Scal, bool),
    Block(Vec<String>),
    Flow(Vec<(String, Scal)>),
    Map(Vec<(String, Node, bool)>),
    Seq(Vec<Node>),
}

/// YAML 1.1/1.2 look-alikes: written as values they must come out quoted.
const AMBIGUOUS: &[&str] = &[
    "yes",
    "No",
    "ON",
    "off",
    "y",
    "n",
    "true",
    "FALSE",
    "null",
    "~",
    "0123",
    "1.10",
    "1e3",
    "0x1F",
    ".inf",
    "-.Inf",
    ".nan",
    "1_000",
    "2001-12-14",
    "12:30",
    "-1",
    "+1",
    "",
    " lead",
    "trail ",
    "a: b",
    "a #b",
    "- x",
    "? x",
    "[x]",
    "{x}",
    "#x",
    "&a",
    "*a",
    "!x",
    "|",
    ">",
    "'",
    "\"",
    "%x",
    "@x",
    "`x",
    "<<",
    "=",
    "a\nb",
    "tab\tx",
    "back\\slash",
    "it's",
    "say \"hi\"",
];

fn text_scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-zA-Z0-9][a-zA-Z0-9 ._/:-]{0,10}",
        1 => prop::sample::select(AMBIGUOUS).prop_map(String::from),
    ]
}

fn scal() -> impl Strategy<Value = Scal> {
    let style = prop::sample::select(vec![
        QuoteStyle::Plain,
        QuoteStyle::Single,
        QuoteStyle::Double,
    ]);
    prop_oneof![
        4 => (text_scalar(), style).prop_map(|(s, style)| Scal::Str { s, style }),
        1 => any::<i64>().prop_map(Scal::Int),
        1 => any::<bool>().prop_map(Scal::Bool),
        1 => (0u8..3).prop_map(Scal::Null),
    ]
}

fn key() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9-]{0,6}"
}

fn node() -> impl Strategy<Value = Node> {
    let leaf = prop_oneof![
        6 => (scal(), any::<bool>()).prop_map(|(s, c)| Node::Scalar(s, c)),
        1 => prop::collection::vec("[a-z]{1,6}( [a-z]{1,6})?", 1..3).prop_map(Node::Block),
        1 => prop::collection::vec((key(), scal()), 0..3).prop_map(Node::Flow),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec((key(), inner.clone(), any::<bool>()), 1..4).prop_map(Node::Map),
            prop::collection::vec(inner, 1..4).prop_map(Node::Seq),
        ]
    })
}

fn document() -> impl Strategy<Value = Node> {
    prop::collection::vec((key(), node(), any::<bool>()), 1..5).prop_map(Node::Map)
}

#[derive(Clone, Copy, Debug)]
struct Cfg {
    step: usize,
    seq_offset: usize,
}

fn cfg() -> impl Strategy<Value = Cfg> {
    (2usize..5, any::<bool>()).prop_map(|(step, flush)| Cfg {
        step,
        seq_offset: if flush { 0 } else { step },
    })
}

fn scalar_src(s: &Scal, flow: bool) -> String {
    match s {
        Scal::Str { s, style } => {
            let style = if *style == QuoteStyle::Plain && needs_quotes(s, flow) {
                QuoteStyle::Double
            } else {
                *style
            };
            string_scalar(s, style, flow)
        }
        Scal::Int(i) => i.to_string(),
        Scal::Bool(b) => b.to_string(),
        Scal::Null(0) if !flow => String::new(),
        Scal::Null(1) => "~".into(),
        Scal::Null(_) => "null".into(),
    }
}

/// Paths found while rendering: scalar leaves, mappings and sequences.
#[derive(Default, Debug)]
struct Paths {
    leaves: Vec<Vec<PathSeg>>,
    maps: Vec<Vec<PathSeg>>,
    seqs: Vec<Vec<PathSeg>>,
}

fn with(path: &[PathSeg], seg: PathSeg) -> Vec<PathSeg> {
    let mut p = path.to_vec();
    p.push(seg);
    p
}

/// The text after `key: ` or `- ` for inline values, plus any lines below (block scalars).
fn inline_value(
    node: &Node,
    content_col: usize,
    path: &[PathSeg],
    paths: &mut Paths,
) -> Option<(String, Vec<String>)> {
    match node {
        Node::Scalar(s, comment) => {
            paths.leaves.push(path.to_vec());
            if matches!(s, Scal::Null(_)) {
                paths.maps.push(path.to_vec()); // a null takes new keys too
            }
            let c = if *comment { "  # note" } else { "" };
            Some((format!("{}{c}", scalar_src(s, false)), Vec::new()))
        }
        Node::Block(lines) => {
            let pad = " ".repeat(content_col);
            Some((
                "|".into(),
                lines.iter().map(|l| format!("{pad}{l}")).collect(),
            ))
        }
        Node::Flow(entries) => {
            paths.maps.push(path.to_vec());
            let mut seen = Vec::new();
            let mut parts = Vec::new();
            for (k, v) in entries {
                if seen.contains(k) {
                    continue;
                }
                seen.push(k.clone());
                paths.leaves.push(with(path, PathSeg::Key(k.clone())));
                parts.push(format!("{k}: {}", scalar_src(v, true)));
            }
            Some((format!("{{{}}}", parts.join(", ")), Vec::new()))
        }
        Node::Map(_) | Node::Seq(_) => None,
    }
}

fn map_lines(
    entries: &[(String, Node, bool)],
    col: usize,
    cfg: Cfg,
    path: &[PathSeg],
    out: &mut Vec<String>,
    paths: &mut Paths,
) {
    paths.maps.push(path.to_vec());
    let pad = " ".repeat(col);
    let mut seen = Vec::new();
    for (k, v, comment) in entries {
        if seen.contains(k) {
            continue;
        }
        seen.push(k.clone());
        if *comment {
            out.push(format!("{pad}# about {k}"));
        }
        let p = with(path, PathSeg::Key(k.clone()));
        match inline_value(v, col + cfg.step, &p, paths) {
            Some((first, rest)) => {
                out.push(format!("{pad}{k}: {first}"));
                out.extend(rest);
            }
            None => {
                out.push(format!("{pad}{k}:"));
                block_lines(v, col, cfg, &p, out, paths);
            }
        }
    }
}

/// A block mapping or sequence below a key at column `col`.
fn block_lines(
    node: &Node,
    col: usize,
    cfg: Cfg,
    path: &[PathSeg],
    out: &mut Vec<String>,
    paths: &mut Paths,
) {
    match node {
        Node::Map(entries) => map_lines(entries, col + cfg.step, cfg, path, out, paths),
        Node::Seq(items) => seq_lines(items, col + cfg.seq_offset, cfg, path, out, paths),
        _ => {}
    }
}

fn seq_lines(
    items: &[Node],
    col: usize,
    cfg: Cfg,
    path: &[PathSeg],
    out: &mut Vec<String>,
    paths: &mut Paths,
) {
    paths.seqs.push(path.to_vec());
    let pad = " ".repeat(col);
    for (i, item) in items.iter().enumerate() {
        let p = with(path, PathSeg::Index(i));
        if let Some((first, rest)) = inline_value(item, col + 2, &p, paths) {
            out.push(format!("{pad}- {first}"));
            out.extend(rest);
            continue;
        }
        let mut sub = Vec::new();
        match item {
            Node::Map(entries) => map_lines(entries, col + 2, cfg, &p, &mut sub, paths),
            Node::Seq(inner) => seq_lines(inner, col + 2, cfg, &p, &mut sub, paths),
            _ => {}
        }
        // Comments cannot sit between `-` and the item's first entry.
        while sub.first().is_some_and(|l| l.trim_start().starts_with('#')) {
            out.push(sub.remove(0));
        }
        if let Some(first) = sub.first_mut() {
            *first = format!("{pad}- {}", &first[col + 2..]);
        }
        out.extend(sub);
    }
}

fn render(doc: &Node, cfg: Cfg, crlf: bool) -> (String, Paths) {
    let mut out = vec!["# generated".to_string()];
    let mut paths = Paths::default();
    if let Node::Map(entries) = doc {
        map_lines(entries, 0, cfg, &[], &mut out, &mut paths);
    }
    let nl = if crlf { "\r\n" } else { "\n" };
    (format!("{}{nl}", out.join(nl)), paths)
}

fn new_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => text_scalar().prop_map(Value::String),
        1 => any::<i64>().prop_map(|i| json!(i)),
        1 => (-1e6f64..1e6).prop_map(|f| json!(f)),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => Just(Value::Null),
    ]
}

/// Each document's value (an empty document reads as null), checked against the whole-file
/// parse by `verify::documents`.
fn parse_all(text: &str) -> Vec<Value> {
    let docs = verify::documents(text).expect("parses");
    docs.into_iter()
        .map(|d| d.value.unwrap_or(Value::Null))
        .collect()
}

/// (deleted, inserted) line counts between two texts.
fn line_changes(old: &str, new: &str) -> (usize, usize) {
    let diff = similar::TextDiff::from_lines(old, new);
    let mut counts = (0, 0);
    for change in diff.iter_all_changes() {
        match change.tag() {
            similar::ChangeTag::Delete => counts.0 += 1,
            similar::ChangeTag::Insert => counts.1 += 1,
            similar::ChangeTag::Equal => {}
        }
    }
    counts
}

fn expected(text: &str, doc: usize, op: &YamlOp) -> Vec<Value> {
    let mut docs = parse_all(text);
    verify::apply_op(&mut docs[doc], op).expect("model op");
    docs
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    #[test]
    fn set_leaf_changes_one_line(doc in document(), cfg in cfg(), crlf in any::<bool>(), pick in any::<prop::sample::Index>(), value in new_value()) {
        let (text, paths) = render(&doc, cfg, crlf);
        prop_assume!(!paths.leaves.is_empty());
        let path = pick.get(&paths.leaves).clone();
        let op = YamlOp::Set { path: path.clone(), value: value.clone() };
        let out = apply(&text, &YamlEdit { document: 0, op: op.clone() })
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let want = expected(&text, 0, &op);
        prop_assert_eq!(parse_all(&out), want.clone(), "{}", out);
        let unchanged = parse_all(&text) == want;
        let (del, ins) = line_changes(&text, &out);
        prop_assert!((del, ins) == (1, 1) || (unchanged && (del, ins) == (0, 0)), "{} -> {}\n{}", path_to_string(&path), value, out);
        prop_assert_eq!(text.lines().count(), out.lines().count());
        prop_assert_eq!(text.matches("\r\n").count(), out.matches("\r\n").count());
    }

    #[test]
    fn insert_key_only_adds_lines(doc in document(), cfg in cfg(), crlf in any::<bool>(), pick in any::<prop::sample::Index>(), value in prop_oneof![new_value(), (new_value(), new_value()).prop_map(|(a, b)| json!({"x": a, "y": [b, {"z": 1}]}))]) {
        let (text, paths) = render(&doc, cfg, crlf);
        let parent: &Vec<PathSeg> = pick.get(&paths.maps);
        let path = with(parent, PathSeg::Key("new_key".into()));
        let op = YamlOp::Set { path: path.clone(), value };
        let out = apply(&text, &YamlEdit { document: 0, op: op.clone() })
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(parse_all(&out), expected(&text, 0, &op));
        let (del, ins) = line_changes(&text, &out);
        // Block mappings gain lines; a flow mapping or a null changes its one line.
        prop_assert!(del <= 1 && ins >= del, "{}\n{}", path_to_string(&path), out);
        prop_assert_eq!(text.matches('\r').count() == 0, out.matches('\r').count() == 0);
    }

    #[test]
    fn append_only_adds_lines(doc in document(), cfg in cfg(), crlf in any::<bool>(), pick in any::<prop::sample::Index>(), value in prop_oneof![new_value(), new_value().prop_map(|v| json!({"path": v, "n": [1]}))]) {
        let (text, paths) = render(&doc, cfg, crlf);
        prop_assume!(!paths.seqs.is_empty());
        let path = pick.get(&paths.seqs).clone();
        let op = YamlOp::Append { path: path.clone(), value };
        let out = apply(&text, &YamlEdit { document: 0, op: op.clone() })
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(parse_all(&out), expected(&text, 0, &op));
        let (del, _) = line_changes(&text, &out);
        prop_assert_eq!(del, 0, "{}\n{}", path_to_string(&path), out);
    }

    #[test]
    fn multi_document_edits_touch_one_document(docs in prop::collection::vec((document(), cfg()), 2..4), pick in any::<prop::sample::Index>(), which in any::<prop::sample::Index>(), value in new_value()) {
        let rendered: Vec<(String, Paths)> = docs.iter().map(|(d, c)| render(d, *c, false)).collect();
        let text = rendered.iter().map(|(t, _)| format!("---\n{t}")).collect::<String>() + "...\n";
        let i = which.index(rendered.len());
        prop_assume!(!rendered[i].1.leaves.is_empty());
        let path = pick.get(&rendered[i].1.leaves).clone();
        let op = YamlOp::Set { path, value };
        let out = apply(&text, &YamlEdit { document: i, op: op.clone() })
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(parse_all(&out), expected(&text, i, &op));
        let (del, ins) = line_changes(&text, &out);
        prop_assert!(del <= 1 && del == ins);
    }

    #[test]
    fn never_panics(text in "([a-z:\\-\\[\\]{}&*#|>'\" ,~!?\\n]|\\r\\n|  ){0,60}", path in prop::collection::vec(prop_oneof![
        "[a-z]{1,2}".prop_map(PathSeg::Key),
        (0usize..3).prop_map(PathSeg::Index),
        "[a-z]{1,2}".prop_map(|v| PathSeg::Match { key: "a".into(), value: v }),
    ], 0..3), value in prop_oneof![new_value(), Just(json!({"a": [1, {"b": "c"}]}))], document in 0usize..3, append in any::<bool>()) {
        let op = if append { YamlOp::Append { path, value } } else { YamlOp::Set { path, value } };
        let edit = YamlEdit { document, op: op.clone() };
        if let Ok(out) = apply(&text, &edit) {
            // Whatever came back was verified: it parses to the intended value.
            prop_assert_eq!(parse_all(&out), expected(&text, document, &op));
        }
    }
}
