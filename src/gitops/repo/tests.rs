use super::*;

/// An upstream bare repository built with plain git2, standing in for the forge's remote.
struct Upstream {
    _dir: tempfile::TempDir,
    path: PathBuf,
    repo: Repository,
}

impl Upstream {
    fn new() -> Upstream {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("gitops.git");
        let repo = Repository::init_bare(&path).unwrap_or_else(|e| panic!("{e}"));
        let up = Upstream {
            _dir: dir,
            path,
            repo,
        };
        up.commit_on(
            "main",
            &[
                (
                    "apps/web/deployment.yaml",
                    b"kind: Deployment\n# keep me\nmemory: 512Mi\n".as_slice(),
                    0o100644,
                ),
                ("apps/web/run.sh", b"#!/bin/sh\n", 0o100755),
                (
                    "apps/web/logo.png",
                    &[0x89, 0x50, 0x4e, 0x47, 0xff, 0xfe],
                    0o100644,
                ),
                ("apps/link", b"web", 0o120000),
            ],
            "initial",
        );
        up
    }

    fn url(&self) -> String {
        format!("file://{}", self.path.display())
    }

    fn head(&self, branch: &str) -> Option<Oid> {
        self.repo
            .refname_to_id(&format!("refs/heads/{branch}"))
            .ok()
    }

    /// A commit by someone else, straight onto `branch` of the upstream.
    fn commit_on(&self, branch: &str, files: &[(&str, &[u8], i32)], message: &str) -> Oid {
        let parent = self
            .head(branch)
            .and_then(|o| self.repo.find_commit(o).ok());
        let mut update = git2::build::TreeUpdateBuilder::new();
        for (path, content, mode) in files {
            let blob = self.repo.blob(content).unwrap_or_else(|e| panic!("{e}"));
            let mode = match mode {
                0o100755 => git2::FileMode::BlobExecutable,
                0o120000 => git2::FileMode::Link,
                _ => git2::FileMode::Blob,
            };
            update.upsert(*path, blob, mode);
        }
        let base = match &parent {
            Some(p) => p.tree().unwrap_or_else(|e| panic!("{e}")),
            None => {
                let empty = self
                    .repo
                    .treebuilder(None)
                    .and_then(|b| b.write())
                    .unwrap_or_else(|e| panic!("{e}"));
                self.repo.find_tree(empty).unwrap_or_else(|e| panic!("{e}"))
            }
        };
        let tree_id = update
            .create_updated(&self.repo, &base)
            .unwrap_or_else(|e| panic!("{e}"));
        let tree = self
            .repo
            .find_tree(tree_id)
            .unwrap_or_else(|e| panic!("{e}"));
        let sig = git2::Signature::now("Dana Human", "dana@example.com")
            .unwrap_or_else(|e| panic!("{e}"));
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        self.repo
            .commit(
                Some(&format!("refs/heads/{branch}")),
                &sig,
                &sig,
                message,
                &tree,
                &parents,
            )
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn file(&self, branch: &str, path: &str) -> Option<String> {
        let commit = self.repo.find_commit(self.head(branch)?).ok()?;
        let entry = commit.tree().ok()?.get_path(Path::new(path)).ok()?;
        let blob = self.repo.find_blob(entry.id()).ok()?;
        Some(String::from_utf8_lossy(blob.content()).into_owned())
    }
}

fn when() -> jiff::Timestamp {
    jiff::Timestamp::from_second(1_764_000_000).unwrap_or_default()
}

fn mirror(up: &Upstream) -> (tempfile::TempDir, Mirror) {
    let cache = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let m = Mirror::open(cache.path(), &up.url()).unwrap_or_else(|e| panic!("{e}"));
    m.fetch(None).unwrap_or_else(|e| panic!("{e}"));
    (cache, m)
}

fn edit(m: &Mirror, parent: Oid, text: &str) -> Oid {
    m.commit(
        parent,
        &[("apps/web/deployment.yaml".into(), text.into())],
        "suture",
        "suture@example.com",
        "fix(web): raise memory limit 512Mi -> 640Mi\n\nIncident: prod/web/Deployment/web/oom-killed\n",
        when(),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

const EDITED: &str = "kind: Deployment\n# keep me\nmemory: 640Mi\n";

#[test]
fn tree_reads_text_files_and_symlinks_from_git_objects() {
    let up = Upstream::new();
    let (_c, m) = mirror(&up);
    let main = m
        .remote_branch("main")
        .unwrap_or_else(|| panic!("main fetched"));
    assert_eq!(Some(main), up.head("main"));
    let tree = m.tree(main).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        tree.file("apps/web/deployment.yaml"),
        Some("kind: Deployment\n# keep me\nmemory: 512Mi\n")
    );
    assert_eq!(tree.file("apps/web/run.sh"), Some("#!/bin/sh\n"));
    // Binary files are not manifests; symlinks are kept as links, not followed.
    assert_eq!(tree.file("apps/web/logo.png"), None);
    assert_eq!(
        tree.entries.get("apps/link"),
        Some(&crate::gitops::tree::Entry::Symlink("web".into()))
    );
}

#[test]
fn a_new_branch_carries_one_commit_with_the_edit() {
    let up = Upstream::new();
    let (_c, m) = mirror(&up);
    let main = m.remote_branch("main").unwrap_or_else(|| panic!("main"));
    let commit = edit(&m, main, EDITED);
    let branch = "suture/oom-killed/web/web-1a2b3c4d";
    m.push(commit, branch, Expect::Absent, None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(up.head(branch), Some(commit));
    assert_eq!(
        up.file(branch, "apps/web/deployment.yaml").as_deref(),
        Some(EDITED)
    );
    // Only the one file changed; the executable stays executable; main is untouched.
    let c = up
        .repo
        .find_commit(commit)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.parent_id(0).ok(), Some(main));
    let diff = up
        .repo
        .diff_tree_to_tree(
            c.parent(0).and_then(|p| p.tree()).ok().as_ref(),
            c.tree().ok().as_ref(),
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let changed: Vec<String> = diff
        .deltas()
        .filter_map(|d| d.new_file().path().map(|p| p.display().to_string()))
        .collect();
    assert_eq!(changed, ["apps/web/deployment.yaml"]);
    let mode = c
        .tree()
        .and_then(|t| {
            t.get_path(Path::new("apps/web/run.sh"))
                .map(|e| e.filemode())
        })
        .unwrap_or(0);
    assert_eq!(mode, 0o100755);
    assert_eq!(up.head("main"), Some(main));
    let (email, message) = m.commit_info(commit).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(email, "suture@example.com");
    assert!(message.ends_with("Incident: prod/web/Deployment/web/oom-killed\n"));
    // Pushing the same commit again is a no-op, not an error.
    m.push(commit, branch, Expect::At(commit), None)
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_push_never_overwrites_someone_elses_branch() {
    let up = Upstream::new();
    let (_c, m) = mirror(&up);
    let main = m.remote_branch("main").unwrap_or_else(|| panic!("main"));
    let branch = "suture/oom-killed/web/web-1a2b3c4d";
    let ours = edit(&m, main, EDITED);
    m.push(ours, branch, Expect::Absent, None)
        .unwrap_or_else(|e| panic!("{e}"));
    // A second "new" branch push finds it there.
    let again = edit(&m, main, "kind: Deployment\nmemory: 704Mi\n");
    assert!(matches!(
        m.push(again, branch, Expect::Absent, None),
        Err(RepoError::Moved { .. })
    ));
    // A person pushes to suture's branch: suture's replacement push is refused.
    let theirs = up.commit_on(
        branch,
        &[(
            "apps/web/deployment.yaml",
            b"memory: 1Gi\n".as_slice(),
            0o100644,
        )],
        "I know better",
    );
    match m.push(again, branch, Expect::At(ours), None) {
        Err(RepoError::Moved {
            expected, actual, ..
        }) => {
            assert_eq!(expected, ours.to_string());
            assert_eq!(actual, theirs.to_string());
        }
        other => panic!("expected Moved, got {other:?}"),
    }
    assert_eq!(up.head(branch), Some(theirs));
    // Replacing suture's own push (a rebase) is allowed while the branch is still suture's.
    let branch2 = "suture/oom-killed/web/other-00000000";
    let first = edit(&m, main, EDITED);
    m.push(first, branch2, Expect::Absent, None)
        .unwrap_or_else(|e| panic!("{e}"));
    let second = edit(&m, main, "kind: Deployment\n# keep me\nmemory: 704Mi\n");
    m.push(second, branch2, Expect::At(first), None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(up.head(branch2), Some(second));
}

#[test]
fn fetch_is_incremental_and_prunes_deleted_branches() {
    let up = Upstream::new();
    let (cache, m) = mirror(&up);
    let first = m.remote_branch("main");
    let moved = up.commit_on(
        "main",
        &[(
            "apps/api/deployment.yaml",
            b"kind: Deployment\n".as_slice(),
            0o100644,
        )],
        "add api",
    );
    up.commit_on(
        "feature",
        &[("x.yaml", b"a: 1\n".as_slice(), 0o100644)],
        "feature",
    );
    m.fetch(None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.remote_branch("main"), Some(moved));
    assert_ne!(first, Some(moved));
    assert!(m.remote_branch("feature").is_some());
    let mut feature = up
        .repo
        .find_branch("feature", git2::BranchType::Local)
        .unwrap_or_else(|e| panic!("{e}"));
    feature.delete().unwrap_or_else(|e| panic!("{e}"));
    m.fetch(None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.remote_branch("feature"), None);
    // Reopening the cache finds the same mirror, objects included.
    let again = Mirror::open(cache.path(), &up.url()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again.remote_branch("main"), Some(moved));
    assert_eq!(
        m.commits_between(first.unwrap_or(moved), moved)
            .unwrap_or_default(),
        vec![moved]
    );
}

#[test]
fn unsafe_paths_and_branch_names_are_refused() {
    let up = Upstream::new();
    let (_c, m) = mirror(&up);
    let main = m.remote_branch("main").unwrap_or_else(|| panic!("main"));
    for bad in [
        "../escape.yaml",
        "/abs.yaml",
        "a//b.yaml",
        ".git/config",
        "a/./b",
    ] {
        assert!(
            matches!(
                m.commit(main, &[(bad.into(), "x".into())], "s", "s@x", "m", when()),
                Err(RepoError::Path(_))
            ),
            "{bad}"
        );
    }
    assert!(matches!(
        m.push(main, "bad..name", Expect::Absent, None),
        Err(RepoError::Path(_))
    ));
    assert!(matches!(
        m.tree(Oid::ZERO_SHA1),
        Err(RepoError::NotFound(_))
    ));
}

#[test]
fn an_unreachable_remote_is_a_transient_error() {
    let cache = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let m = Mirror::open(cache.path(), "file:///nonexistent/repo.git")
        .unwrap_or_else(|e| panic!("{e}"));
    let err = m
        .fetch(None)
        .err()
        .unwrap_or_else(|| panic!("fetch must fail"));
    assert!(err.is_transient(), "{err:?}");
    assert_ne!(mirror_dir(cache.path(), "a"), mirror_dir(cache.path(), "b"));
}
