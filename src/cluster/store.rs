//! The watchers' stores: one table per kind keyed by namespace/name, holding slimmed objects,
//! and an index from an owner's uid to the objects it controls. Pure: the watch tasks feed it
//! [`Change`]s and it answers with the workloads they touched and with slices.
//!
//! A relist (the initial list, or the one after a 410 Gone) is buffered and swapped in whole at
//! its end, so objects deleted while the watch was down disappear, and only objects whose
//! resourceVersion changed count as touched (a relist of an unchanged cluster touches nothing).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{LimitRange, Node, PersistentVolumeClaim, Pod, ResourceQuota};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::gitops::argocd::{Application, ApplicationSet};
use crate::objref::{ObjectRef, WorkloadKind};
use crate::owner::controller_of;
use crate::state::{ClusterState, ObservedEvent, Rollout};

/// Longer owner chains do not exist in Kubernetes; the bound guards against reference cycles.
const MAX_DEPTH: usize = 8;

/// Namespace (empty for cluster-scoped objects) and name.
pub type Key = (String, String);

/// The kinds the watchers store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Pod,
    ReplicaSet,
    Deployment,
    StatefulSet,
    DaemonSet,
    Job,
    CronJob,
    Rollout,
    Event,
    Node,
    Pvc,
    LimitRange,
    ResourceQuota,
    Application,
    ApplicationSet,
}

impl Kind {
    fn of_workload(k: WorkloadKind) -> Kind {
        match k {
            WorkloadKind::Pod => Kind::Pod,
            WorkloadKind::ReplicaSet => Kind::ReplicaSet,
            WorkloadKind::Deployment => Kind::Deployment,
            WorkloadKind::StatefulSet => Kind::StatefulSet,
            WorkloadKind::DaemonSet => Kind::DaemonSet,
            WorkloadKind::Job => Kind::Job,
            WorkloadKind::CronJob => Kind::CronJob,
            WorkloadKind::Rollout => Kind::Rollout,
        }
    }

    /// The stored kind of an `apiVersion` + `kind` pair (ownerReferences, Event subjects,
    /// [`ObjectRef`]s); `None` for kinds that are not stored or cannot own pods.
    pub fn of_api(api_version: &str, kind: &str) -> Option<Kind> {
        match kind {
            "Node" => Some(Kind::Node),
            "PersistentVolumeClaim" => Some(Kind::Pvc),
            _ => WorkloadKind::from_api(api_version, kind).map(Kind::of_workload),
        }
    }

    fn of_ref(r: &ObjectRef) -> Option<Kind> {
        let api_version = if r.group.is_empty() {
            String::new()
        } else {
            format!("{}/", r.group)
        };
        Kind::of_api(&api_version, &r.kind)
    }

    /// The kind string of a root (for [`ObjectRef`]s and Event subjects).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Pod => "Pod",
            Kind::ReplicaSet => "ReplicaSet",
            Kind::Deployment => "Deployment",
            Kind::StatefulSet => "StatefulSet",
            Kind::DaemonSet => "DaemonSet",
            Kind::Job => "Job",
            Kind::CronJob => "CronJob",
            Kind::Rollout => "Rollout",
            Kind::Event => "Event",
            Kind::Node => "Node",
            Kind::Pvc => "PersistentVolumeClaim",
            Kind::LimitRange => "LimitRange",
            Kind::ResourceQuota => "ResourceQuota",
            Kind::Application => "Application",
            Kind::ApplicationSet => "ApplicationSet",
        }
    }
}

/// The object a slice is built around: the top of an owner chain (a workload), a Node or a PVC.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Root {
    pub kind: Kind,
    pub key: Key,
}

/// One watch event, already converted to what is stored.
#[derive(Debug)]
pub enum Change<T> {
    Apply {
        key: Key,
        rv: String,
        obj: T,
    },
    Delete {
        key: Key,
    },
    /// A (re)list starts: what follows until `InitDone` replaces the table.
    Init,
    InitApply {
        key: Key,
        rv: String,
        obj: T,
    },
    InitDone,
}

struct Item<T> {
    rv: Box<str>,
    ident: Ident,
    body: Body<T>,
}

impl<T: Stored> Item<T> {
    fn new(rv: String, obj: T) -> Item<T> {
        Item {
            rv: rv.into_boxed_str(),
            ident: Ident::of(obj.meta()),
            body: obj.store(),
        }
    }
}

/// What the owner index and root resolution read of an object: its uid and the one
/// controller reference the rules of `crate::owner` follow. Kept beside the body, so a
/// packed object is indexed and resolved without unpacking it, in a few dozen bytes instead
/// of a whole `ObjectMeta`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ident {
    pub uid: Option<Box<str>>,
    pub controller: Option<Box<Controller>>,
}

/// A `controller: true` owner reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Controller {
    /// `None` for a kind suture does not store: an owner chain stops there.
    pub kind: Option<Kind>,
    pub name: Box<str>,
    pub uid: Box<str>,
}

impl Ident {
    fn of(meta: Option<&ObjectMeta>) -> Ident {
        let Some(m) = meta else {
            return Ident::default();
        };
        Ident {
            uid: m.uid.as_deref().map(Box::from),
            controller: controller_of(m).map(|r| {
                Box::new(Controller {
                    kind: Kind::of_api(&r.api_version, &r.kind),
                    name: r.name.as_str().into(),
                    uid: r.uid.as_str().into(),
                })
            }),
        }
    }
}

/// How a table keeps an object. Pods and workloads, the bulk of a large cluster, are packed
/// as compact JSON until a slice asks for them (a few hundred bytes a pod instead of the ~10
/// KiB its k8s-openapi struct takes; a slice unpacks only its own few objects). The rest are
/// kept as they are, boxed: a k8s-openapi struct is large inline (a `Pod` holds its whole
/// `PodSpec`), and an unboxed variant would size every table entry, packed or not, to it.
pub enum Body<T> {
    Plain(Box<T>),
    Packed(Box<[u8]>),
}

impl<T: Stored> Body<T> {
    /// Pack `obj`; kept plain if it cannot be written (it always can: it was just read).
    fn packed(obj: T) -> Body<T>
    where
        T: serde::Serialize,
    {
        match serde_json::to_vec(&obj) {
            Ok(json) => Body::Packed(json.into_boxed_slice()),
            Err(_) => Body::Plain(Box::new(obj)),
        }
    }

    fn get(&self) -> Option<Cow<'_, T>> {
        match self {
            Body::Plain(o) => Some(Cow::Borrowed(&**o)),
            Body::Packed(json) => T::load(json).map(Cow::Owned),
        }
    }
}

/// The objects of one kind.
pub struct Table<T> {
    live: BTreeMap<Key, Item<T>>,
    /// The relist under way, if any.
    relist: Option<BTreeMap<Key, Item<T>>>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            live: BTreeMap::new(),
            relist: None,
        }
    }
}

impl<T: Stored> Table<T> {
    pub fn get(&self, key: &Key) -> Option<Cow<'_, T>> {
        self.live.get(key).and_then(|i| i.body.get())
    }

    /// The uid and controller of `key`.
    pub fn ident(&self, key: &Key) -> Option<&Ident> {
        self.live.get(key).map(|i| &i.ident)
    }

    /// Names and resourceVersions, sorted (for comparing with a fresh list).
    pub fn versions(&self) -> Vec<(Key, String)> {
        self.live
            .iter()
            .map(|(k, i)| (k.clone(), i.rv.to_string()))
            .collect()
    }

    fn in_namespace<'a>(&'a self, ns: &'a str) -> impl Iterator<Item = Cow<'a, T>> + 'a {
        self.live
            .range((ns.to_string(), String::new())..)
            .take_while(move |(k, _)| k.0 == ns)
            .filter_map(|(_, i)| i.body.get())
    }

    pub fn all(&self) -> impl Iterator<Item = Cow<'_, T>> {
        self.live.values().filter_map(|i| i.body.get())
    }
}

/// What a stored type is and where it lives in [`Tables`].
pub trait Stored: Clone + Send + Sync + 'static {
    const KIND: Kind;
    fn table(t: &Tables) -> &Table<Self>;
    fn table_mut(t: &mut Tables) -> &mut Table<Self>;
    /// Metadata, for the owner index (Events have none kept).
    fn meta(&self) -> Option<&ObjectMeta>;
    /// How a table keeps it ([`Body`]): as it is, unless the kind packs.
    fn store(self) -> Body<Self> {
        Body::Plain(Box::new(self))
    }
    /// A packed one, read back.
    fn load(_json: &[u8]) -> Option<Self> {
        None
    }
}

macro_rules! stored {
    ($($ty:ty => $kind:ident, $field:ident $(, $packed:ident)?;)*) => {$(
        impl Stored for $ty {
            const KIND: Kind = Kind::$kind;
            fn table(t: &Tables) -> &Table<Self> {
                &t.$field
            }
            fn table_mut(t: &mut Tables) -> &mut Table<Self> {
                &mut t.$field
            }
            fn meta(&self) -> Option<&ObjectMeta> {
                Some(&self.metadata)
            }
            $(stored!(@$packed);)?
        }
    )*};
    (@packed) => {
        fn store(self) -> Body<Self> {
            Body::packed(self)
        }
        fn load(json: &[u8]) -> Option<Self> {
            serde_json::from_slice(json).ok()
        }
    };
}

stored! {
    Pod => Pod, pods, packed;
    ReplicaSet => ReplicaSet, replica_sets, packed;
    Deployment => Deployment, deployments, packed;
    StatefulSet => StatefulSet, stateful_sets, packed;
    DaemonSet => DaemonSet, daemon_sets, packed;
    Job => Job, jobs, packed;
    CronJob => CronJob, cron_jobs, packed;
    Rollout => Rollout, rollouts;
    Node => Node, nodes;
    PersistentVolumeClaim => Pvc, pvcs;
    LimitRange => LimitRange, limit_ranges;
    ResourceQuota => ResourceQuota, resource_quotas;
    Application => Application, applications;
    ApplicationSet => ApplicationSet, application_sets;
}

impl Stored for ObservedEvent {
    const KIND: Kind = Kind::Event;
    fn table(t: &Tables) -> &Table<Self> {
        &t.events
    }
    fn table_mut(t: &mut Tables) -> &mut Table<Self> {
        &mut t.events
    }
    fn meta(&self) -> Option<&ObjectMeta> {
        None
    }
}

/// Objects decoded from a snapshot, made ready for a table on the thread that decoded them:
/// packing is the costly part of storing a pod, and loading a large snapshot does it on every
/// core while the tables stay with one owner. Applied in order by [`Tables::load`].
pub struct Ready(Vec<Put>);

/// Stores one object.
type Put = Box<dyn FnOnce(&mut Tables) + Send>;

impl Ready {
    /// Every object of `state`, in its order within each kind.
    pub fn of(state: ClusterState) -> Ready {
        fn add<T: Stored>(out: &mut Vec<Put>, objects: Vec<T>) {
            for obj in objects {
                let meta = obj.meta();
                let key = (
                    meta.and_then(|m| m.namespace.clone()).unwrap_or_default(),
                    meta.and_then(|m| m.name.clone()).unwrap_or_default(),
                );
                let item = Item::new(String::new(), obj);
                out.push(Box::new(move |t: &mut Tables| {
                    let key = t.free_key::<T>(key);
                    t.put(key, item);
                }));
            }
        }
        let mut out = Vec::new();
        add(&mut out, state.pods);
        add(&mut out, state.replica_sets);
        add(&mut out, state.deployments);
        add(&mut out, state.stateful_sets);
        add(&mut out, state.daemon_sets);
        add(&mut out, state.jobs);
        add(&mut out, state.cron_jobs);
        add(&mut out, state.rollouts);
        add(&mut out, state.nodes);
        add(&mut out, state.pvcs);
        add(&mut out, state.limit_ranges);
        add(&mut out, state.resource_quotas);
        add(&mut out, state.applications);
        add(&mut out, state.application_sets);
        // A snapshot's events carry no name of their own here: each gets the next number, so
        // a namespace's events keep their order in the snapshot.
        for e in state.events {
            out.push(Box::new(move |t: &mut Tables| {
                let key = (e.namespace.clone(), format!("{:012}", t.events.live.len()));
                t.put(key, Item::new(String::new(), e));
            }));
        }
        Ready(out)
    }
}

/// A root to detect again, and whether it was touched only through its context.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Touched {
    pub root: Root,
    pub context: bool,
}

/// Every table, and the objects each owner uid controls.
#[derive(Default)]
pub struct Tables {
    pub pods: Table<Pod>,
    pub replica_sets: Table<ReplicaSet>,
    pub deployments: Table<Deployment>,
    pub stateful_sets: Table<StatefulSet>,
    pub daemon_sets: Table<DaemonSet>,
    pub jobs: Table<Job>,
    pub cron_jobs: Table<CronJob>,
    pub rollouts: Table<Rollout>,
    pub events: Table<ObservedEvent>,
    pub nodes: Table<Node>,
    pub pvcs: Table<PersistentVolumeClaim>,
    pub limit_ranges: Table<LimitRange>,
    pub resource_quotas: Table<ResourceQuota>,
    pub applications: Table<Application>,
    pub application_sets: Table<ApplicationSet>,
    /// Controller uid -> the objects whose `controller: true` reference names it.
    owned: HashMap<Box<str>, BTreeSet<(Kind, Key)>>,
}

impl Tables {
    /// Apply one change; returns the roots whose slices it touched (empty while a relist is
    /// still buffering). A root touched through its context (a LimitRange of its namespace, the
    /// Application that deploys there) is marked so: its findings are the same objects, but
    /// what suture may do about them changed, so they are sent again.
    pub fn feed<T: Stored>(&mut self, change: Change<T>) -> Vec<Touched> {
        let mut roots = Vec::new();
        match change {
            Change::Apply { key, rv, obj } => {
                self.put(key.clone(), Item::new(rv, obj));
                roots.extend(self.root_of_changed::<T>(&key));
            }
            Change::Delete { key } => {
                // The parent chain is still stored: resolve before removing.
                roots.extend(self.root_of_changed::<T>(&key));
                self.remove::<T>(&key);
            }
            Change::Init => T::table_mut(self).relist = Some(BTreeMap::new()),
            Change::InitApply { key, rv, obj } => {
                let table = T::table_mut(self);
                table
                    .relist
                    .get_or_insert_with(BTreeMap::new)
                    .insert(key, Item::new(rv, obj));
            }
            Change::InitDone => {
                let fresh = T::table_mut(self).relist.take().unwrap_or_default();
                let table = T::table(self);
                let gone: Vec<Key> = table
                    .live
                    .keys()
                    .filter(|k| !fresh.contains_key(*k))
                    .cloned()
                    .collect();
                for key in gone {
                    roots.extend(self.root_of_changed::<T>(&key));
                    self.remove::<T>(&key);
                }
                for (key, item) in fresh {
                    let unchanged = T::table(self)
                        .live
                        .get(&key)
                        .is_some_and(|i| i.rv == item.rv);
                    if unchanged {
                        continue;
                    }
                    self.put(key.clone(), item);
                    roots.extend(self.root_of_changed::<T>(&key));
                }
            }
        }
        roots.sort();
        roots.dedup();
        roots
    }

    /// The tables of a snapshot (`suture plan`). A snapshot may hold one object twice (files
    /// captured at different times): each is kept, as detecting the files would see them.
    pub fn of_snapshot(parts: impl IntoIterator<Item = Ready>) -> Tables {
        let mut tables = Tables::default();
        for part in parts {
            tables.load(part);
        }
        tables
    }

    /// `key`, or for a second object of that kind and name a key of its own (the name, a NUL
    /// and a number: no object name holds a NUL, and [`name_of`] reads the name back).
    fn free_key<T: Stored>(&self, key: Key) -> Key {
        let live = &T::table(self).live;
        if !live.contains_key(&key) {
            return key;
        }
        (1..)
            .map(|n| (key.0.clone(), format!("{}\0{n}", key.1)))
            .find(|k| !live.contains_key(k))
            .unwrap_or(key)
    }

    /// Store every object of `ready`, in order.
    pub fn load(&mut self, ready: Ready) {
        for put in ready.0 {
            put(self);
        }
    }

    /// Every root: the top of each stored object's owner chain, each once, sorted.
    pub fn roots(&self) -> Vec<Root> {
        fn keys<T>(kind: Kind, t: &Table<T>) -> impl Iterator<Item = (Kind, &Key)> {
            t.live.keys().map(move |k| (kind, k))
        }
        let all = keys(Kind::Pod, &self.pods)
            .chain(keys(Kind::ReplicaSet, &self.replica_sets))
            .chain(keys(Kind::Deployment, &self.deployments))
            .chain(keys(Kind::StatefulSet, &self.stateful_sets))
            .chain(keys(Kind::DaemonSet, &self.daemon_sets))
            .chain(keys(Kind::Job, &self.jobs))
            .chain(keys(Kind::CronJob, &self.cron_jobs))
            .chain(keys(Kind::Rollout, &self.rollouts))
            .chain(keys(Kind::Node, &self.nodes))
            .chain(keys(Kind::Pvc, &self.pvcs));
        let roots: BTreeSet<Root> = all
            .map(|(kind, key)| self.root(kind, key.clone()))
            .collect();
        roots.into_iter().collect()
    }

    fn put<T: Stored>(&mut self, key: Key, item: Item<T>) {
        self.unindex::<T>(&key);
        if let Some(c) = &item.ident.controller {
            self.owned
                .entry(c.uid.clone())
                .or_default()
                .insert((T::KIND, key.clone()));
        }
        T::table_mut(self).live.insert(key, item);
    }

    fn remove<T: Stored>(&mut self, key: &Key) {
        self.unindex::<T>(key);
        T::table_mut(self).live.remove(key);
    }

    fn unindex<T: Stored>(&mut self, key: &Key) {
        let old = T::table(self).ident(key);
        let Some(uid) = old
            .and_then(|i| i.controller.as_ref())
            .map(|c| c.uid.clone())
        else {
            return;
        };
        if let Some(set) = self.owned.get_mut(&uid) {
            set.remove(&(T::KIND, key.clone()));
            if set.is_empty() {
                self.owned.remove(&uid);
            }
        }
    }

    /// The roots a change to the stored `T` at `key` re-detects.
    fn root_of_changed<T: Stored>(&self, key: &Key) -> Vec<Touched> {
        let own = |root: Root| Touched {
            root,
            context: false,
        };
        match T::KIND {
            // Context of every workload in a namespace: rare changes, each worth a new look
            // (a raised LimitRange max may allow a refused bump; a new Application may own a
            // workload that had none).
            Kind::LimitRange => self.namespace_roots(&key.0),
            Kind::Application => self
                .applications
                .get(key)
                .and_then(|a| a.spec.destination.as_ref()?.namespace.clone())
                .map(|ns| self.namespace_roots(&ns))
                .unwrap_or_default(),
            kind => self
                .own_root_of_changed(kind, key)
                .map(own)
                .into_iter()
                .collect(),
        }
    }

    /// Every workload root with pods in `ns`, as touched through its context.
    fn namespace_roots(&self, ns: &str) -> Vec<Touched> {
        let mut roots: Vec<Root> = self
            .pods
            .live
            .range((ns.to_string(), String::new())..)
            .take_while(|(k, _)| k.0 == ns)
            .map(|(k, _)| self.root(Kind::Pod, k.clone()))
            .collect();
        roots.sort();
        roots.dedup();
        roots
            .into_iter()
            .map(|root| Touched {
                root,
                context: true,
            })
            .collect()
    }

    fn own_root_of_changed(&self, kind: Kind, key: &Key) -> Option<Root> {
        match kind {
            Kind::Event => {
                let ev = self.events.get(key)?;
                let kind = Kind::of_api("", &ev.object_kind)?;
                let ns = if kind == Kind::Node {
                    String::new()
                } else {
                    ev.namespace.clone()
                };
                Some(self.root(kind, (ns, ev.object_name.clone())))
            }
            Kind::LimitRange | Kind::ResourceQuota | Kind::Application | Kind::ApplicationSet => {
                None
            }
            kind => Some(self.root(kind, key.clone())),
        }
    }

    fn ident(&self, kind: Kind, key: &Key) -> Option<&Ident> {
        match kind {
            Kind::Pod => self.pods.ident(key),
            Kind::ReplicaSet => self.replica_sets.ident(key),
            Kind::Deployment => self.deployments.ident(key),
            Kind::StatefulSet => self.stateful_sets.ident(key),
            Kind::DaemonSet => self.daemon_sets.ident(key),
            Kind::Job => self.jobs.ident(key),
            Kind::CronJob => self.cron_jobs.ident(key),
            Kind::Rollout => self.rollouts.ident(key),
            Kind::Node => self.nodes.ident(key),
            Kind::Pvc => self.pvcs.ident(key),
            Kind::LimitRange => self.limit_ranges.ident(key),
            Kind::ResourceQuota => self.resource_quotas.ident(key),
            Kind::Application => self.applications.ident(key),
            Kind::ApplicationSet => self.application_sets.ident(key),
            Kind::Event => None,
        }
    }

    /// The top of the owner chain of `kind` `key`: controller references are followed while
    /// the referenced object is stored with the referenced uid (the rules of `crate::owner`),
    /// so the root is always an object the slice can hold.
    pub fn root(&self, kind: Kind, key: Key) -> Root {
        let mut current = Root { kind, key };
        for _ in 0..MAX_DEPTH {
            let Some(reference) = self
                .ident(current.kind, &current.key)
                .and_then(|i| i.controller.as_deref())
            else {
                break;
            };
            let Some(parent) = reference.kind else {
                break;
            };
            let key = (current.key.0.clone(), reference.name.to_string());
            match self.ident(parent, &key) {
                Some(i) if i.uid.as_deref() == Some(&*reference.uid) => {
                    current = Root { kind: parent, key };
                }
                _ => break,
            }
        }
        current
    }

    /// The root of the object `r` names (itself when it is not stored).
    pub fn root_of_ref(&self, r: &ObjectRef) -> Option<Root> {
        let kind = Kind::of_ref(r)?;
        let ns = if kind == Kind::Node {
            String::new()
        } else {
            r.namespace.clone()
        };
        Some(self.root(kind, (ns, r.name.clone())))
    }

    /// The slice around `root`: it and everything it controls (down to pods), their events,
    /// the nodes its pods run on, the namespace's PVCs, LimitRanges and ResourceQuotas, and every Application,
    /// ApplicationSet and Rollout.
    pub fn slice(&self, root: &Root) -> ClusterState {
        let mut s = self.slice_without_argo(root);
        s.applications
            .extend(self.applications.all().map(Cow::into_owned));
        s.application_sets
            .extend(self.application_sets.all().map(Cow::into_owned));
        s
    }

    /// [`Tables::slice`] without the Applications and ApplicationSets, which detection and
    /// proposals do not read (a plan places fixes with the snapshot's own list).
    pub fn slice_without_argo(&self, root: &Root) -> ClusterState {
        let mut s = ClusterState::default();
        let ns = root.key.0.as_str();
        // Kind and name of each member, for picking its events.
        let mut members: BTreeSet<(&'static str, String)> = BTreeSet::new();
        let mut queue = vec![(root.kind, root.key.clone())];
        let mut seen = BTreeSet::new();
        while let Some((kind, key)) = queue.pop() {
            if !seen.insert((kind, key.clone())) {
                continue;
            }
            let Some(uid) = self.push(&mut s, kind, &key) else {
                continue;
            };
            members.insert((kind.name(), name_of(&key).to_string()));
            if let Some(children) = uid.and_then(|u| self.owned.get(u.as_str())) {
                queue.extend(children.iter().cloned());
            }
        }
        if root.kind != Kind::Node {
            let nodes: BTreeSet<&str> = s
                .pods
                .iter()
                .filter_map(|p| p.spec.as_ref()?.node_name.as_deref())
                .collect();
            for node in nodes {
                if let Some(n) = self.nodes.get(&(String::new(), node.to_string())) {
                    s.nodes.push(n.into_owned());
                }
            }
            if root.kind != Kind::Pvc {
                s.pvcs
                    .extend(self.pvcs.in_namespace(ns).map(Cow::into_owned));
            }
            s.limit_ranges
                .extend(self.limit_ranges.in_namespace(ns).map(Cow::into_owned));
            s.resource_quotas
                .extend(self.resource_quotas.in_namespace(ns).map(Cow::into_owned));
        }
        let pvc_names: Vec<String> = s
            .pvcs
            .iter()
            .filter_map(|p| p.metadata.name.clone())
            .collect();
        members.extend(pvc_names.into_iter().map(|n| ("PersistentVolumeClaim", n)));
        s.events.extend(
            self.events
                .in_namespace(ns)
                .filter(|e| members.contains(&(kind_str(&e.object_kind), e.object_name.clone())))
                .map(Cow::into_owned),
        );
        if root.kind == Kind::Node {
            let name = &root.key.1;
            s.events.extend(
                self.events
                    .all()
                    .filter(|e| e.object_kind == "Node" && &e.object_name == name)
                    .map(Cow::into_owned),
            );
        }
        if root.kind != Kind::Rollout {
            s.rollouts.extend(self.rollouts.all().map(Cow::into_owned));
        }
        s
    }

    /// Copies the object into the slice; `Some(uid)` when it exists.
    fn push(&self, s: &mut ClusterState, kind: Kind, key: &Key) -> Option<Option<String>> {
        fn take<T: Stored>(table: &Table<T>, key: &Key, to: &mut Vec<T>) -> Option<Option<String>> {
            let uid = table
                .ident(key)
                .map(|i| i.uid.as_deref().map(str::to_string))?;
            to.push(table.get(key)?.into_owned());
            Some(uid)
        }
        match kind {
            Kind::Pod => take(&self.pods, key, &mut s.pods),
            Kind::ReplicaSet => take(&self.replica_sets, key, &mut s.replica_sets),
            Kind::Deployment => take(&self.deployments, key, &mut s.deployments),
            Kind::StatefulSet => take(&self.stateful_sets, key, &mut s.stateful_sets),
            Kind::DaemonSet => take(&self.daemon_sets, key, &mut s.daemon_sets),
            Kind::Job => take(&self.jobs, key, &mut s.jobs),
            Kind::CronJob => take(&self.cron_jobs, key, &mut s.cron_jobs),
            Kind::Rollout => take(&self.rollouts, key, &mut s.rollouts),
            Kind::Node => take(&self.nodes, key, &mut s.nodes),
            Kind::Pvc => take(&self.pvcs, key, &mut s.pvcs),
            Kind::LimitRange
            | Kind::ResourceQuota
            | Kind::Event
            | Kind::Application
            | Kind::ApplicationSet => None,
        }
    }
}

/// The object name in a key (a snapshot's second copy of an object has a suffixed key).
fn name_of(key: &Key) -> &str {
    key.1.split('\0').next().unwrap_or_default()
}

/// An Event subject's kind as the static string [`Kind::name`] uses (others never match).
fn kind_str(kind: &str) -> &'static str {
    Kind::of_api("", kind).map_or("", Kind::name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod() -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web-1", "namespace": "shop", "uid": "p-1",
                         "labels": {"app": "web"},
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                             "name": "web-5d8f7", "uid": "rs-1", "controller": true}]},
            "spec": {"nodeName": "n1", "containers": [{"name": "web", "image": "shop/web:2.0",
                     "resources": {"limits": {"memory": "640Mi"}}}]},
            "status": {"phase": "Running", "containerStatuses": [{"name": "web", "image": "shop/web:2.0",
                "imageID": "", "ready": false, "restartCount": 3,
                "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]}
        }))
        .unwrap()
    }

    #[test]
    fn a_packed_pod_reads_back_whole_and_indexes_by_its_owner() {
        let mut tables = Tables::default();
        let key = ("shop".to_string(), "web-1".to_string());
        tables.feed(Change::Apply {
            key: key.clone(),
            rv: "7".into(),
            obj: pod(),
        });
        let item = tables.pods.live.get(&key).unwrap();
        assert!(matches!(item.body, Body::Packed(_)), "pods are packed");
        assert_eq!(tables.pods.get(&key).unwrap().into_owned(), pod());
        let ident = tables.pods.ident(&key).unwrap();
        assert_eq!(ident.uid.as_deref(), Some("p-1"));
        let controller = ident.controller.as_deref().unwrap();
        assert_eq!(
            (controller.kind, &*controller.name, &*controller.uid),
            (Some(Kind::ReplicaSet), "web-5d8f7", "rs-1")
        );
        assert!(tables.owned["rs-1"].contains(&(Kind::Pod, key.clone())));
        // Events and the other small kinds stay as they are.
        assert!(!matches!(Node::default().store(), Body::Packed(_)));
    }

    /// A table entry is a few words whatever its kind: 50,000 pods must not cost 50,000 inline
    /// `Pod` structs of B-tree node space (they did: 200 MiB at 50,000 pods).
    #[test]
    fn a_table_entry_is_small_whatever_the_kind() {
        let sizes = [
            std::mem::size_of::<Item<Pod>>(),
            std::mem::size_of::<Item<ReplicaSet>>(),
            std::mem::size_of::<Item<Deployment>>(),
            std::mem::size_of::<Item<Node>>(),
            std::mem::size_of::<Item<Application>>(),
        ];
        assert!(sizes.iter().all(|&s| s <= 64), "{sizes:?}");
    }
}
