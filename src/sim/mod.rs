//! Simulators that speak real HTTP APIs (forges, Git remote) so the real clients can be tested.

pub mod git;
pub mod github;
