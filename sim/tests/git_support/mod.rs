//! git2 and `git` CLI helpers shared by the simulator tests: a client's side of the Git remote.
#![allow(dead_code)]

use std::cell::Cell;
use std::path::Path;
use std::process::{Command, Output};

use git2::{Cred, FetchOptions, PushOptions, RemoteCallbacks, Repository, Signature};

/// Callbacks answering the server's 401 with `x-access-token:<token>`, once: a second ask means
/// the token was refused, and answering again would loop.
pub fn callbacks<'a>(token: &'a str, asked: &'a Cell<u32>) -> RemoteCallbacks<'a> {
    let mut cb = RemoteCallbacks::new();
    cb.credentials(move |_url, _user, _allowed| {
        asked.set(asked.get() + 1);
        if asked.get() > 1 {
            return Err(git2::Error::from_str("token refused"));
        }
        Cred::userpass_plaintext("x-access-token", token)
    });
    cb
}

pub fn clone(url: &str, token: &str, dir: &Path) -> Result<Repository, git2::Error> {
    let asked = Cell::new(0);
    let mut fo = FetchOptions::new();
    fo.remote_callbacks(callbacks(token, &asked));
    git2::build::RepoBuilder::new()
        .fetch_options(fo)
        .clone(url, dir)
}

/// Write `files` into the work tree and commit them on the current HEAD branch.
pub fn commit(repo: &Repository, files: &[(&str, &str)], message: &str) -> git2::Oid {
    let workdir = repo.workdir().expect("non-bare clone");
    let mut index = repo.index().unwrap();
    for (path, content) in files {
        let full = workdir.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(&full, content).unwrap();
        index.add_path(Path::new(path)).unwrap();
    }
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = Signature::now("Test Bot", "bot@example.com").unwrap();
    let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
        .unwrap()
}

/// Create `branch` at HEAD and check it out.
pub fn checkout_new_branch(repo: &Repository, branch: &str) {
    let head = repo.head().unwrap().peel_to_commit().unwrap();
    repo.branch(branch, &head, false).unwrap();
    repo.set_head(&format!("refs/heads/{branch}")).unwrap();
}

/// Push `refs/heads/<branch>`; errors carry the server's refusal, if any.
pub fn push(repo: &Repository, token: &str, branch: &str) -> Result<(), git2::Error> {
    let asked = Cell::new(0);
    let rejected = std::cell::RefCell::new(None);
    {
        let mut cb = callbacks(token, &asked);
        cb.push_update_reference(|refname, status| {
            if let Some(msg) = status {
                *rejected.borrow_mut() = Some(format!("{refname}: {msg}"));
            }
            Ok(())
        });
        let mut po = PushOptions::new();
        po.remote_callbacks(cb);
        let mut remote = repo.find_remote("origin")?;
        let spec = format!("+refs/heads/{branch}:refs/heads/{branch}");
        remote.push(&[spec.as_str()], Some(&mut po))?;
    }
    match rejected.into_inner() {
        Some(msg) => Err(git2::Error::from_str(&msg)),
        None => Ok(()),
    }
}

/// Fetch every branch into `refs/remotes/origin/*`.
pub fn fetch(repo: &Repository, token: &str) -> Result<(), git2::Error> {
    let asked = Cell::new(0);
    let mut fo = FetchOptions::new();
    fo.remote_callbacks(callbacks(token, &asked));
    repo.find_remote("origin")?.fetch(
        &["+refs/heads/*:refs/remotes/origin/*"],
        Some(&mut fo),
        None,
    )
}

/// Run the system `git` with no prompts and no user or system config.
pub fn git(dir: &Path, args: &[&str]) -> Output {
    Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Cli User")
        .env("GIT_AUTHOR_EMAIL", "cli@example.com")
        .env("GIT_COMMITTER_NAME", "Cli User")
        .env("GIT_COMMITTER_EMAIL", "cli@example.com")
        .output()
        .expect("run git")
}

pub fn git_ok(dir: &Path, args: &[&str]) -> String {
    let out = git(dir, args);
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
