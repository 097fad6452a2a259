//! Property tests on generated documents: comments (above keys, on their lines, trailing a
//! value), 2/3/4-space indentation, flush or indented sequences, CRLF, quoted keys, all
//! quote styles, block scalars (`|`, `>-`, `|+`, ...), flow mappings, tags, anchors,
//! aliases and merge keys.
//!
//! The oracle is independent of the editor: the generator writes its own YAML text (its
//! own quoting, not the editor's), the original is parsed with serde-saphyr, the edit is
//! applied to that tree by hand here, and the edited text parsed again must equal it. The
//! generator also records which line each value sits on, so the tests check that every
//! other line is byte-identical, and how the new value was written (quotes only where a
//! YAML reader would otherwise see another type, in the file's own style).

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Q {
    Plain,
    Single,
    Double,
}

#[derive(Clone, Debug)]
enum Scal {
    Str(String, Q),
    Int(i64),
    Bool(bool),
    /// `key:` (0), `key: ~` (1), `key: null` (2).
    Null(u8),
}

#[derive(Clone, Debug)]
enum Node {
    Scalar(Scal, bool),
    /// `!!str word`
    Tagged(String),
    Block(&'static str, Vec<String>),
    Flow(Vec<(String, Scal)>),
    /// Entries: key, key quotes, value, a comment above, a comment trailing a block value.
    Map(Vec<(String, Q, Node, bool, bool)>),
    Seq(Vec<Node>),
}

/// Read as themselves when plain (also in flow): the editor must not quote them.
const SAFE: &[&str] = &[
    "1.2.3",
    "v1.2.3",
    "1.2.3-rc.1",
    "10.0.0.1",
    "512Mi",
    "100m",
    "nginx:1.25",
    "--port",
    "-Xmx512m",
    "0:30",
    "1:60",
    "http://x/y",
    "a#b",
    "foo bar",
    "inf",
    "nan",
    "yess",
    "NuLL",
    "2024-01-05-x",
    "0x",
    "e3",
    "12e",
    "say \"hi\"",
    "it's",
];

/// Read as another type (or as syntax) when plain: the editor must quote them.
const AMBIGUOUS: &[&str] = &[
    "1.10",
    "yes",
    "No",
    "ON",
    "off",
    "y",
    "n",
    "true",
    "FALSE",
    "yEs",
    "~",
    "null",
    "NULL",
    "0123",
    "1e3",
    "1E-3",
    "0x1F",
    "0o17",
    "0b101",
    ".inf",
    "-.Inf",
    ".nan",
    "1_000",
    "12:30",
    "1:30:15",
    "2001-12-14",
    "2001-1-2",
    "2001-12-14t21:59:43.10-05:00",
    "-1",
    "+1",
    "7",
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
];

fn is_safe(s: &str) -> bool {
    SAFE.contains(&s)
}

fn is_ambiguous(s: &str) -> bool {
    AMBIGUOUS.contains(&s)
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

fn plain_word() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-z][a-z0-9./-]{0,8}",
        1 => prop::sample::select(SAFE).prop_map(String::from),
    ]
}

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => plain_word(),
        2 => prop::sample::select(AMBIGUOUS).prop_map(String::from),
        1 => "[a-zA-Z0-9 ._/:#'\"-]{0,10}",
    ]
}

fn scal() -> impl Strategy<Value = Scal> {
    prop_oneof![
        3 => plain_word().prop_map(|s| Scal::Str(s, Q::Plain)),
        2 => any_text().prop_map(|s| Scal::Str(s, Q::Single)),
        2 => any_text().prop_map(|s| Scal::Str(s, Q::Double)),
        1 => any::<i32>().prop_map(|i| Scal::Int(i.into())),
        1 => any::<bool>().prop_map(Scal::Bool),
        1 => (0u8..3).prop_map(Scal::Null),
    ]
}

fn key() -> impl Strategy<Value = String> {
    // A key YAML reads as a boolean or null would not be the string the path names.
    "[a-z][a-z0-9-]{0,6}".prop_filter("a string key", |k| {
        !matches!(
            k.as_str(),
            "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null"
        )
    })
}

fn key_quotes() -> impl Strategy<Value = Q> {
    prop_oneof![6 => Just(Q::Plain), 1 => Just(Q::Single), 1 => Just(Q::Double)]
}

fn node() -> impl Strategy<Value = Node> {
    let header = prop::sample::select(vec!["|", "|-", ">", ">-", "|+"]);
    let leaf = prop_oneof![
        8 => (scal(), any::<bool>()).prop_map(|(s, c)| Node::Scalar(s, c)),
        1 => "[a-z]{1,6}".prop_map(Node::Tagged),
        2 => (header, prop::collection::vec("[a-z]{1,6}( [a-z#:]{1,6})?", 1..3))
            .prop_map(|(h, l)| Node::Block(h, l)),
        2 => prop::collection::vec((key(), scal()), 0..4).prop_map(Node::Flow),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(
                (
                    key(),
                    key_quotes(),
                    inner.clone(),
                    any::<bool>(),
                    any::<bool>()
                ),
                1..4
            )
            .prop_map(Node::Map),
            prop::collection::vec(inner, 1..4).prop_map(Node::Seq),
        ]
    })
}

/// A document: a top-level mapping, and maybe a section of shared YAML after it.
fn document() -> impl Strategy<Value = (Node, Option<Node>)> {
    let entries = prop::collection::vec(
        (key(), key_quotes(), node(), any::<bool>(), any::<bool>()),
        1..5,
    );
    let shared = prop::collection::vec(
        (key(), Just(Q::Plain), node(), Just(false), Just(false)),
        1..3,
    );
    (
        entries.prop_map(Node::Map),
        prop::option::weighted(0.3, shared.prop_map(Node::Map)),
    )
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

/// The generator's own quoting (deliberately not the editor's).
fn quoted(s: &str, q: Q) -> String {
    match q {
        Q::Plain => s.to_string(),
        Q::Single if !has_control(s) => format!("'{}'", s.replace('\'', "''")),
        _ => {
            let escaped = s
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n")
                .replace('\t', "\\t");
            format!("\"{escaped}\"")
        }
    }
}

/// A leaf value: where it is and how it was written.
#[derive(Clone, Debug)]
struct Leaf {
    path: Vec<PathSeg>,
    line: usize,
    /// Its source text and what follows it on its line.
    src: String,
    suffix: String,
    own: Q,
    flow: bool,
    /// In or under an anchor, alias or merge: refused.
    shared: bool,
    tagged: bool,
    block: bool,
}

/// A mapping that can take a new key.
#[derive(Clone, Debug)]
struct MapSite {
    path: Vec<PathSeg>,
    /// Block mappings gain lines; flow mappings and nulls change the line they are on.
    line: Option<usize>,
    shared: bool,
}

/// A mapping entry that can be removed.
#[derive(Clone, Debug)]
struct Entry {
    path: Vec<PathSeg>,
    first: usize,
    last: usize,
    flow: bool,
    only: bool,
    /// The next entry's first line, and whether a comment line sits before it.
    next: Option<(usize, bool)>,
    shared: bool,
}

#[derive(Default, Debug)]
struct Gen {
    out: Vec<String>,
    leaves: Vec<Leaf>,
    maps: Vec<MapSite>,
    entries: Vec<Entry>,
    /// Quoted scalars written in the document: (single, double).
    quotes: (usize, usize),
    seqs: Vec<(Vec<PathSeg>, bool)>,
}

fn with(path: &[PathSeg], seg: PathSeg) -> Vec<PathSeg> {
    let mut p = path.to_vec();
    p.push(seg);
    p
}

impl Gen {
    fn count(&mut self, src: &str) {
        match src.as_bytes().first() {
            Some(b'\'') => self.quotes.0 += 1,
            Some(b'"') => self.quotes.1 += 1,
            _ => {}
        }
    }

    fn scalar(&mut self, s: &Scal, flow: bool) -> (String, Q) {
        let (src, own) = match s {
            Scal::Str(s, q) => (quoted(s, *q), *q),
            Scal::Int(i) => (i.to_string(), Q::Plain),
            Scal::Bool(b) => (b.to_string(), Q::Plain),
            Scal::Null(0) if !flow => (String::new(), Q::Plain),
            Scal::Null(1) => ("~".into(), Q::Plain),
            Scal::Null(_) => ("null".into(), Q::Plain),
        };
        self.count(&src);
        let own = if src.starts_with('"') { Q::Double } else { own };
        (src, own)
    }

    /// Text after `key: ` or `- ` for values on one line, and the lines below a block
    /// scalar; `None` for block collections.
    fn inline(&mut self, node: &Node, col: usize, path: &[PathSeg], shared: bool) -> Option<()> {
        let line = self.out.len();
        let leaf = |src: String, suffix: String, own: Q| Leaf {
            path: path.to_vec(),
            line,
            src,
            suffix,
            own,
            flow: false,
            shared,
            tagged: false,
            block: false,
        };
        match node {
            Node::Scalar(s, comment) => {
                let (src, own) = self.scalar(s, false);
                let suffix = if *comment { "  # note" } else { "" }.to_string();
                if matches!(s, Scal::Null(_)) {
                    self.maps.push(MapSite {
                        path: path.to_vec(),
                        line: Some(line),
                        shared,
                    });
                }
                self.out.push(format!("{src}{suffix}"));
                self.leaves.push(leaf(src, suffix, own));
            }
            Node::Tagged(word) => {
                let src = format!("!!str {word}");
                self.out.push(src.clone());
                self.leaves.push(Leaf {
                    tagged: true,
                    ..leaf(src, String::new(), Q::Plain)
                });
            }
            Node::Block(header, lines) => {
                self.out.push(header.to_string());
                let pad = " ".repeat(col);
                self.out.extend(lines.iter().map(|l| format!("{pad}{l}")));
                if *header == "|+" {
                    self.out.push(String::new()); // kept: part of the value
                }
                self.leaves.push(Leaf {
                    block: true,
                    ..leaf(header.to_string(), String::new(), Q::Plain)
                });
            }
            Node::Flow(entries) => {
                let mut seen = Vec::new();
                let mut parts = Vec::new();
                for (k, v) in entries {
                    if !seen.contains(k) {
                        seen.push(k.clone());
                        let (src, own) = self.scalar(v, true);
                        parts.push((k.clone(), src, own));
                    }
                }
                self.maps.push(MapSite {
                    path: path.to_vec(),
                    line: Some(line),
                    shared,
                });
                for (j, (k, src, own)) in parts.iter().enumerate() {
                    let rest: Vec<String> = parts[j + 1..]
                        .iter()
                        .map(|(k, s, _)| format!("{k}: {s}"))
                        .collect();
                    let suffix = format!(
                        "{}}}",
                        rest.iter().map(|r| format!(", {r}")).collect::<String>()
                    );
                    let p = with(path, PathSeg::Key(k.clone()));
                    self.leaves.push(Leaf {
                        path: p.clone(),
                        flow: true,
                        ..leaf(src.clone(), suffix, *own)
                    });
                    self.entries.push(Entry {
                        path: p,
                        first: line,
                        last: line,
                        flow: true,
                        only: parts.len() == 1,
                        next: None,
                        shared,
                    });
                }
                let body: Vec<String> = parts.iter().map(|(k, s, _)| format!("{k}: {s}")).collect();
                self.out.push(format!("{{{}}}", body.join(", ")));
            }
            Node::Map(_) | Node::Seq(_) => return None,
        }
        Some(())
    }

    /// Prefix the last line pushed (or the first of a block scalar) with `head`.
    fn prefix_line(&mut self, at: usize, head: &str) {
        self.out[at] = format!("{head}{}", self.out[at]);
    }

    fn map(
        &mut self,
        entries: &[(String, Q, Node, bool, bool)],
        col: usize,
        cfg: Cfg,
        path: &[PathSeg],
        shared: bool,
    ) {
        self.maps.push(MapSite {
            path: path.to_vec(),
            line: None,
            shared,
        });
        let pad = " ".repeat(col);
        let mut seen = Vec::new();
        let unique: Vec<_> = entries
            .iter()
            .filter(|(k, ..)| {
                let new = !seen.contains(k);
                seen.push(k.clone());
                new
            })
            .collect();
        let mut mine = Vec::new();
        for (k, kq, v, above, trailing) in unique.iter().copied() {
            if *above {
                self.out.push(format!("{pad}# about {k}"));
            }
            let first = self.out.len();
            let key_src = quoted(k, *kq);
            self.count(&key_src);
            let p = with(path, PathSeg::Key(k.clone()));
            if self.inline(v, col + cfg.step, &p, shared).is_some() {
                let head = format!("{pad}{key_src}: ");
                self.prefix_line(first, &head);
                if self.out[first].ends_with(": ") {
                    let t = self.out[first].trim_end().to_string();
                    self.out[first] = t; // `key:` with nothing after it
                }
            } else {
                self.out.push(format!("{pad}{key_src}:"));
                self.block(v, col, cfg, &p, shared);
                if *trailing {
                    // At the column of the value's own keys or items: deeper than this key,
                    // not deeper than the last key inside (so it is this key's comment).
                    let inner = match v {
                        Node::Seq(_) => col + cfg.seq_offset + 2,
                        _ => col + cfg.step,
                    };
                    let deeper = " ".repeat(inner);
                    self.out.push(format!("{deeper}# end of {k}"));
                }
            }
            mine.push((p, first, self.out.len() - 1, *above));
        }
        let n = mine.len();
        for j in 0..n {
            let next = mine.get(j + 1).map(|(_, f, _, above)| (*f, *above));
            let (p, first, last, _) = mine[j].clone();
            self.entries.push(Entry {
                path: p,
                first,
                last,
                flow: false,
                only: n == 1,
                next,
                shared,
            });
        }
    }

    fn block(&mut self, node: &Node, col: usize, cfg: Cfg, path: &[PathSeg], shared: bool) {
        match node {
            Node::Map(entries) => self.map(entries, col + cfg.step, cfg, path, shared),
            Node::Seq(items) => self.seq(items, col + cfg.seq_offset, cfg, path, shared),
            _ => {}
        }
    }

    fn seq(&mut self, items: &[Node], col: usize, cfg: Cfg, path: &[PathSeg], shared: bool) {
        self.seqs.push((path.to_vec(), shared));
        let pad = " ".repeat(col);
        for (i, item) in items.iter().enumerate() {
            let p = with(path, PathSeg::Index(i));
            let start = self.out.len();
            if self.inline(item, col + 2, &p, shared).is_some() {
                self.prefix_line(start, &format!("{pad}- "));
                if self.out[start].ends_with("- ") {
                    let t = self.out[start].trim_end().to_string();
                    self.out[start] = t;
                }
                continue;
            }
            match item {
                Node::Map(entries) => self.map(entries, col + 2, cfg, &p, shared),
                Node::Seq(inner) => self.seq(inner, col + 2, cfg, &p, shared),
                _ => {}
            }
            // The dash goes on the item's first line that is not a comment above a key.
            if let Some(at) =
                (start..self.out.len()).find(|&i| !self.out[i].trim_start().starts_with('#'))
            {
                let line = &self.out[at];
                self.out[at] = format!("{pad}- {}", &line[col + 2..]);
            }
        }
    }
}

/// Render a document; `shared` adds anchors, aliases and a merge key after its entries.
fn render(doc: &(Node, Option<Node>), cfg: Cfg, crlf: bool) -> (String, Gen) {
    let mut g = Gen::default();
    g.out.push("# generated".into());
    if let Node::Map(entries) = &doc.0 {
        g.map(entries, 0, cfg, &[], false);
    }
    if let Some(Node::Map(shared)) = &doc.1 {
        let k = |s: &str| vec![PathSeg::Key(s.into())];
        for e in g.entries.iter_mut().filter(|e| e.path.len() == 1) {
            e.only = false; // the root mapping goes on below
        }
        g.out.push("x_anchored: &a1".into());
        g.map(shared, cfg.step, cfg, &k("x_anchored"), true);
        g.out.push("x_alias: *a1".into());
        g.out.push("x_merged:".into());
        let pad = " ".repeat(cfg.step);
        g.out.push(format!("{pad}<<: *a1"));
        g.out.push(format!("{pad}x_own: 1"));
        g.out.push("x_value: &v1 'x'".into());
        g.out.push("x_ref: *v1".into());
        g.quotes.0 += 1;
        // Under an alias or merge key, every path is shared: the tree has them all.
        for (name, ..) in shared {
            for top in ["x_alias", "x_merged"] {
                g.leaves.push(Leaf {
                    path: vec![PathSeg::Key(top.into()), PathSeg::Key(name.clone())],
                    line: 0,
                    src: String::new(),
                    suffix: String::new(),
                    own: Q::Plain,
                    flow: false,
                    shared: true,
                    tagged: false,
                    block: false,
                });
            }
        }
        for name in ["x_value", "x_ref", "x_alias"] {
            g.leaves.push(Leaf {
                path: k(name),
                line: 0,
                src: String::new(),
                suffix: String::new(),
                own: Q::Plain,
                flow: false,
                shared: true,
                tagged: false,
                block: false,
            });
        }
        g.maps.push(MapSite {
            path: k("x_merged"),
            line: None,
            shared: true,
        });
        g.maps.push(MapSite {
            path: k("x_alias"),
            line: None,
            shared: true,
        });
        // Removing `x_merged.x_own` could expose a merged value; `x_anchored` defines the
        // anchor others use; both are refused. The alias itself can go.
        let n = g.out.len();
        for (path, line, shared) in [
            (
                vec![
                    PathSeg::Key("x_merged".into()),
                    PathSeg::Key("x_own".into()),
                ],
                n - 3,
                true,
            ),
            (k("x_anchored"), 0, true),
            (k("x_value"), n - 2, true),
            (k("x_ref"), n - 1, false),
        ] {
            g.entries.push(Entry {
                path,
                first: line,
                last: line,
                flow: false,
                only: false,
                next: None,
                shared,
            });
        }
    }
    let nl = if crlf { "\r\n" } else { "\n" };
    (format!("{}{nl}", g.out.join(nl)), g)
}

/// serde-saphyr's reading of every document (the independent parse).
fn parse(text: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(text).expect("generated YAML parses")
}

/// The value at `path` in a tree, creating mapping keys (a null becomes a mapping), as a
/// `Set` would.
fn slot<'v>(mut v: &'v mut Value, path: &[PathSeg]) -> &'v mut Value {
    for seg in path {
        v = match seg {
            PathSeg::Key(k) => {
                if v.is_null() {
                    *v = Value::Object(Map::new());
                }
                v.as_object_mut()
                    .expect("a mapping on the path")
                    .entry(k.clone())
                    .or_insert(Value::Null)
            }
            PathSeg::Index(i) => &mut v[*i],
            PathSeg::Match { .. } => unreachable!("the generator writes no Match paths"),
        };
    }
    v
}

fn expect_set(text: &str, doc: usize, path: &[PathSeg], value: &Value) -> Vec<Value> {
    let mut docs = parse(text);
    *slot(&mut docs[doc], path) = value.clone();
    docs
}

fn expect_remove(text: &str, path: &[PathSeg]) -> Vec<Value> {
    let mut docs = parse(text);
    let (PathSeg::Key(k), parent) = path.split_last().expect("a path") else {
        unreachable!("entries end in a key")
    };
    let removed = slot(&mut docs[0], parent)
        .as_object_mut()
        .expect("a mapping")
        .shift_remove(k);
    assert!(removed.is_some(), "{} is in the tree", path_to_string(path));
    docs
}

fn lines(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

/// Lines equal at the start and at the end; the rest is what changed: (old, new).
fn changed<'a>(old: &'a str, new: &'a str) -> (usize, Vec<&'a str>, Vec<&'a str>) {
    let (a, b) = (lines(old), lines(new));
    let head = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let tail = a[head..]
        .iter()
        .rev()
        .zip(b[head..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    (
        head,
        a[head..a.len() - tail].to_vec(),
        b[head..b.len() - tail].to_vec(),
    )
}

fn new_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => any_text().prop_map(Value::String),
        1 => any::<i64>().prop_map(|i| json!(i)),
        1 => (-1e6f64..1e6).prop_map(|f| json!(f)),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => Just(Value::Null),
    ]
}

fn refusal(
    r: &Result<String, EditError>,
    what: fn(&EditError) -> bool,
) -> Result<(), TestCaseError> {
    match r {
        Err(e) if what(e) => Ok(()),
        other => Err(TestCaseError::fail(format!(
            "expected a refusal, got {other:?}"
        ))),
    }
}

/// How a string value must be written in place of a scalar written in `own` style.
fn check_spelling(
    written: &str,
    s: &str,
    own: Q,
    file: Q,
    flow: bool,
) -> Result<(), TestCaseError> {
    let first = written.chars().next();
    let want = match own {
        Q::Single if !has_control(s) => Some('\''),
        Q::Single | Q::Double => Some('"'),
        Q::Plain if is_safe(s) && !(flow && s.contains([',', '[', ']', '{', '}'])) => None,
        Q::Plain if is_ambiguous(s) => Some(if file == Q::Single && !has_control(s) {
            '\''
        } else {
            '"'
        }),
        Q::Plain => return Ok(()), // anything that reads back right (checked on the tree)
    };
    match want {
        None => prop_assert_eq!(written, s, "a plain-safe string must stay plain"),
        Some(q) => prop_assert_eq!(first, Some(q), "{:?} written as {}", s, written),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, .. ProptestConfig::default() })]

    #[test]
    fn set_leaf_changes_its_line_only(doc in document(), cfg in cfg(), crlf in any::<bool>(), pick in any::<prop::sample::Index>(), value in new_value()) {
        let (text, g) = render(&doc, cfg, crlf);
        prop_assume!(!g.leaves.is_empty()); // e.g. only empty flow mappings
        let leaf = pick.get(&g.leaves).clone();
        let op = YamlOp::Set { path: leaf.path.clone(), value: value.clone() };
        let out = apply(&text, &YamlEdit { document: 0, op });
        if leaf.shared {
            return refusal(&out, |e| matches!(e, EditError::Alias(_)));
        }
        if leaf.tagged {
            return refusal(&out, |e| matches!(e, EditError::Unsafe(m) if m.contains("tag")));
        }
        if leaf.block {
            return refusal(&out, |e| matches!(e, EditError::Unsafe(m) if m.contains("block scalar")));
        }
        let out = out.map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(parse(&out), expect_set(&text, 0, &leaf.path, &value), "{}", out);
        // Same lines, all but the leaf's byte for byte.
        let (old, new) = (lines(&text), lines(&out));
        prop_assert_eq!(old.len(), new.len(), "{}", out);
        for (i, (a, b)) in old.iter().zip(&new).enumerate() {
            if i != leaf.line {
                prop_assert_eq!(a, b, "line {} changed\n{}", i, out);
            }
        }
        // The value is written between the unchanged text before and after it.
        let nl = if crlf { "\r\n" } else { "\n" };
        let old_line = old[leaf.line].strip_suffix(nl).unwrap_or(old[leaf.line]);
        let new_line = new[leaf.line].strip_suffix(nl).unwrap_or(new[leaf.line]);
        let head = &old_line[..old_line.len() - leaf.src.len() - leaf.suffix.len()];
        let written = new_line
            .strip_prefix(head)
            .and_then(|r| r.strip_suffix(leaf.suffix.as_str()))
            .map(|w| if leaf.src.is_empty() { w.trim() } else { w });
        let Some(written) = written else {
            return Err(TestCaseError::fail(format!("text around the value changed: {old_line:?} -> {new_line:?}")));
        };
        let file = if g.quotes.0 > g.quotes.1 { Q::Single } else { Q::Double };
        match &value {
            Value::String(s) => check_spelling(written, s, leaf.own, file, leaf.flow)?,
            _ => prop_assert!(!written.starts_with(['\'', '"']), "{}", written),
        }
    }

    #[test]
    fn add_key_adds_lines_only(doc in document(), cfg in cfg(), crlf in any::<bool>(), pick in any::<prop::sample::Index>(), value in prop_oneof![new_value(), (new_value(), new_value()).prop_map(|(a, b)| json!({"x": a, "y": [b, {"z": 1}]}))]) {
        let (text, g) = render(&doc, cfg, crlf);
        let site = pick.get(&g.maps).clone();
        let path = with(&site.path, PathSeg::Key("new-key".into()));
        let op = YamlOp::Set { path: path.clone(), value: value.clone() };
        let out = apply(&text, &YamlEdit { document: 0, op });
        if site.shared {
            return refusal(&out, |e| matches!(e, EditError::Alias(_)));
        }
        let out = out.map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(parse(&out), expect_set(&text, 0, &path, &value), "{}", out);
        let (at, old, _) = changed(&text, &out);
        match site.line {
            // A block mapping: lines inserted, none changed.
            None => {
                prop_assert!(old.is_empty(), "changed {:?}\n{}", old, out);
                // Rolling back (removing the new key) restores the file byte for byte.
                let back = apply(&out, &YamlEdit { document: 0, op: YamlOp::Remove { path } })
                    .map_err(|e| TestCaseError::fail(format!("rollback: {e}\n{out}")))?;
                prop_assert_eq!(&back, &text);
            }
            // A flow mapping or a null: its own line changes, at most.
            Some(line) => prop_assert!(old.is_empty() || (old.len() == 1 && at == line), "line {} of {:?}\n{}", at, old, out),
        }
        prop_assert_eq!(text.contains('\r'), out.contains('\r'));
    }

    #[test]
    fn remove_key_removes_its_lines_only(doc in document(), cfg in cfg(), crlf in any::<bool>(), pick in any::<prop::sample::Index>()) {
        let (text, g) = render(&doc, cfg, crlf);
        let entry = pick.get(&g.entries).clone();
        let out = apply(&text, &YamlEdit { document: 0, op: YamlOp::Remove { path: entry.path.clone() } });
        if entry.shared {
            return refusal(&out, |e| matches!(e, EditError::Alias(_)));
        }
        let old = lines(&text);
        let dash = old[entry.first].trim_start().starts_with("- ");
        if dash && !entry.only && !entry.flow && entry.next.is_some_and(|(_, comment)| comment) {
            return refusal(&out, |e| matches!(e, EditError::Unsafe(m) if m.contains("comment")));
        }
        let out = out.map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(parse(&out), expect_remove(&text, &entry.path), "{}", out);
        let new = lines(&out);
        let (before, after) = (&old[..entry.first], &old[entry.last + 1..]);
        if entry.flow {
            prop_assert_eq!(old.len(), new.len());
            let others = old.iter().zip(&new).enumerate().filter(|(i, (a, b))| *i != entry.first && a != b).count();
            prop_assert_eq!(others, 0, "{}", out);
        } else if entry.only {
            // `{}` in place of the entry's lines.
            prop_assert_eq!(&new[..entry.first], before);
            prop_assert_eq!(&new[entry.first + 1..], after, "{}", out);
            prop_assert!(new[entry.first].trim_end().ends_with("{}"), "{}", out);
        } else if dash {
            // The next entry moves onto the `- ` line; nothing else changes.
            let (next, _) = entry.next.expect("a next entry");
            prop_assert_eq!(&new[..entry.first], before);
            prop_assert_eq!(&new[entry.first + 1..], &old[next + 1..], "{}", out);
            let line = old[entry.first];
            let dash_head = &line[..line.len() - line.trim_start_matches([' ', '-']).len()];
            prop_assert_eq!(new[entry.first].to_string(), format!("{dash_head}{}", old[next].trim_start()));
        } else {
            // Exactly the entry's lines are gone.
            prop_assert_eq!(&new[..entry.first], before);
            prop_assert_eq!(&new[entry.first..], after, "{}", out);
        }
    }

    #[test]
    fn append_only_adds_lines(doc in document(), cfg in cfg(), crlf in any::<bool>(), pick in any::<prop::sample::Index>(), value in prop_oneof![new_value(), new_value().prop_map(|v| json!({"path": v, "n": [1]}))]) {
        let (text, g) = render(&doc, cfg, crlf);
        prop_assume!(!g.seqs.is_empty());
        let (path, shared) = pick.get(&g.seqs).clone();
        let out = apply(&text, &YamlEdit { document: 0, op: YamlOp::Append { path: path.clone(), value: value.clone() } });
        if shared {
            return refusal(&out, |e| matches!(e, EditError::Alias(_)));
        }
        let out = out.map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let mut want = parse(&text);
        slot(&mut want[0], &path).as_array_mut().expect("a sequence").push(value);
        prop_assert_eq!(parse(&out), want, "{}", out);
        let (_, old, _) = changed(&text, &out);
        prop_assert!(old.is_empty(), "{} changed {:?}\n{}", path_to_string(&path), old, out);
    }

    #[test]
    fn multi_document_edits_touch_one_document(docs in prop::collection::vec((document(), cfg()), 2..4), pick in any::<prop::sample::Index>(), which in any::<prop::sample::Index>(), value in new_value()) {
        let rendered: Vec<(String, Gen)> = docs.iter().map(|(d, c)| render(d, *c, false)).collect();
        let text = rendered.iter().map(|(t, _)| format!("---\n{t}")).collect::<String>() + "...\n";
        let i = which.index(rendered.len());
        prop_assume!(!rendered[i].1.leaves.is_empty());
        let leaf = pick.get(&rendered[i].1.leaves).clone();
        prop_assume!(!leaf.shared && !leaf.tagged && !leaf.block);
        let op = YamlOp::Set { path: leaf.path.clone(), value: value.clone() };
        let out = apply(&text, &YamlEdit { document: i, op })
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(parse(&out), expect_set(&text, i, &leaf.path, &value));
        let (_, old, new) = changed(&text, &out);
        prop_assert!(old.len() <= 1 && old.len() == new.len());
    }

    #[test]
    fn never_panics(text in "([a-z:\\-\\[\\]{}&*#|>'\" ,~!?\\n]|\\r\\n|  ){0,60}", path in prop::collection::vec(prop_oneof![
        "[a-z]{1,2}".prop_map(PathSeg::Key),
        (0usize..3).prop_map(PathSeg::Index),
        "[a-z]{1,2}".prop_map(|v| PathSeg::Match { key: "a".into(), value: v }),
    ], 0..3), value in prop_oneof![new_value(), Just(json!({"a": [1, {"b": "c"}]}))], document in 0usize..3, op in 0u8..3) {
        let op = match op {
            0 => YamlOp::Append { path, value },
            1 => YamlOp::Set { path, value },
            _ => YamlOp::Remove { path },
        };
        // Anything that comes back passed verification; here it must not panic.
        let _ = apply(&text, &YamlEdit { document, op });
    }
}
