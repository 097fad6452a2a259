//! Bare repositories on disk (`<root>/<owner>/<name>.git`) and the Git operations the simulators
//! need, done with git2 so that merges are real Git merges.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use git2::{BranchType, Commit, Index, IndexEntry, IndexTime, Oid, Repository, Signature};

use super::GitSimError;

type Result<T> = std::result::Result<T, GitSimError>;

/// How a head branch lands on its base, as GitHub's `merge_method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeMethod {
    /// A merge commit with the base tip and the head tip as parents.
    Merge,
    /// One new commit on the base with the merged tree.
    Squash,
    /// Each head commit replayed onto the base.
    Rebase,
}

impl MergeMethod {
    pub fn parse(s: &str) -> Option<MergeMethod> {
        match s {
            "merge" => Some(MergeMethod::Merge),
            "squash" => Some(MergeMethod::Squash),
            "rebase" => Some(MergeMethod::Rebase),
            _ => None,
        }
    }
}

/// Result of [`RepoStore::merge`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeOutcome {
    /// The base branch now points at `sha`.
    Merged { sha: String },
    /// Nothing was written; these paths conflict (empty for a rebase over merge commits).
    Conflict { paths: Vec<String> },
}

/// A commit as tests want to see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitInfo {
    pub sha: String,
    pub parents: Vec<String>,
    pub message: String,
    pub author_name: String,
    pub author_email: String,
}

/// The repositories of one simulated remote. Cloning shares the same root.
#[derive(Debug, Clone)]
pub struct RepoStore {
    root: Arc<PathBuf>,
    // Keeps a temporary root alive as long as any clone of the store.
    _temp: Option<Arc<tempfile::TempDir>>,
}

const SIM_NAME: &str = "suture-sim";
const SIM_EMAIL: &str = "sim@suture.invalid";

impl RepoStore {
    /// A store rooted at `root` (created if missing).
    pub fn new(root: impl Into<PathBuf>) -> Result<RepoStore> {
        let root = root.into();
        std::fs::create_dir_all(&root)?;
        Ok(RepoStore {
            root: Arc::new(root),
            _temp: None,
        })
    }

    /// A store in a fresh temporary directory, removed when the last clone is dropped.
    pub fn temp() -> Result<RepoStore> {
        let dir = tempfile::Builder::new().prefix("suture-git-").tempdir()?;
        Ok(RepoStore {
            root: Arc::new(dir.path().to_path_buf()),
            _temp: Some(Arc::new(dir)),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The bare repository directory of `owner/name`.
    pub fn path(&self, full_name: &str) -> Result<PathBuf> {
        let (owner, name) = split_full_name(full_name)?;
        Ok(self.root.join(owner).join(format!("{name}.git")))
    }

    pub fn exists(&self, full_name: &str) -> bool {
        self.path(full_name).is_ok_and(|p| p.join("HEAD").is_file())
    }

    /// Create an empty bare repository whose HEAD names `default_branch`.
    pub fn create(&self, full_name: &str, default_branch: &str) -> Result<()> {
        check_branch(default_branch)?;
        let path = self.path(full_name)?;
        if path.exists() {
            return Err(GitSimError::RepoExists(full_name.to_owned()));
        }
        let repo = Repository::init_opts(
            &path,
            git2::RepositoryInitOptions::new()
                .bare(true)
                .initial_head(default_branch),
        )?;
        // Pushes over http-backend need this when REMOTE_USER is unset; set it anyway so
        // the remote does not depend on how the request was authenticated.
        repo.config()?.set_bool("http.receivepack", true)?;
        Ok(())
    }

    fn open(&self, full_name: &str) -> Result<Repository> {
        let path = self.path(full_name)?;
        if !path.join("HEAD").is_file() {
            return Err(GitSimError::RepoNotFound(full_name.to_owned()));
        }
        Ok(Repository::open_bare(path)?)
    }

    /// The branch HEAD names.
    pub fn default_branch(&self, full_name: &str) -> Result<String> {
        let repo = self.open(full_name)?;
        let head = repo.find_reference("HEAD")?;
        let target = head.symbolic_target()?.unwrap_or("refs/heads/main");
        Ok(target
            .strip_prefix("refs/heads/")
            .unwrap_or(target)
            .to_owned())
    }

    /// Commit `files` (path -> content, written over the branch's tree) on `branch`, creating
    /// the branch (as a root commit) if it does not exist. Returns the new commit's sha.
    pub fn commit_files<I, P, C>(
        &self,
        full_name: &str,
        branch: &str,
        files: I,
        message: &str,
    ) -> Result<String>
    where
        I: IntoIterator<Item = (P, C)>,
        P: AsRef<str>,
        C: AsRef<[u8]>,
    {
        let changes = files
            .into_iter()
            .map(|(p, c)| (p.as_ref().to_owned(), Some(c.as_ref().to_vec())))
            .collect();
        self.commit_changes(full_name, branch, changes, message, (SIM_NAME, SIM_EMAIL))
    }

    /// [`RepoStore::commit_files`] by someone else (`name <email>`), e.g. a human pushing to
    /// the bot's branch.
    pub fn commit_files_as<I, P, C>(
        &self,
        full_name: &str,
        branch: &str,
        files: I,
        message: &str,
        author: (&str, &str),
    ) -> Result<String>
    where
        I: IntoIterator<Item = (P, C)>,
        P: AsRef<str>,
        C: AsRef<[u8]>,
    {
        let changes = files
            .into_iter()
            .map(|(p, c)| (p.as_ref().to_owned(), Some(c.as_ref().to_vec())))
            .collect();
        self.commit_changes(full_name, branch, changes, message, author)
    }

    /// Commit the removal of `paths` on an existing `branch`.
    pub fn remove_files<I, P>(
        &self,
        full_name: &str,
        branch: &str,
        paths: I,
        message: &str,
    ) -> Result<String>
    where
        I: IntoIterator<Item = P>,
        P: AsRef<str>,
    {
        let changes = paths
            .into_iter()
            .map(|p| (p.as_ref().to_owned(), None))
            .collect();
        self.commit_changes(full_name, branch, changes, message, (SIM_NAME, SIM_EMAIL))
    }

    fn commit_changes(
        &self,
        full_name: &str,
        branch: &str,
        changes: Vec<(String, Option<Vec<u8>>)>,
        message: &str,
        author: (&str, &str),
    ) -> Result<String> {
        check_branch(branch)?;
        let repo = self.open(full_name)?;
        let refname = format!("refs/heads/{branch}");
        let parent = match repo.find_reference(&refname) {
            Ok(r) => Some(r.peel_to_commit()?),
            Err(e) if e.code() == git2::ErrorCode::NotFound => None,
            Err(e) => return Err(e.into()),
        };
        // An in-memory index holds the whole tree, so nested paths need no tree walking.
        let mut index = Index::new()?;
        if let Some(p) = &parent {
            index.read_tree(&p.tree()?)?;
        }
        for (path, content) in changes {
            check_file_path(&path)?;
            match content {
                Some(bytes) => {
                    let id = repo.blob(&bytes)?;
                    index.add(&file_entry(&path, id, bytes.len()))?;
                }
                None => index.remove_path(Path::new(&path))?,
            }
        }
        let tree = repo.find_tree(index.write_tree_to(&repo)?)?;
        let sig = Signature::now(author.0, author.1)?;
        let parents: Vec<&Commit> = parent.iter().collect();
        // Passing the ref makes libgit2 refuse if the branch moved since we read it.
        let id = repo
            .commit(Some(&refname), &sig, &sig, message, &tree, &parents)
            .map_err(|e| moved_or(e, &refname))?;
        Ok(id.to_string())
    }

    /// The content of `path` at `rev` (branch, full ref or sha); `None` if the path is absent.
    pub fn read_file(&self, full_name: &str, rev: &str, path: &str) -> Result<Option<Vec<u8>>> {
        let repo = self.open(full_name)?;
        let commit = resolve_commit(&repo, rev)?;
        let tree = commit.tree()?;
        let entry = match tree.get_path(Path::new(path)) {
            Ok(e) => e,
            Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        match entry.to_object(&repo)?.into_blob() {
            Ok(blob) => Ok(Some(blob.content().to_vec())),
            Err(_) => Ok(None),
        }
    }

    /// Every file path at `rev`, sorted.
    pub fn list_files(&self, full_name: &str, rev: &str) -> Result<Vec<String>> {
        let repo = self.open(full_name)?;
        let tree = resolve_commit(&repo, rev)?.tree()?;
        let mut out = Vec::new();
        tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
            if entry.kind() == Some(git2::ObjectType::Blob) {
                out.push(format!(
                    "{dir}{}",
                    String::from_utf8_lossy(entry.name_bytes())
                ));
            }
            git2::TreeWalkResult::Ok
        })?;
        out.sort();
        Ok(out)
    }

    /// Branch name -> tip sha.
    pub fn branches(&self, full_name: &str) -> Result<BTreeMap<String, String>> {
        let repo = self.open(full_name)?;
        let mut out = BTreeMap::new();
        for b in repo.branches(Some(BranchType::Local))? {
            let (b, _) = b?;
            if let (Ok(Some(name)), Some(target)) = (b.name(), b.get().target()) {
                out.insert(name.to_owned(), target.to_string());
            }
        }
        Ok(out)
    }

    /// Full ref name -> sha of every direct ref (branches, tags, others).
    pub fn refs(&self, full_name: &str) -> Result<BTreeMap<String, String>> {
        let repo = self.open(full_name)?;
        let mut out = BTreeMap::new();
        for r in repo.references()? {
            let r = r?;
            if let (Ok(name), Some(target)) = (r.name(), r.target()) {
                out.insert(name.to_owned(), target.to_string());
            }
        }
        Ok(out)
    }

    /// The sha a full ref (`refs/heads/x`) points at, if it exists.
    pub fn ref_target(&self, full_name: &str, refname: &str) -> Result<Option<String>> {
        check_ref(refname)?;
        let repo = self.open(full_name)?;
        match repo.find_reference(refname) {
            Ok(r) => Ok(r.resolve()?.target().map(|o| o.to_string())),
            Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The tip sha of a branch, if it exists.
    pub fn branch_sha(&self, full_name: &str, branch: &str) -> Result<Option<String>> {
        self.ref_target(full_name, &format!("refs/heads/{branch}"))
    }

    /// Create `refname` at commit `sha`; fails if it exists or the commit is unknown.
    pub fn create_ref(&self, full_name: &str, refname: &str, sha: &str) -> Result<()> {
        check_ref(refname)?;
        let repo = self.open(full_name)?;
        let oid = find_commit_oid(&repo, sha)?;
        repo.reference(refname, oid, false, "create ref")
            .map_err(|e| match e.code() {
                git2::ErrorCode::Exists => GitSimError::RefExists(refname.to_owned()),
                _ => e.into(),
            })?;
        Ok(())
    }

    /// Move an existing `refname` to `sha`; without `force` only a fast-forward is allowed.
    pub fn update_ref(&self, full_name: &str, refname: &str, sha: &str, force: bool) -> Result<()> {
        check_ref(refname)?;
        let repo = self.open(full_name)?;
        let new = find_commit_oid(&repo, sha)?;
        let current = repo
            .find_reference(refname)
            .map_err(|e| not_found_ref(e, refname))?;
        let old = current
            .target()
            .ok_or_else(|| GitSimError::InvalidRef(refname.to_owned()))?;
        if !force && old != new && !repo.graph_descendant_of(new, old)? {
            return Err(GitSimError::NotFastForward(refname.to_owned()));
        }
        repo.reference_matching(refname, new, true, old, "update ref")
            .map_err(|e| moved_or(e, refname))?;
        Ok(())
    }

    /// Delete `refname`.
    pub fn delete_ref(&self, full_name: &str, refname: &str) -> Result<()> {
        check_ref(refname)?;
        let repo = self.open(full_name)?;
        let mut r = repo
            .find_reference(refname)
            .map_err(|e| not_found_ref(e, refname))?;
        r.delete()?;
        Ok(())
    }

    /// A commit by sha or rev.
    pub fn commit_info(&self, full_name: &str, rev: &str) -> Result<CommitInfo> {
        let repo = self.open(full_name)?;
        let c = resolve_commit(&repo, rev)?;
        Ok(CommitInfo {
            sha: c.id().to_string(),
            parents: c.parent_ids().map(|p| p.to_string()).collect(),
            message: String::from_utf8_lossy(c.message_bytes()).into_owned(),
            author_name: String::from_utf8_lossy(c.author().name_bytes()).into_owned(),
            author_email: String::from_utf8_lossy(c.author().email_bytes()).into_owned(),
        })
    }

    /// Whether `descendant` contains `ancestor` (a commit is its own descendant here).
    pub fn is_ancestor(&self, full_name: &str, ancestor: &str, descendant: &str) -> Result<bool> {
        let repo = self.open(full_name)?;
        let a = resolve_commit(&repo, ancestor)?.id();
        let d = resolve_commit(&repo, descendant)?.id();
        Ok(a == d || repo.graph_descendant_of(d, a)?)
    }

    /// Commits reachable from `head` but not from `base`, oldest first.
    pub fn commits_between(&self, full_name: &str, base: &str, head: &str) -> Result<Vec<String>> {
        let repo = self.open(full_name)?;
        Ok(walk_between(&repo, base, head)?
            .into_iter()
            .map(|o| o.to_string())
            .collect())
    }

    /// (additions, deletions, changed files) of `head` against its merge base with `base`.
    pub fn diff_stats(&self, full_name: &str, base: &str, head: &str) -> Result<(u64, u64, u64)> {
        let repo = self.open(full_name)?;
        let b = resolve_commit(&repo, base)?;
        let h = resolve_commit(&repo, head)?;
        let mb = repo.find_commit(repo.merge_base(b.id(), h.id())?)?;
        let diff = repo.diff_tree_to_tree(Some(&mb.tree()?), Some(&h.tree()?), None)?;
        let s = diff.stats()?;
        Ok((
            s.insertions() as u64,
            s.deletions() as u64,
            s.files_changed() as u64,
        ))
    }

    /// Whether `head` merges cleanly into `base` (nothing is written).
    pub fn can_merge(&self, full_name: &str, base: &str, head: &str) -> Result<bool> {
        let repo = self.open(full_name)?;
        let b = resolve_commit(&repo, base)?;
        let h = resolve_commit(&repo, head)?;
        Ok(!repo.merge_commits(&b, &h, None)?.has_conflicts())
    }

    /// Land branch `head` on branch `base` as GitHub would, committing as `author_login`.
    /// On success the base branch points at the returned sha; on conflict nothing changes.
    pub fn merge(
        &self,
        full_name: &str,
        base: &str,
        head: &str,
        method: MergeMethod,
        message: &str,
        author_login: &str,
    ) -> Result<MergeOutcome> {
        check_branch(base)?;
        let repo = self.open(full_name)?;
        let base_ref = format!("refs/heads/{base}");
        let base_c = repo
            .find_reference(&base_ref)
            .map_err(|e| not_found_ref(e, &base_ref))?
            .peel_to_commit()?;
        let head_c = resolve_commit(&repo, head)?;
        let author = Signature::now(author_login, &format!("{author_login}@users.noreply.sim"))?;
        // GitHub commits merges as itself with the merger as author.
        let committer = Signature::now("GitHub", "noreply@github.com")?;

        let tip = match method {
            MergeMethod::Merge | MergeMethod::Squash => {
                let mut index = repo.merge_commits(&base_c, &head_c, None)?;
                if index.has_conflicts() {
                    return Ok(MergeOutcome::Conflict {
                        paths: conflict_paths(&index)?,
                    });
                }
                let tree = repo.find_tree(index.write_tree_to(&repo)?)?;
                let parents: Vec<&Commit> = if method == MergeMethod::Merge {
                    vec![&base_c, &head_c]
                } else {
                    vec![&base_c]
                };
                repo.commit(None, &author, &committer, message, &tree, &parents)?
            }
            MergeMethod::Rebase => {
                let mut onto = base_c.clone();
                for oid in walk_between(&repo, &base_c.id().to_string(), head)? {
                    let c = repo.find_commit(oid)?;
                    if c.parent_count() > 1 {
                        // GitHub refuses to rebase merge commits too.
                        return Ok(MergeOutcome::Conflict { paths: Vec::new() });
                    }
                    let mut index = repo.cherrypick_commit(&c, &onto, 0, None)?;
                    if index.has_conflicts() {
                        return Ok(MergeOutcome::Conflict {
                            paths: conflict_paths(&index)?,
                        });
                    }
                    let tree = repo.find_tree(index.write_tree_to(&repo)?)?;
                    let id = repo.commit(
                        None,
                        &c.author(),
                        &committer,
                        &String::from_utf8_lossy(c.message_bytes()),
                        &tree,
                        &[&onto],
                    )?;
                    onto = repo.find_commit(id)?;
                }
                onto.id()
            }
        };
        // Compare-and-swap: a push to the base since we read it wins, and the caller retries.
        repo.reference_matching(&base_ref, tip, true, base_c.id(), message)
            .map_err(|e| moved_or(e, &base_ref))?;
        Ok(MergeOutcome::Merged {
            sha: tip.to_string(),
        })
    }
}

fn split_full_name(full_name: &str) -> Result<(&str, &str)> {
    let bad = || GitSimError::InvalidRepoName(full_name.to_owned());
    let (owner, name) = full_name.split_once('/').ok_or_else(bad)?;
    let name = name.strip_suffix(".git").unwrap_or(name);
    let ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 100
            && !s.starts_with('.')
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    if ok(owner) && ok(name) {
        Ok((owner, name))
    } else {
        Err(bad())
    }
}

fn check_branch(branch: &str) -> Result<()> {
    check_ref(&format!("refs/heads/{branch}"))
}

fn check_ref(refname: &str) -> Result<()> {
    if refname.starts_with("refs/") && git2::Reference::is_valid_name(refname) {
        Ok(())
    } else {
        Err(GitSimError::InvalidRef(refname.to_owned()))
    }
}

fn check_file_path(path: &str) -> Result<()> {
    let ok = !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\0')
        && path
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != ".." && c != ".git");
    if ok {
        Ok(())
    } else {
        Err(GitSimError::InvalidPath(path.to_owned()))
    }
}

fn file_entry(path: &str, id: Oid, len: usize) -> IndexEntry {
    IndexEntry {
        ctime: IndexTime::new(0, 0),
        mtime: IndexTime::new(0, 0),
        dev: 0,
        ino: 0,
        mode: 0o100644,
        uid: 0,
        gid: 0,
        file_size: u32::try_from(len).unwrap_or(u32::MAX),
        id,
        flags: 0,
        flags_extended: 0,
        path: path.as_bytes().to_vec(),
    }
}

fn resolve_commit<'r>(repo: &'r Repository, rev: &str) -> Result<Commit<'r>> {
    // A bare branch name first, so a branch called like a sha prefix still resolves as GitHub does.
    let obj = repo
        .revparse_single(&format!("refs/heads/{rev}"))
        .or_else(|_| repo.revparse_single(rev))
        .map_err(|_| GitSimError::ObjectNotFound(rev.to_owned()))?;
    obj.peel_to_commit()
        .map_err(|_| GitSimError::ObjectNotFound(rev.to_owned()))
}

fn find_commit_oid(repo: &Repository, sha: &str) -> Result<Oid> {
    let missing = || GitSimError::ObjectNotFound(sha.to_owned());
    let oid = Oid::from_str(sha).map_err(|_| missing())?;
    if sha.len() != 40 {
        return Err(missing());
    }
    repo.find_commit(oid).map(|c| c.id()).map_err(|_| missing())
}

fn walk_between(repo: &Repository, base: &str, head: &str) -> Result<Vec<Oid>> {
    let b = resolve_commit(repo, base)?.id();
    let h = resolve_commit(repo, head)?.id();
    let mut walk = repo.revwalk()?;
    walk.push(h)?;
    walk.hide(b)?;
    walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE)?;
    Ok(walk.collect::<std::result::Result<Vec<_>, _>>()?)
}

fn conflict_paths(index: &Index) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for c in index.conflicts()? {
        let c = c?;
        let entry = c.our.or(c.their).or(c.ancestor);
        if let Some(e) = entry {
            out.push(String::from_utf8_lossy(&e.path).into_owned());
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn not_found_ref(e: git2::Error, refname: &str) -> GitSimError {
    if e.code() == git2::ErrorCode::NotFound {
        GitSimError::RefNotFound(refname.to_owned())
    } else {
        e.into()
    }
}

fn moved_or(e: git2::Error, refname: &str) -> GitSimError {
    match e.code() {
        git2::ErrorCode::Modified | git2::ErrorCode::Locked => {
            GitSimError::RefMoved(refname.to_owned())
        }
        _ => e.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> RepoStore {
        let s = RepoStore::temp().unwrap();
        s.create("acme/app", "main").unwrap();
        s
    }

    #[test]
    fn rejects_names_that_escape_the_root() {
        let s = RepoStore::temp().unwrap();
        for bad in ["../x", "a/..", "a", "a/b/c", "/a/b", "a/.git", "a/b c", ""] {
            assert!(s.create(bad, "main").is_err(), "{bad}");
        }
        assert!(s.create("acme/app", "bad..branch").is_err());
    }

    #[test]
    fn commit_read_and_list() {
        let s = store();
        assert_eq!(s.default_branch("acme/app").unwrap(), "main");
        let c1 = s
            .commit_files(
                "acme/app",
                "main",
                [("a.yaml", "a: 1\n"), ("dir/sub/b.yaml", "b: 2\n")],
                "seed",
            )
            .unwrap();
        let c2 = s
            .commit_files("acme/app", "main", [("a.yaml", "a: 3\n")], "change")
            .unwrap();
        assert_eq!(
            s.commit_info("acme/app", &c2).unwrap().parents,
            vec![c1.clone()]
        );
        assert_eq!(
            s.read_file("acme/app", "main", "dir/sub/b.yaml").unwrap(),
            Some(b"b: 2\n".to_vec())
        );
        assert_eq!(
            s.read_file("acme/app", &c1, "a.yaml").unwrap(),
            Some(b"a: 1\n".to_vec())
        );
        assert_eq!(s.read_file("acme/app", "main", "nope").unwrap(), None);
        assert_eq!(
            s.list_files("acme/app", "main").unwrap(),
            vec!["a.yaml", "dir/sub/b.yaml"]
        );
        s.remove_files("acme/app", "main", ["a.yaml"], "rm")
            .unwrap();
        assert_eq!(
            s.list_files("acme/app", "main").unwrap(),
            vec!["dir/sub/b.yaml"]
        );
        assert!(matches!(
            s.commit_files("acme/app", "main", [("../x", "")], "bad"),
            Err(GitSimError::InvalidPath(_))
        ));
        assert!(matches!(
            s.read_file("acme/nope", "main", "a"),
            Err(GitSimError::RepoNotFound(_))
        ));
    }

    #[test]
    fn refs_create_update_delete() {
        let s = store();
        let c1 = s
            .commit_files("acme/app", "main", [("a", "1")], "one")
            .unwrap();
        s.create_ref("acme/app", "refs/heads/feature", &c1).unwrap();
        assert!(matches!(
            s.create_ref("acme/app", "refs/heads/feature", &c1),
            Err(GitSimError::RefExists(_))
        ));
        let c2 = s
            .commit_files("acme/app", "feature", [("a", "2")], "two")
            .unwrap();
        // main -> c2 is a fast-forward; back to c1 is not.
        s.update_ref("acme/app", "refs/heads/main", &c2, false)
            .unwrap();
        assert!(matches!(
            s.update_ref("acme/app", "refs/heads/main", &c1, false),
            Err(GitSimError::NotFastForward(_))
        ));
        s.update_ref("acme/app", "refs/heads/main", &c1, true)
            .unwrap();
        assert!(matches!(
            s.create_ref(
                "acme/app",
                "refs/heads/x",
                "0000000000000000000000000000000000000001"
            ),
            Err(GitSimError::ObjectNotFound(_))
        ));
        let branches = s.branches("acme/app").unwrap();
        assert_eq!(branches.get("main"), Some(&c1));
        assert_eq!(branches.get("feature"), Some(&c2));
        s.delete_ref("acme/app", "refs/heads/feature").unwrap();
        assert_eq!(s.branch_sha("acme/app", "feature").unwrap(), None);
        assert!(matches!(
            s.delete_ref("acme/app", "refs/heads/feature"),
            Err(GitSimError::RefNotFound(_))
        ));
    }

    fn diverged() -> RepoStore {
        let s = store();
        s.commit_files("acme/app", "main", [("a", "1\n"), ("b", "1\n")], "seed")
            .unwrap();
        let base = s.branch_sha("acme/app", "main").unwrap().unwrap();
        s.create_ref("acme/app", "refs/heads/fix", &base).unwrap();
        s.commit_files("acme/app", "fix", [("a", "2\n")], "fix a")
            .unwrap();
        s.commit_files("acme/app", "main", [("b", "2\n")], "bump b")
            .unwrap();
        s
    }

    #[test]
    fn merge_creates_a_two_parent_commit() {
        let s = diverged();
        let base = s.branch_sha("acme/app", "main").unwrap().unwrap();
        let head = s.branch_sha("acme/app", "fix").unwrap().unwrap();
        assert!(s.can_merge("acme/app", "main", "fix").unwrap());
        assert_eq!(
            s.commits_between("acme/app", "main", "fix").unwrap(),
            vec![head.clone()]
        );
        assert_eq!(s.diff_stats("acme/app", "main", "fix").unwrap(), (1, 1, 1));
        let out = s
            .merge(
                "acme/app",
                "main",
                "fix",
                MergeMethod::Merge,
                "Merge fix",
                "alice",
            )
            .unwrap();
        let MergeOutcome::Merged { sha } = out else {
            panic!("{out:?}")
        };
        let info = s.commit_info("acme/app", &sha).unwrap();
        assert_eq!(info.parents, vec![base, head]);
        assert_eq!(info.author_name, "alice");
        assert_eq!(s.branch_sha("acme/app", "main").unwrap(), Some(sha.clone()));
        assert_eq!(
            s.read_file("acme/app", "main", "a").unwrap(),
            Some(b"2\n".to_vec())
        );
        assert_eq!(
            s.read_file("acme/app", "main", "b").unwrap(),
            Some(b"2\n".to_vec())
        );
    }

    #[test]
    fn squash_and_rebase_keep_a_linear_base() {
        for method in [MergeMethod::Squash, MergeMethod::Rebase] {
            let s = diverged();
            let base = s.branch_sha("acme/app", "main").unwrap().unwrap();
            let MergeOutcome::Merged { sha } = s
                .merge("acme/app", "main", "fix", method, "land fix", "bob")
                .unwrap()
            else {
                panic!("conflict")
            };
            assert_eq!(s.commit_info("acme/app", &sha).unwrap().parents, vec![base]);
            assert_eq!(
                s.read_file("acme/app", "main", "a").unwrap(),
                Some(b"2\n".to_vec())
            );
        }
    }

    #[test]
    fn conflict_leaves_base_alone() {
        let s = diverged();
        s.commit_files("acme/app", "main", [("a", "3\n")], "clash")
            .unwrap();
        let before = s.branch_sha("acme/app", "main").unwrap();
        assert!(!s.can_merge("acme/app", "main", "fix").unwrap());
        for method in [MergeMethod::Merge, MergeMethod::Squash, MergeMethod::Rebase] {
            let out = s
                .merge("acme/app", "main", "fix", method, "m", "alice")
                .unwrap();
            assert_eq!(
                out,
                MergeOutcome::Conflict {
                    paths: vec!["a".into()]
                }
            );
        }
        assert_eq!(s.branch_sha("acme/app", "main").unwrap(), before);
    }
}
