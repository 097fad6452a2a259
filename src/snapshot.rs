//! A `kubectl get -o json` snapshot read as it streams and decoded on every core. A byte
//! scanner finds the items of the top-level List; batches of items are decoded and packed by
//! worker threads while the next batch is read, so the text (400 MiB for 50,000 pods as
//! kubectl prints them) never exists whole, and the tables hold packed objects.
//!
//! The scanner only reads the shape `kubectl` prints: one object whose `items` is an array of
//! objects and whose `kind` ends in `List`. Anything else (a top-level array, a single object,
//! a syntax error anywhere) is [`Streamed::Other`], and the caller reads the text the general
//! way ([`ClusterState::add_text`]), so results and messages never depend on the fast path.

use std::io::Read;
use std::ops::Range;
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, sync_channel};

use crate::cluster::Ready;
use crate::state::ClusterState;

/// Items are handed to the decoders in batches of about this many bytes.
const BATCH_BYTES: usize = 4 << 20;
/// Read size.
const CHUNK_BYTES: usize = 1 << 20;

/// What a streamed read found.
pub enum Streamed {
    /// The objects, batch by batch in file order, and the items that did not decode.
    List {
        parts: Vec<Ready>,
        problems: Vec<String>,
    },
    /// Not the shape the scanner reads: read the text the general way.
    Other,
}

/// Read a JSON snapshot from `reader` (see the module docs). Read errors are returned as
/// they are; `Ok(Streamed::Other)` means "valid or not, not a plain List".
pub fn read_json(mut reader: impl Read) -> std::io::Result<Streamed> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (tx, rx) = sync_channel::<(usize, Batch)>(workers);
    let rx = Mutex::new(rx);
    let results: Mutex<Vec<(usize, Decoded)>> = Mutex::new(Vec::new());
    let scanned = std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| decode_batches(&rx, &results));
        }
        let mut scanner = Scanner::default();
        let mut chunk = vec![0u8; CHUNK_BYTES];
        let mut sent = 0;
        let outcome = loop {
            let n = match reader.read(&mut chunk) {
                Ok(0) => break scanner.finish(),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => break Err(Some(e)),
            };
            if scanner.feed(&chunk[..n]).is_err() {
                break Err(None);
            }
            for batch in scanner.take_full() {
                // The decoders stop only when this sender is dropped.
                let _ = tx.send((sent, batch));
                sent += 1;
            }
        };
        if outcome.is_ok() {
            let _ = tx.send((sent, std::mem::take(&mut scanner.batch)));
        }
        drop(tx);
        outcome
    });
    match scanned {
        Err(Some(e)) => return Err(e),
        Err(None) => return Ok(Streamed::Other),
        Ok(()) => {}
    }
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by_key(|(i, _)| *i);
    let mut parts = Vec::with_capacity(results.len());
    let mut problems = Vec::new();
    for (_, decoded) in results {
        let Decoded::Objects { ready, problems: p } = decoded else {
            return Ok(Streamed::Other);
        };
        parts.push(ready);
        problems.extend(p);
    }
    Ok(Streamed::List { parts, problems })
}

/// The raw text of whole items, and where each one is.
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    items: Vec<Range<usize>>,
}

enum Decoded {
    Objects {
        ready: Ready,
        problems: Vec<String>,
    },
    /// Not UTF-8 or not JSON: the general path words the error.
    Invalid,
}

fn decode_batches(rx: &Mutex<Receiver<(usize, Batch)>>, results: &Mutex<Vec<(usize, Decoded)>>) {
    loop {
        let next = rx.lock().map(|r| r.recv());
        let Ok(Ok((i, batch))) = next else {
            return;
        };
        let decoded = decode(&batch);
        if let Ok(mut r) = results.lock() {
            r.push((i, decoded));
        }
    }
}

fn decode(batch: &Batch) -> Decoded {
    let Ok(text) = std::str::from_utf8(&batch.bytes) else {
        return Decoded::Invalid;
    };
    let mut part = ClusterState::default();
    let mut problems = Vec::new();
    for range in &batch.items {
        if part.add_item(&text[range.clone()], &mut problems).is_err() {
            return Decoded::Invalid;
        }
    }
    Decoded::Objects {
        ready: Ready::of(part),
        problems,
    }
}

/// Where the scanner is in `{"k": v, ..., "items": [{...}, ...], ...}`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
enum At {
    /// Before the top object.
    #[default]
    Start,
    /// Inside the top object, before a key or its end.
    Key,
    /// Inside a key string.
    InKey,
    /// After a key, before `:`.
    Colon,
    /// After `:`, before the value.
    Value,
    /// Inside a value other than `items` (copied aside, checked at the end).
    InValue,
    /// After a value, before `,` or `}`.
    Next,
    /// Inside `items`, before an item or `]`.
    Item,
    /// Inside an item.
    InItem,
    /// After an item, before `,` or `]`.
    NextItem,
    /// After the top object: only whitespace may follow.
    End,
}

/// Not the shape the scanner reads.
struct Unsupported;

/// A streaming scanner of one JSON object: strings, escapes and nesting are tracked byte by
/// byte; items are copied into batches, the other members into `rest`, which serde_json
/// checks at the end (so a malformed member is not accepted here).
#[derive(Default)]
struct Scanner {
    at: At,
    key: Vec<u8>,
    /// `{"key":value,...}` of every member but `items`.
    rest: Vec<u8>,
    seen_items: bool,
    /// Inside a value or item: nesting depth, in a string, after a backslash.
    depth: u32,
    in_str: bool,
    escaped: bool,
    /// The value being copied is a bare scalar (number, `true`, ...), ended by `,` or `}`.
    scalar: bool,
    item_start: usize,
    batch: Batch,
    full: Vec<Batch>,
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

impl Scanner {
    fn take_full(&mut self) -> Vec<Batch> {
        std::mem::take(&mut self.full)
    }

    fn feed(&mut self, chunk: &[u8]) -> Result<(), Unsupported> {
        let mut i = 0;
        while i < chunk.len() {
            let b = chunk[i];
            match self.at {
                At::Start => match b {
                    b'{' => {
                        self.rest.push(b'{');
                        self.at = At::Key;
                    }
                    // A byte order mark was skipped by the caller; anything else is unusual.
                    _ if is_ws(b) => {}
                    _ => return Err(Unsupported),
                },
                At::Key => match b {
                    b'"' => {
                        self.key.clear();
                        self.at = At::InKey;
                    }
                    b'}' if self.rest.len() == 1 && !self.seen_items => self.close(),
                    _ if is_ws(b) => {}
                    _ => return Err(Unsupported),
                },
                At::InKey => {
                    let rest = &chunk[i..];
                    match rest.iter().position(|&c| c == b'"' || c == b'\\') {
                        Some(n) if rest[n] == b'"' => {
                            self.key.extend_from_slice(&rest[..n]);
                            i += n;
                            self.at = At::Colon;
                        }
                        // Escaped keys never name `items` in what kubectl prints.
                        Some(_) => return Err(Unsupported),
                        None => {
                            self.key.extend_from_slice(rest);
                            i = chunk.len();
                            continue;
                        }
                    }
                }
                At::Colon => match b {
                    b':' => self.at = At::Value,
                    _ if is_ws(b) => {}
                    _ => return Err(Unsupported),
                },
                At::Value => {
                    if is_ws(b) {
                    } else if self.key == b"items" {
                        if b != b'[' || self.seen_items {
                            return Err(Unsupported);
                        }
                        self.seen_items = true;
                        self.at = At::Item;
                    } else {
                        if self.rest.len() > 1 {
                            self.rest.push(b',');
                        }
                        self.rest.push(b'"');
                        self.rest.extend_from_slice(&self.key);
                        self.rest.extend_from_slice(b"\":");
                        self.start_value(b);
                        self.rest.push(b);
                        self.at = if self.value_done() {
                            At::Next
                        } else {
                            At::InValue
                        };
                    }
                }
                At::InValue => {
                    if self.scalar && (b == b',' || b == b'}' || is_ws(b)) {
                        self.at = At::Next;
                        continue; // the delimiter is read as `Next`
                    }
                    self.step(b);
                    self.rest.push(b);
                    if self.value_done() {
                        self.at = At::Next;
                    }
                }
                At::Next => match b {
                    b',' => self.at = At::Key,
                    b'}' => self.close(),
                    _ if is_ws(b) => {}
                    _ => return Err(Unsupported),
                },
                At::Item => match b {
                    b'{' => {
                        self.item_start = self.batch.bytes.len();
                        self.start_value(b);
                        self.batch.bytes.push(b);
                        self.at = At::InItem;
                    }
                    b']' if self.batch.items.is_empty() && self.full.is_empty() => {
                        self.at = At::Next;
                    }
                    _ if is_ws(b) => {}
                    // Items that are not objects: not what kubectl prints.
                    _ => return Err(Unsupported),
                },
                At::InItem => {
                    // The bulk of the file: find the item's end, then copy it in one go.
                    match self.item_end(&chunk[i..]) {
                        Some(n) => {
                            self.batch.bytes.extend_from_slice(&chunk[i..=i + n]);
                            let range = self.item_start..self.batch.bytes.len();
                            self.batch.items.push(range);
                            if self.batch.bytes.len() >= BATCH_BYTES {
                                self.full.push(std::mem::take(&mut self.batch));
                            }
                            self.at = At::NextItem;
                            i += n;
                        }
                        None => {
                            self.batch.bytes.extend_from_slice(&chunk[i..]);
                            return Ok(());
                        }
                    }
                }
                At::NextItem => match b {
                    b',' => self.at = At::Item,
                    b']' => self.at = At::Next,
                    _ if is_ws(b) => {}
                    _ => return Err(Unsupported),
                },
                At::End => {
                    if !is_ws(b) {
                        return Err(Unsupported);
                    }
                }
            }
            i += 1;
        }
        Ok(())
    }

    /// Where the item being read ends in `bytes` (its closing brace), or `None` when it goes
    /// on past them. Only strings and braces are tracked, by jumping to the next byte that
    /// matters: brackets inside an item need no counting, because every item is checked by
    /// serde_json as it is decoded, and an item that is not JSON sends the whole text down
    /// the general path.
    fn item_end(&mut self, bytes: &[u8]) -> Option<usize> {
        let mut i = 0;
        while i < bytes.len() {
            if self.in_str {
                if self.escaped {
                    self.escaped = false;
                    i += 1;
                    continue;
                }
                i += memchr::memchr2(b'"', b'\\', &bytes[i..])?;
                if bytes[i] == b'\\' {
                    self.escaped = true;
                } else {
                    self.in_str = false;
                }
            } else {
                i += memchr::memchr3(b'"', b'{', b'}', &bytes[i..])?;
                match bytes[i] {
                    b'"' => self.in_str = true,
                    b'{' => self.depth += 1,
                    _ => {
                        self.depth = self.depth.saturating_sub(1);
                        if self.depth == 0 {
                            return Some(i);
                        }
                    }
                }
            }
            i += 1;
        }
        None
    }

    fn start_value(&mut self, first: u8) {
        self.depth = 0;
        self.in_str = false;
        self.escaped = false;
        self.scalar = !matches!(first, b'{' | b'[' | b'"');
        self.step(first);
    }

    /// Track strings and nesting through one byte of a value.
    fn step(&mut self, b: u8) {
        if self.in_str {
            if self.escaped {
                self.escaped = false;
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == b'"' {
                self.in_str = false;
            }
            return;
        }
        match b {
            b'"' => self.in_str = true,
            b'{' | b'[' => self.depth += 1,
            b'}' | b']' => self.depth = self.depth.saturating_sub(1),
            _ => {}
        }
    }

    /// A container or string value just ended (scalars end at their delimiter instead).
    fn value_done(&self) -> bool {
        !self.scalar && !self.in_str && self.depth == 0
    }

    fn close(&mut self) {
        self.rest.push(b'}');
        self.at = At::End;
    }

    /// The end of the text: a whole object with `items`, whose `kind` ends in `List`.
    fn finish(&mut self) -> Result<(), Option<std::io::Error>> {
        if self.at != At::End || !self.seen_items {
            return Err(None);
        }
        let rest: serde_json::Value = serde_json::from_slice(&self.rest).map_err(|_| None)?;
        let list = rest
            .get("kind")
            .and_then(|k| k.as_str())
            .is_some_and(|k| k.ends_with("List"));
        if list { Ok(()) } else { Err(None) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(text: &str, chunk: usize) -> Result<Vec<String>, ()> {
        let mut s = Scanner::default();
        for c in text.as_bytes().chunks(chunk) {
            s.feed(c).map_err(|_| ())?;
        }
        s.finish().map_err(|_| ())?;
        let mut batches = s.take_full();
        batches.push(std::mem::take(&mut s.batch));
        Ok(batches
            .iter()
            .flat_map(|b| {
                b.items
                    .iter()
                    .map(|r| String::from_utf8(b.bytes[r.clone()].to_vec()).unwrap())
            })
            .collect())
    }

    #[test]
    fn items_are_found_whatever_the_chunk_boundaries() {
        let text = r#"{"apiVersion": "v1", "items": [ {"kind": "Pod", "metadata": {"name": "a}\"{"}},
            {"kind": "Node", "x": [1, {"y": "]"}], "p": "c:\\"} ], "kind": "List", "metadata": {"resourceVersion": ""}, "n": 12, "t": true}
        "#;
        for chunk in [1, 2, 3, 7, 64, 4096] {
            let items = scan(text, chunk).unwrap();
            assert_eq!(
                items,
                [
                    r#"{"kind": "Pod", "metadata": {"name": "a}\"{"}}"#,
                    r#"{"kind": "Node", "x": [1, {"y": "]"}], "p": "c:\\"}"#
                ],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn other_shapes_are_left_to_the_general_path() {
        for text in [
            r#"[{"kind": "Pod"}]"#,
            r#"{"kind": "Pod", "metadata": {"name": "a"}}"#,
            r#"{"kind": "Widget", "items": []}"#,
            r#"{"kind": "List", "items": [1, 2]}"#,
            r#"{"kind": "List", "items": [], "items": []}"#,
            r#"{"kind": "List", "items": [{}], "metadata": {"a": tru}}"#,
            r#"{"kind": "List", "items": [{}]} {}"#,
            r#"{"kind": "List", "items": [{}"#,
            r#"{"kind": "List", "items": [{} {}]}"#,
        ] {
            assert!(scan(text, 5).is_err(), "{text}");
        }
        assert_eq!(
            scan(r#"{"kind":"PodList","items":[]}"#, 3).unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_list_reads_as_its_text_does() {
        let text = r#"{"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "x"}},
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "b", "namespace": "x"}, "spec": {"containers": 3}},
            {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}]}"#;
        let Streamed::List { parts, problems } = read_json(text.as_bytes()).unwrap() else {
            panic!("a plain list streams");
        };
        let mut whole = ClusterState::default();
        let expected = whole.add_text("f", text).unwrap();
        assert_eq!(
            problems
                .iter()
                .map(|p| format!("f: {p}"))
                .collect::<Vec<_>>(),
            expected
        );
        let tables = crate::cluster::Tables::of_snapshot(parts);
        assert_eq!(tables.roots().len(), 2, "pod a and node n1");
        // Broken JSON inside an item is the general path's to word.
        let broken = text.replace(r#""name": "a""#, r#""name" "a""#);
        assert!(matches!(
            read_json(broken.as_bytes()).unwrap(),
            Streamed::Other
        ));
    }
}
