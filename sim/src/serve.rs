//! The one way every simulator runs: a synchronous `start` binds a loopback port (or a given
//! address) and serves an axum router from a thread with its own Tokio runtime, so the
//! simulator keeps serving while the code that started it blocks (git2, `git`, kubectl) or runs
//! on a single-threaded test runtime. `shutdown().await` stops it and waits; dropping it stops
//! it without waiting.

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use tokio::sync::watch;

/// In-flight requests get this long after a stop; longer ones (an injected hang, a watch that
/// did not end) die with the runtime rather than holding the thread.
const GRACE: Duration = Duration::from_secs(2);

/// A server running in the background.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Bind `listen` (default `127.0.0.1:0`), then serve the router `make` builds, called on
    /// the server's runtime (so it may spawn background work there) with the bound address.
    pub(crate) fn start(
        name: &str,
        listen: Option<SocketAddr>,
        make: impl FnOnce(SocketAddr) -> std::io::Result<axum::Router>,
    ) -> std::io::Result<Server> {
        let listener = TcpListener::bind(listen.unwrap_or(([127, 0, 0, 1], 0).into()))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(format!("{name}-rt"))
            .enable_all()
            .build()?;
        let router = {
            let _in_runtime = rt.enter();
            make(addr)?
        };
        let (stop, mut stopped) = watch::channel(false);
        let mut graceful = stopped.clone();
        let thread = std::thread::Builder::new()
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
                    let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
                        let _ = graceful.wait_for(|s| *s).await;
                    });
                    tokio::select! {
                        r = serve => {
                            if let Err(e) = r {
                                tracing::error!(error = %e, "sim server stopped");
                            }
                        }
                        _ = async {
                            let _ = stopped.wait_for(|s| *s).await;
                            tokio::time::sleep(GRACE).await;
                        } => {}
                    }
                });
                rt.shutdown_background();
            })?;
        Ok(Server {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop accepting, let in-flight requests finish (bounded) and wait for the thread.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(thread) = self.thread.take() {
            let joined = tokio::task::spawn_blocking(move || thread.join());
            let _ = tokio::time::timeout(GRACE * 2, joined).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// What every simulator offers: where it listens and how it stops. Every simulator also has a
/// synchronous `start` (its arguments differ) and stops when dropped.
pub trait Sim: Sized {
    fn server(&self) -> &Server;

    fn addr(&self) -> SocketAddr {
        self.server().addr()
    }

    /// `http://127.0.0.1:PORT`
    fn url(&self) -> String {
        self.server().url()
    }

    /// Stops the simulator and waits for it (bounded).
    fn shutdown(self) -> impl Future<Output = ()> + Send;
}
