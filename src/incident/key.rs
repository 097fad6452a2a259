//! The incident key `cluster/namespace/kind/name/fault-id`: one incident, one open PR. It is the
//! one source of the branch names (each step's, the revert's), the ledger key, the metric
//! label and PR metadata (titles, labels), so those can never disagree about which incident
//! they belong to. Metrics are labelled by the key's fault only: a series per workload would
//! grow without bound on a large cluster.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::detection::FaultId;
use crate::objref::ObjectRef;

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IncidentKey {
    pub cluster: String,
    /// Empty for cluster-scoped objects (Nodes).
    pub namespace: String,
    pub kind: String,
    pub name: String,
    pub fault: FaultId,
}

/// Why a string is not an incident key.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyParseError {
    #[error(
        "an incident key has 5 `/`-separated parts (cluster/namespace/kind/name/fault), found {0}"
    )]
    Parts(usize),
    #[error("the {0} of an incident key is empty")]
    Empty(&'static str),
    #[error("unknown fault id {0:?}")]
    Fault(String),
}

impl IncidentKey {
    /// The key of `fault` on `owner` (the workload) in `cluster`.
    pub fn new(cluster: &str, owner: &ObjectRef, fault: FaultId) -> IncidentKey {
        IncidentKey {
            cluster: cluster.to_string(),
            namespace: owner.namespace.clone(),
            kind: owner.kind.clone(),
            name: owner.name.clone(),
            fault,
        }
    }

    /// First 8 hex digits of the SHA-256 of the key: names are cut nowhere, but two keys that
    /// differ only in the cluster or kind still get different branches.
    pub fn hash8(&self) -> String {
        let digest = Sha256::digest(self.to_string().as_bytes());
        digest[..4].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// `suture/<fault-id>/<namespace>/<name>-<hash8>`, deterministic so a second occurrence
    /// finds the open PR by its head branch. A cluster-scoped object uses `_` as namespace (an
    /// empty path segment is not a valid Git ref).
    pub fn branch(&self) -> String {
        let ns = match self.namespace.as_str() {
            "" => "_",
            ns => ns,
        };
        format!("suture/{}/{ns}/{}-{}", self.fault, self.name, self.hash8())
    }

    /// The branch of the incident's `step`th fix (1-based). The next bounded step after a
    /// merged fix needs its own branch (`...-2`): the merged one's commit is already on the
    /// base, so its branch cannot carry a new change.
    pub fn step_branch(&self, step: u32) -> String {
        match step {
            0 | 1 => self.branch(),
            n => format!("{}-{n}", self.branch()),
        }
    }

    /// The branch of the revert of the fix on `fix_branch` (one of [`IncidentKey::step_branch`]):
    /// `suture/revert/` and the fix branch's name after `suture/`.
    pub fn revert_branch(&self, fix_branch: &str) -> String {
        let name = fix_branch.strip_prefix("suture/").unwrap_or(fix_branch);
        format!("{REVERT_PREFIX}{name}")
    }

    /// Whether `branch` is a revert's (see [`IncidentKey::revert_branch`]).
    pub fn is_revert_branch(branch: &str) -> bool {
        branch.starts_with(REVERT_PREFIX)
    }

    /// The ledger's primary key for the incident: the key's text.
    pub fn ledger_key(&self) -> String {
        self.to_string()
    }

    /// `fix(<namespace>/<name>): <summary>`.
    pub fn pr_title(&self, summary: &str) -> String {
        format!("fix({}/{}): {summary}", self.namespace, self.name)
    }

    /// `revert(<namespace>/<name>): <the fix's change>`.
    pub fn revert_title(&self, change: &str) -> String {
        format!("revert({}/{}): {change}", self.namespace, self.name)
    }

    /// PR/MR labels: `suture`, `fault/<id>`.
    pub fn pr_labels(&self) -> Vec<String> {
        vec!["suture".to_string(), format!("fault/{}", self.fault)]
    }

    /// A revert's PR/MR labels: `suture`, `revert`, `fault/<id>`.
    pub fn revert_labels(&self) -> Vec<String> {
        vec![
            "suture".to_string(),
            "revert".to_string(),
            format!("fault/{}", self.fault),
        ]
    }
}

/// Every revert branch starts so; the fix's branch name follows.
const REVERT_PREFIX: &str = "suture/revert/";

impl fmt::Display for IncidentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}/{}/{}",
            self.cluster,
            self.namespace,
            self.kind,
            self.name,
            self.fault.as_str()
        )
    }
}

impl FromStr for IncidentKey {
    type Err = KeyParseError;

    fn from_str(s: &str) -> Result<IncidentKey, KeyParseError> {
        // Kubernetes names, namespaces and kinds contain no `/`, so splitting is exact.
        let parts: Vec<&str> = s.split('/').collect();
        let [cluster, namespace, kind, name, fault] = parts[..] else {
            return Err(KeyParseError::Parts(parts.len()));
        };
        for (part, what) in [(cluster, "cluster"), (kind, "kind"), (name, "name")] {
            if part.is_empty() {
                return Err(KeyParseError::Empty(what));
            }
        }
        let fault = fault
            .parse()
            .map_err(|_| KeyParseError::Fault(fault.to_string()))?;
        Ok(IncidentKey {
            cluster: cluster.into(),
            namespace: namespace.into(),
            kind: kind.into(),
            name: name.into(),
            fault,
        })
    }
}

/// As its text, as the plan JSON has always written `key`.
impl Serialize for IncidentKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objref::WorkloadKind;

    fn key(text: &str) -> IncidentKey {
        text.parse().unwrap()
    }

    #[test]
    fn round_trips_including_dots_dashes_and_cluster_scope() {
        for text in [
            "default/shop/Deployment/web/oom-killed",
            "prod-eu.1/team-a.payments/StatefulSet/db-0.primary/crash-loop-back-off",
            "default//Node/ip-10-0-0-1.ec2.internal/node-not-ready",
        ] {
            assert_eq!(key(text).to_string(), text);
        }
        let k = key("c.1/my-ns/Deployment/api.v2-x/image-pull-back-off");
        assert_eq!(
            (k.cluster.as_str(), k.namespace.as_str(), k.name.as_str()),
            ("c.1", "my-ns", "api.v2-x")
        );
        assert_eq!(k.fault, FaultId::ImagePullBackOff);
    }

    #[test]
    fn bad_inputs_say_what_is_wrong() {
        let err = |t: &str| t.parse::<IncidentKey>().unwrap_err();
        assert_eq!(err("a/b/c/d"), KeyParseError::Parts(4));
        assert_eq!(err("a/b/c/d/oom-killed/x"), KeyParseError::Parts(6));
        assert_eq!(err(""), KeyParseError::Parts(1));
        assert_eq!(
            err("/ns/Deployment/web/oom-killed"),
            KeyParseError::Empty("cluster")
        );
        assert_eq!(err("c/ns//web/oom-killed"), KeyParseError::Empty("kind"));
        assert_eq!(
            err("c/ns/Deployment//oom-killed"),
            KeyParseError::Empty("name")
        );
        assert_eq!(
            err("c/ns/Deployment/web/oom"),
            KeyParseError::Fault("oom".into())
        );
        assert_eq!(
            err("c/ns/Deployment/web/OOM-KILLED"),
            KeyParseError::Fault("OOM-KILLED".into())
        );
    }

    #[test]
    fn branch_is_deterministic_and_tells_keys_apart() {
        let web = IncidentKey::new(
            "default",
            &ObjectRef::workload(WorkloadKind::Deployment, "shop", "web"),
            FaultId::OomKilled,
        );
        let branch = web.branch();
        let hash = &branch[branch.len() - 8..];
        assert_eq!(&branch[..branch.len() - 8], "suture/oom-killed/shop/web-");
        assert!(
            hash.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        // sha256("default/shop/Deployment/web/oom-killed"), computed independently with sha256sum.
        assert_eq!(hash, "3304f227");
        assert_eq!(web.branch(), key(&web.to_string()).branch());
        let other_cluster = IncidentKey {
            cluster: "prod".into(),
            ..web.clone()
        };
        assert_ne!(other_cluster.branch(), branch);
        let node = key("default//Node/n1/node-not-ready");
        assert!(node.branch().starts_with("suture/node-not-ready/_/n1-"));
    }

    #[test]
    fn step_and_revert_branches_extend_the_fix_branch() {
        let k = key("default/shop/Deployment/web/oom-killed");
        assert_eq!(k.step_branch(1), "suture/oom-killed/shop/web-3304f227");
        assert_eq!(k.step_branch(2), "suture/oom-killed/shop/web-3304f227-2");
        assert_eq!(k.step_branch(3), "suture/oom-killed/shop/web-3304f227-3");
        let revert = k.revert_branch(&k.step_branch(2));
        assert_eq!(revert, "suture/revert/oom-killed/shop/web-3304f227-2");
        assert!(IncidentKey::is_revert_branch(&revert));
        assert!(!IncidentKey::is_revert_branch(&k.step_branch(1)));
        assert_eq!(
            k.revert_title("raise memory limit 512Mi -> 640Mi"),
            "revert(shop/web): raise memory limit 512Mi -> 640Mi"
        );
    }

    #[test]
    fn ledger_key_and_pr_metadata_come_from_the_key() {
        let k = key("default/shop/Deployment/web/oom-killed");
        assert_eq!(k.ledger_key(), "default/shop/Deployment/web/oom-killed");
        assert_eq!(
            k.pr_title("raise memory limit 512Mi -> 640Mi"),
            "fix(shop/web): raise memory limit 512Mi -> 640Mi"
        );
        assert_eq!(k.pr_labels(), ["suture", "fault/oom-killed"]);
        assert_eq!(k.revert_labels(), ["suture", "revert", "fault/oom-killed"]);
        assert_eq!(
            serde_json::to_value(&k).unwrap(),
            "default/shop/Deployment/web/oom-killed"
        );
    }
}
