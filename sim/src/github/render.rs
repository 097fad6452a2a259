//! GitHub's JSON shapes (REST responses and webhook payloads share them), with every key the
//! webhook fixtures have. API URLs point at the simulator; web URLs at the Git remote, so
//! `clone_url` really clones.

use base64::Engine as _;
use serde_json::{Value, json};

use super::state::{CommentRec, Item, LabelRec, RepoRec, State};

pub(crate) use crate::forge::context::Urls;

/// Live facts about a pull request that come from Git, not from the state.
#[derive(Debug, Clone, Default)]
pub(crate) struct PullLive {
    pub mergeable: Option<bool>,
    pub commits: u64,
    pub additions: u64,
    pub deletions: u64,
    pub changed_files: u64,
}

pub(crate) fn node_id(kind: &str, id: u64) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{kind}{id}"))
}

pub(crate) fn user(u: &Urls, st: &State, login: &str) -> Value {
    let id = st.users.get(login).copied().unwrap_or(0);
    let api = format!("{}/users/{login}", u.api);
    json!({
        "login": login,
        "id": id,
        "node_id": node_id("04:User", id),
        "avatar_url": format!("{}/avatars/u/{id}?v=4", u.web),
        "gravatar_id": "",
        "url": api,
        "html_url": format!("{}/{login}", u.web),
        "followers_url": format!("{api}/followers"),
        "following_url": format!("{api}/following{{/other_user}}"),
        "gists_url": format!("{api}/gists{{/gist_id}}"),
        "starred_url": format!("{api}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{api}/subscriptions"),
        "organizations_url": format!("{api}/orgs"),
        "repos_url": format!("{api}/repos"),
        "events_url": format!("{api}/events{{/privacy}}"),
        "received_events_url": format!("{api}/received_events"),
        "type": "User",
        "site_admin": false,
    })
}

pub(crate) fn repo(u: &Urls, st: &State, r: &RepoRec, default_branch: &str) -> Value {
    let full = r.full_name();
    let api = format!("{}/repos/{full}", u.api);
    let html = format!("{}/{full}", u.web);
    let host = u.web.trim_start_matches("http://");
    let open_issues = r.items.values().filter(|i| i.open).count();
    // URL templates, in the order GitHub lists them.
    const TEMPLATES: [(&str, &str); 36] = [
        ("forks_url", "/forks"),
        ("keys_url", "/keys{/key_id}"),
        ("collaborators_url", "/collaborators{/collaborator}"),
        ("teams_url", "/teams"),
        ("hooks_url", "/hooks"),
        ("issue_events_url", "/issues/events{/number}"),
        ("events_url", "/events"),
        ("assignees_url", "/assignees{/user}"),
        ("branches_url", "/branches{/branch}"),
        ("tags_url", "/tags"),
        ("blobs_url", "/git/blobs{/sha}"),
        ("git_tags_url", "/git/tags{/sha}"),
        ("git_refs_url", "/git/refs{/sha}"),
        ("trees_url", "/git/trees{/sha}"),
        ("statuses_url", "/statuses/{sha}"),
        ("languages_url", "/languages"),
        ("stargazers_url", "/stargazers"),
        ("contributors_url", "/contributors"),
        ("subscribers_url", "/subscribers"),
        ("subscription_url", "/subscription"),
        ("commits_url", "/commits{/sha}"),
        ("git_commits_url", "/git/commits{/sha}"),
        ("comments_url", "/comments{/number}"),
        ("issue_comment_url", "/issues/comments{/number}"),
        ("contents_url", "/contents/{+path}"),
        ("compare_url", "/compare/{base}...{head}"),
        ("merges_url", "/merges"),
        ("archive_url", "/{archive_format}{/ref}"),
        ("downloads_url", "/downloads"),
        ("issues_url", "/issues{/number}"),
        ("pulls_url", "/pulls{/number}"),
        ("milestones_url", "/milestones{/number}"),
        (
            "notifications_url",
            "/notifications{?since,all,participating}",
        ),
        ("labels_url", "/labels{/name}"),
        ("releases_url", "/releases{/id}"),
        ("deployments_url", "/deployments"),
    ];
    let mut v = json!({
        "id": r.id,
        "node_id": node_id("010:Repository", r.id),
        "name": r.name,
        "full_name": full,
        "private": true,
        "owner": user(u, st, &r.owner),
        "html_url": html,
        "description": null,
        "fork": false,
        "url": api,
        "created_at": r.created_at,
        "updated_at": r.created_at,
        "pushed_at": r.created_at,
        "git_url": format!("git://{host}/{full}.git"),
        "ssh_url": format!("git@{host}:{full}.git"),
        "clone_url": format!("{html}.git"),
        "svn_url": html,
    });
    extend(
        &mut v,
        json!({
        "homepage": null,
        "size": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "language": null,
        "has_issues": true,
        "has_projects": true,
        "has_downloads": true,
        "has_wiki": true,
        "has_pages": false,
        "forks_count": 0,
        "mirror_url": null,
        "archived": false,
        "disabled": false,
        "open_issues_count": open_issues,
        "license": null,
        "forks": 0,
        "open_issues": open_issues,
        "watchers": 0,
        "default_branch": default_branch,
        "is_template": false,
        "topics": [],
        "visibility": "private",
        "web_commit_signoff_required": false,
        "custom_properties": {},
        "allow_merge_commit": true,
        "allow_squash_merge": true,
        "allow_rebase_merge": true,
        "permissions": {"admin": true, "maintain": true, "push": true, "triage": true, "pull": true},
        }),
    );
    for (key, suffix) in TEMPLATES {
        v[key] = json!(format!("{api}{suffix}"));
    }
    v
}

pub(crate) fn label(u: &Urls, full: &str, l: &LabelRec) -> Value {
    json!({
        "id": l.id,
        "node_id": node_id("010:Label", l.id),
        "url": format!("{}/repos/{full}/labels/{}", u.api, encode_path(&l.name)),
        "name": l.name,
        "color": l.color,
        "default": false,
        "description": l.description,
    })
}

pub(crate) fn labels(u: &Urls, r: &RepoRec, item: &Item) -> Vec<Value> {
    let full = r.full_name();
    item.labels
        .iter()
        .filter_map(|n| r.labels.get(n))
        .map(|l| label(u, &full, l))
        .collect()
}

pub(crate) fn comment(u: &Urls, st: &State, full: &str, number: u64, c: &CommentRec) -> Value {
    json!({
        "id": c.id,
        "node_id": node_id("012:IssueComment", c.id),
        "url": format!("{}/repos/{full}/issues/comments/{}", u.api, c.id),
        "html_url": format!("{}/{full}/pull/{number}#issuecomment-{}", u.web, c.id),
        "issue_url": format!("{}/repos/{full}/issues/{number}", u.api),
        "body": c.body,
        "user": user(u, st, &c.user),
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "author_association": "OWNER",
        "performed_via_github_app": null,
    })
}

pub(crate) fn issue(u: &Urls, st: &State, r: &RepoRec, item: &Item) -> Value {
    let full = r.full_name();
    let api = format!("{}/repos/{full}/issues/{}", u.api, item.number);
    let mut v = json!({
        "id": item.id,
        "node_id": node_id("05:Issue", item.id),
        "url": api,
        "repository_url": format!("{}/repos/{full}", u.api),
        "labels_url": format!("{api}/labels{{/name}}"),
        "comments_url": format!("{api}/comments"),
        "events_url": format!("{api}/events"),
        "html_url": format!("{}/{full}/issues/{}", u.web, item.number),
        "number": item.number,
        "state": if item.open { "open" } else { "closed" },
        "state_reason": null,
        "title": item.title,
        "body": item.body,
        "user": user(u, st, &item.user),
        "labels": labels(u, r, item),
        "assignee": null,
        "assignees": [],
        "milestone": null,
        "locked": false,
        "active_lock_reason": null,
        "comments": item.comments.len(),
        "closed_at": item.closed_at,
        "created_at": item.created_at,
        "updated_at": item.updated_at,
        "author_association": "OWNER",
    });
    if let Some(pr) = &item.pr {
        v["html_url"] = json!(format!("{}/{full}/pull/{}", u.web, item.number));
        v["pull_request"] = json!({
            "url": format!("{}/repos/{full}/pulls/{}", u.api, item.number),
            "html_url": format!("{}/{full}/pull/{}", u.web, item.number),
            "diff_url": format!("{}/{full}/pull/{}.diff", u.web, item.number),
            "patch_url": format!("{}/{full}/pull/{}.patch", u.web, item.number),
            "merged_at": pr.merged_at,
        });
    }
    v
}

pub(crate) fn pull(
    u: &Urls,
    st: &State,
    r: &RepoRec,
    default_branch: &str,
    item: &Item,
    live: &PullLive,
) -> Value {
    let Some(pr) = &item.pr else {
        return Value::Null;
    };
    let full = r.full_name();
    let n = item.number;
    let api = format!("{}/repos/{full}", u.api);
    let html = format!("{}/{full}/pull/{n}", u.web);
    let repo_v = repo(u, st, r, default_branch);
    let owner_v = user(u, st, &r.owner);
    let merged = pr.merged_at.is_some();
    let mergeable_state = match (item.open, pr.draft, live.mergeable) {
        (false, _, _) => "unknown",
        (true, true, _) => "draft",
        (true, false, Some(true)) => "clean",
        (true, false, Some(false)) => "dirty",
        (true, false, None) => "unknown",
    };
    let mut v = json!({
        "url": format!("{api}/pulls/{n}"),
        "id": pr.id,
        "node_id": node_id("011:PullRequest", pr.id),
        "html_url": html,
        "diff_url": format!("{html}.diff"),
        "patch_url": format!("{html}.patch"),
        "issue_url": format!("{api}/issues/{n}"),
        "number": n,
        "state": if item.open { "open" } else { "closed" },
        "locked": false,
        "title": item.title,
        "user": user(u, st, &item.user),
        "body": item.body,
        "created_at": item.created_at,
        "updated_at": item.updated_at,
        "closed_at": item.closed_at,
        "merged_at": pr.merged_at,
        "merge_commit_sha": pr.merge_commit_sha,
        "assignee": null,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "labels": labels(u, r, item),
        "milestone": null,
        "commits_url": format!("{api}/pulls/{n}/commits"),
        "review_comments_url": format!("{api}/pulls/{n}/comments"),
        "review_comment_url": format!("{api}/pulls/comments{{/number}}"),
        "comments_url": format!("{api}/issues/{n}/comments"),
        "statuses_url": format!("{api}/statuses/{}", pr.head_sha),
        "head": {
            "label": format!("{}:{}", r.owner, pr.head_ref),
            "ref": pr.head_ref,
            "sha": pr.head_sha,
            "user": owner_v,
            "repo": repo_v,
        },
        "base": {
            "label": format!("{}:{}", r.owner, pr.base_ref),
            "ref": pr.base_ref,
            "sha": pr.base_sha,
            "user": owner_v,
            "repo": repo_v,
        },
    });
    extend(
        &mut v,
        json!({
        "_links": {
            "self": {"href": format!("{api}/pulls/{n}")},
            "html": {"href": html},
            "issue": {"href": format!("{api}/issues/{n}")},
            "comments": {"href": format!("{api}/issues/{n}/comments")},
            "review_comments": {"href": format!("{api}/pulls/{n}/comments")},
            "review_comment": {"href": format!("{api}/pulls/comments{{/number}}")},
            "commits": {"href": format!("{api}/pulls/{n}/commits")},
            "statuses": {"href": format!("{api}/statuses/{}", pr.head_sha)},
        },
        "author_association": "OWNER",
        "auto_merge": null,
        "active_lock_reason": null,
        "draft": pr.draft,
        "merged": merged,
        "mergeable": if merged { Some(true) } else { live.mergeable },
        "rebaseable": if merged { Some(true) } else { live.mergeable },
        "mergeable_state": mergeable_state,
        "merged_by": pr.merged_by.as_deref().map(|l| user(u, st, l)),
        "comments": item.comments.len(),
        "review_comments": 0,
        "maintainer_can_modify": pr.maintainer_can_modify,
        "commits": live.commits,
        "additions": live.additions,
        "deletions": live.deletions,
        "changed_files": live.changed_files,
        }),
    );
    v
}

pub(crate) fn git_ref(u: &Urls, full: &str, refname: &str, sha: &str) -> Value {
    json!({
        "ref": refname,
        "node_id": node_id("03:Ref", 0) + &base64::engine::general_purpose::STANDARD.encode(refname),
        "url": format!("{}/repos/{full}/git/{refname}", u.api),
        "object": {
            "sha": sha,
            "type": "commit",
            "url": format!("{}/repos/{full}/git/commits/{sha}", u.api),
        },
    })
}

/// Percent-encode a label name for a URL path segment.
pub(crate) fn encode_path(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Add the keys of object `more` to object `v` (json! objects this big exceed macro recursion).
fn extend(v: &mut Value, more: Value) {
    if let (Value::Object(a), Value::Object(b)) = (v, more) {
        a.extend(b);
    }
}
