//! `POST /projects/:id/repository/commits` (a commit of file `actions`, as suture may commit
//! through the API instead of pushing), `GET .../commits/:sha` and `GET .../files/:path`.
//! Commits are written with git2 on the bare repository, so they are real Git commits.

use std::path::Path as FsPath;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State as AxState};
use axum::http::StatusCode;
use base64::Engine as _;
use git2::{Index, IndexEntry, IndexTime, Oid, Repository, Signature};
use serde_json::{Value, json};
use sha2::Digest as _;

use super::params::Params;
use super::projects::{email, web_url};
use super::routes::{ApiError, ApiResult, Ctx, Login, reply};
use super::state::ProjectRec;

fn open(ctx: &Ctx, p: &ProjectRec) -> Result<Repository, ApiError> {
    let path = ctx
        .store
        .path(&p.path)
        .map_err(|_| ApiError::not_found("Project"))?;
    Repository::open_bare(path).map_err(|_| ApiError::server_error())
}

fn time(t: git2::Time) -> String {
    jiff::Timestamp::from_second(t.seconds())
        .map(|ts| format!("{}", ts.strftime("%Y-%m-%dT%H:%M:%S.000+00:00")))
        .unwrap_or_default()
}

/// A commit as the REST API renders it; `null` if `sha` does not resolve.
pub(crate) fn commit_json(ctx: &Ctx, p: &ProjectRec, sha: &str) -> Value {
    let Ok(repo) = open(ctx, p) else {
        return Value::Null;
    };
    let Ok(c) = repo.revparse_single(sha).and_then(|o| o.peel_to_commit()) else {
        return Value::Null;
    };
    let id = c.id().to_string();
    let message = String::from_utf8_lossy(c.message_bytes()).into_owned();
    let title = message.lines().next().unwrap_or_default().to_owned();
    let (author, committer) = (c.author(), c.committer());
    json!({
        "id": id,
        "short_id": id.get(..8).unwrap_or(&id),
        "title": title,
        "message": message,
        "author_name": String::from_utf8_lossy(author.name_bytes()),
        "author_email": String::from_utf8_lossy(author.email_bytes()),
        "authored_date": time(author.when()),
        "committer_name": String::from_utf8_lossy(committer.name_bytes()),
        "committer_email": String::from_utf8_lossy(committer.email_bytes()),
        "committed_date": time(committer.when()),
        "created_at": time(committer.when()),
        "parent_ids": c.parent_ids().map(|p| p.to_string()).collect::<Vec<_>>(),
        "trailers": {},
        "web_url": format!("{}/-/commit/{id}", web_url(&ctx.urls, p)),
    })
}

pub(crate) async fn get(
    AxState(ctx): AxState<Arc<Ctx>>,
    Path((id, sha)): Path<(String, String)>,
) -> ApiResult {
    let st = ctx.lock();
    let p = st.project(st.project_key(&id)?)?;
    match commit_json(&ctx, p, &sha) {
        Value::Null => Err(ApiError::not_found("Commit")),
        v => Ok(reply(StatusCode::OK, v)),
    }
}

/// `GET /projects/:id/repository/files/:path?ref=`: the content base64-encoded.
pub(crate) async fn file(
    AxState(ctx): AxState<Arc<Ctx>>,
    Path((id, path)): Path<(String, String)>,
    params: Params,
) -> ApiResult {
    let rev = params
        .str("ref")?
        .ok_or_else(|| ApiError::missing(&["ref"]))?;
    let st = ctx.lock();
    let p = st.project(st.project_key(&id)?)?;
    let not_found = || ApiError::not_found("File");
    let commit = ctx
        .store
        .commit_info(&p.path, &rev)
        .map_err(|_| ApiError::not_found("Commit"))?;
    let bytes = ctx
        .store
        .read_file(&p.path, &commit.sha, &path)
        .map_err(|_| not_found())?
        .ok_or_else(not_found)?;
    let blob_id = Oid::hash_object(git2::ObjectType::Blob, &bytes)
        .map(|o| o.to_string())
        .unwrap_or_default();
    let sha256: String = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(reply(
        StatusCode::OK,
        json!({
            "file_name": path.rsplit('/').next().unwrap_or(&path),
            "file_path": path,
            "size": bytes.len(),
            "encoding": "base64",
            "content": base64::engine::general_purpose::STANDARD.encode(&bytes),
            "content_sha256": sha256,
            "ref": rev,
            "blob_id": blob_id,
            "commit_id": commit.sha,
            "last_commit_id": commit.sha,
            "execute_filemode": false,
        }),
    ))
}

/// One file action of a commit.
#[derive(Debug)]
enum Action {
    Create {
        path: String,
        content: Vec<u8>,
    },
    Update {
        path: String,
        content: Vec<u8>,
    },
    Delete {
        path: String,
    },
    Move {
        from: String,
        to: String,
        content: Option<Vec<u8>>,
    },
    Chmod {
        path: String,
        exec: bool,
    },
}

fn parse_action(a: &Params) -> Result<Action, ApiError> {
    let kind = a.required("action")?;
    let path = a.required("file_path")?;
    check_path(&path)?;
    let content = match a.str("content")? {
        None => None,
        Some(c) => Some(match a.str("encoding")?.as_deref() {
            None | Some("text") => c.into_bytes(),
            Some("base64") => base64::engine::general_purpose::STANDARD
                .decode(c.trim())
                .map_err(|_| ApiError::bad_request("Invalid base64 content"))?,
            Some(_) => return Err(ApiError::invalid("actions[encoding]")),
        }),
    };
    let need = |c: Option<Vec<u8>>| {
        c.ok_or_else(|| ApiError::bad_request(format!("content is required for {kind}.")))
    };
    Ok(match kind.as_str() {
        "create" => Action::Create {
            content: need(content)?,
            path,
        },
        "update" => Action::Update {
            content: need(content)?,
            path,
        },
        "delete" => Action::Delete { path },
        "move" => {
            let from = a.required("previous_path")?;
            check_path(&from)?;
            Action::Move {
                from,
                to: path,
                content,
            }
        }
        "chmod" => Action::Chmod {
            path,
            exec: a.bool("execute_filemode")?.unwrap_or(false),
        },
        _ => {
            return Err(ApiError::error(
                StatusCode::BAD_REQUEST,
                "actions[action] does not have a valid value",
            ));
        }
    })
}

fn check_path(path: &str) -> Result<(), ApiError> {
    let ok = !path.is_empty()
        && path.len() <= 4096
        && !path.starts_with('/')
        && !path.contains('\0')
        && path
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != ".." && c != ".git");
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!("Invalid file path: {path}")))
    }
}

fn entry(path: &str, id: Oid, len: usize, mode: u32) -> IndexEntry {
    IndexEntry {
        ctime: IndexTime::new(0, 0),
        mtime: IndexTime::new(0, 0),
        dev: 0,
        ino: 0,
        mode,
        uid: 0,
        gid: 0,
        file_size: u32::try_from(len).unwrap_or(u32::MAX),
        id,
        flags: 0,
        flags_extended: 0,
        path: path.as_bytes().to_vec(),
    }
}

fn apply(repo: &Repository, index: &mut Index, action: Action) -> Result<(), ApiError> {
    let git = |_| ApiError::server_error();
    let exists = |index: &Index, p: &str| index.get_path(FsPath::new(p), 0).is_some();
    let missing =
        |p: &str| ApiError::bad_request(format!("A file with this name doesn't exist: {p}"));
    let write = |index: &mut Index, p: &str, bytes: &[u8], mode: u32| {
        let id = repo.blob(bytes).map_err(git)?;
        index.add(&entry(p, id, bytes.len(), mode)).map_err(git)
    };
    match action {
        Action::Create { path, content } => {
            if exists(index, &path) {
                return Err(ApiError::bad_request(
                    "A file with this name already exists",
                ));
            }
            write(index, &path, &content, 0o100644)
        }
        Action::Update { path, content } => {
            let mode = index
                .get_path(FsPath::new(&path), 0)
                .ok_or_else(|| missing(&path))?
                .mode;
            write(index, &path, &content, mode)
        }
        Action::Delete { path } => {
            if !exists(index, &path) {
                return Err(missing(&path));
            }
            index.remove_path(FsPath::new(&path)).map_err(git)
        }
        Action::Move { from, to, content } => {
            let old = index
                .get_path(FsPath::new(&from), 0)
                .ok_or_else(|| missing(&from))?;
            if exists(index, &to) {
                return Err(ApiError::bad_request(
                    "A file with this name already exists",
                ));
            }
            index.remove_path(FsPath::new(&from)).map_err(git)?;
            match content {
                Some(c) => write(index, &to, &c, old.mode),
                None => index
                    .add(&entry(&to, old.id, old.file_size as usize, old.mode))
                    .map_err(git),
            }
        }
        Action::Chmod { path, exec } => {
            let mut e = index
                .get_path(FsPath::new(&path), 0)
                .ok_or_else(|| missing(&path))?;
            e.mode = if exec { 0o100755 } else { 0o100644 };
            index.add(&e).map_err(git)
        }
    }
}

pub(crate) async fn create(
    AxState(ctx): AxState<Arc<Ctx>>,
    Extension(Login(login)): Extension<Login>,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult {
    let (branch, message) = match (params.str("branch")?, params.str("commit_message")?) {
        (Some(b), Some(m)) => (b, m),
        (None, None) => return Err(ApiError::missing(&["branch", "commit_message"])),
        (None, _) => return Err(ApiError::missing(&["branch"])),
        (_, None) => return Err(ApiError::missing(&["commit_message"])),
    };
    let actions = params.objects("actions")?;
    if actions.is_empty() {
        return Err(ApiError::missing(&["actions"]));
    }
    let actions: Vec<Action> = actions.iter().map(parse_action).collect::<Result<_, _>>()?;
    let start = params.str("start_sha")?.or(params.str("start_branch")?);
    let force = params.bool("force")?.unwrap_or(false);

    let mut st = ctx.lock();
    let user = st.user(&login);
    let p = st.project(st.project_key(&id)?)?;
    let repo = open(&ctx, p)?;
    let refname = format!("refs/heads/{branch}");
    if !git2::Reference::is_valid_name(&refname) {
        return Err(ApiError::bad_request("Branch name is invalid"));
    }
    let current = repo
        .find_reference(&refname)
        .ok()
        .and_then(|r| r.peel_to_commit().ok());
    let from_start = match &start {
        Some(s) => Some(
            repo.revparse_single(&format!("refs/heads/{s}"))
                .or_else(|_| repo.revparse_single(s))
                .and_then(|o| o.peel_to_commit())
                .map_err(|_| ApiError::bad_request(format!("Invalid reference name: {s}")))?,
        ),
        None => None,
    };
    if current.is_some() && from_start.is_some() && !force {
        return Err(ApiError::bad_request(format!(
            "A branch called '{branch}' already exists. Switch to that branch in order to make changes"
        )));
    }
    let has_commits = repo
        .references()
        .map(|mut r| r.next().is_some())
        .unwrap_or(false);
    let parent = if force {
        from_start.or(current.clone())
    } else {
        current.clone().or(from_start)
    };
    if parent.is_none() && has_commits {
        return Err(ApiError::bad_request(
            "You can only create or edit files when you are on a branch",
        ));
    }
    let git = |_| ApiError::server_error();
    let mut index = Index::new().map_err(git)?;
    if let Some(p) = &parent {
        index.read_tree(&p.tree().map_err(git)?).map_err(git)?;
    }
    for a in actions {
        apply(&repo, &mut index, a)?;
    }
    let tree = repo
        .find_tree(index.write_tree_to(&repo).map_err(git)?)
        .map_err(git)?;
    let author_name = params
        .str("author_name")?
        .unwrap_or_else(|| user.name.clone());
    let author_email = params.str("author_email")?.unwrap_or_else(|| email(&user));
    let sig = Signature::now(&author_name, &author_email)
        .map_err(|_| ApiError::invalid("author_name"))?;
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    let oid = repo
        .commit(None, &sig, &sig, &message, &tree, &parents)
        .map_err(git)?;
    // Compare-and-swap on the branch: a push since we read it wins, as on GitLab.
    let moved = || ApiError::bad_request("The branch has been updated since the commit started");
    match current.as_ref().map(|c| c.id()) {
        Some(old) => repo
            .reference_matching(&refname, oid, true, old, "commit via API")
            .map_err(|_| moved())?,
        None => repo
            .reference(&refname, oid, false, "commit via API")
            .map_err(|_| moved())?,
    };
    let out = commit_json(&ctx, p, &oid.to_string());
    let (pid, before) = (p.id, current.map(|c| c.id().to_string()));
    let _sending = super::events::emit_push(
        &ctx,
        &mut st,
        pid,
        &branch,
        before.as_deref(),
        &oid.to_string(),
        &login,
    );
    Ok(reply(StatusCode::CREATED, out))
}
