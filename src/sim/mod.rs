//! Simulators that speak the real HTTP APIs of the systems suture talks to (the Kubernetes API
//! server, a Git smart-HTTP remote, GitHub, GitLab), so the product's real clients run against
//! them over loopback (design §10).

pub mod argocd;
pub mod git;
pub mod github;
pub mod gitlab;
pub mod kube;
pub mod objects;
pub mod quantity;
pub mod scenarios;
pub mod world;
