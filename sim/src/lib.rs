//! Simulators that speak the real HTTP APIs of the systems suture talks to (the Kubernetes API
//! server with its controllers, Argo CD, a Git smart-HTTP remote, GitHub, GitLab), so the
//! product's real clients run against them over loopback (design §10).
//!
//! This crate imports nothing from `suture`: it is the oracle the product is tested against,
//! and an oracle sharing the product's parsing or arithmetic would agree with its bugs.
//!
//! Every simulator starts the same way: a synchronous `start` that binds and serves from its own
//! thread and runtime, [`Sim::addr`]/[`Sim::url`], [`Sim::shutdown`] to stop and wait, and a
//! drop that stops it.

pub mod argocd;
pub mod forge;
pub mod git;
pub mod github;
pub mod gitlab;
pub mod kube;
pub mod objects;
pub mod quantity;
pub mod scenarios;
pub mod serve;
pub mod world;

pub use serve::{Server, Sim};
