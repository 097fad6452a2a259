//! Writes to the store: create, update (PUT and `/status`), read-modify-write, patch and
//! delete, with the real server's checks (body vs URL, optimistic concurrency, validation,
//! defaults, generation, finalizers, dry run).

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::admission;
use super::defaults;
use super::patch::{self, PatchType};
use super::registry::{ResId, ResourceType};
use super::status::{ApiError, Reason, cause};
use super::store::{
    DeleteOptions, Key, State, Store, Subresource, WriteOptions, Written, finalizers_empty, str_at,
    uid,
};
use super::validate;
use super::watch::ChangeType;

impl Store {
    pub fn create(
        &self,
        res: ResId,
        ns: Option<&str>,
        mut obj: Value,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        let rt = self.resource(res)?;
        check_body(rt, ns, &mut obj)?;
        let mut state = self.lock();
        let name = str_at(&obj, "/metadata/name").to_string();
        // Admission errors name the object as sent: a generateName prefix when unnamed.
        let sent_name = if name.is_empty() {
            str_at(&obj, "/metadata/generateName").to_string()
        } else {
            name.clone()
        };
        let name = if name.is_empty() {
            let prefix = str_at(&obj, "/metadata/generateName").to_string();
            if prefix.is_empty() {
                return Err(ApiError::invalid(
                    rt,
                    "",
                    vec![cause(
                        "FieldValueRequired",
                        "metadata.name",
                        "Required value: name or generateName is required",
                    )],
                ));
            }
            self.generate_name(&mut state, res, ns, &prefix)?
        } else {
            name
        };
        obj["metadata"]["name"] = json!(name);
        let key = self.key(res, ns, &name)?;
        if rt.namespaced {
            self.require_namespace(&state, &key.ns)?;
        }
        // Like the real server: a create must not carry a resourceVersion (exported objects).
        let rv = str_at(&obj, "/metadata/resourceVersion");
        if !rv.is_empty() {
            let msg = format!("Invalid value: \"{rv}\": must be empty");
            let c = cause("FieldValueInvalid", "metadata.resourceVersion", msg);
            return Err(ApiError::invalid(rt, &name, vec![c]));
        }
        let metadata = obj["metadata"].as_object_mut();
        if let Some(meta) = metadata {
            for system in [
                "uid",
                "resourceVersion",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
                "managedFields",
                "selfLink",
            ] {
                meta.remove(system);
            }
        }
        if rt.status_subresource
            && let Some(map) = obj.as_object_mut()
        {
            map.remove("status");
        }
        defaults::apply(rt, &mut obj);
        if rt.group.is_empty() && rt.kind == "Pod" {
            obj["status"] = defaults::new_pod_status(&obj);
        }
        let warnings = validate::shape(rt, &mut obj, opts.field_validation)?;
        validate::semantics(rt, &obj, None)?;
        // Validating admission runs after validation, before storage (dry runs included).
        admission::review(&self.admission(), rt, &obj, None)?;
        if rt.group.is_empty() && rt.kind == "Pod" {
            self.admit_quota(&state, res, &key.ns, &obj)
                .map_err(|why| ApiError::forbidden(rt, &sent_name, &why))?;
        }
        if state.objects.contains_key(&key) {
            return Err(ApiError::already_exists(rt, &name));
        }
        state.seq += 1;
        let uid = uid(&self.shared.seed, state.seq);
        let meta = &mut obj["metadata"];
        meta["uid"] = json!(uid);
        meta["creationTimestamp"] = json!(self.now_string());
        if rt.generation {
            meta["generation"] = json!(1);
        }
        if opts.dry_run {
            return Ok(Written {
                object: obj,
                warnings,
            });
        }
        let stored = self.commit(
            &mut state,
            key,
            ChangeType::Added,
            self.to_storage(res, obj),
            None,
        );
        Ok(Written {
            object: self.to_view(res, stored),
            warnings,
        })
    }

    /// ResourceQuota admission of a new pod in `ns` (see `quota`), on the stored objects.
    fn admit_quota(
        &self,
        state: &State,
        pod_res: ResId,
        ns: &str,
        pod: &Value,
    ) -> Result<(), String> {
        let registry = &self.shared.registry;
        let Some(quota_res) = registry.find("", "v1", "resourcequotas") else {
            return Ok(());
        };
        let in_ns = |res: ResId| {
            let res = registry.storage_of(res);
            let start = Key {
                res,
                ns: ns.to_string(),
                name: String::new(),
            };
            state
                .objects
                .range(start..)
                .take_while(move |(k, _)| k.res == res && k.ns == ns)
                .map(|(_, v)| v)
                .collect::<Vec<&Value>>()
        };
        let quotas = in_ns(quota_res);
        if quotas.is_empty() {
            return Ok(());
        }
        super::quota::admit(pod, &quotas, &in_ns(pod_res))
    }

    /// PUT: replaces the object (or only its status), checking `metadata.resourceVersion`.
    pub fn update(
        &self,
        res: ResId,
        ns: Option<&str>,
        name: &str,
        mut obj: Value,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        let rt = self.resource(res)?;
        check_body(rt, ns, &mut obj)?;
        let mut state = self.lock();
        self.update_locked(&mut state, res, ns, name, obj, opts)
    }

    /// Read-modify-write under the store lock, for in-process controllers: `f` edits the current
    /// object; no conflict is possible. `f` must not call the store (the lock is held).
    pub fn update_with(
        &self,
        res: ResId,
        ns: Option<&str>,
        name: &str,
        sub: Subresource,
        f: impl FnOnce(&mut Value),
    ) -> Result<Written, ApiError> {
        let key = self.key(res, ns, name)?;
        let mut state = self.lock();
        let rt = self.resource(res)?;
        let mut obj = match state.objects.get(&key) {
            Some(o) => self.to_view(res, o.clone()),
            None => return Err(ApiError::not_found(rt, name)),
        };
        f(&mut obj);
        check_body(rt, ns, &mut obj)?;
        let opts = WriteOptions {
            subresource: sub,
            ..WriteOptions::default()
        };
        self.update_locked(&mut state, res, ns, name, obj, &opts)
    }

    pub fn patch(
        &self,
        res: ResId,
        ns: Option<&str>,
        name: &str,
        body: &Value,
        kind: PatchType,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        let rt = self.resource(res)?;
        let key = self.key(res, ns, name)?;
        let mut state = self.lock();
        let current = match state.objects.get(&key) {
            Some(o) => self.to_view(res, o.clone()),
            None => return Err(ApiError::not_found(rt, name)),
        };
        let mut patched = patch::apply(&current, body, kind, rt.typed.is_some())?;
        check_body(rt, ns, &mut patched)?;
        self.update_locked(&mut state, res, ns, name, patched, opts)
    }

    fn update_locked(
        &self,
        state: &mut State,
        res: ResId,
        ns: Option<&str>,
        name: &str,
        mut obj: Value,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        let rt = self.resource(res)?;
        let body_name = str_at(&obj, "/metadata/name").to_string();
        if body_name.is_empty() {
            obj["metadata"]["name"] = json!(name);
        } else if body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        let key = self.key(res, ns, name)?;
        let old = match state.objects.get(&key) {
            Some(o) => self.to_view(res, o.clone()),
            None => return Err(ApiError::not_found(rt, name)),
        };
        let old_rv = str_at(&old, "/metadata/resourceVersion").to_string();
        let body_rv = str_at(&obj, "/metadata/resourceVersion").to_string();
        if !body_rv.is_empty() && body_rv != old_rv {
            return Err(ApiError::conflict(rt, name));
        }
        let mut new = match opts.subresource {
            Subresource::Main => {
                if rt.status_subresource {
                    set_or_remove(&mut obj, "status", old.get("status").cloned());
                }
                obj
            }
            Subresource::Status => {
                let mut merged = old.clone();
                set_or_remove(&mut merged, "status", obj.get("status").cloned());
                merged
            }
        };
        // System metadata is owned by the server.
        for field in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ] {
            let kept = old.pointer(&format!("/metadata/{field}")).cloned();
            if let Some(meta) = new.get_mut("metadata") {
                set_or_remove(meta, field, kept);
            }
        }
        new["metadata"]["resourceVersion"] = json!(old_rv);
        defaults::apply(rt, &mut new);
        let warnings = validate::shape(rt, &mut new, opts.field_validation)?;
        validate::semantics(rt, &new, Some(&old))?;
        // Webhooks here match the main resource only, as policies on pod templates do.
        if opts.subresource == Subresource::Main {
            admission::review(&self.admission(), rt, &new, Some(&old))?;
        }
        if rt.generation && without_meta_status(&new) != without_meta_status(&old) {
            let generation = old
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            new["metadata"]["generation"] = json!(generation + 1);
        }
        // A no-op write stores nothing and emits no event, like etcd's GuaranteedUpdate.
        if new == old || opts.dry_run {
            return Ok(Written {
                object: new,
                warnings,
            });
        }
        let terminating = new.pointer("/metadata/deletionTimestamp").is_some();
        let kind = if terminating && finalizers_empty(&new) {
            ChangeType::Deleted
        } else {
            ChangeType::Modified
        };
        let prev = self.to_storage(res, old);
        let stored = self.commit(state, key, kind, self.to_storage(res, new), Some(prev));
        Ok(Written {
            object: self.to_view(res, stored),
            warnings,
        })
    }

    /// The `pods/binding` subresource: sets `spec.nodeName` of an unbound pod (a plain update
    /// may not change it). 409 if the pod is already bound.
    pub fn bind_pod(&self, ns: &str, name: &str, node: &str) -> Result<Value, ApiError> {
        let res = self.res("v1", "Pod")?;
        let rt = self.resource(res)?;
        let key = self.key(res, Some(ns), name)?;
        let mut state = self.lock();
        let Some(current) = state.objects.get(&key).cloned() else {
            return Err(ApiError::not_found(rt, name));
        };
        let bound = str_at(&current, "/spec/nodeName");
        if !bound.is_empty() {
            let msg = format!("pod {name} is already assigned to node \"{bound}\"");
            return Err(ApiError::conflict_because(rt, name, &msg));
        }
        let mut new = current.clone();
        new["spec"]["nodeName"] = json!(node);
        Ok(self.commit(&mut state, key, ChangeType::Modified, new, Some(current)))
    }

    /// DELETE: removes the object, or marks it with `deletionTimestamp` while finalizers remain.
    /// Deleting a namespace deletes everything in it first.
    pub fn delete(
        &self,
        res: ResId,
        ns: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Value, ApiError> {
        let rt = self.resource(res)?;
        let key = self.key(res, ns, name)?;
        let mut state = self.lock();
        let Some(current) = state.objects.get(&key).cloned() else {
            return Err(ApiError::not_found(rt, name));
        };
        if let Some(uid) = &opts.uid {
            let have = str_at(&current, "/metadata/uid");
            if uid != have {
                return Err(ApiError::conflict_because(
                    rt,
                    name,
                    &format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {have}"
                    ),
                ));
            }
        }
        if let Some(rv) = &opts.resource_version {
            let have = str_at(&current, "/metadata/resourceVersion");
            if rv != have {
                return Err(ApiError::conflict_because(
                    rt,
                    name,
                    &format!(
                        "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {have}"
                    ),
                ));
            }
        }
        if opts.dry_run {
            return Ok(self.to_view(res, current));
        }
        if Some(key.res) == self.shared.namespaces {
            self.delete_namespace_contents(&mut state, name);
        }
        let out = self.delete_locked(&mut state, key, current);
        Ok(self.to_view(res, out))
    }

    fn delete_locked(&self, state: &mut State, key: Key, current: Value) -> Value {
        if finalizers_empty(&current) {
            return self.commit(state, key, ChangeType::Deleted, current, None);
        }
        if current.pointer("/metadata/deletionTimestamp").is_some() {
            return current;
        }
        let mut marked = current.clone();
        marked["metadata"]["deletionTimestamp"] = json!(self.now_string());
        marked["metadata"]["deletionGracePeriodSeconds"] = json!(0);
        self.commit(state, key, ChangeType::Modified, marked, Some(current))
    }

    fn delete_namespace_contents(&self, state: &mut State, ns: &str) {
        let keys: Vec<(Key, Value)> = state
            .objects
            .iter()
            .filter(|(k, _)| k.ns == ns)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (key, obj) in keys {
            self.delete_locked(state, key, obj);
        }
    }

    fn require_namespace(&self, state: &State, ns: &str) -> Result<(), ApiError> {
        let Some(ns_res) = self.shared.namespaces else {
            return Ok(());
        };
        let key = Key {
            res: ns_res,
            ns: String::new(),
            name: ns.to_string(),
        };
        if state.objects.contains_key(&key) {
            return Ok(());
        }
        let rt = self.resource(ns_res)?;
        Err(ApiError::not_found(rt, ns))
    }

    fn generate_name(
        &self,
        state: &mut State,
        res: ResId,
        ns: Option<&str>,
        prefix: &str,
    ) -> Result<String, ApiError> {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        for _ in 0..16 {
            state.seq += 1;
            let digest = Sha256::digest(format!("{}-{}", self.shared.seed, state.seq));
            let suffix: String = digest
                .iter()
                .take(5)
                .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
                .collect();
            let name = format!("{prefix}{suffix}");
            if !state.objects.contains_key(&self.key(res, ns, &name)?) {
                return Ok(name);
            }
        }
        Err(ApiError::new(
            Reason::AlreadyExists,
            "could not generate a unique name",
        ))
    }
}

/// Checks apiVersion/kind/namespace of a request body against the URL and fills them in.
fn check_body(rt: &ResourceType, ns: Option<&str>, obj: &mut Value) -> Result<(), ApiError> {
    let Some(map) = obj.as_object_mut() else {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    };
    let api_version = rt.api_version();
    match map.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("apiVersion".into(), json!(api_version));
        }
        Some(v) if v == api_version => {}
        Some(v) => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({api_version})"
            )));
        }
    }
    match map.get("kind").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("kind".into(), json!(rt.kind));
        }
        Some(k) if k == rt.kind => {}
        Some(k) => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                rt.kind
            )));
        }
    }
    let meta = map.entry("metadata").or_insert_with(|| json!({}));
    let Some(meta) = meta.as_object_mut() else {
        return Err(ApiError::bad_request("metadata must be an object"));
    };
    if rt.namespaced {
        let url_ns = ns.unwrap_or("");
        match meta.get("namespace").and_then(Value::as_str) {
            None | Some("") => {
                meta.insert("namespace".into(), json!(url_ns));
            }
            Some(body_ns) if body_ns == url_ns => {}
            Some(_) => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
        }
    } else {
        meta.remove("namespace");
    }
    Ok(())
}

fn set_or_remove(obj: &mut Value, key: &str, value: Option<Value>) {
    if let Some(map) = obj.as_object_mut() {
        match value {
            Some(v) => {
                map.insert(key.to_string(), v);
            }
            None => {
                map.remove(key);
            }
        }
    }
}

fn without_meta_status(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(map) = v.as_object_mut() {
        map.remove("metadata");
        map.remove("status");
    }
    v
}
