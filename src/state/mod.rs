//! The cluster snapshot suture reasons over, and loading it from `kubectl get -o yaml|json` files.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{LimitRange, Node, PersistentVolumeClaim, Pod, ResourceQuota};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::gitops::argocd::{Application, ApplicationSet};
use crate::objref::WorkloadKind;

mod lean;

/// An Argo Rollout (argoproj.io/v1alpha1). Only metadata and the raw spec are kept: suture
/// reads its pod template like a Deployment's.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct Rollout {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: serde_json::Value,
    #[serde(default)]
    pub status: serde_json::Value,
}

/// A Kubernetes Event, normalized from core/v1 `Event` or events.k8s.io/v1 `Event`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ObservedEvent {
    pub namespace: String,
    /// The object the event is about (`involvedObject` / `regarding`).
    pub object_kind: String,
    pub object_name: String,
    pub object_uid: Option<String>,
    /// `involvedObject.fieldPath`, e.g. `spec.containers{web}`.
    pub field_path: Option<String>,
    pub reason: String,
    /// `message` (core/v1) or `note` (events.k8s.io/v1).
    pub message: String,
    /// `Normal` or `Warning`.
    pub type_: String,
    /// `count` (core/v1) or `series.count` (events.k8s.io/v1); 1 when absent.
    pub count: i32,
    pub first_seen: Option<jiff::Timestamp>,
    pub last_seen: Option<jiff::Timestamp>,
}

/// Everything suture reads from a cluster, as plain data.
#[derive(Clone, Debug, Default)]
pub struct ClusterState {
    pub pods: Vec<Pod>,
    pub replica_sets: Vec<ReplicaSet>,
    pub deployments: Vec<Deployment>,
    pub stateful_sets: Vec<StatefulSet>,
    pub daemon_sets: Vec<DaemonSet>,
    pub jobs: Vec<Job>,
    pub cron_jobs: Vec<CronJob>,
    pub events: Vec<ObservedEvent>,
    pub nodes: Vec<Node>,
    pub pvcs: Vec<PersistentVolumeClaim>,
    pub limit_ranges: Vec<LimitRange>,
    /// `v1 ResourceQuota`s: `spec.hard`, `spec.scopes`/`scopeSelector`, `status.hard`/`used`.
    pub resource_quotas: Vec<ResourceQuota>,
    pub applications: Vec<Application>,
    pub application_sets: Vec<ApplicationSet>,
    pub rollouts: Vec<Rollout>,
}

/// A problem with one input file or object. Files that cannot be read are errors; single
/// objects that cannot be decoded are reported and skipped so the rest of the plan still runs.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StateError {
    #[error("{file}: {reason}")]
    Unreadable { file: String, reason: String },
    /// Objects that did not decode (only [`ClusterState::from_text`] treats these as an error).
    #[error("{}", .0.join("; "))]
    Undecodable(Vec<String>),
}

/// An object of a kind suture reads that does not decode into its type (`containers: 3`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{object}: cannot decode: {reason}")]
pub struct DecodeError {
    /// `Kind name`
    pub object: String,
    pub reason: String,
}

/// A text that is neither JSON nor YAML (objects that parse but do not decode are
/// [`DecodeError`]s instead).
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("invalid YAML: {0}")]
    Yaml(#[from] serde_saphyr::Error),
}

/// Parse a text of Kubernetes objects: JSON, or YAML with any number of `---` documents.
/// `kind: List` documents are flattened into their items.
pub fn parse_objects(text: &str) -> Result<Vec<serde_json::Value>, ParseError> {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    let docs: Vec<serde_json::Value> = if trimmed.starts_with('{') || trimmed.starts_with('[') {
        serde_json::from_str::<serde_json::Value>(trimmed).map(|v| match v {
            serde_json::Value::Array(items) => items,
            other => vec![other],
        })?
    } else {
        serde_saphyr::from_multiple_with_options::<serde_json::Value>(text, yaml_options(text))?
    };
    let mut out = Vec::new();
    for doc in docs {
        flatten_lists(doc, &mut out);
    }
    Ok(out)
}

/// A whole-cluster dump is one large document (50,000 pods is hundreds of MiB), far above
/// the parser's defaults for config files. Limits that grow with the input keep parsing
/// linear; alias and anchor caps stay at their defaults, so YAML bombs are still refused.
fn budget_for(len: usize) -> serde_saphyr::Budget {
    let mut b = serde_saphyr::Budget::default();
    b.max_reader_input_bytes = Some(len.max(2 << 30));
    b.max_events = b.max_events.max(len);
    b.max_nodes = b.max_nodes.max(len);
    b.max_documents = b.max_documents.max(len / 16);
    b.max_total_scalar_bytes = b.max_total_scalar_bytes.max(len);
    b
}

fn flatten_lists(doc: serde_json::Value, out: &mut Vec<serde_json::Value>) {
    let is_list = doc
        .get("kind")
        .and_then(|k| k.as_str())
        .is_some_and(is_list_kind);
    match doc {
        serde_json::Value::Object(mut map) if is_list => {
            if let Some(serde_json::Value::Array(items)) = map.remove("items") {
                for item in items {
                    flatten_lists(item, out);
                }
            }
        }
        serde_json::Value::Null => {}
        other => out.push(other),
    }
}

/// A workload of type `$ty` (metadata, spec, status) decoded by [`lean::decode`].
macro_rules! lean {
    ($de:expr, $ty:ident) => {
        lean::decode($de, |metadata, spec, status| $ty {
            metadata,
            spec,
            status,
        })
    };
}

impl ClusterState {
    /// Add one decoded object by its `apiVersion` and `kind`. Unknown kinds are ignored
    /// (`Ok(false)`); an object of a known kind that does not decode is an error naming it.
    pub fn add_object(&mut self, obj: serde_json::Value) -> Result<bool, DecodeError> {
        let str_at = |key: &str| obj.get(key).and_then(|k| k.as_str()).unwrap_or_default();
        let Some(kind) = Kind::of(str_at("apiVersion"), str_at("kind")) else {
            return Ok(false);
        };
        let object = object_label(&obj);
        self.add_decoded(kind, obj)
            .map(|()| true)
            .map_err(|e| DecodeError {
                object,
                reason: e.to_string(),
            })
    }

    /// Decode one object of `kind` from `de` (a whole object), slim it and keep it.
    /// Workloads skip their managed fields as they are read ([`lean`]).
    fn add_decoded<'de, D: serde::Deserializer<'de>>(
        &mut self,
        kind: Kind,
        de: D,
    ) -> Result<(), D::Error> {
        use WorkloadKind as W;
        use serde::Deserialize as _;
        match kind {
            Kind::Workload(W::Pod) => self.pods.push(slim::pod(lean!(de, Pod)?)),
            Kind::Workload(W::ReplicaSet) => self
                .replica_sets
                .push(slim::replica_set(lean!(de, ReplicaSet)?)),
            Kind::Workload(W::Deployment) => self
                .deployments
                .push(slim::deployment(lean!(de, Deployment)?)),
            Kind::Workload(W::StatefulSet) => self
                .stateful_sets
                .push(slim::stateful_set(lean!(de, StatefulSet)?)),
            Kind::Workload(W::DaemonSet) => self
                .daemon_sets
                .push(slim::daemon_set(lean!(de, DaemonSet)?)),
            Kind::Workload(W::Job) => self.jobs.push(slim::job(lean!(de, Job)?)),
            Kind::Workload(W::CronJob) => self.cron_jobs.push(slim::cron_job(lean!(de, CronJob)?)),
            Kind::Node => self.nodes.push(slim::meta_of(Node::deserialize(de)?)),
            Kind::Pvc => self
                .pvcs
                .push(slim::meta_of(PersistentVolumeClaim::deserialize(de)?)),
            Kind::LimitRange => self
                .limit_ranges
                .push(slim::meta_of(LimitRange::deserialize(de)?)),
            Kind::ResourceQuota => self
                .resource_quotas
                .push(slim::meta_of(ResourceQuota::deserialize(de)?)),
            Kind::Event => {
                let v = serde_json::Value::deserialize(de)?;
                self.events.push(ObservedEvent::from_json(&v));
            }
            Kind::Application => self.applications.push(Application::deserialize(de)?),
            Kind::ApplicationSet => self.application_sets.push(ApplicationSet::deserialize(de)?),
            Kind::Workload(W::Rollout) => self.rollouts.push(Rollout::deserialize(de)?),
        }
        Ok(())
    }

    /// Parse `text` (from `file`, for messages) and add every object in it. Returns the
    /// problems with single objects; a text that is not YAML/JSON at all is an error.
    ///
    /// Objects are decoded one at a time straight into their types (JSON from the raw text of
    /// each item, YAML one item at a time), so a 50,000-pod dump never exists as a tree.
    pub fn add_text(&mut self, file: &str, text: &str) -> Result<Vec<String>, StateError> {
        let unreadable = |reason| StateError::Unreadable {
            file: file.to_string(),
            reason,
        };
        let mut problems = Vec::new();
        let trimmed = text.trim_start_matches('\u{feff}').trim_start();
        if trimmed.starts_with('{') || trimmed.starts_with('[') {
            self.add_json(trimmed, &mut problems).map_err(unreadable)?;
        } else {
            let docs =
                serde_saphyr::from_multiple_with_options::<yaml::Doc>(text, yaml_options(text))
                    .map_err(|e| unreadable(format!("invalid YAML: {e}")))?;
            for doc in docs {
                self.append(doc.state);
                problems.extend(doc.problems);
            }
        }
        Ok(problems
            .into_iter()
            .map(|e| format!("{file}: {e}"))
            .collect())
    }

    /// Like [`ClusterState::add_text`], but reading as it goes: a JSON snapshot is decoded
    /// item by item and never held whole (`kubectl get -o json` of 50,000 pods is hundreds of
    /// MiB). Other texts (YAML) are read whole and parsed as by `add_text`. The trade: less
    /// memory (the text), more time (serde_json reads a stream about 2.5x slower than a
    /// string); `benches/plan.rs` measures both.
    pub fn add_reader(
        &mut self,
        file: &str,
        reader: impl std::io::Read,
    ) -> Result<Vec<String>, StateError> {
        use std::io::{BufRead, Read};
        let unreadable = |reason: String| StateError::Unreadable {
            file: file.to_string(),
            reason,
        };
        let mut reader = std::io::BufReader::with_capacity(1 << 16, reader);
        // The first byte that is not a byte order mark or whitespace tells JSON from YAML;
        // what comes before it is kept aside (serde_json does not skip a byte order mark).
        let mut head = Vec::new();
        let first = loop {
            let buf = reader.fill_buf().map_err(|e| unreadable(e.to_string()))?;
            if buf.is_empty() {
                break None;
            }
            let skip = buf.iter().position(|b| !b" \t\r\n\xef\xbb\xbf".contains(b));
            let n = skip.unwrap_or(buf.len());
            let found = skip.map(|pos| buf[pos]);
            head.extend_from_slice(&buf[..n]);
            reader.consume(n);
            if found.is_some() {
                break found;
            }
        };
        if !matches!(first, Some(b'{' | b'[')) {
            let mut text = String::from_utf8(head).map_err(|e| unreadable(e.to_string()))?;
            reader
                .read_to_string(&mut text)
                .map_err(|e| unreadable(e.to_string()))?;
            return self.add_text(file, &text);
        }
        // Decoded into a state of its own: a file that turns out not to be JSON adds nothing.
        let mut part = ClusterState::default();
        let mut problems = Vec::new();
        let mut de = serde_json::Deserializer::from_reader(reader);
        serde::de::DeserializeSeed::deserialize(
            stream::Top {
                state: &mut part,
                problems: &mut problems,
            },
            &mut de,
        )
        .and_then(|()| de.end())
        .map_err(|e| unreadable(format!("invalid JSON: {e}")))?;
        self.append(part);
        Ok(problems
            .into_iter()
            .map(|e| format!("{file}: {e}"))
            .collect())
    }

    /// JSON: a list is split into the raw text of its items, and each item is decoded from
    /// its text. Anything unusual (an item that does not decode, a `kind` that is not a
    /// string, `items` that are not a list) goes through the `serde_json::Value` path, so
    /// results and messages are those of [`parse_objects`] + [`ClusterState::add_object`].
    fn add_json(&mut self, text: &str, problems: &mut Vec<String>) -> Result<(), String> {
        if text.starts_with('[') {
            match serde_json::from_str::<Vec<&RawValue>>(text) {
                Ok(items) => items
                    .into_iter()
                    .for_each(|i| self.add_raw(i.get(), problems)),
                // Not JSON: the Value parser words the error as it always has.
                Err(_) => self.add_values(text, problems)?,
            }
            return Ok(());
        }
        // The top object is peeked like any item; if that fails, the Value path reports.
        if let Ok(peek) = serde_json::from_str::<Peek<'_>>(text) {
            self.add_peeked(text, peek, problems);
            Ok(())
        } else {
            self.add_values(text, problems)
        }
    }

    fn add_raw(&mut self, raw: &str, problems: &mut Vec<String>) {
        if let Err(e) = self.add_item(raw, problems) {
            problems.push(e);
        }
    }

    /// One item of a list, from its raw text. Problems with its objects go to `problems`;
    /// `Err` is a text that is not JSON at all.
    pub(crate) fn add_item(&mut self, raw: &str, problems: &mut Vec<String>) -> Result<(), String> {
        // Items that are not objects (null, numbers, nested arrays) hold no objects.
        if !raw.starts_with('{') {
            return Ok(());
        }
        // As kubectl prints it, the type comes first: an object of a kind suture reads is
        // decoded in one pass. Lists and other kinds are peeked whole (which checks the JSON).
        if let Some(k) = leading_type(raw)
            .filter(|(_, kind)| !is_list_kind(kind))
            .and_then(|(api, kind)| Kind::of(api, kind))
        {
            return self.add_known(raw, k, problems);
        }
        match serde_json::from_str::<Peek<'_>>(raw) {
            Ok(peek) => {
                self.add_peeked(raw, peek, problems);
                Ok(())
            }
            // A `kind` that is not a string, say: the Value path decides.
            Err(_) => self.add_values(raw, problems),
        }
    }

    fn add_peeked(&mut self, raw: &str, peek: Peek<'_>, problems: &mut Vec<String>) {
        let kind = peek.kind.as_deref().unwrap_or_default();
        if is_list_kind(kind) {
            for item in peek.items.into_iter().flatten() {
                self.add_raw(item.get(), problems);
            }
            return;
        }
        if let Some(k) = Kind::of(peek.api_version.as_deref().unwrap_or_default(), kind)
            && let Err(e) = self.add_known(raw, k, problems)
        {
            problems.push(e);
        }
    }

    /// An object of a kind suture reads, from its raw text; `Err` when the text is not JSON.
    fn add_known(&mut self, raw: &str, k: Kind, problems: &mut Vec<String>) -> Result<(), String> {
        let mut de = serde_json::Deserializer::from_str(raw);
        match self.add_decoded(k, &mut de) {
            Ok(()) => Ok(()),
            // Decode it again through a tree: the same result (duplicate keys, say, are
            // accepted there) or the same message as before, without a position inside the item.
            Err(_) => self.add_values(raw, problems),
        }
    }

    /// The general path: a tree of the whole text, lists flattened, then each object decoded.
    fn add_values(&mut self, text: &str, problems: &mut Vec<String>) -> Result<(), String> {
        for obj in parse_objects(text).map_err(|e| e.to_string())? {
            if let Err(e) = self.add_object(obj) {
                problems.push(e.to_string());
            }
        }
        Ok(())
    }

    /// Build a state from one text; for tests and fixtures. Errors on any problem.
    pub fn from_text(text: &str) -> Result<ClusterState, StateError> {
        let mut state = ClusterState::default();
        let problems = state.add_text("<text>", text)?;
        match problems.is_empty() {
            true => Ok(state),
            false => Err(StateError::Undecodable(problems)),
        }
    }
}

/// The kinds suture reads, by `apiVersion` group and `kind`.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Workload(WorkloadKind),
    Node,
    Pvc,
    LimitRange,
    ResourceQuota,
    Event,
    Application,
    ApplicationSet,
}

impl Kind {
    fn of(api_version: &str, kind: &str) -> Option<Kind> {
        let group = api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
        // Workloads in their own group only (unlike `WorkloadKind::from_api`): a legacy or a
        // look-alike group is not decoded into the built-in type.
        if let Some(w) = WorkloadKind::from_kind(kind).filter(|w| w.group() == group) {
            return Some(Kind::Workload(w));
        }
        Some(match (group, kind) {
            ("", "Node") => Kind::Node,
            ("", "PersistentVolumeClaim") => Kind::Pvc,
            ("", "LimitRange") => Kind::LimitRange,
            ("", "ResourceQuota") => Kind::ResourceQuota,
            ("", "Event") | ("events.k8s.io", "Event") => Kind::Event,
            ("argoproj.io", "Application") => Kind::Application,
            ("argoproj.io", "ApplicationSet") => Kind::ApplicationSet,
            _ => return None,
        })
    }
}

fn is_list_kind(kind: &str) -> bool {
    kind.ends_with("List")
}

/// `Kind name` for messages.
fn object_label(obj: &serde_json::Value) -> String {
    let kind = obj.get("kind").and_then(|k| k.as_str()).unwrap_or_default();
    let name = obj
        .pointer("/metadata/name")
        .and_then(|n| n.as_str())
        .unwrap_or("<unnamed>");
    format!("{kind} {name}")
}

/// `apiVersion` and `kind` when an object's text starts with them (in either order) as plain
/// strings, read without parsing the rest; `None` for any other start.
fn leading_type(raw: &str) -> Option<(&str, &str)> {
    fn ws(s: &str) -> &str {
        s.trim_start_matches([' ', '\t', '\n', '\r'])
    }
    fn string(s: &str) -> Option<(&str, &str)> {
        let s = s.strip_prefix('"')?;
        let end = s.find(['"', '\\'])?;
        (s.as_bytes()[end] == b'"').then(|| (&s[..end], &s[end + 1..]))
    }
    let mut rest = raw.strip_prefix('{')?;
    let (mut api, mut kind) = (None, None);
    for _ in 0..2 {
        let (key, r) = string(ws(rest))?;
        let (value, r) = string(ws(ws(r).strip_prefix(':')?))?;
        match key {
            "apiVersion" if api.is_none() => api = Some(value),
            "kind" if kind.is_none() => kind = Some(value),
            _ => return None,
        }
        rest = ws(r).strip_prefix(',')?;
    }
    Some((api?, kind?))
}

/// What is read of an object before decoding it: its type, and the items of a list.
#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(rename = "apiVersion", borrow, default)]
    api_version: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    items: Option<Vec<&'a RawValue>>,
}

fn yaml_options(text: &str) -> serde_saphyr::Options {
    // kubectl (sigs.k8s.io/yaml) keeps the last of duplicate keys; so do we.
    serde_saphyr::options! {
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::LastWins,
        budget: Some(budget_for(text.len())),
    }
}

impl ClusterState {
    /// Move every object of `other` to the end of this state's lists.
    fn append(&mut self, other: ClusterState) {
        // Into an empty list the other list is moved whole: appending would copy it, and for
        // 50,000 pods that copy is a transient 100 MiB.
        fn join<T>(to: &mut Vec<T>, mut from: Vec<T>) {
            if to.is_empty() {
                *to = from;
            } else {
                to.append(&mut from);
            }
        }
        join(&mut self.pods, other.pods);
        join(&mut self.replica_sets, other.replica_sets);
        join(&mut self.deployments, other.deployments);
        join(&mut self.stateful_sets, other.stateful_sets);
        join(&mut self.daemon_sets, other.daemon_sets);
        join(&mut self.jobs, other.jobs);
        join(&mut self.cron_jobs, other.cron_jobs);
        join(&mut self.events, other.events);
        join(&mut self.nodes, other.nodes);
        join(&mut self.pvcs, other.pvcs);
        join(&mut self.limit_ranges, other.limit_ranges);
        join(&mut self.resource_quotas, other.resource_quotas);
        join(&mut self.applications, other.applications);
        join(&mut self.application_sets, other.application_sets);
        join(&mut self.rollouts, other.rollouts);
    }
}

/// YAML documents decoded as they are read: the items of a `kind: List` are turned into
/// objects one at a time, so only one item exists as a tree at any moment.
mod yaml {
    use std::fmt;

    use serde::de::{
        self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
    };
    use serde_json::{Map, Value};

    use super::{ClusterState, flatten_lists, is_list_kind};

    /// The objects of one document, and the problems with the ones that did not decode.
    #[derive(Default)]
    pub(super) struct Doc {
        pub state: ClusterState,
        pub problems: Vec<String>,
    }

    impl Doc {
        fn add(&mut self, value: Value) {
            let mut objects = Vec::new();
            flatten_lists(value, &mut objects);
            for obj in objects {
                if let Err(e) = self.state.add_object(obj) {
                    self.problems.push(e.to_string());
                }
            }
        }
    }

    impl<'de> de::Deserialize<'de> for Doc {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Doc, D::Error> {
            d.deserialize_any(DocVisitor)
        }
    }

    struct DocVisitor;

    impl<'de> Visitor<'de> for DocVisitor {
        type Value = Doc;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a YAML document")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Doc, A::Error> {
            // `kubectl get -o yaml` sorts keys, so `items` comes before `kind: List`: decode
            // the items as they come, and decide at the end whether they count.
            let mut rest = Map::new();
            let mut items: Option<Doc> = None;
            while let Some(key) = map.next_key::<String>()? {
                if key == "items" {
                    let mut doc = Doc::default();
                    let is_seq = map.next_value_seed(Items(&mut doc))?;
                    items = is_seq.then_some(doc);
                } else {
                    let value: Value = map.next_value()?;
                    rest.insert(key, value);
                }
            }
            let list = rest
                .get("kind")
                .and_then(Value::as_str)
                .is_some_and(is_list_kind);
            if list {
                return Ok(items.unwrap_or_default());
            }
            // Not a list: the object itself (the kinds suture reads have no `items` field).
            let mut doc = Doc::default();
            doc.add(Value::Object(rest));
            Ok(doc)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Doc, A::Error> {
            // A document that is a sequence is not an object (nor a list of them).
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(Doc::default())
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Doc, D::Error> {
            d.deserialize_any(self)
        }

        fn visit_none<E>(self) -> Result<Doc, E> {
            Ok(Doc::default())
        }

        fn visit_unit<E>(self) -> Result<Doc, E> {
            Ok(Doc::default())
        }

        fn visit_bool<E>(self, _: bool) -> Result<Doc, E> {
            Ok(Doc::default())
        }

        fn visit_i64<E>(self, _: i64) -> Result<Doc, E> {
            Ok(Doc::default())
        }

        fn visit_i128<E>(self, _: i128) -> Result<Doc, E> {
            Ok(Doc::default())
        }

        fn visit_u64<E>(self, _: u64) -> Result<Doc, E> {
            Ok(Doc::default())
        }

        fn visit_u128<E>(self, _: u128) -> Result<Doc, E> {
            Ok(Doc::default())
        }

        fn visit_f64<E>(self, _: f64) -> Result<Doc, E> {
            Ok(Doc::default())
        }

        fn visit_str<E>(self, _: &str) -> Result<Doc, E> {
            Ok(Doc::default())
        }
    }

    /// The `items` of a document: each element decoded into `Doc` as soon as it is read.
    /// Yields whether `items` was a sequence at all.
    struct Items<'d>(&'d mut Doc);

    impl<'de> DeserializeSeed<'de> for Items<'_> {
        type Value = bool;

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Items<'_> {
        type Value = bool;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("the items of a list")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
            while let Some(item) = seq.next_element::<Value>()? {
                self.0.add(item);
            }
            Ok(true)
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(false)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
            d.deserialize_any(self)
        }

        fn visit_none<E>(self) -> Result<bool, E> {
            Ok(false)
        }

        fn visit_unit<E>(self) -> Result<bool, E> {
            Ok(false)
        }

        fn visit_bool<E>(self, _: bool) -> Result<bool, E> {
            Ok(false)
        }

        fn visit_i64<E>(self, _: i64) -> Result<bool, E> {
            Ok(false)
        }

        fn visit_i128<E>(self, _: i128) -> Result<bool, E> {
            Ok(false)
        }

        fn visit_u64<E>(self, _: u64) -> Result<bool, E> {
            Ok(false)
        }

        fn visit_u128<E>(self, _: u128) -> Result<bool, E> {
            Ok(false)
        }

        fn visit_f64<E>(self, _: f64) -> Result<bool, E> {
            Ok(false)
        }

        fn visit_str<E>(self, _: &str) -> Result<bool, E> {
            Ok(false)
        }
    }
}

/// JSON read from a stream: each item of a list is copied out as its raw text, decoded, and
/// dropped, as `add_text` does from a string.
mod stream {
    use std::fmt;

    use serde::de::{
        self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
    };
    use serde_json::value::RawValue;

    use super::{ClusterState, is_list_kind};

    /// The whole text: an array of objects, or one object (a list or not).
    pub(super) struct Top<'s> {
        pub state: &'s mut ClusterState,
        pub problems: &'s mut Vec<String>,
    }

    impl<'de> DeserializeSeed<'de> for Top<'_> {
        type Value = ();

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Top<'_> {
        type Value = ();

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON object or array")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while let Some(item) = seq.next_element::<Box<RawValue>>()? {
                self.state.add_raw(item.get(), self.problems);
            }
            Ok(())
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            // `kubectl get -o json` prints `items` before `kind`: decode the items as they come
            // (aside, in case this is no list), and keep the other fields' text.
            let mut items = ClusterState::default();
            let mut item_problems = Vec::new();
            let mut rest: Vec<(String, Box<RawValue>)> = Vec::new();
            while let Some(key) = map.next_key::<String>()? {
                if key == "items" {
                    items = ClusterState::default();
                    item_problems.clear();
                    map.next_value_seed(Items {
                        state: &mut items,
                        problems: &mut item_problems,
                    })?;
                } else {
                    rest.push((key, map.next_value()?));
                }
            }
            // The text of the object without `items`, which no kind suture reads has.
            let mut text = String::from("{");
            for (i, (key, value)) in rest.iter().enumerate() {
                if i > 0 {
                    text.push(',');
                }
                text.push_str(&serde_json::to_string(key).map_err(de::Error::custom)?);
                text.push(':');
                text.push_str(value.get());
            }
            text.push('}');
            // Small (metadata, kind): read as a tree, so duplicate keys count as they always have.
            let list = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v.get("kind")?.as_str().map(is_list_kind))
                .unwrap_or(false);
            if list {
                self.state.append(items);
                self.problems.append(&mut item_problems);
            } else {
                self.state.add_raw(&text, self.problems);
            }
            Ok(())
        }
    }

    /// The `items` of the top object, each decoded as soon as it is read.
    struct Items<'s> {
        state: &'s mut ClusterState,
        problems: &'s mut Vec<String>,
    }

    impl<'de> DeserializeSeed<'de> for Items<'_> {
        type Value = ();

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Items<'_> {
        type Value = ();

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("the items of a list")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while let Some(item) = seq.next_element::<Box<RawValue>>()? {
                self.state.add_raw(item.get(), self.problems);
            }
            Ok(())
        }

        // `items` that are not a list hold no objects.
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(())
        }

        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }

        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }

        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }

        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }

        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }

        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
    }
}

/// Fields nothing in suture reads, dropped right after decoding: in a real cluster they are
/// most of each object (managed fields, the last applied configuration, the service account
/// volume, env). What detection, owners, Argo CD lookup and proposals read stays: labels, the
/// other annotations (tracking id, deployment revision), owner references, containers'
/// images, resources, probes and ports, status.
pub(crate) mod slim {
    use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
    use k8s_openapi::api::batch::v1::{CronJob, Job};
    use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, PodTemplateSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    /// Written by `kubectl apply`: a full copy of the object as JSON.
    const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

    fn meta(m: &mut ObjectMeta) {
        m.managed_fields = None;
        if let Some(a) = &mut m.annotations {
            a.remove(LAST_APPLIED);
        }
    }

    fn container(c: &mut Container) {
        c.env = None;
        c.env_from = None;
        c.volume_mounts = None;
        c.volume_devices = None;
    }

    /// Tolerations stay: the node-fit check schedules the pod with them.
    fn pod_spec(s: &mut PodSpec) {
        s.volumes = None;
        s.containers.iter_mut().for_each(container);
        s.init_containers.iter_mut().flatten().for_each(container);
        s.ephemeral_containers = None;
    }

    fn template(t: &mut PodTemplateSpec) {
        if let Some(m) = &mut t.metadata {
            meta(m);
        }
        if let Some(s) = &mut t.spec {
            pod_spec(s);
        }
    }

    /// Any object: only its metadata is slimmed.
    pub(crate) fn meta_of<T: k8s_openapi::Metadata<Ty = ObjectMeta>>(mut o: T) -> T {
        meta(o.metadata_mut());
        o
    }

    pub(crate) fn pod(mut p: Pod) -> Pod {
        meta(&mut p.metadata);
        if let Some(s) = &mut p.spec {
            pod_spec(s);
        }
        p
    }

    pub(crate) fn replica_set(mut o: ReplicaSet) -> ReplicaSet {
        meta(&mut o.metadata);
        if let Some(t) = o.spec.as_mut().and_then(|s| s.template.as_mut()) {
            template(t);
        }
        o
    }

    pub(crate) fn deployment(mut o: Deployment) -> Deployment {
        meta(&mut o.metadata);
        if let Some(s) = &mut o.spec {
            template(&mut s.template);
        }
        o
    }

    pub(crate) fn stateful_set(mut o: StatefulSet) -> StatefulSet {
        meta(&mut o.metadata);
        if let Some(s) = &mut o.spec {
            template(&mut s.template);
        }
        o
    }

    pub(crate) fn daemon_set(mut o: DaemonSet) -> DaemonSet {
        meta(&mut o.metadata);
        if let Some(s) = &mut o.spec {
            template(&mut s.template);
        }
        o
    }

    pub(crate) fn job(mut o: Job) -> Job {
        meta(&mut o.metadata);
        if let Some(s) = &mut o.spec {
            template(&mut s.template);
        }
        o
    }

    pub(crate) fn cron_job(mut o: CronJob) -> CronJob {
        meta(&mut o.metadata);
        if let Some(t) = o.spec.as_mut().and_then(|s| s.job_template.spec.as_mut()) {
            template(&mut t.template);
        }
        o
    }
}

impl ObservedEvent {
    /// Normalize a core/v1 or events.k8s.io/v1 Event given as JSON.
    pub fn from_json(obj: &serde_json::Value) -> ObservedEvent {
        let s = |p: &str| obj.pointer(p).and_then(|v| v.as_str()).map(str::to_string);
        let ts = |p: &str| s(p).and_then(|t| t.parse::<jiff::Timestamp>().ok());
        let core = obj.get("involvedObject").is_some();
        let (obj_ptr, message) = if core {
            ("/involvedObject", s("/message"))
        } else {
            ("/regarding", s("/note").or_else(|| s("/message")))
        };
        let count = obj
            .pointer("/count")
            .or_else(|| obj.pointer("/series/count"))
            .or_else(|| obj.pointer("/deprecatedCount"))
            .and_then(|c| c.as_i64())
            .and_then(|c| i32::try_from(c).ok())
            .unwrap_or(1);
        let first_seen = ts("/firstTimestamp")
            .or_else(|| ts("/deprecatedFirstTimestamp"))
            .or_else(|| ts("/eventTime"));
        let last_seen = ts("/lastTimestamp")
            .or_else(|| ts("/series/lastObservedTime"))
            .or_else(|| ts("/deprecatedLastTimestamp"))
            .or_else(|| ts("/eventTime"))
            .or(first_seen);
        ObservedEvent {
            namespace: s(&format!("{obj_ptr}/namespace"))
                .or_else(|| s("/metadata/namespace"))
                .unwrap_or_default(),
            object_kind: s(&format!("{obj_ptr}/kind")).unwrap_or_default(),
            object_name: s(&format!("{obj_ptr}/name")).unwrap_or_default(),
            object_uid: s(&format!("{obj_ptr}/uid")),
            field_path: s(&format!("{obj_ptr}/fieldPath")),
            reason: s("/reason").unwrap_or_default(),
            message: message.unwrap_or_default(),
            type_: s("/type").unwrap_or_default(),
            count,
            first_seen,
            last_seen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_document_yaml_and_lists_are_flattened() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: a}\n- apiVersion: v1\n  kind: Node\n  metadata: {name: n1}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n";
        let state = ClusterState::from_text(text).unwrap();
        assert_eq!(state.pods.len(), 1);
        assert_eq!(state.nodes.len(), 1);
        assert_eq!(state.deployments.len(), 1);
    }

    #[test]
    fn a_cluster_sized_dump_parses_but_an_alias_bomb_does_not() {
        let mut big = String::from("apiVersion: v1\nkind: List\nitems:\n");
        for i in 0..25_000 {
            big.push_str(&format!("- {{apiVersion: v1, kind: Node, metadata: {{name: n{i}, labels: {{a: b, c: d}}}}}}\n"));
        }
        assert_eq!(ClusterState::from_text(&big).unwrap().nodes.len(), 25_000);

        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (prev, name) in ["a", "b", "c", "d", "e", "f", "g", "h"]
            .windows(2)
            .map(|w| (w[0], w[1]))
        {
            let refs = vec![format!("*{prev}"); 10].join(", ");
            bomb.push_str(&format!("{name}: &{name} [{refs}]\n"));
        }
        assert!(
            matches!(parse_objects(&bomb), Err(ParseError::Yaml(_))),
            "10^8 expanded nodes must be refused"
        );
        let refused = ClusterState::default().add_text("bomb.yaml", &bomb);
        assert!(
            matches!(&refused, Err(StateError::Unreadable { reason, .. }) if reason.starts_with("invalid YAML")),
            "{refused:?}"
        );
    }

    /// A pod as `kubectl get -o json` prints it: managed fields, the last applied
    /// configuration, env and the service account volume around what suture reads.
    const KUBECTL_POD: &str = r#"{"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-1", "namespace": "shop", "uid": "p-1",
            "labels": {"app": "web"},
            "annotations": {"argocd.argoproj.io/tracking-id": "shop:apps/Deployment:shop/web",
                "kubectl.kubernetes.io/last-applied-configuration": "{\"apiVersion\":\"v1\"}"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-abc", "uid": "rs-1", "controller": true}],
            "managedFields": [{"manager": "kubelet", "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {}}}]},
        "spec": {"nodeName": "n1",
            "containers": [{"name": "web", "image": "shop/web:1.0",
                "env": [{"name": "A", "value": "1"}],
                "volumeMounts": [{"name": "token", "mountPath": "/var/run/secrets"}],
                "ports": [{"name": "http", "containerPort": 8080}],
                "resources": {"limits": {"memory": "256Mi"}},
                "livenessProbe": {"httpGet": {"port": "http", "path": "/healthz"}}}],
            "volumes": [{"name": "token", "projected": {"sources": []}}],
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists"}]},
        "status": {"phase": "Running", "containerStatuses": [{"name": "web", "image": "shop/web:1.0", "imageID": "",
            "ready": false, "restartCount": 3, "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}}]}}"#;

    #[test]
    fn decoded_objects_keep_what_suture_reads_and_drop_the_rest() {
        let text = format!(r#"{{"apiVersion": "v1", "kind": "List", "items": [{KUBECTL_POD}]}}"#);
        let state = ClusterState::from_text(&text).unwrap();
        let pod = &state.pods[0];
        let meta = &pod.metadata;
        assert_eq!(meta.managed_fields, None);
        let annotations = meta.annotations.clone().unwrap_or_default();
        assert_eq!(
            annotations.keys().collect::<Vec<_>>(),
            ["argocd.argoproj.io/tracking-id"]
        );
        assert_eq!(meta.owner_references.as_ref().map(Vec::len), Some(1));
        let spec = pod.spec.as_ref().unwrap();
        assert_eq!(spec.volumes.as_ref(), None);
        assert_eq!(spec.tolerations.as_ref().map(Vec::len), Some(1));
        assert_eq!(spec.node_name.as_deref(), Some("n1"));
        let c = &spec.containers[0];
        assert_eq!((c.env.as_ref(), c.volume_mounts.as_ref()), (None, None));
        assert_eq!(c.image.as_deref(), Some("shop/web:1.0"));
        assert_eq!(c.ports.as_ref().map(|p| p[0].container_port), Some(8080));
        assert!(c.liveness_probe.is_some());
        assert_eq!(
            c.resources
                .as_ref()
                .and_then(|r| r.limits.as_ref())
                .map(|l| l["memory"].0.as_str()),
            Some("256Mi")
        );
        let status = &pod
            .status
            .as_ref()
            .unwrap()
            .container_statuses
            .as_ref()
            .unwrap()[0];
        assert_eq!(status.restart_count, 3);
    }

    /// The same objects as JSON and as YAML (kubectl's key order: `items` before `kind`).
    #[test]
    fn json_and_yaml_snapshots_decode_to_the_same_state() {
        let pod: serde_json::Value = serde_json::from_str(KUBECTL_POD).unwrap();
        let mut second = pod.clone();
        second["metadata"]["name"] = "web-2".into();
        let deploy = serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop", "managedFields": [{"manager": "x"}]},
            "spec": {"selector": {}, "template": {"spec": {"containers": [{"name": "web", "env": [{"name": "A"}]}]}}}});
        let items = serde_json::json!([pod, second, deploy]);
        let json =
            serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string();
        let mut yaml = String::from("apiVersion: v1\nitems:\n");
        for item in items.as_array().unwrap() {
            yaml.push_str(&format!("- {item}\n"));
        }
        yaml.push_str("kind: List\n");
        let from_json = ClusterState::from_text(&json).unwrap();
        let from_yaml = ClusterState::from_text(&yaml).unwrap();
        assert_eq!(from_json.pods.len(), 2);
        assert_eq!(from_json.pods, from_yaml.pods);
        assert_eq!(from_json.deployments, from_yaml.deployments);
        let template = from_json.deployments[0]
            .spec
            .as_ref()
            .unwrap()
            .template
            .spec
            .as_ref();
        assert_eq!(template.unwrap().containers[0].env, None);
        assert_eq!(from_json.deployments[0].metadata.managed_fields, None);
    }

    /// Decoding straight from the text gives what decoding through a tree gives, on real
    /// objects; and a top-level JSON array is a list too.
    #[test]
    fn straight_decoding_matches_decoding_through_a_tree() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/kubernetes/argo-health-testdata"
        );
        let mut via_tree = ClusterState::default();
        let mut items = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for obj in parse_objects(&text).unwrap() {
                via_tree.add_object(obj.clone()).unwrap();
                items.push(obj);
            }
        }
        let json = serde_json::to_string(&items).unwrap();
        let straight = ClusterState::from_text(&json).unwrap();
        assert!(straight.pods.len() >= 10);
        assert_eq!(straight.pods, via_tree.pods);
        assert_eq!(straight.replica_sets, via_tree.replica_sets);
        assert_eq!(straight.deployments, via_tree.deployments);
        assert_eq!(straight.stateful_sets, via_tree.stateful_sets);
        assert_eq!(straight.jobs, via_tree.jobs);
        assert_eq!(straight.pvcs, via_tree.pvcs);
        assert_eq!(straight.applications, via_tree.applications);
        assert_eq!(straight.events, via_tree.events);
    }

    #[test]
    fn json_objects_that_do_not_decode_are_reported_as_in_yaml() {
        let bad = r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bad"}, "spec": {"containers": 3}}"#;
        let good = r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "good"}}"#;
        let json = format!(
            r#"{{"kind": "PodList", "apiVersion": "v1", "items": [{bad}, null, 7, {good}]}}"#
        );
        let yaml = format!("{bad}\n---\n{good}\n");
        let mut from_json = ClusterState::default();
        let json_problems = from_json.add_text("f", &json).unwrap();
        let mut from_yaml = ClusterState::default();
        let yaml_problems = from_yaml.add_text("f", &format!("---\n{yaml}")).unwrap();
        assert_eq!(json_problems, yaml_problems);
        assert_eq!(
            json_problems,
            ["f: Pod bad: cannot decode: invalid type: integer `3`, expected a sequence"]
        );
        assert_eq!(from_json.pods.len(), 1);
        assert_eq!(from_json.pods[0].metadata.name.as_deref(), Some("good"));
    }

    #[test]
    fn json_duplicate_keys_keep_the_last_and_odd_kinds_are_skipped() {
        let text = r#"[{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}, "metadata": {"name": "b"}},
            {"apiVersion": "v1", "kind": 5, "metadata": {"name": "c"}},
            {"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "v1", "kind": "List",
                "items": [{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}}]}]},
            {"apiVersion": "v1", "kind": "List", "items": {"not": "a list"}}]"#;
        let state = ClusterState::from_text(text).unwrap();
        assert_eq!(state.pods.len(), 1);
        assert_eq!(state.pods[0].metadata.name.as_deref(), Some("b"));
        assert_eq!(state.nodes[0].metadata.name.as_deref(), Some("n"));
        assert!(matches!(
            ClusterState::default().add_text("x.json", "{\"kind\": "),
            Err(StateError::Unreadable { reason, .. }) if reason.starts_with("invalid JSON")
        ));
    }

    #[test]
    fn a_json_stream_decodes_as_its_text_does() {
        let pod = KUBECTL_POD.replace('\n', " ");
        let node = r#"{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}"#;
        let bad = r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bad"}, "spec": {"containers": 3}}"#;
        for text in [
            // kubectl's order: `items` before `kind`.
            format!(
                "\u{feff} \n{{\"apiVersion\": \"v1\", \"items\": [{pod}, {bad}, {node}, 3], \"kind\": \"List\", \"metadata\": {{}}}}\n"
            ),
            format!("[{pod}, {{\"kind\": \"NodeList\", \"items\": [{node}]}}, {bad}]"),
            // Not a list: the object itself counts, its `items` do not.
            format!("{{\"items\": [{node}], {}", &pod[1..]),
        ] {
            let mut from_text = ClusterState::default();
            let text_problems = from_text.add_text("f", &text).unwrap();
            let mut streamed = ClusterState::default();
            let stream_problems = streamed.add_reader("f", text.as_bytes()).unwrap();
            assert_eq!(streamed.pods, from_text.pods, "{text}");
            assert_eq!(streamed.nodes, from_text.nodes, "{text}");
            assert_eq!(stream_problems, text_problems);
            assert!(!streamed.pods.is_empty());
        }
        let mut streamed = ClusterState::default();
        let problems = streamed
            .add_reader("f", format!("[{pod}, {bad}]").as_bytes())
            .unwrap();
        assert_eq!(
            problems,
            ["f: Pod bad: cannot decode: invalid type: integer `3`, expected a sequence"]
        );
    }

    #[test]
    fn a_stream_that_breaks_adds_nothing_and_yaml_streams_are_read_whole() {
        let mut state = ClusterState::default();
        let text = format!("[{KUBECTL_POD}, {{\"kind\": ");
        let err = state.add_reader("pods.json", text.as_bytes()).unwrap_err();
        assert!(
            err.to_string().starts_with("pods.json: invalid JSON: "),
            "{err}"
        );
        assert!(state.pods.is_empty());
        let yaml = "apiVersion: v1\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: p}}\nkind: List\n";
        let problems = state.add_reader("pods.yaml", yaml.as_bytes()).unwrap();
        assert!(problems.is_empty());
        assert_eq!(state.pods[0].metadata.name.as_deref(), Some("p"));
        let err = state
            .add_reader("x.yaml", "kind: [unclosed".as_bytes())
            .unwrap_err();
        assert!(err.to_string().starts_with("x.yaml: invalid YAML"), "{err}");
    }

    #[test]
    fn yaml_items_count_only_in_lists() {
        // A Pod with a stray `items` field is a Pod; a nested list is flattened.
        let text = "apiVersion: v1\nitems:\n- {apiVersion: v1, kind: Node, metadata: {name: inner}}\nkind: Pod\nmetadata: {name: p}\n---\nitems:\n- apiVersion: v1\n  kind: NodeList\n  items: [{apiVersion: v1, kind: Node, metadata: {name: nested}}]\nkind: List\n---\n- {apiVersion: v1, kind: Pod, metadata: {name: in-a-sequence}}\n";
        let state = ClusterState::from_text(text).unwrap();
        let names = |v: Vec<Option<String>>| v.into_iter().flatten().collect::<Vec<_>>();
        assert_eq!(
            names(state.pods.iter().map(|p| p.metadata.name.clone()).collect()),
            ["p"]
        );
        assert_eq!(
            names(
                state
                    .nodes
                    .iter()
                    .map(|n| n.metadata.name.clone())
                    .collect()
            ),
            ["nested"]
        );
    }

    #[test]
    fn json_list_is_read() {
        let text = r#"{"apiVersion":"v1","kind":"PodList","items":[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}]}"#;
        let state = ClusterState::from_text(text).unwrap();
        assert_eq!(state.pods[0].metadata.name.as_deref(), Some("p"));
    }

    #[test]
    fn malformed_text_names_the_file() {
        let mut state = ClusterState::default();
        let err = state.add_text("pods.yaml", "kind: [unclosed").unwrap_err();
        assert!(
            err.to_string().starts_with("pods.yaml: invalid YAML"),
            "{err}"
        );
    }

    #[test]
    fn undecodable_object_is_reported_and_others_kept() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: bad}\nspec: {containers: 3}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: good}\n";
        let mut state = ClusterState::default();
        let problems = state.add_text("f.yaml", text).unwrap();
        assert_eq!(state.pods.len(), 1);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("Pod bad"), "{}", problems[0]);
    }

    #[test]
    fn both_event_apis_normalize() {
        let core = serde_json::json!({"apiVersion":"v1","kind":"Event","metadata":{"namespace":"shop"},
            "involvedObject":{"kind":"Pod","name":"web-1","fieldPath":"spec.containers{web}"},
            "reason":"Unhealthy","message":"Liveness probe failed: HTTP probe failed with statuscode: 500",
            "type":"Warning","count":7,"lastTimestamp":"2026-01-01T00:00:00Z"});
        let new = serde_json::json!({"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{"namespace":"shop"},
            "regarding":{"kind":"Pod","name":"web-1","namespace":"shop"},"reason":"FailedMount",
            "note":"MountVolume.SetUp failed","type":"Warning","series":{"count":3,"lastObservedTime":"2026-01-01T00:00:00Z"},
            "eventTime":"2025-12-31T23:00:00Z"});
        let a = ObservedEvent::from_json(&core);
        let b = ObservedEvent::from_json(&new);
        assert_eq!(
            (a.count, a.field_path.as_deref()),
            (7, Some("spec.containers{web}"))
        );
        assert_eq!(
            (b.count, b.message.as_str(), b.namespace.as_str()),
            (3, "MountVolume.SetUp failed", "shop")
        );
        assert!(b.first_seen < b.last_seen);
    }
}

#[cfg(test)]
mod fixture_tests {
    use super::*;

    /// Every real object captured by Argo CD's health tests decodes into the wire types.
    #[test]
    fn argo_health_testdata_decodes() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/kubernetes/argo-health-testdata"
        );
        let mut state = ClusterState::default();
        let mut files = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let problems = state.add_text(&path.display().to_string(), &text).unwrap();
            assert!(problems.is_empty(), "{problems:?}");
            files += 1;
        }
        assert!(files > 20);
        assert!(state.pods.len() >= 10, "{}", state.pods.len());
        assert!(!state.jobs.is_empty() && !state.pvcs.is_empty() && !state.applications.is_empty());
    }
}
