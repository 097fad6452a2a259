//! Forges: GitHub and GitLab. `webhook` authenticates and reads their deliveries, `body` renders
//! what suture writes on them, `retry` decides when a failed API call is tried again (all
//! pure); the API clients arrive with the live loop.

pub mod body;
pub mod retry;
pub mod webhook;
