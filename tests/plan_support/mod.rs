//! Black-box scenarios for `suture plan`: a snapshot of Kubernetes objects written as the YAML
//! `kubectl get -o yaml` prints, planned the way `suture plan --format json` plans it, and its
//! JSON output (docs/plan.md) read the way a user reads it. Expected values in the tests are
//! worked out by hand from docs/faults.md, never by calling suture's own helpers.
//!
//! The plan runs in-process through the same calls `main` makes for `plan` (files on disk ->
//! `inputs` -> `plan::plan` -> the JSON encoding), not by spawning the binary: on a machine
//! where several checkouts share one `CARGO_TARGET_DIR`, `target/debug/suture` is whichever
//! checkout linked it last. [`run_plan`] is the one place that knows those calls.
#![allow(dead_code)] // each test file uses its own subset

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The evaluation time of every plan (`--now`); timestamps in the objects are before it.
pub const NOW: &str = "2026-11-23T09:00:00Z";

/// Objects (YAML documents) and, optionally, a GitOps checkout to plan against.
#[derive(Default)]
pub struct Snapshot {
    docs: Vec<String>,
    repo: Vec<(String, String)>,
}

impl Snapshot {
    pub fn new() -> Self {
        Snapshot::default()
    }

    /// Add one or more YAML documents (separated by `---`).
    pub fn with(mut self, yaml: impl Into<String>) -> Self {
        self.docs.push(yaml.into());
        self
    }

    /// A file of the GitOps checkout passed as `--repo DIR`.
    pub fn repo_file(mut self, path: &str, text: &str) -> Self {
        self.repo.push((path.to_string(), text.to_string()));
        self
    }

    /// Plan the snapshot like `suture plan --state <dir> [--repo <dir>] --format json --now NOW`.
    pub fn plan(&self) -> Plan {
        let dir = tempfile::tempdir().expect("temp dir");
        let state = dir.path().join("state");
        let text = self
            .docs
            .iter()
            .map(|d| d.trim_start_matches('\n').trim_start_matches("---\n"))
            .collect::<Vec<_>>()
            .join("\n---\n");
        write(&state.join("cluster.yaml"), &text);
        let repo = (!self.repo.is_empty()).then(|| {
            let repo = dir.path().join("repo");
            for (path, body) in &self.repo {
                write(&repo.join(path), body);
            }
            repo
        });
        let json = run_plan(&state, repo.as_deref());
        assert!(
            json.get("warnings").is_none(),
            "objects were skipped: {}\n{text}",
            json["warnings"]
        );
        Plan(json)
    }
}

/// `suture plan --state STATE [--repo REPO] --format json --now NOW`, as `main` runs it: the
/// inputs loaded from disk, the plan, its unreadable-input errors (none expected here) and
/// skipped-object warnings, encoded as the JSON the binary prints.
pub fn run_plan(state: &Path, repo: Option<&Path>) -> Value {
    let repo_args: Vec<String> = repo.iter().map(|r| r.display().to_string()).collect();
    let repos = suture::inputs::load_repos(&repo_args).expect("the checkout loads");
    let (cluster, errors, warnings) = suture::inputs::load_snapshot(&[PathBuf::from(state)]);
    assert!(errors.is_empty(), "unreadable input: {errors:?}");
    let now: jiff::Timestamp = NOW.parse().unwrap();
    let settings = suture::plan::Settings::default();
    let mut plan = suture::plan::plan_snapshot(&cluster, &repos, &settings, now);
    plan.warnings.extend(warnings);
    let text = serde_json::to_string_pretty(&plan).expect("the plan encodes");
    serde_json::from_str(&text).unwrap()
}

fn write(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
}

/// The JSON plan, with lookups that fail loudly and print the whole plan.
pub struct Plan(pub Value);

impl Plan {
    fn list(&self, name: &str) -> &[Value] {
        self.0[name]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    pub fn proposals(&self) -> &[Value] {
        self.list("proposals")
    }

    pub fn escalations(&self) -> &[Value] {
        self.list("escalations")
    }

    pub fn findings(&self) -> &[Value] {
        self.list("findings")
    }

    /// The one proposal for `fault`.
    pub fn proposal(&self, fault: &str) -> &Value {
        self.only("proposals", fault)
    }

    /// The one escalation for `fault`.
    pub fn escalation(&self, fault: &str) -> &Value {
        self.only("escalations", fault)
    }

    /// The `reason` of the one escalation for `fault`.
    pub fn reason(&self, fault: &str) -> String {
        self.escalation(fault)["reason"]
            .as_str()
            .expect("reason is a string")
            .to_string()
    }

    /// Nothing for `fault` was proposed.
    pub fn assert_no_proposal(&self, fault: &str) {
        let found: Vec<_> = self
            .proposals()
            .iter()
            .filter(|p| p["fault"] == fault)
            .collect();
        assert!(found.is_empty(), "unexpected proposal: {}", self.pretty());
    }

    fn only(&self, list: &str, fault: &str) -> &Value {
        let found: Vec<&Value> = self
            .list(list)
            .iter()
            .filter(|p| p["fault"] == fault)
            .collect();
        assert_eq!(
            found.len(),
            1,
            "expected one {fault} in {list}: {}",
            self.pretty()
        );
        found[0]
    }

    pub fn pretty(&self) -> String {
        serde_json::to_string_pretty(&self.0).unwrap()
    }
}

/// `text` contains `number` as a whole number (not as part of a longer one).
pub fn mentions_number(text: &str, number: i64) -> bool {
    let n = number.to_string();
    text.match_indices(&n).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + n.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_digit() || c == '.')
            && !after.is_some_and(|c| c.is_ascii_digit())
    })
}

/// Assert `text` contains every one of `parts`.
#[track_caller]
pub fn assert_mentions(text: &str, parts: &[&str]) {
    for p in parts {
        assert!(text.contains(p), "{p:?} missing from: {text}");
    }
}

/// The changed lines of a unified diff (without the `---`/`+++` headers).
pub fn changed_lines(diff: &str) -> Vec<&str> {
    diff.lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
        })
        .collect()
}

// ---- objects ---------------------------------------------------------------------------

/// A workload managed by a Deployment: the Deployment, its ReplicaSets (one per revision, the
/// last is the newest and matches the Deployment's template) and their pods.
pub struct Deploy {
    pub ns: String,
    pub name: String,
    /// Indented `containers:` list items of the pod template (8 spaces), newest revision.
    pub revisions: Vec<Revision>,
    /// Argo CD Application name in the tracking id, if tracked.
    pub app: Option<String>,
}

pub struct Revision {
    pub hash: String,
    /// Flow-style container specs, e.g. `{name: app, image: "shop/web:2"}`.
    pub containers: Vec<String>,
    pub available: u32,
}

impl Deploy {
    pub fn new(ns: &str, name: &str) -> Self {
        Deploy {
            ns: ns.into(),
            name: name.into(),
            revisions: Vec::new(),
            app: None,
        }
    }

    /// Add the next revision (numbered from 1) with `available` ready pods.
    pub fn revision(mut self, hash: &str, containers: &[&str], available: u32) -> Self {
        self.revisions.push(Revision {
            hash: hash.into(),
            containers: containers.iter().map(|c| c.to_string()).collect(),
            available,
        });
        self
    }

    pub fn tracked_by(mut self, app: &str) -> Self {
        self.app = Some(app.into());
        self
    }

    fn uid(&self) -> String {
        format!("uid-deploy-{}", self.name)
    }

    fn tracking(&self) -> String {
        match &self.app {
            Some(app) => format!(
                "argocd.argoproj.io/tracking-id: \"{app}:apps/Deployment:{}/{}\", ",
                self.ns, self.name
            ),
            None => String::new(),
        }
    }

    fn containers_yaml(containers: &[String], indent: usize) -> String {
        let pad = " ".repeat(indent);
        containers.iter().map(|c| format!("{pad}- {c}\n")).collect()
    }

    /// The Deployment and every ReplicaSet as YAML.
    pub fn yaml(&self) -> String {
        let newest = self.revisions.last().expect("at least one revision");
        let rev = self.revisions.len();
        let mut out = format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: {ns}\n  uid: {uid}\n  annotations: {{{tracking}deployment.kubernetes.io/revision: \"{rev}\"}}\nspec:\n  replicas: 2\n  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec:\n      containers:\n{containers}status:\n  replicas: 2\n  availableReplicas: {available}\n",
            name = self.name,
            ns = self.ns,
            uid = self.uid(),
            tracking = self.tracking(),
            containers = Self::containers_yaml(&newest.containers, 6),
            available = self.revisions.iter().map(|r| r.available).sum::<u32>(),
        );
        for (i, r) in self.revisions.iter().enumerate() {
            out.push_str(&format!(
                "---\napiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: {name}-{hash}\n  namespace: {ns}\n  uid: uid-rs-{name}-{hash}\n  labels: {{app: {name}, pod-template-hash: {hash}}}\n  annotations: {{{tracking}deployment.kubernetes.io/revision: \"{rev}\"}}\n  ownerReferences:\n  - {{apiVersion: apps/v1, kind: Deployment, name: {name}, uid: {uid}, controller: true, blockOwnerDeletion: true}}\nspec:\n  replicas: {replicas}\n  selector: {{matchLabels: {{app: {name}, pod-template-hash: {hash}}}}}\n  template:\n    metadata: {{labels: {{app: {name}, pod-template-hash: {hash}}}}}\n    spec:\n      containers:\n{containers}status:\n  replicas: {replicas}\n  availableReplicas: {available}\n  readyReplicas: {available}\n",
                name = self.name,
                hash = r.hash,
                ns = self.ns,
                uid = self.uid(),
                tracking = self.tracking(),
                rev = i + 1,
                replicas = if i + 1 == self.revisions.len() { 2 } else { r.available },
                available = r.available,
                containers = Self::containers_yaml(&r.containers, 6),
            ));
        }
        out
    }

    /// A pod of the revision with `hash`, with its container statuses (see [`status`]).
    pub fn pod(&self, hash: &str, suffix: &str, statuses: &[String]) -> String {
        self.pod_with(hash, suffix, statuses, "")
    }

    /// As [`Deploy::pod`], with extra pod `spec` lines (2-space indented, e.g. `  nodeName: n1`)
    /// and optional extra `status` lines.
    pub fn pod_with(
        &self,
        hash: &str,
        suffix: &str,
        statuses: &[String],
        spec_extra: &str,
    ) -> String {
        let r = self
            .revisions
            .iter()
            .find(|r| r.hash == hash)
            .expect("known revision");
        pod_yaml(
            &self.ns,
            &format!("{}-{hash}-{suffix}", self.name),
            &format!(
                "  labels: {{app: {name}, pod-template-hash: {hash}}}\n  ownerReferences:\n  - {{apiVersion: apps/v1, kind: ReplicaSet, name: {name}-{hash}, uid: uid-rs-{name}-{hash}, controller: true, blockOwnerDeletion: true}}\n",
                name = self.name
            ),
            &r.containers,
            spec_extra,
            statuses,
            "",
        )
    }
}

/// A Pod. `meta_extra` holds extra metadata lines (labels, ownerReferences), `spec_extra`
/// extra spec lines, `status_extra` extra status lines (reason, message, conditions).
pub fn pod_yaml(
    ns: &str,
    name: &str,
    meta_extra: &str,
    containers: &[String],
    spec_extra: &str,
    statuses: &[String],
    status_extra: &str,
) -> String {
    let phase = if status_extra.contains("reason: Evicted") {
        "Failed"
    } else {
        "Running"
    };
    let statuses = if statuses.is_empty() {
        String::new()
    } else {
        format!(
            "  containerStatuses:\n{}",
            statuses
                .iter()
                .map(|s| format!("  - {s}\n"))
                .collect::<String>()
        )
    };
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {ns}\n  uid: uid-pod-{name}\n{meta_extra}spec:\n  containers:\n{containers}{spec_extra}status:\n  phase: {phase}\n  startTime: \"2026-11-23T08:00:00Z\"\n{status_extra}{statuses}",
        containers = Deploy::containers_yaml(containers, 2),
    )
}

/// A container status in flow style: `state` and `last` are flow maps such as
/// `{waiting: {reason: CrashLoopBackOff}}`; `last` may be empty.
pub fn status(name: &str, image: &str, restarts: u32, state: &str, last: &str) -> String {
    let last = if last.is_empty() {
        String::new()
    } else {
        format!(", lastState: {last}")
    };
    // Never ready: every container built here is the failing one or a bystander.
    format!(
        "{{name: {name}, image: \"{image}\", imageID: \"\", ready: false, started: {started}, restartCount: {restarts}, state: {state}{last}}}",
        started = state.contains("running:"),
    )
}

/// `lastState` of a container that terminated with `reason`/`exit` after running from
/// `started` to `finished` (RFC 3339).
pub fn terminated(reason: &str, exit: i32, started: &str, finished: &str) -> String {
    format!(
        "{{terminated: {{exitCode: {exit}, reason: {reason}, startedAt: \"{started}\", finishedAt: \"{finished}\"}}}}"
    )
}

/// A core/v1 Event about pod `pod` (container `container` when given).
pub fn pod_event(
    ns: &str,
    pod: &str,
    container: Option<&str>,
    reason: &str,
    message: &str,
    count: u32,
) -> String {
    let field = container
        .map(|c| format!(", fieldPath: \"spec.containers{{{c}}}\""))
        .unwrap_or_default();
    let kind = if reason == "Unhealthy" || reason.starts_with("Failed") {
        "Warning"
    } else {
        "Normal"
    };
    format!(
        "apiVersion: v1\nkind: Event\nmetadata: {{name: {pod}.{id}, namespace: {ns}}}\ninvolvedObject: {{apiVersion: v1, kind: Pod, name: {pod}, namespace: {ns}, uid: uid-pod-{pod}{field}}}\nreason: {reason}\nmessage: {message}\ntype: {kind}\ncount: {count}\nfirstTimestamp: \"2026-11-23T08:01:00Z\"\nlastTimestamp: \"2026-11-23T08:50:00Z\"\nsource: {{component: kubelet, host: node-a}}\n",
        id = reason.to_ascii_lowercase(),
        message = serde_json::to_string(message).unwrap(),
    )
}

/// A Node with `conditions` given as flow maps (e.g. `{type: Ready, status: "True"}`).
pub fn node(name: &str, conditions: &[&str]) -> String {
    format!(
        "apiVersion: v1\nkind: Node\nmetadata: {{name: {name}, uid: uid-node-{name}}}\nstatus:\n  conditions:\n{}",
        conditions
            .iter()
            .map(|c| format!("  - {c}\n"))
            .collect::<String>()
    )
}

pub const NODE_READY: &str = r#"{type: Ready, status: "True", reason: KubeletReady, message: kubelet is posting ready status}"#;

/// A LimitRange with a Container `max` (flow map, e.g. `{memory: 1Gi}`).
pub fn limit_range(ns: &str, name: &str, max: &str) -> String {
    format!(
        "apiVersion: v1\nkind: LimitRange\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  limits:\n  - type: Container\n    max: {max}\n"
    )
}

/// An Argo CD Application deploying `path` of the checkout into `namespace`.
pub fn application(name: &str, namespace: &str, path: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: {name}, namespace: argocd}}\nspec:\n  project: default\n  source: {{repoURL: \"https://git.example.com/platform/gitops.git\", targetRevision: main, path: {path}}}\n  destination: {{server: \"https://kubernetes.default.svc\", namespace: {namespace}}}\n"
    )
}
