//! core/v1 Events as client-go's recorder writes them: named `<object>.<hex>`, with
//! `involvedObject` (and `fieldPath` for a container), `source`, `reportingComponent`, and
//! identical repeats folded into one Event whose `count` and `lastTimestamp` grow.

use std::collections::HashMap;

use jiff::Timestamp;
use serde_json::{Value, json};

use super::meta::{self, ts};
use crate::kube::{Store, WriteOptions};

/// Who reports: `kubelet` on a host, `default-scheduler`, `deployment-controller`, ...
#[derive(Clone, Copy, Debug)]
pub struct Source<'a> {
    pub component: &'a str,
    pub host: Option<&'a str>,
}

impl<'a> Source<'a> {
    pub fn controller(component: &'a str) -> Self {
        Source {
            component,
            host: None,
        }
    }
}

/// One event to record.
pub struct Note<'a> {
    /// The object the event is about.
    pub object: &'a Value,
    /// `spec.containers{web}` for container events.
    pub field_path: Option<String>,
    pub warning: bool,
    pub reason: &'a str,
    pub message: String,
    pub source: Source<'a>,
}

/// Remembers recorded events so repeats update the same object.
#[derive(Default)]
pub struct Recorder {
    seen: HashMap<String, (String, String)>,
    seq: u64,
}

impl Recorder {
    /// Records `note` at time `at`. Failures (namespace gone) are logged and dropped, as a
    /// real recorder drops events it cannot write.
    pub fn record(&mut self, store: &Store, at: Timestamp, note: Note<'_>) {
        let Ok(res) = store.res("v1", "Event") else {
            return;
        };
        let obj = note.object;
        let ns = match meta::namespace(obj) {
            "" => "default",
            ns => ns,
        };
        let kind = if note.warning { "Warning" } else { "Normal" };
        let key = format!(
            "{}|{}|{}|{}|{}|{}|{}",
            meta::uid(obj),
            note.field_path.as_deref().unwrap_or(""),
            note.reason,
            note.message,
            note.source.component,
            note.source.host.unwrap_or(""),
            kind
        );
        if let Some((ev_ns, ev_name)) = self.seen.get(&key) {
            let stamp = ts(at);
            let bumped = store.update_with(
                res,
                Some(ev_ns),
                ev_name,
                crate::kube::Subresource::Main,
                |ev| {
                    let count = ev.get("count").and_then(Value::as_i64).unwrap_or(1);
                    ev["count"] = json!(count + 1);
                    ev["lastTimestamp"] = json!(stamp);
                },
            );
            if bumped.is_ok() {
                return;
            }
        }
        self.seq += 1;
        let name = format!(
            "{}.{:x}",
            meta::name(obj),
            at.as_nanosecond().unsigned_abs() + u128::from(self.seq)
        );
        let mut involved = json!({
            "kind": meta::s(obj, "/kind"),
            "namespace": meta::namespace(obj),
            "name": meta::name(obj),
            "uid": meta::uid(obj),
            "apiVersion": meta::s(obj, "/apiVersion"),
            "resourceVersion": meta::s(obj, "/metadata/resourceVersion"),
        });
        if let Some(fp) = &note.field_path {
            involved["fieldPath"] = json!(fp);
        }
        let mut source = json!({"component": note.source.component});
        if let Some(host) = note.source.host {
            source["host"] = json!(host);
        }
        let event = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": ns},
            "involvedObject": involved,
            "reason": note.reason,
            "message": note.message,
            "source": source,
            "firstTimestamp": ts(at),
            "lastTimestamp": ts(at),
            "count": 1,
            "type": kind,
            "reportingComponent": note.source.component,
            "reportingInstance": note.source.host.unwrap_or(""),
        });
        match store.create(res, Some(ns), event, &WriteOptions::default()) {
            Ok(_) => {
                self.seen.insert(key, (ns.to_string(), name));
            }
            Err(e) => tracing::debug!("sim: event {} dropped: {e}", note.reason),
        }
    }

    /// Forgets events about objects that are gone (bounded memory over long runs).
    pub fn forget(&mut self, uid: &str) {
        let prefix = format!("{uid}|");
        self.seen.retain(|k, _| !k.starts_with(&prefix));
    }
}
