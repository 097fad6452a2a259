//! A repository URL as Argo CD Applications name it (`https://host/owner/name.git`,
//! `http://host:port/group/sub/project`, `git@host:owner/name.git`, `ssh://git@host/...`),
//! reduced to its host and repository path. Pure.

use super::ForgeError;

/// `owner/name` on GitHub, `group/sub/project` on GitLab: no leading or trailing `/`, no `.git`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoPath(String);

impl RepoPath {
    pub fn new(path: &str) -> Result<RepoPath, ForgeError> {
        let path = path.trim_matches('/');
        let path = path.strip_suffix(".git").unwrap_or(path);
        let ok = path.split('/').count() >= 2
            && path
                .split('/')
                .all(|s| !s.is_empty() && s != "." && s != "..");
        if !ok {
            return Err(ForgeError::Config(format!(
                "{path:?} is not a repository path like owner/name"
            )));
        }
        Ok(RepoPath(path.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first segment (GitHub owner, GitLab top-level group) and the rest.
    pub fn split(&self) -> (&str, &str) {
        self.0.split_once('/').unwrap_or((&self.0, ""))
    }
}

impl std::fmt::Display for RepoPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A parsed repository URL. Credentials in it (`https://user:token@host/...`) are dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoUrl {
    /// `host` or `host:port`, lowercase.
    pub authority: String,
    pub path: RepoPath,
}

impl RepoUrl {
    pub fn parse(url: &str) -> Result<RepoUrl, ForgeError> {
        let url = url.trim();
        let bad = || ForgeError::Config("not a repository URL (https://host/owner/name)".into());
        let (authority, path) = if let Some((scheme, rest)) = url.split_once("://") {
            if !matches!(scheme, "https" | "http" | "ssh" | "git") {
                return Err(bad());
            }
            rest.split_once('/').ok_or_else(bad)?
        } else {
            // scp-like `git@host:path`.
            let (authority, path) = url.split_once(':').ok_or_else(bad)?;
            if authority.contains('/') || path.starts_with("//") {
                return Err(bad());
            }
            (authority, path)
        };
        // Userinfo never leaves this function.
        let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
        if authority.is_empty() {
            return Err(bad());
        }
        let path = path.split(['?', '#']).next().unwrap_or_default();
        Ok(RepoUrl {
            authority: authority.to_ascii_lowercase(),
            path: RepoPath::new(path)?,
        })
    }

    /// Whether a forge configured for `host` (`github.com` or `127.0.0.1:8080`) serves this
    /// URL: the same authority, or the same host name on any port.
    pub fn is_on(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        self.authority == host || self.host_name() == host
    }

    /// The authority without its port.
    pub fn host_name(&self) -> &str {
        match self.authority.rsplit_once(':') {
            Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
            _ => &self.authority,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(url: &str) -> (String, String) {
        let u = RepoUrl::parse(url).unwrap();
        (u.authority, u.path.to_string())
    }

    #[test]
    fn https_http_and_scp_forms_give_host_and_path() {
        let want = ("github.com".to_owned(), "acme/gitops".to_owned());
        assert_eq!(parsed("https://github.com/acme/gitops.git"), want);
        assert_eq!(parsed("https://github.com/acme/gitops"), want);
        assert_eq!(parsed("https://github.com/acme/gitops/"), want);
        assert_eq!(parsed("git@github.com:acme/gitops.git"), want);
        assert_eq!(parsed("ssh://git@github.com/acme/gitops.git"), want);
        assert_eq!(parsed("https://GitHub.com/acme/gitops"), want);
        assert_eq!(
            parsed("http://127.0.0.1:40123/acme/gitops.git"),
            ("127.0.0.1:40123".to_owned(), "acme/gitops".to_owned())
        );
        assert_eq!(
            parsed("https://gitlab.example.com/platform/team/apps/gitops.git"),
            (
                "gitlab.example.com".to_owned(),
                "platform/team/apps/gitops".to_owned()
            )
        );
    }

    #[test]
    fn credentials_in_the_url_are_dropped() {
        let u = RepoUrl::parse("https://x-access-token:ghs_secret@github.com/acme/gitops").unwrap();
        assert_eq!(u.authority, "github.com");
        assert!(!format!("{u:?}").contains("ghs_secret"));
    }

    #[test]
    fn hosts_match_with_or_without_a_port() {
        let u = RepoUrl::parse("http://127.0.0.1:40123/acme/gitops.git").unwrap();
        assert!(u.is_on("127.0.0.1:40123"));
        assert!(u.is_on("127.0.0.1"));
        assert!(!u.is_on("127.0.0.1:40124"));
        assert!(!u.is_on("github.com"));
        let u = RepoUrl::parse("https://github.com/acme/gitops").unwrap();
        assert!(u.is_on("GitHub.com"));
        assert_eq!(u.host_name(), "github.com");
    }

    #[test]
    fn what_is_not_a_repository_url_is_refused() {
        for bad in [
            "",
            "github.com",
            "https://github.com",
            "https://github.com/acme",
            "https://github.com/acme//gitops",
            "https://github.com/acme/../gitops",
            "ftp://github.com/acme/gitops",
            "file:///srv/git/acme/gitops",
            "git@github.com:acme",
        ] {
            assert!(
                matches!(RepoUrl::parse(bad), Err(ForgeError::Config(_))),
                "{bad:?} was accepted"
            );
        }
    }

    #[test]
    fn a_path_splits_into_owner_and_rest() {
        let p = RepoPath::new("/platform/team/gitops.git").unwrap();
        assert_eq!(p.as_str(), "platform/team/gitops");
        assert_eq!(p.split(), ("platform", "team/gitops"));
    }
}
