//! suture: from a broken Kubernetes workload to a reviewed, verified fix in Git.
//!
//! The modules follow the pipeline: `state` (input snapshot) -> `detection` (findings) ->
//! `owner` (workload behind a pod) -> `proposal` (typed fix or escalation) -> `gitops`
//! (Argo CD app, manifest location, minimal YAML edit) -> `plan` (all of it, offline). The
//! simulators that speak the real HTTP APIs are the `suture-sim` crate (cargo feature `sim`).

pub mod alerts;
pub mod checks;
pub mod clock;
pub mod cluster;
pub mod config;
#[cfg(feature = "sim")]
pub mod demo;
pub mod detection;
pub mod forge;
pub mod gitops;
pub mod incident;
pub mod inputs;
pub mod ledger;
pub mod notify;
pub mod objref;
pub mod owner;
pub mod plan;
pub mod prometheus;
pub mod proposal;
pub mod quantity;
pub mod record;
pub mod render;
pub mod serve;
pub mod server;
pub mod snapshot;
pub mod state;
