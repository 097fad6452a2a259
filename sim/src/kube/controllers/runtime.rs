//! One container as the kubelet and containerd see it: image pull (with `ErrImagePull` /
//! `ImagePullBackOff` back-off), start, probes, exits and OOM kills, and restarts with the
//! kubelet's crash back-off (immediately, then 10s, 20s, 40s ... capped at 5m). Every change
//! happens at an exact simulated instant and emits the kubelet's events at that instant.

use jiff::Timestamp;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::behaviour::{Behaviour, DEFAULT_EXIT_AFTER, DEFAULT_PULL_SECONDS, normalize};
use super::clock::{plus, secs_between};
use super::meta::{self, go_duration, s, ts};

/// Back-off limits of the kubelet (crash loop and image pulls).
const BACKOFF_START: u64 = 10;
const BACKOFF_MAX: u64 = 300;
/// A container that ran this long starts its back-off afresh (`2 x max`).
const BACKOFF_RESET: f64 = 600.0;

/// What a container does next, at which instant; see `Container::next_at`.
#[derive(Clone, Debug)]
enum State {
    Pulling {
        done: Timestamp,
    },
    PullFailed {
        at: Timestamp,
        retry: Timestamp,
        message: String,
        backing_off: bool,
    },
    Running {
        since: Timestamp,
    },
    /// Exited; `restart` is when it starts again (`None`: never, by restart policy).
    Exited {
        term: Term,
        restart: Option<Timestamp>,
    },
}

#[derive(Clone, Debug)]
pub struct Term {
    exit_code: i32,
    reason: &'static str,
    started: Timestamp,
    finished: Timestamp,
    container_id: String,
}

impl Term {
    fn json(&self) -> Value {
        json!({"terminated": {
            "exitCode": self.exit_code,
            "reason": self.reason,
            "startedAt": ts(self.started),
            "finishedAt": ts(self.finished),
            "containerID": self.container_id,
        }})
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeKind {
    Startup,
    Liveness,
    Readiness,
}

impl ProbeKind {
    fn word(self) -> &'static str {
        match self {
            ProbeKind::Startup => "Startup",
            ProbeKind::Liveness => "Liveness",
            ProbeKind::Readiness => "Readiness",
        }
    }

    fn field(self) -> &'static str {
        match self {
            ProbeKind::Startup => "startupProbe",
            ProbeKind::Liveness => "livenessProbe",
            ProbeKind::Readiness => "readinessProbe",
        }
    }
}

/// A probe worker: when it runs next and how many failures in a row it has seen.
#[derive(Clone, Debug)]
struct Probe {
    kind: ProbeKind,
    next: Timestamp,
    failures: i64,
}

/// An event the kubelet records about the container.
pub struct Emitted {
    pub at: Timestamp,
    pub warning: bool,
    pub reason: &'static str,
    pub message: String,
}

/// The pod facts a container needs: its spec, the pod's identity and IP.
pub struct PodView<'a> {
    pub spec: &'a Value,
    pub restart_policy: &'a str,
    pub pod_ref: String,
    pub ip: &'a str,
}

#[derive(Clone, Debug)]
pub struct Container {
    pub name: String,
    image: String,
    state: State,
    restarts: i64,
    last: Option<Term>,
    crash_backoff: Option<u64>,
    pull_backoff: u64,
    pulled: bool,
    container_id: Option<String>,
    ready: bool,
    started: bool,
    probes: Vec<Probe>,
    /// Containers created so far (for distinct container ids).
    generation: u64,
    pod_uid: String,
}

/// What the container needs from the node: is the image there already?
pub trait Node {
    fn has_image(&self, image: &str) -> bool;
    fn add_image(&mut self, image: &str);
}

impl Container {
    pub fn new(name: &str, image: &str, pod_uid: &str, now: Timestamp) -> Container {
        Container {
            name: name.to_string(),
            image: image.to_string(),
            state: State::Pulling { done: now },
            restarts: 0,
            last: None,
            crash_backoff: None,
            pull_backoff: BACKOFF_START,
            pulled: false,
            container_id: None,
            ready: false,
            started: false,
            probes: Vec::new(),
            generation: 0,
            pod_uid: pod_uid.to_string(),
        }
    }

    /// The first thing the kubelet does: pull, or find the image present.
    pub fn begin(
        &mut self,
        now: Timestamp,
        pod: &PodView,
        b: &Behaviour,
        node: &mut dyn Node,
        out: &mut Vec<Emitted>,
    ) {
        self.fetch(now, pod, b, node, out);
    }

    pub fn ready(&self) -> bool {
        self.ready
    }

    /// Has it ever run (for the pod phase: a restarting container counts as started)?
    pub fn has_run(&self) -> bool {
        self.last.is_some() || matches!(self.state, State::Running { .. } | State::Exited { .. })
    }

    pub fn is_running(&self) -> bool {
        matches!(self.state, State::Running { .. })
    }

    /// `Some(exit code)` once exited for good.
    pub fn final_exit(&self) -> Option<i32> {
        match &self.state {
            State::Exited {
                term,
                restart: None,
            } => Some(term.exit_code),
            _ => None,
        }
    }

    /// The next instant something happens to this container without outside help.
    pub fn next_at(&self, b: &Behaviour, spec: &Value) -> Option<Timestamp> {
        match &self.state {
            State::Pulling { done } => Some(*done),
            State::PullFailed {
                at,
                retry,
                backing_off,
                ..
            } => Some(if *backing_off { *retry } else { plus(*at, 1.0) }),
            State::Running { since } => {
                let exit = self.exit_plan(*since, b, spec).map(|(t, _, _)| t);
                let probe = self.probes.iter().map(|p| p.next).min();
                [exit, probe].into_iter().flatten().min()
            }
            State::Exited { restart, .. } => *restart,
        }
    }

    /// Applies everything due at or before `now`, in order (bounded).
    pub fn advance(
        &mut self,
        now: Timestamp,
        pod: &PodView,
        b: &Behaviour,
        node: &mut dyn Node,
        out: &mut Vec<Emitted>,
    ) {
        let spec_image = s(pod.spec, "/image");
        if !spec_image.is_empty() && spec_image != self.image {
            self.image_changed(now, pod, b, node, out);
        }
        for _ in 0..10_000 {
            match self.next_at(b, pod.spec) {
                Some(t) if t <= now => self.apply(t, pod, b, node, out),
                _ => return,
            }
        }
    }

    fn apply(
        &mut self,
        t: Timestamp,
        pod: &PodView,
        b: &Behaviour,
        node: &mut dyn Node,
        out: &mut Vec<Emitted>,
    ) {
        match self.state.clone() {
            State::Pulling { .. } => self.pull_done(t, pod, b, node, out),
            State::PullFailed {
                at,
                retry,
                message,
                backing_off: false,
            } => {
                emit(out, t, false, "BackOff", self.back_off_pulling());
                emit(out, t, true, "Failed", "Error: ImagePullBackOff".into());
                self.state = State::PullFailed {
                    at,
                    retry,
                    message,
                    backing_off: true,
                };
            }
            State::PullFailed { .. } => {
                emit(
                    out,
                    t,
                    false,
                    "Pulling",
                    format!("Pulling image \"{}\"", self.image),
                );
                let secs = b.pull_seconds.unwrap_or(DEFAULT_PULL_SECONDS) as f64;
                self.state = State::Pulling {
                    done: plus(t, secs),
                };
            }
            State::Running { since } => self.running_event(t, since, pod, b, out),
            State::Exited { term, restart } => {
                // `backOff.Next`: a restart that waited doubles the next wait.
                if restart.is_some_and(|r| r > term.finished) {
                    let d = self.crash_backoff.unwrap_or(BACKOFF_START);
                    self.crash_backoff = Some((d * 2).min(BACKOFF_MAX));
                }
                self.restart(t, term, pod, b, node, out);
            }
        }
    }

    fn back_off_pulling(&self) -> String {
        format!("Back-off pulling image \"{}\"", self.image)
    }

    /// Pull (or find) the image, then create and start the container.
    fn fetch(
        &mut self,
        t: Timestamp,
        pod: &PodView,
        b: &Behaviour,
        node: &mut dyn Node,
        out: &mut Vec<Emitted>,
    ) {
        let always = s(pod.spec, "/imagePullPolicy") == "Always";
        if node.has_image(&self.image) && !always {
            let msg = format!(
                "Container image \"{}\" already present on machine",
                self.image
            );
            emit(out, t, false, "Pulled", msg);
            self.pulled = true;
            self.create(t, pod, out);
            return;
        }
        emit(
            out,
            t,
            false,
            "Pulling",
            format!("Pulling image \"{}\"", self.image),
        );
        let secs = b.pull_seconds.unwrap_or(DEFAULT_PULL_SECONDS) as f64;
        self.state = State::Pulling {
            done: plus(t, secs),
        };
    }

    fn pull_done(
        &mut self,
        t: Timestamp,
        pod: &PodView,
        b: &Behaviour,
        node: &mut dyn Node,
        out: &mut Vec<Emitted>,
    ) {
        if let Some(err) = pull_error(&self.image, b) {
            let msg = format!("Failed to pull image \"{}\": {err}", self.image);
            emit(out, t, true, "Failed", msg);
            emit(out, t, true, "Failed", "Error: ErrImagePull".into());
            self.state = State::PullFailed {
                at: t,
                retry: plus(t, self.pull_backoff as f64),
                message: err,
                backing_off: false,
            };
            self.pull_backoff = (self.pull_backoff * 2).min(BACKOFF_MAX);
            return;
        }
        let secs = b.pull_seconds.unwrap_or(DEFAULT_PULL_SECONDS);
        let size = 20_000_000 + u64::from(meta::fnv32a(self.image.as_bytes())) % 80_000_000;
        let msg = format!(
            "Successfully pulled image \"{}\" in {secs}s ({secs}s including waiting). Image size: {size} bytes.",
            self.image
        );
        emit(out, t, false, "Pulled", msg);
        node.add_image(&self.image);
        self.pulled = true;
        self.pull_backoff = BACKOFF_START;
        self.create(t, pod, out);
    }

    fn create(&mut self, t: Timestamp, pod: &PodView, out: &mut Vec<Emitted>) {
        self.generation += 1;
        let id = hex(&format!(
            "{}/{}/{}",
            self.pod_uid, self.name, self.generation
        ));
        self.container_id = Some(format!("containerd://{id}"));
        emit(
            out,
            t,
            false,
            "Created",
            format!("Created container: {}", self.name),
        );
        emit(
            out,
            t,
            false,
            "Started",
            format!("Started container {}", self.name),
        );
        self.state = State::Running { since: t };
        self.ready = false;
        self.started = false;
        self.probes.clear();
        match probe_settings(pod.spec, ProbeKind::Startup) {
            Some(p) => self.probes.push(Probe {
                kind: ProbeKind::Startup,
                next: plus(t, p.delay),
                failures: 0,
            }),
            None => self.startup_done(t, t, pod),
        }
    }

    /// The startup probe passed (or there is none): liveness and readiness begin.
    fn startup_done(&mut self, t: Timestamp, since: Timestamp, pod: &PodView) {
        self.started = true;
        self.probes.retain(|p| p.kind != ProbeKind::Startup);
        if let Some(p) = probe_settings(pod.spec, ProbeKind::Liveness) {
            let first = plus(since, p.delay);
            self.probes.push(Probe {
                kind: ProbeKind::Liveness,
                next: if first > t { first } else { plus(t, p.period) },
                failures: 0,
            });
        }
        match probe_settings(pod.spec, ProbeKind::Readiness) {
            Some(p) => {
                let first = plus(since, p.delay);
                self.probes.push(Probe {
                    kind: ProbeKind::Readiness,
                    next: if first > t { first } else { t },
                    failures: 0,
                });
            }
            None => self.ready = true,
        }
    }

    /// When and how the process ends by itself: `(at, exit code, reason)`.
    fn exit_plan(
        &self,
        since: Timestamp,
        b: &Behaviour,
        spec: &Value,
    ) -> Option<(Timestamp, i32, &'static str)> {
        let limit = spec
            .pointer("/resources/limits/memory")
            .and_then(meta::bytes);
        let oom = limit
            .and_then(|limit| b.oom_after(limit))
            .map(|after| (plus(since, after), 137, "OOMKilled"));
        let exit = b.exit_code.map(|code| {
            let after = b.exit_after_seconds.unwrap_or(DEFAULT_EXIT_AFTER) as f64;
            let reason = if code == 0 { "Completed" } else { "Error" };
            (plus(since, after), code, reason)
        });
        [oom, exit].into_iter().flatten().min_by_key(|e| e.0)
    }

    fn running_event(
        &mut self,
        t: Timestamp,
        since: Timestamp,
        pod: &PodView,
        b: &Behaviour,
        out: &mut Vec<Emitted>,
    ) {
        if let Some((at, code, reason)) = self.exit_plan(since, b, pod.spec)
            && at <= t
        {
            self.terminate(at, since, code, reason, pod, out);
            return;
        }
        let Some(i) = (0..self.probes.len()).min_by_key(|&i| self.probes[i].next) else {
            return;
        };
        let kind = self.probes[i].kind;
        let Some(settings) = probe_settings(pod.spec, kind) else {
            self.probes.remove(i);
            return;
        };
        let healthy = secs_between(since, t) >= b.start_seconds as f64
            && !(kind == ProbeKind::Readiness && b.never_ready);
        if healthy {
            match kind {
                ProbeKind::Startup => self.startup_done(t, since, pod),
                // Nothing changes for a healthy app any more: stop probing (saves wake-ups).
                ProbeKind::Liveness => {
                    self.probes.remove(i);
                }
                ProbeKind::Readiness => {
                    self.ready = true;
                    self.probes.remove(i);
                }
            }
            return;
        }
        let msg = format!(
            "{} probe failed: {}",
            kind.word(),
            probe_error(pod.spec, &settings, pod.ip)
        );
        emit(out, t, true, "Unhealthy", msg);
        let probe = &mut self.probes[i];
        probe.failures += 1;
        probe.next = plus(t, settings.period);
        if probe.failures < settings.threshold {
            return;
        }
        match kind {
            ProbeKind::Readiness => self.ready = false,
            ProbeKind::Startup | ProbeKind::Liveness => {
                let msg = format!(
                    "Container {} failed {} probe, will be restarted",
                    self.name,
                    kind.word().to_ascii_lowercase()
                );
                emit(out, t, false, "Killing", msg);
                // The app never handled SIGTERM while starting: killed after the grace period
                // is modelled as at once, exit 137.
                self.terminate(t, since, 137, "Error", pod, out);
            }
        }
    }

    fn terminate(
        &mut self,
        t: Timestamp,
        since: Timestamp,
        code: i32,
        reason: &'static str,
        pod: &PodView,
        out: &mut Vec<Emitted>,
    ) {
        let term = Term {
            exit_code: code,
            reason,
            started: since,
            finished: t,
            container_id: self.container_id.clone().unwrap_or_default(),
        };
        self.ready = false;
        self.started = false;
        self.probes.clear();
        let restarts = match pod.restart_policy {
            "Never" => false,
            "OnFailure" => code != 0,
            _ => true,
        };
        if !restarts {
            self.state = State::Exited {
                term,
                restart: None,
            };
            return;
        }
        if secs_between(since, t) >= BACKOFF_RESET {
            self.crash_backoff = None;
        }
        match self.crash_backoff {
            None => {
                // The kubelet's first restart is immediate; back-off starts with it.
                self.crash_backoff = Some(BACKOFF_START);
                self.state = State::Exited {
                    term: term.clone(),
                    restart: Some(t),
                };
            }
            Some(delay) => {
                let msg = format!(
                    "Back-off restarting failed container {} in pod {}",
                    self.name, pod.pod_ref
                );
                emit(out, t, true, "BackOff", msg);
                self.state = State::Exited {
                    term,
                    restart: Some(plus(t, delay as f64)),
                };
            }
        }
    }

    fn restart(
        &mut self,
        t: Timestamp,
        term: Term,
        pod: &PodView,
        b: &Behaviour,
        node: &mut dyn Node,
        out: &mut Vec<Emitted>,
    ) {
        self.last = Some(term);
        self.restarts += 1;
        self.fetch(t, pod, b, node, out);
    }

    /// The pod spec now names another image (an in-place update): kill and pull the new one.
    fn image_changed(
        &mut self,
        t: Timestamp,
        pod: &PodView,
        b: &Behaviour,
        node: &mut dyn Node,
        out: &mut Vec<Emitted>,
    ) {
        if let State::Running { since } = self.state {
            let msg = format!(
                "Container {} definition changed, will be restarted",
                self.name
            );
            emit(out, t, false, "Killing", msg);
            self.last = Some(Term {
                exit_code: 0,
                reason: "Completed",
                started: since,
                finished: t,
                container_id: self.container_id.clone().unwrap_or_default(),
            });
            self.restarts += 1;
        }
        self.image = s(pod.spec, "/image").to_string();
        self.pulled = false;
        self.pull_backoff = BACKOFF_START;
        self.fetch(t, pod, b, node, out);
    }

    /// The `containerStatuses[]` entry.
    pub fn status(&self, pod: &PodView) -> Value {
        let state = match &self.state {
            State::Pulling { .. } => json!({"waiting": {"reason": "ContainerCreating"}}),
            State::PullFailed {
                message,
                backing_off,
                ..
            } => {
                if *backing_off {
                    json!({"waiting": {"reason": "ImagePullBackOff", "message": self.back_off_pulling()}})
                } else {
                    json!({"waiting": {"reason": "ErrImagePull", "message": message}})
                }
            }
            State::Running { since } => json!({"running": {"startedAt": ts(*since)}}),
            State::Exited {
                restart: Some(_), ..
            } => {
                let delay = self.crash_backoff.unwrap_or(BACKOFF_START);
                let msg = format!(
                    "back-off {} restarting failed container={} pod={}",
                    go_duration(delay),
                    self.name,
                    pod.pod_ref
                );
                json!({"waiting": {"reason": "CrashLoopBackOff", "message": msg}})
            }
            State::Exited {
                term,
                restart: None,
            } => term.json(),
        };
        let last = match &self.state {
            State::Exited {
                term,
                restart: Some(_),
            } => term.json(),
            _ => self
                .last
                .as_ref()
                .map(Term::json)
                .unwrap_or_else(|| json!({})),
        };
        let image_id = if self.pulled {
            let full = normalize(&self.image);
            let repo = full.rsplit_once(':').map(|(r, _)| r).unwrap_or(&full);
            let repo = repo.split('@').next().unwrap_or(repo);
            format!("{repo}@sha256:{}", hex(&full))
        } else {
            String::new()
        };
        let mut status = json!({
            "name": self.name,
            "image": self.image,
            "imageID": image_id,
            "ready": self.ready,
            "started": self.started,
            "restartCount": self.restarts,
            "state": state,
            "lastState": last,
        });
        if let Some(id) = &self.container_id
            && self.has_run()
        {
            status["containerID"] = json!(id);
        }
        status
    }
}

fn emit(
    out: &mut Vec<Emitted>,
    at: Timestamp,
    warning: bool,
    reason: &'static str,
    message: String,
) {
    out.push(Emitted {
        at,
        warning,
        reason,
        message,
    });
}

fn hex(seed: &str) -> String {
    Sha256::digest(seed.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The registry's answer for a bad pull, as containerd words it.
fn pull_error(image: &str, b: &Behaviour) -> Option<String> {
    let full = normalize(image);
    if b.pull_unauthorized {
        let repo = full.rsplit_once(':').map(|(r, _)| r).unwrap_or(&full);
        let path = repo.split_once('/').map(|(_, p)| p).unwrap_or(repo);
        return Some(format!(
            "rpc error: code = Unknown desc = failed to pull and unpack image \"{full}\": failed to resolve reference \"{full}\": failed to authorize: failed to fetch anonymous token: unexpected status from GET request to https://auth.docker.io/token?scope=repository%3A{}%3Apull&service=registry.docker.io: 401 Unauthorized",
            path.replace('/', "%2F")
        ));
    }
    if b.missing {
        return Some(format!(
            "rpc error: code = NotFound desc = failed to pull and unpack image \"{full}\": failed to resolve reference \"{full}\": {full}: not found"
        ));
    }
    None
}

/// Effective probe settings with the API defaults.
pub struct ProbeSettings {
    delay: f64,
    period: f64,
    threshold: i64,
    probe: Value,
}

fn probe_settings(spec: &Value, kind: ProbeKind) -> Option<ProbeSettings> {
    let p = spec.get(kind.field())?;
    let num = |k: &str, d: i64| p.get(k).and_then(Value::as_i64).unwrap_or(d);
    Some(ProbeSettings {
        delay: num("initialDelaySeconds", 0).max(0) as f64,
        period: num("periodSeconds", 10).max(1) as f64,
        threshold: num("failureThreshold", 3).max(1),
        probe: p.clone(),
    })
}

/// What a probe against an app that is not listening yet reports.
fn probe_error(spec: &Value, settings: &ProbeSettings, ip: &str) -> String {
    let p = &settings.probe;
    let port = |v: Option<&Value>| -> String {
        match v {
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(named)) => spec
                .get("ports")
                .and_then(Value::as_array)
                .and_then(|ports| ports.iter().find(|x| s(x, "/name") == named))
                .and_then(|x| x.get("containerPort"))
                .map(|v| v.to_string())
                .unwrap_or_else(|| named.clone()),
            _ => "80".to_string(),
        }
    };
    if let Some(h) = p.get("httpGet") {
        let scheme = match s(h, "/scheme") {
            "" => "http".to_string(),
            other => other.to_ascii_lowercase(),
        };
        let port = port(h.get("port"));
        let path = match s(h, "/path") {
            "" => "/",
            p => p,
        };
        return format!(
            "Get \"{scheme}://{ip}:{port}{path}\": dial tcp {ip}:{port}: connect: connection refused"
        );
    }
    if let Some(t) = p.get("tcpSocket") {
        let port = port(t.get("port"));
        return format!("dial tcp {ip}:{port}: connect: connection refused");
    }
    if let Some(g) = p.get("grpc") {
        let port = port(g.get("port"));
        return format!("timeout: failed to connect service \":{port}\" within 1s");
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[derive(Default)]
    struct FakeNode(HashSet<String>);

    impl Node for FakeNode {
        fn has_image(&self, image: &str) -> bool {
            self.0.contains(image)
        }
        fn add_image(&mut self, image: &str) {
            self.0.insert(image.to_string());
        }
    }

    fn waiting_message(c: &Container, pod: &PodView) -> String {
        s(&c.status(pod), "/state/waiting/message").to_string()
    }

    #[test]
    fn crash_loop_backs_off_like_the_kubelet() {
        let start: Timestamp = "2026-01-01T00:00:00Z".parse().expect("ts");
        let spec = json!({"name": "web", "image": "app:1"});
        let pod = PodView {
            spec: &spec,
            restart_policy: "Always",
            pod_ref: "web-1_shop(u1)".into(),
            ip: "10.244.1.2",
        };
        let b = Behaviour {
            exit_code: Some(1),
            exit_after_seconds: Some(1),
            ..Behaviour::default()
        };
        let mut node = FakeNode::default();
        let mut out = Vec::new();
        let mut c = Container::new("web", "app:1", "u1", start);
        c.begin(start, &pod, &b, &mut node, &mut out);
        // Pulled at 1s, exits at 2s and restarts at once, exits at 3s: back-off 10s.
        c.advance(plus(start, 3.0), &pod, &b, &mut node, &mut out);
        assert_eq!(c.restarts, 1);
        assert_eq!(
            waiting_message(&c, &pod),
            "back-off 10s restarting failed container=web pod=web-1_shop(u1)"
        );
        let mut seen = Vec::new();
        for t in 4..900 {
            c.advance(plus(start, f64::from(t)), &pod, &b, &mut node, &mut out);
            let m = waiting_message(&c, &pod);
            if !m.is_empty() && seen.last() != Some(&m) {
                seen.push(m);
            }
        }
        let delays: Vec<&str> = seen
            .iter()
            .filter_map(|m| m.strip_prefix("back-off ")?.split(' ').next())
            .collect();
        assert_eq!(delays[..6], ["10s", "20s", "40s", "1m20s", "2m40s", "5m0s"]);
        let reasons: HashSet<&str> = out.iter().map(|e| e.reason).collect();
        assert!(reasons.contains("BackOff") && reasons.contains("Started"));
    }

    #[test]
    fn unauthorized_pulls_say_so() {
        let b = Behaviour {
            pull_unauthorized: true,
            ..Behaviour::default()
        };
        let err = pull_error("private/app:1", &b).unwrap_or_default();
        assert!(err.contains("401 Unauthorized"), "{err}");
        assert!(err.contains("\"docker.io/private/app:1\""));
    }
}
