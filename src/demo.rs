//! `suture demo`: the bundled scenario (a Deployment OOMKilled at 512Mi in a plain-directory
//! Argo CD app), planned end to end in memory.

use crate::gitops::argocd::normalize_repo_url;
use crate::gitops::tree::RepoTree;
use crate::plan::{self, Plan, Repos, Settings};
use crate::state::ClusterState;

pub const REPO_URL: &str = "https://git.example.com/platform/gitops.git";
const CLUSTER: &str = include_str!("../scenarios/oom/cluster.yaml");
const FILES: [(&str, &str); 2] = [
    (
        "apps/checkout-api/deployment.yaml",
        include_str!("../scenarios/oom/repo/apps/checkout-api/deployment.yaml"),
    ),
    (
        "apps/checkout-api/service.yaml",
        include_str!("../scenarios/oom/repo/apps/checkout-api/service.yaml"),
    ),
];
/// The snapshot's moment: a few minutes after the last OOM kill.
pub const NOW: &str = "2026-11-23T08:45:00Z";

pub fn scenario() -> (ClusterState, Repos) {
    let state = ClusterState::from_text(CLUSTER).expect("bundled scenario is valid");
    let mut tree = RepoTree::default();
    for (path, text) in FILES {
        tree.insert_file(path, text);
    }
    let mut repos = Repos::default();
    repos.by_url.insert(normalize_repo_url(REPO_URL), tree);
    (state, repos)
}

pub fn run() -> Plan {
    let (state, repos) = scenario();
    let now = NOW.parse().expect("valid timestamp");
    plan::plan(&state, &repos, &Settings::default(), now)
}
