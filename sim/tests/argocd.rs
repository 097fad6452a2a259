//! The simulated Argo CD, driven through kube-rs as suture drives a real one: Applications
//! created and patched over HTTP, the Git remote seeded with `RepoStore::commit_files`.

use std::time::Duration;

use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};
use suture_sim::argocd::{ArgoSim, HelmBinding, HelmChart, Settings, TrackingMethod, registry};
use suture_sim::git::RepoStore;
use suture_sim::kube::{Config, SimKube};

const REPO: &str = "acme/deploy";
const URL: &str = "http://Git.Example.com/acme/deploy.git/";

struct Env {
    _kube: SimKube,
    argo: ArgoSim,
    repos: RepoStore,
    client: Client,
}

impl Env {
    async fn new(mut settings: Settings) -> Env {
        if settings.poll_interval == Settings::default().poll_interval {
            // Deterministic by default: tests call `refresh`; the loop only runs once at start.
            settings.poll_interval = Duration::from_secs(3600);
        }
        let repos = RepoStore::temp().expect("repo store");
        repos.create(REPO, "main").expect("create repo");
        let namespaces = ["default", "argocd", "team", "web"]
            .map(String::from)
            .to_vec();
        let kube = SimKube::start(Config {
            registry: registry(&settings),
            namespaces,
            ..Config::default()
        })
        .expect("apiserver");
        let kubeconfig = Kubeconfig::from_yaml(&kube.kubeconfig("default")).expect("kubeconfig");
        let cfg = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .expect("config");
        let client = Client::try_from(cfg).expect("client");
        let argo = ArgoSim::start(kube.store().clone(), repos.clone(), settings);
        Env {
            _kube: kube,
            argo,
            repos,
            client,
        }
    }

    fn commit(&self, files: &[(&str, &str)]) -> String {
        self.repos
            .commit_files(REPO, "main", files.iter().copied(), "change")
            .expect("commit")
    }

    fn apps(&self, ns: &str) -> Api<DynamicObject> {
        Api::namespaced_with(
            self.client.clone(),
            ns,
            &ar("argoproj.io", "v1alpha1", "Application"),
        )
    }

    async fn app(&self, ns: &str, name: &str) -> Value {
        let a = self.apps(ns).get(name).await.expect("get app");
        serde_json::to_value(a).expect("json")
    }

    async fn create_app(&self, ns: &str, app: Value) {
        let obj: DynamicObject = serde_json::from_value(app).expect("app object");
        self.apps(ns)
            .create(&PostParams::default(), &obj)
            .await
            .expect("create app");
    }

    async fn patch_app(&self, ns: &str, name: &str, patch: Value) -> Value {
        let a = self
            .apps(ns)
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("patch app");
        serde_json::to_value(a).expect("json")
    }

    async fn live(&self, api_version: &str, kind: &str, ns: &str, name: &str) -> Option<Value> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), ns, &ar(group, version, kind));
        api.get_opt(name)
            .await
            .expect("get")
            .map(|o| serde_json::to_value(o).expect("json"))
    }
}

fn ar(group: &str, version: &str, kind: &str) -> ApiResource {
    let mut ar = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
    if kind == "Application" {
        ar.plural = "applications".into();
    }
    ar
}

fn deployment(memory: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {{app: web}}\n  template:\n    metadata:\n      labels: {{app: web}}\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n        resources:\n          limits:\n            memory: {memory}\n"
    )
}

fn application(name: &str, ns: &str, source: Value, automated: Value) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "project": "default",
            "source": source,
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "web"},
            "syncPolicy": {"automated": automated},
        },
    })
}

fn dir_source(path: &str) -> Value {
    json!({"repoURL": URL, "targetRevision": "main", "path": path})
}

fn memory_of(deploy: &Value) -> &str {
    deploy
        .pointer("/spec/template/spec/containers/0/resources/limits/memory")
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

async fn wait_for(env: &Env, ns: &str, name: &str, what: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..160 {
        let app = env.app(ns, name).await;
        if what(&app) {
            return app;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out; app: {:#}", env.app(ns, name).await);
}

#[tokio::test]
async fn plain_directory_app_syncs_and_auto_deploys_new_commits() {
    let env = Env::new(Settings {
        poll_interval: Duration::from_millis(50),
        ..Settings::default()
    })
    .await;
    let sha1 = env.commit(&[
        ("apps/web/deploy.yaml", &deployment("512Mi")),
        ("README.md", "not a manifest dir file"),
    ]);
    env.create_app(
        "argocd",
        application(
            "web",
            "argocd",
            dir_source("apps/web"),
            json!({"prune": true}),
        ),
    )
    .await;
    let app = wait_for(&env, "argocd", "web", |a| {
        s(a, "/status/operationState/phase") == "Succeeded"
    })
    .await;
    assert_eq!(s(&app, "/status/sync/revision"), sha1);
    assert_eq!(s(&app, "/status/sync/status"), "Synced");
    assert_eq!(s(&app, "/status/operationState/syncResult/revision"), sha1);
    assert_eq!(s(&app, "/status/history/0/revision"), sha1);
    assert_eq!(
        app.pointer("/status/operationState/operation/initiatedBy/automated"),
        Some(&json!(true))
    );
    let live = env
        .live("apps/v1", "Deployment", "web", "web")
        .await
        .expect("deployment applied");
    assert_eq!(
        s(
            &live,
            "/metadata/annotations/argocd.argoproj.io~1tracking-id"
        ),
        "web:apps/Deployment:web/web"
    );
    assert_eq!(memory_of(&live), "512Mi");

    let sha2 = env.commit(&[("apps/web/deploy.yaml", &deployment("640Mi"))]);
    let app = wait_for(&env, "argocd", "web", |a| {
        s(a, "/status/operationState/syncResult/revision") == sha2
    })
    .await;
    assert_eq!(s(&app, "/status/operationState/phase"), "Succeeded");
    assert_eq!(s(&app, "/status/sync/status"), "Synced");
    let history = app
        .pointer("/status/history")
        .and_then(Value::as_array)
        .expect("history");
    assert_eq!(history.len(), 2);
    assert_eq!(s(&history[1], "/revision"), sha2);
    let live = env
        .live("apps/v1", "Deployment", "web", "web")
        .await
        .unwrap();
    assert_eq!(memory_of(&live), "640Mi");
    assert!(live.get("status").is_none() || live["status"].is_object());
}

#[tokio::test]
async fn pause_with_enabled_false_holds_new_commits_until_re_enabled() {
    let env = Env::new(Settings::default()).await;
    let sha1 = env.commit(&[("apps/web/deploy.yaml", &deployment("512Mi"))]);
    env.create_app(
        "argocd",
        application(
            "web",
            "argocd",
            dir_source("apps/web"),
            json!({"enabled": true, "selfHeal": true}),
        ),
    )
    .await;
    env.argo.refresh();
    let app = env
        .patch_app(
            "argocd",
            "web",
            json!({"spec": {"syncPolicy": {"automated": {"enabled": false}}}}),
        )
        .await;
    assert_eq!(
        app.pointer("/spec/syncPolicy/automated/enabled"),
        Some(&json!(false)),
        "read back"
    );
    let sha2 = env.commit(&[("apps/web/deploy.yaml", &deployment("640Mi"))]);
    env.argo.refresh();
    let app = env.app("argocd", "web").await;
    assert_eq!(s(&app, "/status/sync/status"), "OutOfSync");
    assert_eq!(s(&app, "/status/sync/revision"), sha2);
    assert_eq!(s(&app, "/status/operationState/syncResult/revision"), sha1);
    assert_eq!(
        memory_of(
            &env.live("apps/v1", "Deployment", "web", "web")
                .await
                .unwrap()
        ),
        "512Mi"
    );

    env.patch_app(
        "argocd",
        "web",
        json!({"spec": {"syncPolicy": {"automated": {"enabled": true}}}}),
    )
    .await;
    env.argo.refresh();
    let app = env.app("argocd", "web").await;
    assert_eq!(s(&app, "/status/operationState/syncResult/revision"), sha2);
    assert_eq!(s(&app, "/status/sync/status"), "Synced");
    assert_eq!(
        memory_of(
            &env.live("apps/v1", "Deployment", "web", "web")
                .await
                .unwrap()
        ),
        "640Mi"
    );
}

#[tokio::test]
async fn manual_apps_sync_through_the_operation_field_and_sync_now() {
    let env = Env::new(Settings::default()).await;
    let sha1 = env.commit(&[("apps/web/deploy.yaml", &deployment("512Mi"))]);
    let mut app = application("web", "argocd", dir_source("apps/web"), Value::Null);
    app["spec"]["syncPolicy"] = json!({});
    env.create_app("argocd", app).await;
    env.argo.refresh();
    let app = env.app("argocd", "web").await;
    assert_eq!(s(&app, "/status/sync/status"), "OutOfSync");
    assert_eq!(s(&app, "/status/health/status"), "Missing");
    assert!(
        env.live("apps/v1", "Deployment", "web", "web")
            .await
            .is_none()
    );

    env.patch_app(
        "argocd",
        "web",
        json!({"operation": {"sync": {"revision": sha1}, "initiatedBy": {"username": "suture"}}}),
    )
    .await;
    env.argo.refresh();
    let app = env.app("argocd", "web").await;
    assert!(app.get("operation").is_none(), "operation cleared");
    assert_eq!(s(&app, "/status/operationState/phase"), "Succeeded");
    assert_eq!(
        s(
            &app,
            "/status/operationState/operation/initiatedBy/username"
        ),
        "suture"
    );
    assert_eq!(s(&app, "/status/operationState/syncResult/revision"), sha1);

    let sha2 = env.commit(&[("apps/web/deploy.yaml", &deployment("640Mi"))]);
    env.argo.refresh();
    assert_eq!(
        s(&env.app("argocd", "web").await, "/status/sync/status"),
        "OutOfSync"
    );
    env.argo.sync_now("argocd", "web").expect("sync");
    let app = env.app("argocd", "web").await;
    assert_eq!(s(&app, "/status/operationState/syncResult/revision"), sha2);
    assert_eq!(
        memory_of(
            &env.live("apps/v1", "Deployment", "web", "web")
                .await
                .unwrap()
        ),
        "640Mi"
    );
}

#[tokio::test]
async fn pre_3_1_crd_drops_enabled_and_pauses_with_null_automated() {
    let env = Env::new(Settings {
        pre_3_1_crd: true,
        ..Settings::default()
    })
    .await;
    env.commit(&[("apps/web/deploy.yaml", &deployment("512Mi"))]);
    let automated = json!({"prune": true, "selfHeal": true, "enabled": true});
    env.create_app(
        "argocd",
        application("web", "argocd", dir_source("apps/web"), automated),
    )
    .await;
    env.argo.refresh();
    let app = env
        .patch_app(
            "argocd",
            "web",
            json!({"spec": {"syncPolicy": {"automated": {"enabled": false}}}}),
        )
        .await;
    let stored = app
        .pointer("/spec/syncPolicy/automated")
        .cloned()
        .expect("automated");
    assert_eq!(
        stored,
        json!({"prune": true, "selfHeal": true}),
        "enabled pruned on write"
    );

    let paused = env
        .patch_app(
            "argocd",
            "web",
            json!({"spec": {"syncPolicy": {"automated": null}}}),
        )
        .await;
    assert!(paused.pointer("/spec/syncPolicy/automated").is_none());
    let sha2 = env.commit(&[("apps/web/deploy.yaml", &deployment("640Mi"))]);
    env.argo.refresh();
    assert_eq!(
        s(&env.app("argocd", "web").await, "/status/sync/status"),
        "OutOfSync"
    );
    assert_eq!(
        memory_of(
            &env.live("apps/v1", "Deployment", "web", "web")
                .await
                .unwrap()
        ),
        "512Mi"
    );

    env.patch_app(
        "argocd",
        "web",
        json!({"spec": {"syncPolicy": {"automated": stored}}}),
    )
    .await;
    env.argo.refresh();
    let app = env.app("argocd", "web").await;
    assert_eq!(s(&app, "/status/operationState/syncResult/revision"), sha2);
    assert_eq!(
        memory_of(
            &env.live("apps/v1", "Deployment", "web", "web")
                .await
                .unwrap()
        ),
        "640Mi"
    );
}

#[tokio::test]
async fn kustomize_overlay_patches_images_and_prefix() {
    let env = Env::new(Settings::default()).await;
    let overlay = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamePrefix: prod-\nresources:\n- ../../base\nimages:\n- name: nginx\n  newTag: \"1.28\"\npatches:\n- path: memory.yaml\n- target:\n    kind: Deployment\n    name: web\n  patch: |-\n    - op: replace\n      path: /spec/replicas\n      value: 3\nconfigMapGenerator:\n- name: settings\n  literals: [LEVEL=debug]\n";
    let patch = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        resources:\n          limits:\n            memory: 768Mi\n        envFrom:\n        - configMapRef:\n            name: settings\n";
    env.commit(&[
        (
            "k/base/kustomization.yaml",
            "resources:\n- deploy.yaml\ncommonLabels:\n  team: payments\n",
        ),
        ("k/base/deploy.yaml", &deployment("512Mi")),
        ("k/overlays/prod/kustomization.yaml", overlay),
        ("k/overlays/prod/memory.yaml", patch),
    ]);
    env.create_app(
        "argocd",
        application("web", "argocd", dir_source("k/overlays/prod"), json!({})),
    )
    .await;
    env.argo.refresh();
    let app = env.app("argocd", "web").await;
    assert_eq!(
        s(&app, "/status/operationState/phase"),
        "Succeeded",
        "{app:#}"
    );
    let live = env
        .live("apps/v1", "Deployment", "web", "prod-web")
        .await
        .expect("prefixed deployment");
    let c = &live["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(s(c, "/image"), "nginx:1.28");
    assert_eq!(s(c, "/resources/limits/memory"), "768Mi");
    assert_eq!(live.pointer("/spec/replicas"), Some(&json!(3)));
    assert_eq!(s(&live, "/spec/selector/matchLabels/team"), "payments");
    let cm_name = s(c, "/envFrom/0/configMapRef/name").to_string();
    assert!(
        cm_name.starts_with("prod-settings-") && cm_name.len() == "prod-settings-".len() + 10,
        "{cm_name}"
    );
    assert!(env.live("v1", "ConfigMap", "web", &cm_name).await.is_some());
}

fn podinfo_files() -> Vec<(String, String)> {
    let root = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/gitops-repos/podinfo"
    ));
    let mut out = Vec::new();
    let mut stack = vec![root.join("deploy")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("fixture dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.push((rel, std::fs::read_to_string(&path).expect("read")));
            }
        }
    }
    // The fixture omits the generator scripts its kustomizations name; stand-ins.
    for script in [
        "frontend/scripts/warm-cache.sh",
        "frontend/scripts/warm-cache-init.sh",
        "database/scripts/rollup.sh",
        "database/scripts/backup.sh",
    ] {
        out.push((
            format!("deploy/bases/{script}"),
            "#!/bin/sh\necho ok\n".into(),
        ));
    }
    out
}

#[tokio::test]
async fn podinfo_production_overlay_renders_like_kustomize() {
    let env = Env::new(Settings::default()).await;
    let files = podinfo_files();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    let sha = env.commit(&refs);
    let mut app = application(
        "podinfo",
        "argocd",
        dir_source("deploy/overlays/production"),
        json!({"prune": true}),
    );
    app["spec"]["destination"]["namespace"] = json!("production");
    env.create_app("argocd", app).await;
    env.argo.refresh();
    let app = env.app("argocd", "podinfo").await;
    assert_eq!(
        s(&app, "/status/operationState/phase"),
        "Succeeded",
        "{:#}",
        app["status"]
    );
    assert_eq!(s(&app, "/status/operationState/syncResult/revision"), sha);
    assert_eq!(
        s(&app, "/status/sync/status"),
        "Synced",
        "{:#}",
        app["status"]["resources"]
    );
    for name in ["backend", "frontend", "cache"] {
        let d = env
            .live("apps/v1", "Deployment", "production", name)
            .await
            .unwrap_or_else(|| panic!("{name}"));
        assert_eq!(
            s(&d, "/metadata/labels/app.kubernetes.io~1environment"),
            "production"
        );
        assert_eq!(
            s(&d, "/metadata/annotations/argocd.argoproj.io~1tracking-id"),
            format!("podinfo:apps/Deployment:production/{name}")
        );
    }
    assert!(
        env.live("v1", "ConfigMap", "production", "warm-cache-script")
            .await
            .is_some()
    );
    let cache = env
        .live("apps/v1", "Deployment", "production", "cache")
        .await
        .unwrap();
    let text = cache.to_string();
    let hashed = text
        .split('"')
        .find(|t| t.starts_with("redis-config-"))
        .expect("hashed config map reference")
        .to_string();
    assert!(
        env.live("v1", "ConfigMap", "production", &hashed)
            .await
            .is_some(),
        "{hashed}"
    );
    let resources = app
        .pointer("/status/resources")
        .and_then(Value::as_array)
        .unwrap();
    assert!(
        resources
            .iter()
            .any(|r| s(r, "/kind") == "Namespace" && s(r, "/name") == "production")
    );
}

#[tokio::test]
async fn helm_values_change_reaches_the_live_object_through_the_binding() {
    let manifests = suture_sim::objects::parse(&deployment("256Mi")).unwrap();
    let chart = HelmChart {
        repo_url: "http://git.example.com/acme/deploy".into(),
        path: "charts/web".into(),
        manifests,
        bindings: vec![HelmBinding::new(
            "resources.limits.memory",
            "Deployment",
            "web",
            "spec.template.spec.containers[name=web].resources.limits.memory",
        )],
    };
    let env = Env::new(Settings {
        helm_charts: vec![chart],
        ..Settings::default()
    })
    .await;
    env.commit(&[
        (
            "charts/web/Chart.yaml",
            "apiVersion: v2\nname: web\nversion: 0.1.0\n",
        ),
        (
            "charts/web/values.yaml",
            "resources:\n  limits:\n    memory: 256Mi\n",
        ),
        (
            "charts/web/values-prod.yaml",
            "resources:\n  limits:\n    memory: 512Mi\n",
        ),
    ]);
    let mut source = dir_source("charts/web");
    source["helm"] = json!({"valueFiles": ["values-prod.yaml"]});
    env.create_app("argocd", application("web", "argocd", source, json!({})))
        .await;
    env.argo.refresh();
    assert_eq!(
        memory_of(
            &env.live("apps/v1", "Deployment", "web", "web")
                .await
                .expect("applied")
        ),
        "512Mi"
    );
    let sha = env.commit(&[(
        "charts/web/values-prod.yaml",
        "resources:\n  limits:\n    memory: 640Mi\n",
    )]);
    env.argo.refresh();
    assert_eq!(
        memory_of(
            &env.live("apps/v1", "Deployment", "web", "web")
                .await
                .unwrap()
        ),
        "640Mi"
    );
    assert_eq!(
        s(
            &env.app("argocd", "web").await,
            "/status/operationState/syncResult/revision"
        ),
        sha
    );
    // parameters > valuesObject > values > valueFiles
    env.patch_app("argocd", "web", json!({"spec": {"source": {"helm": {"valuesObject": {"resources": {"limits": {"memory": "700Mi"}}}}}}})).await;
    env.argo.refresh();
    assert_eq!(
        memory_of(
            &env.live("apps/v1", "Deployment", "web", "web")
                .await
                .unwrap()
        ),
        "700Mi"
    );
    env.patch_app("argocd", "web", json!({"spec": {"source": {"helm": {"parameters": [{"name": "resources.limits.memory", "value": "1Gi"}]}}}})).await;
    env.argo.refresh();
    assert_eq!(
        memory_of(
            &env.live("apps/v1", "Deployment", "web", "web")
                .await
                .unwrap()
        ),
        "1Gi"
    );
}

#[tokio::test]
async fn label_tracking_and_apps_outside_the_control_plane() {
    let env = Env::new(Settings {
        tracking: TrackingMethod::Label,
        ..Settings::default()
    })
    .await;
    env.commit(&[("apps/web/deploy.yaml", &deployment("512Mi"))]);
    env.create_app(
        "argocd",
        application("web", "argocd", dir_source("apps/web"), json!({})),
    )
    .await;
    env.argo.refresh();
    let live = env
        .live("apps/v1", "Deployment", "web", "web")
        .await
        .expect("applied");
    assert_eq!(
        s(&live, "/metadata/labels/app.kubernetes.io~1instance"),
        "web"
    );
    assert!(
        live.pointer("/metadata/annotations/argocd.argoproj.io~1tracking-id")
            .is_none()
    );

    let env = Env::new(Settings::default()).await;
    env.commit(&[("apps/web/deploy.yaml", &deployment("512Mi"))]);
    env.create_app(
        "team",
        application("web", "team", dir_source("apps/web"), json!({})),
    )
    .await;
    env.argo.refresh();
    let live = env
        .live("apps/v1", "Deployment", "web", "web")
        .await
        .expect("applied");
    assert_eq!(
        s(
            &live,
            "/metadata/annotations/argocd.argoproj.io~1tracking-id"
        ),
        "team_web:apps/Deployment:web/web"
    );
}

#[tokio::test]
async fn applicationset_reverts_a_pause_unless_sync_policy_is_ignored() {
    let env = Env::new(Settings::default()).await;
    env.commit(&[("apps/web/deploy.yaml", &deployment("512Mi"))]);
    let sets: Api<DynamicObject> = Api::namespaced_with(
        env.client.clone(),
        "argocd",
        &ar("argoproj.io", "v1alpha1", "ApplicationSet"),
    );
    for (set, ignore) in [("strict", false), ("lenient", true)] {
        let mut spec = json!({
            "generators": [{"list": {"elements": [{"app": format!("{set}-web")}]}}],
            "template": {
                "metadata": {"name": "{{app}}"},
                "spec": {"project": "default", "source": dir_source("apps/web"),
                         "destination": {"server": "https://kubernetes.default.svc", "namespace": "web"},
                         "syncPolicy": {"automated": {"enabled": true}}},
            },
        });
        if ignore {
            spec["ignoreApplicationDifferences"] = json!([{"jsonPointers": ["/spec/syncPolicy"]}]);
        }
        let obj: DynamicObject = serde_json::from_value(json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet", "metadata": {"name": set}, "spec": spec})).unwrap();
        sets.create(&PostParams::default(), &obj)
            .await
            .expect("create set");
    }
    env.argo.refresh();
    for set in ["strict", "lenient"] {
        let app = env.app("argocd", &format!("{set}-web")).await;
        assert_eq!(
            s(&app, "/metadata/ownerReferences/0/kind"),
            "ApplicationSet"
        );
        assert_eq!(
            app.pointer("/metadata/ownerReferences/0/controller"),
            Some(&json!(true))
        );
        env.patch_app(
            "argocd",
            &format!("{set}-web"),
            json!({"spec": {"syncPolicy": {"automated": {"enabled": false}}}}),
        )
        .await;
    }
    env.argo.refresh();
    let strict = env.app("argocd", "strict-web").await;
    assert_eq!(
        strict.pointer("/spec/syncPolicy/automated/enabled"),
        Some(&json!(true)),
        "pause reverted"
    );
    let lenient = env.app("argocd", "lenient-web").await;
    assert_eq!(
        lenient.pointer("/spec/syncPolicy/automated/enabled"),
        Some(&json!(false)),
        "pause kept"
    );
}

#[tokio::test]
async fn bad_sources_are_comparison_errors_not_panics() {
    let env = Env::new(Settings::default()).await;
    env.commit(&[
        ("bad/kustomization.yaml", "resources:\n- ../../../etc\n"),
        (
            "remote/kustomization.yaml",
            "resources:\n- https://github.com/x/y//base\n",
        ),
        ("gen/kustomization.yaml", "transformers:\n- t.yaml\n"),
        (
            "gen/t.yaml",
            "apiVersion: builtin\nkind: ReplacementTransformer\nmetadata: {name: x}\n",
        ),
        ("broken/a.yaml", "kind: [unclosed\n"),
    ]);
    for (name, path, needle) in [
        ("escape", "bad", "leaves the repository"),
        ("remote", "remote", "not supported"),
        ("transformer", "gen", "ReplacementTransformer"),
        ("broken", "broken", "broken/a.yaml"),
        ("missing", "nowhere", "does not exist"),
        ("outside", "../x", "leaves the repository"),
    ] {
        env.create_app(
            "argocd",
            application(name, "argocd", dir_source(path), json!({})),
        )
        .await;
        env.argo.sync_now("argocd", name).expect("reconcile");
        let app = env.app("argocd", name).await;
        assert_eq!(s(&app, "/status/sync/status"), "Unknown", "{name}");
        assert_eq!(
            s(&app, "/status/conditions/0/type"),
            "ComparisonError",
            "{name}"
        );
        assert!(
            s(&app, "/status/conditions/0/message").contains(needle),
            "{name}: {app:#}"
        );
        assert_eq!(s(&app, "/status/operationState/phase"), "Error", "{name}");
    }
}

#[tokio::test]
async fn prune_only_when_automated_prune_is_set_and_self_heal_reverts_drift() {
    let env = Env::new(Settings::default()).await;
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  a: b\n";
    env.commit(&[
        ("apps/web/deploy.yaml", &deployment("512Mi")),
        ("apps/web/cm.yaml", cm),
    ]);
    env.create_app(
        "argocd",
        application(
            "web",
            "argocd",
            dir_source("apps/web"),
            json!({"prune": false, "selfHeal": true}),
        ),
    )
    .await;
    env.argo.refresh();
    assert!(env.live("v1", "ConfigMap", "web", "extra").await.is_some());
    env.repos
        .remove_files(REPO, "main", ["apps/web/cm.yaml"], "drop cm")
        .expect("remove");
    env.argo.refresh();
    let app = env.app("argocd", "web").await;
    assert_eq!(s(&app, "/status/sync/status"), "OutOfSync");
    let extra = app["status"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| s(r, "/name") == "extra")
        .cloned()
        .unwrap();
    assert_eq!(extra["requiresPruning"], json!(true));
    assert!(
        env.live("v1", "ConfigMap", "web", "extra").await.is_some(),
        "not pruned"
    );
    env.patch_app(
        "argocd",
        "web",
        json!({"spec": {"syncPolicy": {"automated": {"prune": true}}}}),
    )
    .await;
    env.argo.sync_now("argocd", "web").unwrap();
    assert!(
        env.live("v1", "ConfigMap", "web", "extra").await.is_none(),
        "pruned"
    );

    // Drift on a managed field is re-applied by self-heal.
    let deploys: Api<DynamicObject> =
        Api::namespaced_with(env.client.clone(), "web", &ar("apps", "v1", "Deployment"));
    let drift = json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.27", "resources": {"limits": {"memory": "1Gi"}}}]}}}});
    deploys
        .patch("web", &PatchParams::default(), &Patch::Strategic(&drift))
        .await
        .expect("drift");
    env.argo.refresh();
    assert_eq!(
        memory_of(
            &env.live("apps/v1", "Deployment", "web", "web")
                .await
                .unwrap()
        ),
        "512Mi"
    );
}
