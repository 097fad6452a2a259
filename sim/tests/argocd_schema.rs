//! Applications as the simulated Argo CD serves them validate against the real Application CRD
//! schema (`fixtures/argocd/application-crd.yaml`): every property path under `spec`, `status`
//! and `operation` exists in the schema with the right type.

use std::time::Duration;

use serde_json::{Value, json};
use suture_sim::argocd::{ArgoSim, Settings, registry};
use suture_sim::git::RepoStore;
use suture_sim::kube::{Config, SimKube, WriteOptions};

const CRD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/argocd/application-crd.yaml"
);

fn schema() -> Value {
    let text = std::fs::read_to_string(CRD).expect("CRD fixture");
    let crd: Value = serde_saphyr::from_str(&text).expect("CRD YAML");
    crd.pointer("/spec/versions/0/schema/openAPIV3Schema")
        .cloned()
        .expect("schema")
}

/// Collects every mismatch between `v` and `schema` at `path`.
fn check(v: &Value, schema: &Value, path: &str, errors: &mut Vec<String>) {
    if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&json!(true))
        && schema.get("properties").is_none()
    {
        return;
    }
    let ty = schema.get("type").and_then(Value::as_str).unwrap_or("");
    let int_or_string = schema.get("x-kubernetes-int-or-string") == Some(&json!(true));
    let ok = match v {
        Value::Null => true,
        Value::Bool(_) => ty == "boolean",
        Value::Number(n) => ty == "number" || (ty == "integer" && n.is_i64()) || int_or_string,
        Value::String(_) => ty == "string" || int_or_string,
        Value::Array(_) => ty == "array",
        Value::Object(_) => ty == "object" || ty.is_empty(),
    };
    if !ok {
        errors.push(format!("{path}: {v} is not of type {ty:?}"));
        return;
    }
    match v {
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    check(item, item_schema, &format!("{path}[{i}]"), errors);
                }
            }
        }
        Value::Object(map) => {
            for (k, child) in map {
                let sub = schema
                    .pointer(&format!(
                        "/properties/{}",
                        k.replace('~', "~0").replace('/', "~1")
                    ))
                    .or_else(|| schema.get("additionalProperties").filter(|a| a.is_object()));
                match sub {
                    Some(sub) => check(child, sub, &format!("{path}.{k}"), errors),
                    None => errors.push(format!("{path}.{k}: not in the schema")),
                }
            }
            for req in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(r) = req.as_str()
                    && !map.contains_key(r)
                {
                    errors.push(format!("{path}: required {r} missing"));
                }
            }
        }
        _ => {}
    }
}

#[test]
fn the_checker_catches_wrong_types_and_unknown_fields() {
    let schema = schema();
    let mut errors = Vec::new();
    let bad = json!({"status": {"sync": {"status": "Synced", "revison": "x"}, "history": [{"id": "1", "deployedAt": "t"}]}});
    check(
        bad.get("status").unwrap(),
        &schema["properties"]["status"],
        "status",
        &mut errors,
    );
    assert!(errors.iter().any(|e| e.contains("revison")), "{errors:?}");
    assert!(
        errors.iter().any(|e| e.contains("history[0].id")),
        "{errors:?}"
    );
}

#[tokio::test]
async fn served_applications_match_the_crd_schema() {
    let settings = Settings {
        poll_interval: Duration::from_secs(3600),
        ..Settings::default()
    };
    let repos = RepoStore::temp().unwrap();
    repos.create("acme/deploy", "main").unwrap();
    let deploy = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: web, image: nginx}]\n";
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\n";
    repos
        .commit_files(
            "acme/deploy",
            "main",
            [("web/d.yaml", deploy), ("web/cm.yaml", cm)],
            "init",
        )
        .unwrap();
    let namespaces = ["argocd", "web"].map(String::from).to_vec();
    let kube = SimKube::start(Config {
        registry: registry(&settings),
        namespaces,
        ..Config::default()
    })
    .unwrap();
    let store = kube.store().clone();
    let argo = ArgoSim::start(store.clone(), repos.clone(), settings);
    let apps = store.res("argoproj.io/v1alpha1", "Application").unwrap();
    for (name, path) in [("web", "web"), ("broken", "nowhere")] {
        let app = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": name, "namespace": "argocd"},
            "spec": {"project": "default", "source": {"repoURL": "http://git/acme/deploy.git", "targetRevision": "main", "path": path},
                     "destination": {"namespace": "web", "server": "https://kubernetes.default.svc"},
                     "syncPolicy": {"automated": {"enabled": true, "prune": true}}}});
        store
            .create(apps, Some("argocd"), app, &WriteOptions::default())
            .unwrap();
        argo.sync_now("argocd", name).unwrap();
    }
    repos
        .remove_files("acme/deploy", "main", ["web/cm.yaml"], "drop")
        .unwrap();
    argo.refresh();
    let schema = schema();
    for name in ["web", "broken"] {
        let app = store.get(apps, Some("argocd"), name).unwrap();
        assert!(app.pointer("/status/operationState").is_some(), "{app:#}");
        let mut errors = Vec::new();
        for top in ["spec", "status", "operation"] {
            if let Some(v) = app.get(top) {
                check(v, &schema["properties"][top], top, &mut errors);
            }
        }
        assert!(errors.is_empty(), "{name}: {errors:#?}\n{app:#}");
    }
    let web = store.get(apps, Some("argocd"), "web").unwrap();
    assert!(
        web.pointer("/status/history/1").is_some(),
        "prune sync recorded: {web:#}"
    );
}
