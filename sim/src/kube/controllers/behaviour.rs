//! What a container does when the simulated kubelet runs it, set per scenario by image.
//!
//! ```yaml
//! default: {}                      # unknown images pull and run fine
//! images:
//!   shop/web:1.4: {working_set: 600Mi}          # OOMKilled under a smaller memory limit
//!   shop/leaky:3: {leak_per_second: 32Mi}       # grows without bound: OOMKilled at any limit
//!   shop/web:9.9: {missing: true}               # ErrImagePull / ImagePullBackOff (not found)
//!   private/app:1: {pull_unauthorized: true}    # ErrImagePull (401 Unauthorized)
//!   shop/slow:2: {start_seconds: 60}            # probes fail for the first 60 s
//!   shop/batch:1: {exit_code: 1, exit_after_seconds: 2}
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

/// How one container image behaves. Every field is optional; the default runs forever,
/// healthy from its first second.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Behaviour {
    /// Memory the process grows to (a quantity, `600Mi`). Above the container's memory limit
    /// the kernel kills it: `OOMKilled`, exit 137.
    pub working_set: Option<String>,
    /// Seconds after start at which the working set is reached (default 3).
    pub oom_after_seconds: Option<u64>,
    /// A leak: the working set grows by this much per second from the container's start (on
    /// top of `working_set`, if set), so it crosses any memory limit, a raised one later.
    pub leak_per_second: Option<String>,
    /// Seconds until the app answers its probes (startup, liveness, readiness).
    pub start_seconds: u64,
    /// The process exits with this code ...
    pub exit_code: Option<i32>,
    /// ... after running this many seconds (default 5).
    pub exit_after_seconds: Option<u64>,
    /// The tag does not exist in the registry.
    pub missing: bool,
    /// The registry refuses the pull (401).
    pub pull_unauthorized: bool,
    /// Seconds a successful pull takes (default 1).
    pub pull_seconds: Option<u64>,
    /// The readiness probe never passes (the app runs but serves errors).
    pub never_ready: bool,
}

pub const DEFAULT_OOM_AFTER: u64 = 3;
pub const DEFAULT_EXIT_AFTER: u64 = 5;
pub const DEFAULT_PULL_SECONDS: u64 = 1;

impl Behaviour {
    /// Bytes of the working set, if set and parseable.
    pub fn working_set_bytes(&self) -> Option<i128> {
        let q = self.working_set.as_deref()?;
        crate::quantity::bytes(q)
    }

    /// Bytes per second of the leak, if set, parseable and positive.
    pub fn leak_bytes_per_second(&self) -> Option<i128> {
        let q = self.leak_per_second.as_deref()?;
        crate::quantity::bytes(q).filter(|b| *b > 0)
    }

    /// The working set `secs` after the container started, if the behaviour sets one.
    pub fn working_set_after(&self, secs: f64) -> Option<i128> {
        let base = self.working_set_bytes();
        match self.leak_bytes_per_second() {
            Some(rate) => Some(base.unwrap_or(0) + (rate as f64 * secs.max(0.0)) as i128),
            None => base,
        }
    }

    /// Seconds after start at which the working set exceeds `limit` bytes, if ever.
    pub fn oom_after(&self, limit: i128) -> Option<f64> {
        let base = self.working_set_bytes().unwrap_or(0);
        if let Some(rate) = self.leak_bytes_per_second() {
            // Killed once it reaches the limit (whole seconds, as the kubelet's timestamps are);
            // a base already above it goes as a plain OOM.
            if base <= limit {
                return Some(((limit - base) as f64 / rate as f64).ceil());
            }
        }
        (base > limit).then(|| self.oom_after_seconds.unwrap_or(DEFAULT_OOM_AFTER) as f64)
    }
}

/// The behaviours of a scenario: by image reference, with a default for all others.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Behaviours {
    pub default: Behaviour,
    /// Keyed by image as written in pod specs (`shop/web:1.4`); `docker.io/library/` and
    /// `docker.io/` prefixes are equivalent, as the container runtime resolves them.
    pub images: BTreeMap<String, Behaviour>,
}

impl Behaviours {
    pub fn for_image(&self, image: &str) -> &Behaviour {
        if let Some(b) = self.images.get(image) {
            return b;
        }
        let wanted = normalize(image);
        self.images
            .iter()
            .find(|(k, _)| normalize(k) == wanted)
            .map(|(_, b)| b)
            .unwrap_or(&self.default)
    }
}

/// The fully qualified reference a container runtime pulls: `nginx` ->
/// `docker.io/library/nginx:latest`.
pub fn normalize(image: &str) -> String {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    let has_tag = last.contains(':');
    let first = name.split('/').next().unwrap_or("");
    let has_registry =
        name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let mut full = if has_registry {
        name.to_string()
    } else if name.contains('/') {
        format!("docker.io/{name}")
    } else {
        format!("docker.io/library/{name}")
    };
    match digest {
        Some(d) => {
            full.push('@');
            full.push_str(d);
        }
        None if !has_tag => full.push_str(":latest"),
        None => {}
    }
    full
}

/// The behaviours shared between a scenario (which may change them mid-test) and the kubelet.
#[derive(Clone, Default)]
pub struct BehaviourBook {
    inner: Arc<RwLock<Behaviours>>,
}

impl BehaviourBook {
    pub fn new(b: Behaviours) -> Self {
        BehaviourBook {
            inner: Arc::new(RwLock::new(b)),
        }
    }

    /// Sets the behaviour of one image.
    pub fn set(&self, image: &str, b: Behaviour) {
        let mut all = self
            .inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        all.images.insert(image.to_string(), b);
    }

    /// Replaces all behaviours.
    pub fn replace(&self, b: Behaviours) {
        let mut all = self
            .inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *all = b;
    }

    pub fn snapshot(&self) -> Behaviours {
        self.inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_match_after_normalizing() {
        assert_eq!(normalize("nginx"), "docker.io/library/nginx:latest");
        assert_eq!(normalize("shop/web:1"), "docker.io/shop/web:1");
        assert_eq!(normalize("ghcr.io/a/b:2"), "ghcr.io/a/b:2");
        assert_eq!(normalize("localhost:5000/x"), "localhost:5000/x:latest");
        let b: Behaviours = serde_json::from_value(
            serde_json::json!({"images": {"nginx:nope": {"missing": true}}}),
        )
        .unwrap_or_default();
        assert!(b.for_image("docker.io/library/nginx:nope").missing);
        assert!(!b.for_image("nginx:1").missing);
    }

    #[test]
    fn scenario_yaml_parses() {
        let yaml = "default: {}\nimages:\n  shop/web:1.4: {working_set: 600Mi}\n  shop/web:9.9: {missing: true}\n  shop/slow:2: {start_seconds: 60}\n  shop/batch:1: {exit_code: 1, exit_after_seconds: 2}\n";
        let b: Behaviours = serde_saphyr::from_str(yaml).unwrap_or_default();
        assert_eq!(b.images.len(), 4);
        assert_eq!(
            b.for_image("shop/web:1.4").working_set_bytes(),
            Some(600 << 20)
        );
        assert_eq!(b.for_image("shop/slow:2").start_seconds, 60);
        assert_eq!(b.for_image("shop/batch:1").exit_code, Some(1));
    }

    #[test]
    fn a_leak_crosses_every_limit() {
        let leak = Behaviour {
            leak_per_second: Some("32Mi".into()),
            ..Behaviour::default()
        };
        assert_eq!(leak.oom_after(512 << 20), Some(16.0));
        assert_eq!(leak.oom_after(640 << 20), Some(20.0));
        assert_eq!(leak.oom_after(1 << 30), Some(32.0));
        assert_eq!(leak.working_set_after(10.0), Some(320 << 20));
        // Without a leak nothing changes: over the limit after 3s, under it never.
        let fixed = Behaviour {
            working_set: Some("600Mi".into()),
            ..Behaviour::default()
        };
        assert_eq!(fixed.oom_after(512 << 20), Some(3.0));
        assert_eq!(fixed.oom_after(1 << 30), None);
        assert_eq!(fixed.working_set_after(99.0), Some(600 << 20));
    }

    #[test]
    fn unknown_fields_are_refused() {
        let r: Result<Behaviour, _> = serde_json::from_value(serde_json::json!({"workingset": 1}));
        assert!(r.is_err());
    }
}
