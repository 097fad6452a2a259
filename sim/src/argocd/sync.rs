//! The application controller: refresh (render + compare), automated sync with Argo CD's
//! rules, explicit operations (`operation.sync`, as `argocd app sync` writes), and the status
//! write. One reconcile at a time (a mutex), so tests and the poll loop never interleave.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::{Value, json};

use super::apply::{self, Target};
use super::render::{self, RenderResult};
use super::settings::Settings;
use super::status::{self, Comparison};
use crate::git::RepoStore;
use crate::kube::{ListOptions, ResId, Store, Subresource};

pub struct Controller {
    pub store: Store,
    pub repos: RepoStore,
    pub settings: Settings,
    pub app_res: ResId,
    pub appset_res: ResId,
    pub lock: Mutex<()>,
}

/// What to sync and why.
struct Request {
    revision: Option<String>,
    prune: bool,
    initiated_by: Value,
    /// The `operation` field consumed (cleared after the sync), if any.
    operation: Option<Value>,
}

impl Controller {
    /// The world's time (the store's clock), as Argo CD writes timestamps: RFC 3339, seconds.
    /// The wall clock would disagree with every other timestamp of a world running fast.
    fn now(&self) -> String {
        self.store.now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    }

    /// The name in tracking ids: `<name>`, or `<ns>_<name>` outside the control plane.
    pub fn tracking_name(&self, ns: &str, name: &str) -> String {
        if ns == self.settings.control_plane_namespace {
            name.to_string()
        } else {
            format!("{ns}_{name}")
        }
    }

    /// Every Application, reconciled once (ApplicationSets first).
    pub fn reconcile_all(&self) {
        super::appset::reconcile_all(self);
        let Ok(list) = self.store.list(self.app_res, None, &ListOptions::default()) else {
            return;
        };
        for app in list.items {
            let ns = app
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("");
            let name = app
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("");
            if let Err(e) = self.reconcile(ns, name, false) {
                tracing::debug!("argocd sim: {ns}/{name}: {e}");
            }
        }
    }

    /// Renders the app's sources (at `revision` instead of `targetRevision` if given).
    fn render(
        &self,
        spec: &Value,
        app_name: &str,
        revision: Option<&str>,
    ) -> RenderResult<(Vec<Value>, Vec<String>, Value)> {
        let (list, multi) = match (
            spec.get("source").filter(|s| s.is_object()),
            spec.get("sources").and_then(Value::as_array),
        ) {
            (Some(s), _) => (vec![s.clone()], false),
            (None, Some(list)) if !list.is_empty() => (list.clone(), true),
            _ => return Err("spec.source or spec.sources is required".into()),
        };
        let refs: BTreeMap<String, Value> = list
            .iter()
            .filter_map(|s| Some((s.get("ref")?.as_str()?.to_string(), s.clone())))
            .collect();
        let mut objects = Vec::new();
        let mut revisions = Vec::new();
        for mut source in list.clone() {
            let ref_only = source.get("ref").is_some()
                && source.get("path").is_none()
                && source.get("chart").is_none();
            if ref_only {
                continue;
            }
            if let (Some(rev), false) = (revision, multi) {
                source["targetRevision"] = json!(rev);
            }
            let r = render::render_source(&self.settings, &self.repos, &source, &refs, app_name)?;
            objects.extend(r.objects);
            revisions.push(r.revision);
        }
        let source_field = if multi { json!(list) } else { list[0].clone() };
        Ok((objects, revisions, source_field))
    }

    fn compare(
        &self,
        spec: &Value,
        app_name: &str,
        revision: Option<&str>,
    ) -> Result<(Comparison, Vec<Target>, Vec<String>), String> {
        let (objects, revisions, _) = self.render(spec, app_name, revision)?;
        let dest_ns = spec
            .pointer("/destination/namespace")
            .and_then(Value::as_str)
            .unwrap_or("");
        let targets = apply::resolve(&self.store, &self.settings, app_name, dest_ns, objects)?;
        let tracked = apply::tracked(&self.store, &self.settings, app_name);
        let cmp = status::compare(
            &self.store,
            revisions.first().map_or("", String::as_str),
            &targets,
            tracked,
        );
        Ok((cmp, targets, revisions))
    }

    /// Refreshes one app, syncing it if its policy (or `force`, or an `operation`) says so.
    pub fn reconcile(&self, ns: &str, name: &str, force: bool) -> Result<(), String> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let app = self
            .store
            .get(self.app_res, Some(ns), name)
            .map_err(|e| e.to_string())?;
        if app.pointer("/metadata/deletionTimestamp").is_some() {
            return Ok(());
        }
        let app_name = self.tracking_name(ns, name);
        let spec = app.get("spec").cloned().unwrap_or(json!({}));
        let old = app.get("status").cloned().unwrap_or(json!({}));
        let mut st = if old.is_object() {
            old.clone()
        } else {
            json!({})
        };
        let operation = app.get("operation").filter(|o| o.is_object()).cloned();
        let compared_to = json!({
            "source": spec.get("source").cloned().unwrap_or(json!({})),
            "destination": spec.get("destination").cloned().unwrap_or(json!({})),
        });
        let t = self.now();
        match self.compare(&spec, &app_name, None) {
            Err(msg) => {
                st["sync"] = json!({"status": "Unknown", "comparedTo": compared_to});
                status::set_comparison_error(&mut st, Some(&msg), &t);
                if operation.is_some() || force {
                    st["operationState"] = json!({
                        "operation": operation.clone().unwrap_or(json!({"sync": {}})),
                        "phase": "Error", "message": msg, "startedAt": t, "finishedAt": t,
                    });
                }
                return self.write(ns, name, &old, st, operation.as_ref());
            }
            Ok((cmp, _, revisions)) => {
                set_comparison(&mut st, &cmp, &revisions, compared_to.clone());
                status::set_comparison_error(&mut st, None, &t);
                if let Some(req) = self.request(&spec, &st, &cmp, operation, force) {
                    return self.perform(ns, name, &app_name, &spec, &old, st, compared_to, req);
                }
            }
        }
        self.write(ns, name, &old, st, None)
    }

    /// Argo CD's decision: an explicit operation or `force`; else automated sync when enabled,
    /// OutOfSync, and this revision was not already attempted (self-heal re-applies drift).
    fn request(
        &self,
        spec: &Value,
        st: &Value,
        cmp: &Comparison,
        operation: Option<Value>,
        force: bool,
    ) -> Option<Request> {
        let auto = spec
            .pointer("/syncPolicy/automated")
            .filter(|a| a.is_object());
        let auto_prune = auto
            .and_then(|a| a.get("prune"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if let Some(op) = operation {
            return Some(Request {
                revision: op
                    .pointer("/sync/revision")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
                prune: op
                    .pointer("/sync/prune")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                initiated_by: op
                    .get("initiatedBy")
                    .cloned()
                    .unwrap_or(json!({"username": "admin"})),
                operation: Some(op),
            });
        }
        if force {
            return Some(Request {
                revision: None,
                prune: auto_prune,
                initiated_by: json!({"username": "admin"}),
                operation: None,
            });
        }
        let auto = auto?;
        if auto.get("enabled").and_then(Value::as_bool) == Some(false) || cmp.status != "OutOfSync"
        {
            return None;
        }
        let last = st.get("operationState");
        let last_rev = last
            .and_then(|o| o.pointer("/syncResult/revision"))
            .and_then(Value::as_str);
        // Argo CD's "already attempted": same revision and same source (a changed source,
        // e.g. new Helm parameters, is a new desired state).
        let last_source = last.and_then(|o| o.pointer("/syncResult/source"));
        if last_rev == Some(cmp.revision.as_str()) && last_source == spec.get("source") {
            let phase = last
                .and_then(|o| o.get("phase"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let self_heal = auto
                .get("selfHeal")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if phase != "Succeeded" || !self_heal {
                return None;
            }
        }
        Some(Request {
            revision: None,
            prune: auto_prune,
            initiated_by: json!({"automated": true}),
            operation: None,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn perform(
        &self,
        ns: &str,
        name: &str,
        app_name: &str,
        spec: &Value,
        old: &Value,
        mut st: Value,
        compared_to: Value,
        req: Request,
    ) -> Result<(), String> {
        let started = self.now();
        let (cmp, targets, revisions) = match self.compare(spec, app_name, req.revision.as_deref())
        {
            Ok(x) => x,
            Err(msg) => {
                st["operationState"] = json!({
                    "operation": {"sync": {"revision": req.revision.clone().unwrap_or_default()}, "initiatedBy": req.initiated_by},
                    "phase": "Error", "message": msg, "startedAt": started, "finishedAt": self.now(),
                });
                return self.write(ns, name, old, st, req.operation.as_ref());
            }
        };
        let source = compared_to["source"].clone();
        let mut op = json!({"sync": {"revision": cmp.revision}, "initiatedBy": req.initiated_by, "retry": {}});
        if req.prune {
            op["sync"]["prune"] = json!(true);
        }
        st["operationState"] = json!({
            "operation": op, "phase": "Running", "message": "one or more tasks are running", "startedAt": started,
        });
        self.write(ns, name, old, st.clone(), None)?;
        let create_ns = spec
            .pointer("/syncPolicy/syncOptions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|o| o.as_str() == Some("CreateNamespace=true"));
        let mut results = Vec::new();
        let mut failure = None;
        for t in &targets {
            match apply::apply(&self.store, t, create_ns) {
                Ok(msg) => results.push(status::result_entry(
                    t,
                    "Synced",
                    &format!("{}/{} {msg}", t.kind.to_lowercase(), t.name),
                )),
                Err(e) => {
                    results.push(status::result_entry(t, "SyncFailed", &e));
                    failure = Some(e);
                    break;
                }
            }
        }
        if failure.is_none() {
            for x in &cmp.extra {
                if req.prune {
                    match apply::prune(&self.store, x) {
                        Ok(()) => results.push(status::pruned_entry(x, "Pruned", "pruned")),
                        Err(e) => {
                            results.push(status::pruned_entry(x, "SyncFailed", &e));
                            failure = Some(e);
                        }
                    }
                } else {
                    results.push(status::pruned_entry(
                        x,
                        "PruneSkipped",
                        "ignored (requires pruning)",
                    ));
                }
            }
        }
        let finished = self.now();
        let os = &mut st["operationState"];
        os["finishedAt"] = json!(finished);
        os["syncResult"] =
            json!({"revision": cmp.revision, "source": source, "resources": results});
        match &failure {
            Some(e) => {
                os["phase"] = json!("Failed");
                os["message"] = json!(format!("one or more objects failed to apply, reason: {e}"));
            }
            None => {
                os["phase"] = json!("Succeeded");
                os["message"] = json!("successfully synced (all tasks run)");
                let limit = spec
                    .get("revisionHistoryLimit")
                    .and_then(Value::as_u64)
                    .unwrap_or(10) as usize;
                let by = st["operationState"]["operation"]["initiatedBy"].clone();
                status::push_history(
                    &mut st,
                    &cmp.revision,
                    &source,
                    &started,
                    &finished,
                    &by,
                    limit,
                );
            }
        }
        // The comparison after the sync, as the next refresh would see it.
        let after = apply::tracked(&self.store, &self.settings, app_name);
        let cmp = status::compare(&self.store, &cmp.revision, &targets, after);
        set_comparison(&mut st, &cmp, &revisions, compared_to);
        let current = self
            .store
            .get(self.app_res, Some(ns), name)
            .map_err(|e| e.to_string())?;
        self.write(
            ns,
            name,
            current.get("status").unwrap_or(&Value::Null),
            st,
            req.operation.as_ref(),
        )
    }

    /// Writes `st`, keeping `reconciledAt` when nothing else changed (no watch churn); clears
    /// the consumed `operation` and the `refresh` annotation.
    fn write(
        &self,
        ns: &str,
        name: &str,
        old: &Value,
        mut st: Value,
        consumed: Option<&Value>,
    ) -> Result<(), String> {
        let strip = |v: &Value| {
            let mut v = v.clone();
            if let Some(m) = v.as_object_mut() {
                m.remove("reconciledAt");
            }
            v
        };
        st["reconciledAt"] = if strip(old) == strip(&st) && old.get("reconciledAt").is_some() {
            old["reconciledAt"].clone()
        } else {
            json!(self.now())
        };
        let consumed = consumed.cloned();
        self.store
            .update_with(
                self.app_res,
                Some(ns),
                name,
                Subresource::Main,
                move |obj| {
                    obj["status"] = st;
                    if let Some(m) = obj.as_object_mut()
                        && consumed.is_some()
                        && m.get("operation") == consumed.as_ref()
                    {
                        m.remove("operation");
                    }
                    if let Some(a) = obj
                        .pointer_mut("/metadata/annotations")
                        .and_then(Value::as_object_mut)
                    {
                        a.remove("argocd.argoproj.io/refresh");
                    }
                },
            )
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

fn set_comparison(st: &mut Value, cmp: &Comparison, revisions: &[String], compared_to: Value) {
    let mut sync =
        json!({"status": cmp.status, "revision": cmp.revision, "comparedTo": compared_to});
    if revisions.len() > 1 {
        sync["revisions"] = json!(revisions);
    }
    st["sync"] = sync;
    st["resources"] = json!(cmp.resources);
    let mut health = json!({"status": cmp.health.0});
    if !cmp.health.1.is_empty() {
        health["message"] = json!(cmp.health.1);
    }
    st["health"] = health;
}
