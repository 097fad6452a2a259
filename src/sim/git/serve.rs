//! Runs an axum router on `127.0.0.1:0` on a thread with its own Tokio runtime, so a simulator
//! keeps serving while the test that started it blocks (git2, `git`), and stops when dropped.

use std::net::{SocketAddr, TcpListener};

use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// A server running in the background; dropping it stops the server.
#[derive(Debug)]
pub(crate) struct Background {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Background {
    /// Bind, then serve the router `make` builds, called here with the bound address and the
    /// server's runtime handle (to spawn background work such as webhook deliveries on it).
    pub(crate) fn start(
        name: &str,
        make: impl FnOnce(SocketAddr, Handle) -> axum::Router,
    ) -> std::io::Result<Background> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(format!("{name}-rt"))
            .enable_all()
            .build()?;
        let (tx, rx) = oneshot::channel::<()>();
        let router = make(addr, rt.handle().clone());
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                rt.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => {
                            tracing::error!(error = %e, "sim server cannot listen");
                            return;
                        }
                    };
                    // Stop at once on drop: in-flight requests (e.g. an injected hang) die with
                    // the runtime rather than holding the thread.
                    tokio::select! {
                        r = axum::serve(listener, router) => {
                            if let Err(e) = r {
                                tracing::error!(error = %e, "sim server stopped");
                            }
                        }
                        _ = rx => {}
                    }
                });
                rt.shutdown_background();
            })?;
        Ok(Background {
            addr,
            shutdown: Some(tx),
        })
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
