//! Evidence for waiting-state faults read from kubelet messages: why an image pull fails
//! (`pull_error`) and which ConfigMap/Secret (and key) a container config is missing.

use k8s_openapi::api::core::v1::ContainerStatus;

use super::common::{PodCtx, msg};
use super::evidence::ContainerFacts;

/// Auth/permission wording of registries (Docker Hub, GHCR, ECR, GCR/Artifact Registry,
/// containerd, CRI-O). Checked before "not found": `failed to resolve reference ...: 401
/// Unauthorized` says both, and the auth error is the cause.
const UNAUTHORIZED: [&str; 7] = [
    "unauthorized",
    "authentication required",
    "403 forbidden",
    "pull access denied",
    "no basic auth credentials",
    "insufficient_scope",
    "denied:",
];
const NOT_FOUND: [&str; 6] = [
    "manifest unknown",
    "not found",
    "failed to resolve reference",
    "name unknown",
    "does not exist",
    "code = notfound",
];

/// What the evidence says about why an image pull fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PullCause {
    /// The registry has no such image or tag.
    NotFound,
    /// The registry refused access (credentials, permissions).
    Unauthorized,
    /// A reported failure that is neither (network, TLS, rate limit, ...).
    Other,
    /// No cause was reported: only the kubelet's `Back-off pulling image`, without the
    /// registry's answer (no `Failed to pull image` event, no `ErrImagePull` message).
    NotReported,
}

/// The pull cause from the waiting message and the newest `Failed to pull image` event.
pub fn pull_cause(waiting_message: &str, event_message: Option<&str>) -> PullCause {
    let class = |m: &str| match classify_pull_error(m) {
        "not-found" => PullCause::NotFound,
        "unauthorized" => PullCause::Unauthorized,
        _ => PullCause::Other,
    };
    match (class(waiting_message), event_message.map(class)) {
        (PullCause::Other, Some(from_event)) => from_event,
        (c @ (PullCause::NotFound | PullCause::Unauthorized), _) => c,
        (_, None) if reports_no_cause(waiting_message) => PullCause::NotReported,
        (c, _) => c,
    }
}

/// `Back-off pulling image "x"` (or nothing) says the kubelet is waiting, not why.
fn reports_no_cause(message: &str) -> bool {
    let m = message.trim();
    m.is_empty() || m.starts_with("Back-off pulling image")
}

/// `not-found`, `unauthorized` or `other` for a pull error message.
pub fn classify_pull_error(message: &str) -> &'static str {
    let m = message.to_ascii_lowercase();
    if UNAUTHORIZED.iter().any(|p| m.contains(p)) {
        "unauthorized"
    } else if NOT_FOUND.iter().any(|p| m.contains(p)) {
        "not-found"
    } else {
        "other"
    }
}

/// `pull_error` from the waiting message (`ErrImagePull` carries the registry's answer) or,
/// as `ImagePullBackOff` only says `Back-off pulling image`, from the newest `Failed to pull
/// image` event of the container; [`PullCause::NotReported`] when neither says why.
pub fn pull_evidence(ctx: &PodCtx, cs: &ContainerStatus, init: bool, facts: &mut ContainerFacts) {
    let waiting = cs
        .state
        .as_ref()
        .and_then(|s| s.waiting.as_ref())
        .and_then(|w| w.message.as_deref())
        .unwrap_or("");
    let events = ctx.container_events(&cs.name, init);
    let pull_event = events
        .iter()
        .filter(|e| e.reason == "Failed" && e.message.starts_with("Failed to pull image"))
        .max_by_key(|e| e.last_seen);
    facts.pull_event_message = pull_event.and_then(|e| msg(Some(&e.message)));
    facts.pull_error = Some(pull_cause(waiting, pull_event.map(|e| e.message.as_str())));
}

/// The object a `CreateContainerConfigError` message names as missing.
#[derive(Debug, PartialEq, Eq)]
pub struct Missing {
    pub kind: &'static str,
    pub namespace: Option<String>,
    pub name: String,
    pub key: Option<String>,
}

/// Parse the kubelet's messages: `couldn't find key K in ConfigMap ns/name`, `couldn't find
/// key K in Secret ns/name`, `configmap "n" not found`, `secret "n" not found` (the API
/// server's plural forms too).
pub fn parse_missing(message: &str) -> Option<Missing> {
    if let Some((_, rest)) = message.split_once("couldn't find key ") {
        let mut words = rest.split_whitespace();
        let key = words.next()?.to_string();
        let (Some("in"), Some(kind), Some(reference)) = (words.next(), words.next(), words.next())
        else {
            return None;
        };
        let reference = reference.trim_end_matches(['.', ',', ':']);
        let (namespace, name) = match reference.split_once('/') {
            Some((ns, n)) => (Some(ns.to_string()), n.to_string()),
            None => (None, reference.to_string()),
        };
        return Some(Missing {
            kind: object_kind(kind)?,
            namespace,
            name,
            key: Some(key),
        });
    }
    // `<kind> "<name>" not found`: find the quoted name, then the word before it.
    let (before, _) = message.split_once("\" not found")?;
    let (head, name) = before.rsplit_once('"')?;
    let kind = head
        .trim_end()
        .rsplit(|c: char| c.is_whitespace() || c == ':')
        .next()?;
    Some(Missing {
        kind: object_kind(kind)?,
        namespace: None,
        name: name.to_string(),
        key: None,
    })
}

fn object_kind(word: &str) -> Option<&'static str> {
    match word.to_ascii_lowercase().as_str() {
        "configmap" | "configmaps" => Some("ConfigMap"),
        "secret" | "secrets" => Some("Secret"),
        _ => None,
    }
}

/// `missing_kind`, `missing_name`, `missing_key` from the waiting message or, failing that,
/// from the newest `Failed` event of the container (`Error: ...`).
pub fn config_evidence(ctx: &PodCtx, cs: &ContainerStatus, init: bool, facts: &mut ContainerFacts) {
    let waiting = cs
        .state
        .as_ref()
        .and_then(|s| s.waiting.as_ref())
        .and_then(|w| w.message.as_deref());
    let events = ctx.container_events(&cs.name, init);
    let from_event = || {
        events
            .iter()
            .filter(|e| e.reason == "Failed")
            .max_by_key(|e| e.last_seen)
            .and_then(|e| parse_missing(&e.message))
    };
    let Some(missing) = waiting.and_then(parse_missing).or_else(from_event) else {
        return;
    };
    facts.missing_kind = Some(missing.kind.to_string());
    facts.missing_namespace = Some(
        missing
            .namespace
            .unwrap_or_else(|| ctx.namespace.to_string()),
    );
    facts.missing_name = Some(missing.name);
    facts.missing_key = missing.key;
}

#[cfg(test)]
mod tests {
    use super::super::FaultId;
    use super::super::testutil::{pod, pod_event, run};
    use super::*;

    #[test]
    fn pull_errors_classify() {
        let cases = [
            (
                "rpc error: code = NotFound desc = failed to pull and unpack image \"docker.io/shop/web:9.9\": failed to resolve reference \"docker.io/shop/web:9.9\": docker.io/shop/web:9.9: not found",
                "not-found",
            ),
            (
                "manifest for shop/web:9.9 not found: manifest unknown: manifest unknown",
                "not-found",
            ),
            (
                "failed to resolve reference \"ghcr.io/acme/api:1\": failed to authorize: failed to fetch anonymous token: unexpected status from GET request: 401 Unauthorized",
                "unauthorized",
            ),
            (
                "pull access denied for shop/web, repository does not exist or may require authorization",
                "unauthorized",
            ),
            ("unexpected status code 403 Forbidden", "unauthorized"),
            ("Back-off pulling image \"shop/web:2.0\"", "other"),
            ("dial tcp 10.0.0.1:443: i/o timeout", "other"),
        ];
        for (message, class) in cases {
            assert_eq!(classify_pull_error(message), class, "{message}");
        }
    }

    #[test]
    fn a_back_off_without_the_registry_answer_reports_no_cause() {
        let back_off = "Back-off pulling image \"shop/web:2.0\"";
        assert_eq!(pull_cause(back_off, None), PullCause::NotReported);
        assert_eq!(pull_cause("", None), PullCause::NotReported);
        // A network error is a reported cause, just not a registry verdict.
        assert_eq!(
            pull_cause("dial tcp 10.0.0.1:443: i/o timeout", None),
            PullCause::Other
        );
        assert_eq!(
            pull_cause(
                back_off,
                Some("Failed to pull image \"shop/web:2.0\": 401 Unauthorized")
            ),
            PullCause::Unauthorized
        );
        assert_eq!(
            pull_cause(
                back_off,
                Some("Failed to pull image \"shop/web:2.0\": manifest unknown")
            ),
            PullCause::NotFound
        );
        assert_eq!(
            pull_cause(back_off, Some("Failed to pull image \"x\": i/o timeout")),
            PullCause::Other
        );
    }

    #[test]
    fn back_off_message_is_classified_from_the_pull_event() {
        let yaml = pod(
            "    restartCount: 0\n    state: {waiting: {reason: ImagePullBackOff, message: 'Back-off pulling image \"shop/web:2.0\"'}}",
        ) + &pod_event(
            "Failed",
            Some("spec.containers{web}"),
            "Failed to pull image \"shop/web:2.0\": rpc error: code = NotFound desc = failed to pull and unpack image \"docker.io/shop/web:2.0\": docker.io/shop/web:2.0: not found",
            4,
        );
        let found = run(&yaml);
        assert_eq!(found.len(), 1);
        let f = &found[0];
        assert_eq!(f.fault, FaultId::ImagePullBackOff);
        assert_eq!(f.evidence["image"], "shop/web:2.0");
        assert_eq!(f.evidence["pull_error"], "not-found");
        assert!(
            f.evidence["pull_event_message"]
                .as_str()
                .unwrap()
                .contains("not found")
        );
    }

    #[test]
    fn missing_objects_parse() {
        assert_eq!(
            parse_missing("couldn't find key DB_URL in ConfigMap shop/app-config"),
            Some(Missing {
                kind: "ConfigMap",
                namespace: Some("shop".into()),
                name: "app-config".into(),
                key: Some("DB_URL".into())
            })
        );
        assert_eq!(
            parse_missing("couldn't find key password in Secret shop/db-creds")
                .map(|m| (m.kind, m.key)),
            Some(("Secret", Some("password".into())))
        );
        assert_eq!(
            parse_missing("secret \"db-creds\" not found").map(|m| (m.kind, m.name)),
            Some(("Secret", "db-creds".into()))
        );
        assert_eq!(
            parse_missing("Error: configmap \"x\" not found").map(|m| (m.kind, m.name)),
            Some(("ConfigMap", "x".into()))
        );
        assert_eq!(
            parse_missing("configmaps \"app\" not found").map(|m| m.kind),
            Some("ConfigMap")
        );
        assert_eq!(
            parse_missing("container has runAsNonRoot and image will run as root"),
            None
        );
        assert_eq!(parse_missing("pods \"x\" not found"), None);
    }

    #[test]
    fn config_error_names_the_missing_key() {
        let yaml = pod(
            "    restartCount: 0\n    state: {waiting: {reason: CreateContainerConfigError, message: \"couldn't find key DB_URL in ConfigMap shop/app-config\"}}",
        );
        let f = &run(&yaml)[0];
        assert_eq!(f.fault, FaultId::CreateContainerConfigError);
        assert_eq!(f.evidence["missing_kind"], "ConfigMap");
        assert_eq!(f.evidence["missing_namespace"], "shop");
        assert_eq!(f.evidence["missing_name"], "app-config");
        assert_eq!(f.evidence["missing_key"], "DB_URL");
        let yaml = pod(
            "    restartCount: 0\n    state: {waiting: {reason: CreateContainerConfigError, message: 'secret \"db-creds\" not found'}}",
        );
        let f = &run(&yaml)[0];
        assert_eq!(
            (&f.evidence["missing_kind"], &f.evidence["missing_name"]),
            (&"Secret".into(), &"db-creds".into())
        );
        assert!(f.evidence.get("missing_key").is_none());
    }
}
