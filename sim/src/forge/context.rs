//! What every request handler of a forge simulator reaches: its state, the Git data, tokens,
//! faults, the rate limit, its URLs and the webhook outbox.

use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{Faults, RateLimit};
use crate::forge::webhook::Outbox;
use crate::git::{RepoStore, Tokens};

/// Base URLs the API answers and payloads point at.
#[derive(Debug, Clone)]
pub(crate) struct Urls {
    /// `http://127.0.0.1:PORT` of the REST API.
    pub api: String,
    /// `http://127.0.0.1:PORT` of the Git remote, which also stands for the web UI.
    pub web: String,
}

/// A forge's shared context over its own state `S`.
#[derive(Debug)]
pub(crate) struct Ctx<S> {
    pub state: Mutex<S>,
    pub store: RepoStore,
    pub tokens: Tokens,
    pub faults: Faults,
    pub rate: RateLimit,
    pub urls: Urls,
    pub outbox: Outbox,
}

impl<S> Ctx<S> {
    pub fn lock(&self) -> MutexGuard<'_, S> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
