//! One kube-runtime watcher per kind, feeding [`Tables`]: each event is slimmed right away
//! (only what suture reads is kept), filtered by namespace, applied under the write lock, and
//! the roots it touched are queued for detection. Errors (a dropped connection, 410 Gone, an
//! API server restart) are logged and retried by the watcher itself, with
//! `watcher::DefaultBackoff`; a 410 makes it relist, which the store swaps in whole.

use std::fmt::Debug;
use std::sync::Arc;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{Event as CoreEvent, Node};
use kube::api::{Api, DynamicObject};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;

use super::Shared;
use super::store::{Change, Key, Stored};
use crate::state::ObservedEvent;

/// How a watched `K` becomes a stored `T` (`None`: not kept, e.g. undecodable).
pub type Convert<K, T> = fn(K) -> Option<T>;

/// Watches `api` until the task is aborted. `slot` is this watcher's readiness flag;
/// `filtered`: drop objects outside the configured namespaces.
pub async fn run<K, T>(
    api: Api<K>,
    shared: Arc<Shared>,
    slot: usize,
    filtered: bool,
    convert: Convert<K, T>,
) where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
    T: Stored,
{
    let stream = watcher(api, watcher::Config::default()).default_backoff();
    let mut stream = std::pin::pin!(stream);
    let mut listed = false;
    while let Some(event) = stream.next().await {
        let event = match event {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(kind = ?T::KIND, error = %e, "watch failed; retrying with backoff");
                continue;
            }
        };
        let done = matches!(event, watcher::Event::InitDone);
        if listed && matches!(event, watcher::Event::Init) {
            shared
                .relists
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let keep = |o: &K| !filtered || shared.filter.allows(o.namespace().as_deref());
        let change = match event {
            watcher::Event::Apply(o) if keep(&o) => {
                keyed(o, convert).map(|(key, rv, obj)| Change::Apply { key, rv, obj })
            }
            watcher::Event::InitApply(o) if keep(&o) => {
                keyed(o, convert).map(|(key, rv, obj)| Change::InitApply { key, rv, obj })
            }
            watcher::Event::Delete(o) if keep(&o) => Some(Change::Delete { key: key_of(&o) }),
            watcher::Event::Init => Some(Change::Init),
            watcher::Event::InitDone => Some(Change::InitDone),
            _ => None,
        };
        if let Some(change) = change {
            shared.feed(change);
        }
        if done {
            listed = true;
            shared.set_ready(slot);
        }
    }
}

fn key_of<K: Resource>(o: &K) -> Key {
    (o.namespace().unwrap_or_default(), o.name_any())
}

fn keyed<K: Resource, T>(o: K, convert: Convert<K, T>) -> Option<(Key, String, T)> {
    let key = key_of(&o);
    let rv = o.resource_version().unwrap_or_default();
    let obj = convert(o);
    if obj.is_none() {
        tracing::warn!(namespace = %key.0, name = %key.1, "object does not decode; not stored");
    }
    Some((key, rv, obj?))
}

/// Nodes: metadata slimmed, and the image list dropped (in a real cluster it is most of a
/// Node, and nothing in suture reads it).
pub fn node(n: Node) -> Option<Node> {
    let mut n = crate::state::slim::meta_of(n);
    if let Some(s) = &mut n.status {
        s.images = None;
    }
    Some(n)
}

pub fn event(e: CoreEvent) -> Option<ObservedEvent> {
    Some(ObservedEvent::from_json(&serde_json::to_value(&e).ok()?))
}

/// Custom resources (Applications, ApplicationSets, Rollouts) into their suture types.
pub fn custom<T: DeserializeOwned>(o: DynamicObject) -> Option<T> {
    let mut value = serde_json::to_value(&o).ok()?;
    if let Some(meta) = value.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        meta.remove("managedFields");
        if let Some(a) = meta.get_mut("annotations").and_then(|a| a.as_object_mut()) {
            a.remove("kubectl.kubernetes.io/last-applied-configuration");
        }
    }
    serde_json::from_value(value).ok()
}
