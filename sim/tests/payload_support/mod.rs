//! Webhook payloads against the real forges' captured payloads (tests/fixtures): every key path
//! of a fixture must be in the simulator's payload with the same JSON type. Written for the
//! tests only, independent of the simulators' rendering code.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use serde_json::Value;
use tokio::sync::{Mutex, mpsc};

/// A webhook as the receiver got it.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A webhook receiver on `127.0.0.1:0` at `path`, in the test's runtime; returns its URL.
pub async fn receiver(path: &str) -> (String, mpsc::UnboundedReceiver<Received>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let tx = Arc::new(Mutex::new(tx));
    let app = axum::Router::new().route(
        path,
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let tx = tx.clone();
            async move {
                let _ = tx.lock().await.send(Received { headers, body });
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}{path}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, rx)
}

/// The next delivery whose payload has `action` at `pointer`, skipping others.
pub async fn next_event(
    rx: &mut mpsc::UnboundedReceiver<Received>,
    pointer: &str,
    action: &str,
) -> Received {
    loop {
        let r = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("no webhook within 10s")
            .expect("receiver closed");
        if r.json().pointer(pointer).and_then(Value::as_str) == Some(action) {
            return r;
        }
    }
}

pub fn fixture(dir: &str, name: &str) -> Value {
    let path = format!(
        "{}/../tests/fixtures/{dir}/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect(&path)
}

/// Key paths of `fixture` missing from `actual` (arrays: the first elements, when both have one).
pub fn missing_paths(fixture: &Value, actual: &Value, path: &str, out: &mut Vec<String>) {
    match (fixture, actual) {
        (Value::Object(f), Value::Object(a)) => {
            for (k, fv) in f {
                let p = format!("{path}.{k}");
                match a.get(k) {
                    None => out.push(p),
                    Some(av) => missing_paths(fv, av, &p, out),
                }
            }
        }
        (Value::Array(f), Value::Array(a)) => {
            if let (Some(fv), Some(av)) = (f.first(), a.first()) {
                missing_paths(fv, av, &format!("{path}[0]"), out);
            }
        }
        (Value::Object(_), Value::Null) => {}
        (Value::Object(_), _) => out.push(format!("{path} (not an object)")),
        _ => {}
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Paths (`.a.b[].c`) that are `null` in at least one of `fixtures`: the forge sends them
/// empty sometimes (an unassigned PR's `assignee`, an open PR's `closed_at`).
pub fn nullable_paths(fixtures: &[Value]) -> BTreeSet<String> {
    fn walk(v: &Value, path: &str, out: &mut BTreeSet<String>) {
        match v {
            Value::Null => {
                out.insert(path.to_owned());
            }
            Value::Object(m) => m
                .iter()
                .for_each(|(k, c)| walk(c, &format!("{path}.{k}"), out)),
            Value::Array(items) => items
                .iter()
                .for_each(|c| walk(c, &format!("{path}[]"), out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    for f in fixtures {
        walk(f, "", &mut out);
    }
    out
}

/// Where `actual` differs from `fixture` in shape: a key path of the fixture absent, or with a
/// different JSON type (`null` accepted where some fixture has `null` there; a `null` in the
/// fixture accepts any type; every element of an array is checked against the fixture's
/// first).
pub fn shape_mismatches(
    fixture: &Value,
    actual: &Value,
    nullable: &BTreeSet<String>,
) -> Vec<String> {
    fn walk(f: &Value, a: &Value, path: &str, nullable: &BTreeSet<String>, out: &mut Vec<String>) {
        match (f, a) {
            (Value::Null, _) => {}
            (_, Value::Null) if nullable.contains(path) => {}
            (Value::Object(fm), Value::Object(am)) => {
                for (k, fv) in fm {
                    let p = format!("{path}.{k}");
                    match am.get(k) {
                        None => out.push(format!("{p}: missing")),
                        Some(av) => walk(fv, av, &p, nullable, out),
                    }
                }
            }
            (Value::Array(fa), Value::Array(aa)) => {
                if let Some(fv) = fa.first() {
                    for av in aa {
                        walk(fv, av, &format!("{path}[]"), nullable, out);
                    }
                }
            }
            // JSON has one number type; a float field may happen to hold a whole number.
            (Value::Number(_), Value::Number(an)) if type_name(f) == "float" && !an.is_f64() => {}
            _ if type_name(f) == type_name(a) => {}
            _ => out.push(format!(
                "{path}: {} in the fixture, {} sent ({a})",
                type_name(f),
                type_name(a)
            )),
        }
    }
    let mut out = Vec::new();
    walk(fixture, actual, "", nullable, &mut out);
    out
}

#[test]
fn shape_check_finds_missing_keys_and_wrong_types() {
    let f = serde_json::json!({"a": 1, "b": {"c": "x"}, "d": [{"e": true}], "n": null, "o": "s"});
    let nullable = nullable_paths(&[serde_json::json!({"o": null})]);
    let good = serde_json::json!({"a": 2, "b": {"c": "y", "extra": 1}, "d": [], "n": 5, "o": null});
    assert!(shape_mismatches(&f, &good, &nullable).is_empty());
    let bad = serde_json::json!({"a": "2", "b": {}, "d": [{"e": true}, {"e": 1}], "o": "s"});
    let found = shape_mismatches(&f, &bad, &nullable);
    assert_eq!(
        found,
        [
            ".a: integer in the fixture, string sent (\"2\")",
            ".b.c: missing",
            ".d[].e: boolean in the fixture, integer sent (1)",
            ".n: missing",
        ]
    );
    // A null where no fixture has one is a mismatch.
    let null_a = serde_json::json!({"a": null, "b": {"c": "x"}, "d": [], "n": 1, "o": "s"});
    assert_eq!(
        shape_mismatches(&f, &null_a, &nullable),
        [".a: integer in the fixture, null sent (null)"]
    );
}
