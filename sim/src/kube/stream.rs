//! The body of a watch response: events, periodic bookmarks, the timeout, and injected drops,
//! multiplexed into newline-delimited JSON chunks.

use axum::body::Bytes;
use serde_json::Value;
use tokio::sync::watch as notify;
use tokio::time::{Instant, Interval};

use super::respond::{error_line, event_line};
use super::watch::{EventType, Watcher};

/// Turns an event's object into what the client asked for (a Table for kubectl).
pub(crate) type Render = Box<dyn Fn(&Value) -> Value + Send>;

pub(crate) struct WatchStream {
    pub watcher: Watcher,
    pub render: Option<Render>,
    /// Set when the client sent `allowWatchBookmarks=true`.
    pub bookmarks: Option<Interval>,
    pub deadline: Instant,
    pub drops: notify::Receiver<u64>,
    pub done: bool,
}

async fn tick(interval: &mut Option<Interval>) {
    match interval {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}

impl WatchStream {
    /// The next chunk to send, or `None` to end the response.
    pub async fn next_chunk(&mut self) -> Option<Bytes> {
        if self.done {
            return None;
        }
        loop {
            tokio::select! {
                biased;
                _ = self.drops.changed() => return None,
                _ = tokio::time::sleep_until(self.deadline) => return None,
                event = self.watcher.next() => {
                    return match event {
                        Some(Ok(e)) => match &self.render {
                            Some(render) if e.kind != EventType::Bookmark => {
                                Some(event_line(e.kind, &render(&e.object)))
                            }
                            _ => Some(event_line(e.kind, &e.object)),
                        },
                        Some(Err(err)) => {
                            self.done = true;
                            Some(error_line(&err))
                        }
                        None => None,
                    };
                }
                _ = tick(&mut self.bookmarks) => {
                    if let Some(mark) = self.watcher.bookmark() {
                        return Some(event_line(mark.kind, &mark.object));
                    }
                }
            }
        }
    }
}
