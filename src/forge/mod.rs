//! Forges: GitHub and GitLab. `webhook` authenticates and reads their deliveries, `body` renders
//! what suture writes on them (both pure); the API clients arrive with the live loop.

pub mod body;
pub mod webhook;
