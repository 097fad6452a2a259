//! Watches over the store's history: ADDED for the current state when asked, then every change
//! after the start version, translated through selectors (an object that stops matching is
//! DELETED for that watch, one that starts matching is ADDED), like the real watch cache.

use std::collections::VecDeque;

use serde_json::{Value, json};
use tokio::sync::watch as notify;

use super::registry::ResId;
use super::selectors::Selectors;
use super::status::ApiError;
use super::store::{Change, Store};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeType {
    Added,
    Modified,
    Deleted,
}

/// The `type` of a watch event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
    Bookmark,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
            EventType::Bookmark => "BOOKMARK",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct WatchEvent {
    pub kind: EventType,
    pub object: Value,
}

#[derive(Clone, Debug, Default)]
pub struct WatchOptions {
    /// Unset or `"0"`: ADDED events for the current state first; `N`: changes after `N`.
    pub resource_version: Option<String>,
    pub selectors: Selectors,
    /// `sendInitialEvents=true`: initial ADDED events end with a BOOKMARK annotated
    /// `k8s.io/initial-events-end: "true"` (watch-list).
    pub send_initial_events: bool,
}

/// An open watch. `next` waits for the next matching event; after a 410 it ends.
pub struct Watcher {
    store: Store,
    res: ResId,
    storage: ResId,
    ns: Option<String>,
    selectors: Selectors,
    /// Every change up to this version has been turned into `pending` events.
    last_rv: u64,
    pending: VecDeque<WatchEvent>,
    rx: notify::Receiver<u64>,
    failed: Option<ApiError>,
    done: bool,
}

impl Watcher {
    pub(crate) fn start(
        store: Store,
        res: ResId,
        ns: Option<&str>,
        opts: WatchOptions,
    ) -> Result<Watcher, ApiError> {
        let rt = store.resource(res)?.clone();
        let ns = if rt.namespaced {
            ns.filter(|n| !n.is_empty()).map(str::to_string)
        } else {
            None
        };
        let from: Option<u64> = match opts.resource_version.as_deref() {
            None | Some("") | Some("0") => None,
            Some(rv) => Some(rv.parse().map_err(|_| {
                ApiError::bad_request(format!("resourceVersion: Invalid value: \"{rv}\""))
            })?),
        };
        let storage = store.registry().storage_of(res);
        let mut watcher = Watcher {
            rx: store.subscribe(),
            store: store.clone(),
            res,
            storage,
            ns,
            selectors: opts.selectors,
            last_rv: 0,
            pending: VecDeque::new(),
            failed: None,
            done: false,
        };
        let state = store.lock();
        match from {
            Some(rv) => watcher.last_rv = rv,
            None => {
                watcher.last_rv = state.rv;
                for obj in store.snapshot(&state, res, watcher.ns.as_deref()) {
                    if watcher.selectors.matches(&obj) {
                        watcher.pending.push_back(WatchEvent {
                            kind: EventType::Added,
                            object: obj,
                        });
                    }
                }
            }
        }
        if opts.send_initial_events {
            let mut mark = bookmark(&rt.kind, &rt.api_version(), watcher.last_rv);
            mark["metadata"]["annotations"] = json!({"k8s.io/initial-events-end": "true"});
            watcher.pending.push_back(WatchEvent {
                kind: EventType::Bookmark,
                object: mark,
            });
        }
        drop(state);
        watcher.rx.borrow_and_update();
        Ok(watcher)
    }

    /// The next event; `Err` once when the watch fell out of the history window (410), then
    /// `None`. Cancel-safe: dropping the future loses no event.
    pub async fn next(&mut self) -> Option<Result<WatchEvent, ApiError>> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(Ok(event));
            }
            if let Some(err) = self.failed.take() {
                self.done = true;
                return Some(Err(err));
            }
            if self.done {
                return None;
            }
            self.rx.borrow_and_update();
            self.pull();
            if !self.pending.is_empty() || self.failed.is_some() {
                continue;
            }
            if self.rx.changed().await.is_err() {
                return None;
            }
        }
    }

    /// A BOOKMARK at the version this watch has fully delivered, if nothing is pending.
    pub fn bookmark(&mut self) -> Option<WatchEvent> {
        self.pull();
        if !self.pending.is_empty() || self.failed.is_some() || self.done {
            return None;
        }
        let rt = self.store.resource(self.res).ok()?;
        Some(WatchEvent {
            kind: EventType::Bookmark,
            object: bookmark(&rt.kind, &rt.api_version(), self.last_rv),
        })
    }

    /// Moves the changes after `last_rv` into `pending`.
    fn pull(&mut self) {
        if self.failed.is_some() || self.done {
            return;
        }
        let store = self.store.clone();
        let state = store.lock();
        if self.last_rv >= state.rv {
            return;
        }
        if self.last_rv < state.oldest {
            self.failed = Some(ApiError::too_old(self.last_rv, state.oldest + 1));
            return;
        }
        let start = state.history.partition_point(|c| c.rv <= self.last_rv);
        for change in state.history.range(start..) {
            self.translate(change);
        }
        self.last_rv = state.rv;
    }

    fn translate(&mut self, change: &Change) {
        if change.res != self.storage || self.ns.as_ref().is_some_and(|n| *n != change.namespace) {
            return;
        }
        let object = self.store.to_view(self.res, change.object.clone());
        let now = self.selectors.matches(&object);
        let kind = match change.kind {
            ChangeType::Added => now.then_some(EventType::Added),
            ChangeType::Deleted => now.then_some(EventType::Deleted),
            ChangeType::Modified => {
                let before = change
                    .prev
                    .as_ref()
                    .map(|p| {
                        self.selectors
                            .matches(&self.store.to_view(self.res, p.clone()))
                    })
                    .unwrap_or(true);
                match (before, now) {
                    (true, true) => Some(EventType::Modified),
                    (false, true) => Some(EventType::Added),
                    (true, false) => Some(EventType::Deleted),
                    (false, false) => None,
                }
            }
        };
        if let Some(kind) = kind {
            self.pending.push_back(WatchEvent { kind, object });
        }
    }
}

fn bookmark(kind: &str, api_version: &str, rv: u64) -> Value {
    json!({
        "kind": kind,
        "apiVersion": api_version,
        "metadata": {"resourceVersion": rv.to_string()},
    })
}
