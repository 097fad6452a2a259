//! Forges: GitHub and GitLab. `webhook` authenticates and reads their deliveries (pure); the API
//! clients arrive with the live loop.

pub mod webhook;
