//! Tokens shared by the Git remote and the forge APIs, and parsing of `Authorization` headers the
//! way GitHub accepts them.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use base64::Engine as _;

/// Token -> login (and, for a GitHub App installation token, when it expires). Cloning shares
/// the same table, so the Git remote and a forge API that were given clones accept the same
/// tokens.
#[derive(Debug, Clone, Default)]
pub struct Tokens(Arc<RwLock<HashMap<String, Entry>>>);

#[derive(Debug, Clone)]
struct Entry {
    login: String,
    /// Refused from this instant on; `None`: never expires.
    expires_at: Option<jiff::Timestamp>,
}

impl Tokens {
    pub fn new() -> Self {
        Self::default()
    }

    /// Accept `token` as `login` from now on.
    pub fn insert(&self, token: impl Into<String>, login: impl Into<String>) {
        self.0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                token.into(),
                Entry {
                    login: login.into(),
                    expires_at: None,
                },
            );
    }

    /// Accept `token` as `login` until `expires_at` (an installation access token).
    pub fn insert_until(
        &self,
        token: impl Into<String>,
        login: impl Into<String>,
        expires_at: jiff::Timestamp,
    ) {
        self.0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                token.into(),
                Entry {
                    login: login.into(),
                    expires_at: Some(expires_at),
                },
            );
    }

    /// Stop accepting `token`; true if it was known.
    pub fn revoke(&self, token: &str) -> bool {
        self.0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(token)
            .is_some()
    }

    /// The login a token belongs to, unless it expired.
    pub fn login(&self, token: &str) -> Option<String> {
        let now = jiff::Timestamp::now();
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(token)
            .filter(|e| e.expires_at.is_none_or(|t| now < t))
            .map(|e| e.login.clone())
    }

    /// The login behind an `Authorization` header value, if it carries a known token.
    pub fn authenticate(&self, header: &str) -> Option<String> {
        Credential::parse(header).and_then(|c| self.login(&c.token))
    }
}

/// A token read from an `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub token: String,
}

impl Credential {
    /// `Bearer <t>`, `token <t>`, or Basic with the token as password (any user, e.g.
    /// `x-access-token`) or as user with an empty / `x-oauth-basic` password.
    pub fn parse(header: &str) -> Option<Credential> {
        let (scheme, rest) = header.trim().split_once(' ')?;
        let rest = rest.trim();
        let token = match scheme.to_ascii_lowercase().as_str() {
            "bearer" | "token" => rest.to_owned(),
            "basic" => {
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(rest)
                    .ok()?;
                let text = String::from_utf8(raw).ok()?;
                let (user, pass) = text.split_once(':').unwrap_or((text.as_str(), ""));
                if pass.is_empty() || pass == "x-oauth-basic" {
                    user.to_owned()
                } else {
                    pass.to_owned()
                }
            }
            _ => return None,
        };
        (!token.is_empty()).then_some(Credential { token })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(s: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(s)
        )
    }

    #[test]
    fn parses_the_forms_github_accepts() {
        let t = |h: &str| Credential::parse(h).map(|c| c.token);
        assert_eq!(t("Bearer abc").as_deref(), Some("abc"));
        assert_eq!(t("token abc").as_deref(), Some("abc"));
        assert_eq!(t(&basic("x-access-token:abc")).as_deref(), Some("abc"));
        assert_eq!(t(&basic("someone:abc")).as_deref(), Some("abc"));
        assert_eq!(t(&basic("abc:x-oauth-basic")).as_deref(), Some("abc"));
        assert_eq!(t(&basic("abc:")).as_deref(), Some("abc"));
        assert_eq!(t("Basic !!!"), None);
        assert_eq!(t("Bearer "), None);
        assert_eq!(t("Digest x"), None);
        assert_eq!(t(""), None);
    }

    #[test]
    fn shared_table() {
        let a = Tokens::new();
        let b = a.clone();
        a.insert("t1", "alice");
        assert_eq!(b.authenticate("Bearer t1").as_deref(), Some("alice"));
        assert!(b.revoke("t1"));
        assert_eq!(a.login("t1"), None);
    }

    #[test]
    fn expiring_tokens_are_refused_after_their_time() {
        let t = Tokens::new();
        let now = jiff::Timestamp::now();
        t.insert_until(
            "live",
            "app[bot]",
            now + jiff::SignedDuration::from_hours(1),
        );
        t.insert_until("dead", "app[bot]", now - jiff::SignedDuration::from_secs(1));
        assert_eq!(t.login("live").as_deref(), Some("app[bot]"));
        assert_eq!(t.login("dead"), None);
    }
}
