//! The `Push Hook` and `Note Hook` payloads, shaped as GitLab's webhook docs show them, sent to
//! every hook that wants them. Pushes through the Git remote itself (`git push`) send none: the
//! simulator sees only pushes made through the API (commits, merges).

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::commits::commit_json;
use super::merge_requests::hook_payload;
use super::projects::{avatar_url, email, hook_project, hook_user, web_url};
use super::routes::Ctx;
use super::state::{NoteRec, ProjectRec, State, hook_time};
use super::webhook::{self, NOTE_HOOK, PUSH_HOOK};

/// GitLab puts at most this many commits in a push payload (the newest ones).
const PUSH_COMMITS: usize = 20;
const ZERO_SHA: &str = "0000000000000000000000000000000000000000";

/// A `Push Hook` for branch `branch` moving from `before` (`None`: a new branch) to `after`.
pub(crate) fn emit_push(
    ctx: &Arc<Ctx>,
    st: &mut State,
    pid: u64,
    branch: &str,
    before: Option<&str>,
    after: &str,
    login: &str,
) -> Vec<JoinHandle<()>> {
    let u = st.user(login);
    let Ok(p) = st.project(pid) else {
        return Vec::new();
    };
    // A new branch lists the commits it adds to the default branch, as GitLab does.
    let base = before.map_or_else(|| super::projects::default_branch(ctx, p), str::to_owned);
    let shas = ctx
        .store
        .commits_between(&p.path, &base, after)
        .unwrap_or_default();
    let total = shas.len();
    let commits: Vec<Value> = shas
        .iter()
        .skip(total.saturating_sub(PUSH_COMMITS))
        .map(|sha| push_commit(ctx, p, sha))
        .collect();
    let project = hook_project(ctx, p);
    let payload = json!({
        "object_kind": "push",
        "event_name": "push",
        "before": before.unwrap_or(ZERO_SHA),
        "after": after,
        "ref": format!("refs/heads/{branch}"),
        "ref_protected": branch == super::projects::default_branch(ctx, p),
        "checkout_sha": after,
        "message": null,
        "user_id": u.id,
        "user_name": u.name,
        "user_username": u.username,
        "user_email": email(&u),
        "user_avatar": avatar_url(&u),
        "project_id": pid,
        "project": project,
        "commits": commits,
        "total_commits_count": total,
        "push_options": {},
        "repository": {
            "name": p.name(),
            "url": project["url"],
            "description": "",
            "homepage": project["homepage"],
            "git_http_url": project["git_http_url"],
            "git_ssh_url": project["git_ssh_url"],
            "visibility_level": 0,
        },
    });
    webhook::emit(ctx, st, pid, PUSH_HOOK, Some(branch), &payload)
}

/// One commit of a push payload, with the paths it added, modified and removed.
fn push_commit(ctx: &Ctx, p: &ProjectRec, sha: &str) -> Value {
    let api = commit_json(ctx, p, sha);
    let (added, modified, removed) = changed_paths(ctx, p, sha).unwrap_or_default();
    json!({
        "id": sha,
        "message": api["message"],
        "title": api["title"],
        "timestamp": api["committed_date"],
        "url": format!("{}/-/commit/{sha}", web_url(&ctx.urls, p)),
        "author": {"name": api["author_name"], "email": api["author_email"]},
        "added": added,
        "modified": modified,
        "removed": removed,
    })
}

type Paths = (Vec<String>, Vec<String>, Vec<String>);

fn changed_paths(ctx: &Ctx, p: &ProjectRec, sha: &str) -> Option<Paths> {
    let repo = git2::Repository::open_bare(ctx.store.path(&p.path).ok()?).ok()?;
    let c = repo.find_commit(git2::Oid::from_str(sha).ok()?).ok()?;
    let parent = c.parent(0).ok().and_then(|p| p.tree().ok());
    let diff = repo
        .diff_tree_to_tree(parent.as_ref(), Some(&c.tree().ok()?), None)
        .ok()?;
    let mut out = Paths::default();
    for d in diff.deltas() {
        let path = |f: git2::DiffFile<'_>| f.path().map(|p| p.to_string_lossy().into_owned());
        match d.status() {
            git2::Delta::Added => out.0.extend(path(d.new_file())),
            git2::Delta::Deleted => out.2.extend(path(d.old_file())),
            _ => out.1.extend(path(d.new_file())),
        }
    }
    Some(out)
}

/// A `Note Hook` for note `n` just added to merge request `iid`.
pub(crate) fn emit_note(
    ctx: &Arc<Ctx>,
    st: &mut State,
    pid: u64,
    iid: u64,
    n: &NoteRec,
) -> Vec<JoinHandle<()>> {
    let Ok(mr_event) = hook_payload(ctx, st, pid, iid, "", &n.author, json!({})) else {
        return Vec::new();
    };
    let mut merge_request = mr_event["object_attributes"].clone();
    if let Some(m) = merge_request.as_object_mut() {
        m.remove("action");
    }
    let author = st.user(&n.author);
    let mr_url = merge_request["url"].as_str().unwrap_or_default().to_owned();
    let at = hook_time(&n.created_at);
    let payload = json!({
        "object_kind": "note",
        "event_type": "note",
        "user": hook_user(&author),
        "project_id": pid,
        "project": mr_event["project"],
        "repository": mr_event["repository"],
        "object_attributes": {
            "id": n.id,
            "note": n.body,
            "noteable_type": "MergeRequest",
            "author_id": author.id,
            "created_at": at,
            "updated_at": at,
            "project_id": pid,
            "attachment": null,
            "line_code": null,
            "commit_id": "",
            "noteable_id": merge_request["id"],
            "system": false,
            "st_diff": null,
            "type": null,
            "internal": false,
            "confidential": false,
            "action": "create",
            "url": format!("{mr_url}#note_{}", n.id),
        },
        "merge_request": merge_request,
    });
    webhook::emit(ctx, st, pid, NOTE_HOOK, None, &payload)
}
