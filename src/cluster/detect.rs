//! Incremental detection: the roots the watchers touched wait a short debounce window (a burst
//! of changes to one workload becomes one detection), then each is sliced and detected alone,
//! and only findings not already sent for that root in the same form go to the runner.

use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc::Sender;

use super::Shared;
use super::store::{Kind, Root};
use crate::clock::Clock;
use crate::detection::Finding;
use crate::incident::event::Inbound;
use crate::state::ClusterState;

/// The findings of `slice` that belong to `root`: context objects (nodes, PVCs of the
/// namespace) are in a workload's slice as evidence, but their own faults are reported from
/// their own slices.
pub fn belongs(root: &Root, finding: &Finding) -> bool {
    match finding.subject.kind.as_str() {
        "Node" => root.kind == Kind::Node,
        "PersistentVolumeClaim" => root.kind == Kind::Pvc,
        _ => !matches!(root.kind, Kind::Node | Kind::Pvc),
    }
}

/// A finding's identity-and-content fingerprint: equal findings (same object state) hash equal.
fn fingerprint(f: &Finding) -> u64 {
    let mut h = DefaultHasher::new();
    serde_json::to_string(f).unwrap_or_default().hash(&mut h);
    h.finish()
}

/// What was last sent per root, so unchanged findings are not sent again.
#[derive(Default)]
pub struct Sent {
    by_root: HashMap<Root, HashSet<u64>>,
}

impl Sent {
    /// The findings of `current` not sent before for `root`; remembers `current` as sent (a
    /// finding that goes away and comes back is new again).
    pub fn fresh(&mut self, root: &Root, current: Vec<Finding>) -> Vec<Finding> {
        let prints: Vec<u64> = current.iter().map(fingerprint).collect();
        let before = self.by_root.remove(root).unwrap_or_default();
        let fresh = current
            .into_iter()
            .zip(&prints)
            .filter(|(_, p)| !before.contains(p))
            .map(|(f, _)| f)
            .collect();
        if !prints.is_empty() {
            self.by_root
                .insert(root.clone(), prints.into_iter().collect());
        }
        fresh
    }

    /// All of `current`, remembered as sent: what may be done about them changed.
    pub fn resend(&mut self, root: &Root, current: Vec<Finding>) -> Vec<Finding> {
        let prints: HashSet<u64> = current.iter().map(fingerprint).collect();
        self.by_root.remove(root);
        if !prints.is_empty() {
            self.by_root.insert(root.clone(), prints);
        }
        current
    }
}

/// Runs until the runner's queue closes or the task is aborted.
pub async fn run(shared: Arc<Shared>, clock: Clock, tx: Sender<Inbound>) {
    let mut sent = Sent::default();
    loop {
        let due = shared.take_due(Instant::now());
        // Roots are resolved again now: a pod touched before its ReplicaSet was listed was
        // queued as its own root, and belongs to its workload's slice.
        let mut roots: Vec<(Root, bool)> = {
            let tables = shared.tables();
            due.ready
                .into_iter()
                .map(|t| (tables.root(t.root.kind, t.root.key), t.context))
                .collect()
        };
        // One detection per root; touched through its context if any touch was.
        roots.sort();
        roots.dedup_by(|later, first| {
            let same = later.0 == first.0;
            if same {
                first.1 |= later.1;
            }
            same
        });
        for (root, context) in roots {
            let (slice, findings) = detect(&shared, &root, &clock);
            let findings = if context {
                sent.resend(&root, findings)
            } else {
                sent.fresh(&root, findings)
            };
            if findings.is_empty() {
                continue;
            }
            let inbound = Inbound::Findings {
                slice: Box::new(slice),
                findings,
            };
            if tx.send(inbound).await.is_err() {
                return;
            }
        }
        match due.next {
            Some(at) => {
                tokio::select! {
                    () = shared.wake.notified() => {}
                    () = tokio::time::sleep_until(at.into()) => {}
                }
            }
            None => shared.wake.notified().await,
        }
    }
}

fn detect(shared: &Shared, root: &Root, clock: &Clock) -> (ClusterState, Vec<Finding>) {
    let slice = shared.tables().slice(root);
    let findings = crate::detection::detect(&slice, clock.now())
        .into_iter()
        .filter(|f| belongs(root, f))
        .collect();
    (slice, findings)
}
