//! Smart HTTP: each request runs the system `git http-backend` as a CGI program.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt as _;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::process::Command;

use super::{RepoStore, Tokens};
use crate::serve::{Server, Sim};

/// Biggest push accepted; beyond it the backend's stdin is closed early and the push fails.
const MAX_PUSH_BYTES: u64 = 512 * 1024 * 1024;
const REALM: &str = "suture-sim";

/// A running Git smart-HTTP remote over a [`RepoStore`]. Dropping it stops the server.
#[derive(Debug)]
pub struct GitServer {
    server: Server,
    store: RepoStore,
    tokens: Tokens,
}

struct Shared {
    store: RepoStore,
    tokens: Tokens,
}

impl GitServer {
    /// Serve `store` on `127.0.0.1:<free port>`, accepting the tokens in `tokens` (shared: tokens
    /// added later are accepted too).
    pub fn start(store: RepoStore, tokens: Tokens) -> std::io::Result<GitServer> {
        // Fail here, not on the first request, if there is no git to serve with.
        backend_program()?;
        let shared = Arc::new(Shared {
            store: store.clone(),
            tokens: tokens.clone(),
        });
        let server = Server::start("sim-git", None, move |_| {
            Ok(axum::Router::new().fallback(handle).with_state(shared))
        })?;
        Ok(GitServer {
            server,
            store,
            tokens,
        })
    }

    /// The clone URL of `owner/name`: `http://127.0.0.1:PORT/owner/name.git`.
    pub fn repo_url(&self, full_name: &str) -> String {
        format!("{}/{full_name}.git", self.url())
    }

    /// The same clone URL with `x-access-token:<token>@` in it, as for `git clone`.
    pub fn repo_url_with_token(&self, full_name: &str, token: &str) -> String {
        format!(
            "http://x-access-token:{token}@{}/{full_name}.git",
            self.addr()
        )
    }

    pub fn store(&self) -> &RepoStore {
        &self.store
    }

    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }
}

impl Sim for GitServer {
    fn server(&self) -> &Server {
        &self.server
    }

    async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// `<git --exec-path>/git-http-backend`, found once.
fn backend_program() -> std::io::Result<PathBuf> {
    static PROGRAM: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PROGRAM
        .get_or_init(|| {
            let out = std::process::Command::new("git")
                .arg("--exec-path")
                .output()
                .map_err(|e| format!("cannot run git: {e}"))?;
            let dir = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            let program = PathBuf::from(dir).join("git-http-backend");
            if program.is_file() {
                Ok(program)
            } else {
                Err(format!("{} not found", program.display()))
            }
        })
        .clone()
        .map_err(std::io::Error::other)
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let login = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| shared.tokens.authenticate(h));
    let Some(login) = login else {
        // A 401 with a Basic challenge is what makes git and git2 ask for credentials.
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, format!("Basic realm=\"{REALM}\""))],
            "Authentication failed\n",
        )
            .into_response();
    };
    match run_backend(&shared, &login, req).await {
        Ok(resp) => resp,
        Err(e) => {
            tracing::warn!(error = %e, "git http-backend failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "git http-backend failed\n",
            )
                .into_response()
        }
    }
}

async fn run_backend(shared: &Shared, login: &str, req: Request) -> std::io::Result<Response> {
    let program = backend_program()?;
    let (parts, body) = req.into_parts();
    let hdr = |name: HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        // Keep the user's and the system's git config out of the simulated remote.
        .env("HOME", shared.store.root())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_PROJECT_ROOT", shared.store.root())
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("PATH_INFO", parts.uri.path())
        .env("REQUEST_METHOD", parts.method.as_str())
        .env("QUERY_STRING", parts.uri.query().unwrap_or_default())
        .env("CONTENT_TYPE", hdr(header::CONTENT_TYPE))
        .env("REMOTE_USER", login)
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .env("SERVER_PROTOCOL", "HTTP/1.1");
    // http-backend inflates gzip request bodies itself when told the encoding.
    let encoding = hdr(header::CONTENT_ENCODING);
    if !encoding.is_empty() {
        cmd.env("HTTP_CONTENT_ENCODING", encoding);
    }
    let length = hdr(header::CONTENT_LENGTH);
    if !length.is_empty() {
        cmd.env("CONTENT_LENGTH", length);
    }
    // Protocol v2 is negotiated through this header.
    let protocol = hdr(HeaderName::from_static("git-protocol"));
    if !protocol.is_empty() {
        cmd.env("HTTP_GIT_PROTOCOL", protocol);
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn()?;

    let mut stdin = child.stdin.take();
    let mut body = body;
    tokio::spawn(async move {
        let Some(stdin) = stdin.as_mut() else { return };
        let mut sent: u64 = 0;
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { return };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            sent += data.len() as u64;
            if sent > MAX_PUSH_BYTES || stdin.write_all(&data).await.is_err() {
                return;
            }
        }
        // Dropping stdin here closes it: end of request body.
    });
    if let Some(mut stderr) = child.stderr.take() {
        tokio::spawn(async move {
            let mut text = String::new();
            if stderr.read_to_string(&mut text).await.is_ok() && !text.trim().is_empty() {
                tracing::debug!(stderr = %text.trim(), "git http-backend");
            }
        });
    }
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| std::io::Error::other("no stdout"))?;
    let mut reader = BufReader::new(stdout);

    let mut status = StatusCode::OK;
    let mut builder = Response::builder();
    let mut header_bytes = 0usize;
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).await?;
        header_bytes += n;
        if n == 0 || header_bytes > 64 * 1024 {
            return Err(std::io::Error::other("truncated CGI headers"));
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value.split(' ').next().unwrap_or_default();
            status = code
                .parse::<u16>()
                .ok()
                .and_then(|c| StatusCode::from_u16(c).ok())
                .unwrap_or(StatusCode::BAD_GATEWAY);
        } else if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.trim().as_bytes()),
            HeaderValue::from_str(value),
        ) {
            builder = builder.header(n, v);
        }
    }
    // Reap the process once it is done writing; the stream ends on its stdout EOF.
    tokio::spawn(async move {
        let _ = child.wait().await;
    });
    let stream = tokio_util::io::ReaderStream::new(reader);
    builder
        .status(status)
        .body(Body::from_stream(stream))
        .map_err(std::io::Error::other)
}
