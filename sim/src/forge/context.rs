//! What every request handler of a forge simulator reaches: its state, the Git data, tokens,
//! faults, the rate limit, its URLs and the webhook outbox.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::{Delivery, Dialect, Faults, RateLimit, SimError};
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

/// Redelivery and waiting, as both simulators offer them; their own methods only forward here.
impl<S> Ctx<S> {
    /// Send a past delivery again (same id, headers and bytes); the new attempt once it
    /// finished, or the forge's `UnknownDelivery`.
    pub async fn redeliver<D: Dialect>(&self, id: &str) -> Result<Delivery, SimError<D>> {
        self.outbox
            .redeliver(id)
            .await
            .ok_or_else(|| SimError::UnknownDelivery(id.to_owned()))
    }

    /// Wait until every delivery so far has finished (up to `timeout`); true if they all did.
    pub async fn wait_for_deliveries(&self, timeout: Duration) -> bool {
        self.outbox.wait_all(timeout).await
    }
}
