//! Things that happen to the simulated infrastructure mid-scenario, in answer to what the
//! system under test did: e.g. a node is lost once a fix has been deployed, so the fix meets a
//! cluster that changed under it. A poll thread watches the store and fires each event once,
//! at an instant of the simulated clock (to within one 10ms poll), so its timing in world
//! seconds is the same on every run.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use jiff::Timestamp;
use serde_json::Value;

use crate::kube::controllers::SimClock;
use crate::kube::{DeleteOptions, Store};

/// One event of a scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WorldEvent {
    /// Once Argo CD has synced a revision that is not one of the scenario's own commits (a
    /// fix merged and deployed), `node` is lost `after_seconds` later: its Node object is
    /// deleted, as the cloud node controller deletes the Node of a vanished instance. PodGC
    /// then removes its pods. A delay lets the new pods be placed first, whatever the timing
    /// of the threads, so the story is the same on every run.
    LoseNodeAfterForeignSync {
        node: &'static str,
        after_seconds: u64,
    },
}

/// Where the trigger looks: the scenario's Application and the commits it seeded.
#[derive(Clone, Debug)]
pub struct Watch {
    pub app_namespace: String,
    pub app: String,
    pub seeded: Vec<String>,
}

/// The running poll thread; stops on `stop` or drop.
pub struct EventRunner {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

const POLL: Duration = Duration::from_millis(10);

impl EventRunner {
    /// `None` when there is nothing to watch for.
    pub fn start(
        store: Store,
        clock: SimClock,
        watch: Watch,
        events: Vec<WorldEvent>,
    ) -> Option<EventRunner> {
        if events.is_empty() {
            return None;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("world-events".into())
            .spawn(move || {
                // When each pending event's trigger was first seen to hold.
                let mut pending: Vec<(WorldEvent, Option<Timestamp>)> =
                    events.into_iter().map(|e| (e, None)).collect();
                while !pending.is_empty() && !flag.load(Ordering::Relaxed) {
                    let now = clock.now();
                    pending.retain_mut(|(e, since)| !step(&store, &watch, e, since, now));
                    std::thread::sleep(POLL);
                }
            })
            .ok();
        Some(EventRunner { stop, thread })
    }

    /// Stops the thread and waits for it (off the async runtime: a poll may be running).
    pub async fn shutdown(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}

impl Drop for EventRunner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Notes when `event`'s trigger first holds and fires it once its delay has passed; true
/// once it has fired (or can never fire).
fn step(
    store: &Store,
    watch: &Watch,
    event: &WorldEvent,
    since: &mut Option<Timestamp>,
    now: Timestamp,
) -> bool {
    match event {
        WorldEvent::LoseNodeAfterForeignSync {
            node,
            after_seconds,
        } => {
            if since.is_none() && foreign_sync(store, watch) {
                *since = Some(now);
            }
            let Some(t) = *since else {
                return false;
            };
            let due = now.duration_since(t).as_secs_f64() >= *after_seconds as f64;
            due && lose_node(store, node)
        }
    }
}

/// Has Argo CD synced a revision the scenario did not seed?
fn foreign_sync(store: &Store, watch: &Watch) -> bool {
    let Ok(res) = store.res("argoproj.io/v1alpha1", "Application") else {
        return false;
    };
    let Ok(app) = store.get(res, Some(&watch.app_namespace), &watch.app) else {
        return false;
    };
    synced_revision(&app).is_some_and(|rev| !watch.seeded.iter().any(|c| c == rev))
}

/// The revision Argo CD last deployed: a succeeded operation's result, or the compared
/// revision while the app is Synced.
pub fn synced_revision(app: &Value) -> Option<&str> {
    let text = |p: &str| {
        app.pointer(p)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let op = (text("/status/operationState/phase") == Some("Succeeded"))
        .then(|| text("/status/operationState/syncResult/revision"))
        .flatten();
    let synced = (text("/status/sync/status") == Some("Synced"))
        .then(|| text("/status/sync/revision"))
        .flatten();
    op.or(synced)
}

/// Deletes the Node; true once it is gone (a missing node counts as lost already).
fn lose_node(store: &Store, node: &str) -> bool {
    let Ok(res) = store.res("v1", "Node") else {
        return true;
    };
    match store.delete(res, None, node, &DeleteOptions::default()) {
        Ok(_) => {
            tracing::info!("world event: node {node} lost after a foreign sync");
            true
        }
        Err(e) if e.code == 404 => true,
        Err(e) => {
            tracing::debug!("world event: losing node {node}: {e}");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_deployed_revision_is_the_operations_or_the_synced_one() {
        let app = json!({"status": {
            "sync": {"status": "OutOfSync", "revision": "b"},
            "operationState": {"phase": "Succeeded", "syncResult": {"revision": "a"}},
        }});
        assert_eq!(synced_revision(&app), Some("a"));
        let app = json!({"status": {"sync": {"status": "Synced", "revision": "b"},
                                    "operationState": {"phase": "Running"}}});
        assert_eq!(synced_revision(&app), Some("b"));
        let app = json!({"status": {"sync": {"status": "OutOfSync", "revision": "b"}}});
        assert_eq!(synced_revision(&app), None);
    }
}
