use super::super::testutil::*;
use super::super::*;
use crate::gitops::edit::PathSeg;

fn helm_guestbook(extra: &str) -> Application {
    simple_app(
        "helm-guestbook",
        EXAMPLE_APPS,
        "helm-guestbook",
        "default",
        extra,
    )
}

#[test]
fn helm_guestbook_resources_from_to_yaml() {
    let req = memory(
        "Deployment",
        "default",
        "helm-guestbook",
        "helm-guestbook",
        "640Mi",
    );
    let repos = [(EXAMPLE_APPS, example_apps())];
    // values-production.yaml does not set resources: the chart's values.yaml is the place.
    let app = helm_guestbook("    helm:\n      valueFiles: [values-production.yaml]\n");
    let got = run(&app, &[], &repos, &req).expect("located");
    let (file, doc, path, value) = only_set(&got);
    assert_eq!((file, doc), ("helm-guestbook/values.yaml", 0));
    assert_eq!(path, keys("resources.limits.memory").as_slice());
    assert_eq!(value, "640Mi");
    assert!(
        got.why.contains("helm-guestbook/templates/deployment.yaml"),
        "{}",
        got.why
    );
}

#[test]
fn helm_guestbook_image_tag() {
    let req = image(
        "Deployment",
        "default",
        "helm-guestbook",
        "helm-guestbook",
        "gcr.io/google-samples/gb-frontend:v6",
        "gcr.io/google-samples/gb-frontend:v5",
    );
    let got = run(
        &helm_guestbook(""),
        &[],
        &[(EXAMPLE_APPS, example_apps())],
        &req,
    )
    .expect("located");
    let (file, _, path, value) = only_set(&got);
    assert_eq!(file, "helm-guestbook/values.yaml");
    assert_eq!(path, keys("image.tag").as_slice());
    assert_eq!(value, "v5");
    // Another repository too: two changes, tag and repository.
    let req = image(
        "Deployment",
        "default",
        "helm-guestbook",
        "helm-guestbook",
        "gcr.io/google-samples/gb-frontend:v6",
        "mirror.example.com/gb-frontend:v5",
    );
    let got = run(
        &helm_guestbook(""),
        &[],
        &[(EXAMPLE_APPS, example_apps())],
        &req,
    )
    .expect("located");
    assert_eq!(got.changes.len(), 2);
}

fn podinfo_chart(extra: &str) -> Application {
    simple_app("podinfo", PODINFO, "charts/podinfo", "podinfo", extra)
}

#[test]
fn podinfo_value_file_wins_over_chart_defaults() {
    let repos = [(PODINFO, podinfo())];
    let req = memory("Deployment", "podinfo", "podinfo", "podinfo", "320Mi");
    let got = run(
        &podinfo_chart("    helm:\n      valueFiles: [values-prod.yaml]\n"),
        &[],
        &repos,
        &req,
    )
    .expect("prod");
    assert_eq!(only_set(&got).0, "charts/podinfo/values-prod.yaml");
    assert_eq!(only_set(&got).2, keys("resources.limits.memory").as_slice());
    let got = run(&podinfo_chart(""), &[], &repos, &req).expect("defaults");
    assert_eq!(only_set(&got).0, "charts/podinfo/values.yaml");
}

#[test]
fn podinfo_redis_template_is_told_apart_and_hardcoded_limits_are_not_found() {
    let repos = [(PODINFO, podinfo())];
    let req = memory("Deployment", "podinfo", "podinfo-redis", "redis", "256Mi");
    let got = run(&podinfo_chart(""), &[], &repos, &req);
    assert!(
        matches!(&got, Err(LocateError::NotFound(r)) if r.contains("redis/deployment.yaml") && r.contains("hard-coded")),
        "{got:?}"
    );
    let req = image(
        "Deployment",
        "podinfo",
        "podinfo-redis",
        "redis",
        "redis:8.8.0",
        "redis:8.6.0",
    );
    let got = run(&podinfo_chart(""), &[], &repos, &req).expect("redis image");
    assert_eq!(only_set(&got).2, keys("redis.tag").as_slice());
}

const REPO: &str = "https://git.example.com/team/charts";

fn chart_tree() -> RepoTree {
    let mut t = RepoTree::default();
    t.insert_file(
        "web/Chart.yaml",
        "apiVersion: v2\nname: web\nversion: 0.1.0\nappVersion: '1.0'\n",
    );
    t.insert_file("web/values.yaml", "image:\n  repository: registry.example.com/web\nresources:\n  limits:\n    memory: 256Mi\n");
    t.insert_file(
        "web/values-a.yaml",
        "resources:\n  limits:\n    memory: 384Mi\n",
    );
    t.insert_file(
        "web/values-b.yaml",
        "resources:\n  limits:\n    memory: 512Mi\n",
    );
    t.insert_file("web/values-c.yaml", "replicaCount: 2\n");
    t.insert_file(
        "web/templates/deployment.yaml",
        concat!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  template:\n    spec:\n",
            "      containers:\n        - name: web\n          image: \"{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}\"\n",
            "          {{- with .Values.resources }}\n          resources:\n            {{- toYaml . | nindent 12 }}\n          {{- end }}\n",
        ),
    );
    t
}

fn web(extra: &str) -> Application {
    simple_app("web", REPO, "web", "prod", &format!("    helm:\n{extra}"))
}

fn req() -> LocateRequest {
    memory("Deployment", "prod", "web", "web", "640Mi")
}

#[test]
fn later_value_file_wins() {
    let t = chart_tree();
    let got = run(
        &web("      valueFiles: [values-a.yaml, values-b.yaml, values-c.yaml]\n"),
        &[],
        &[(REPO, &t)],
        &req(),
    )
    .expect("b");
    assert_eq!(only_set(&got).0, "web/values-b.yaml");
    let got = run(
        &web("      valueFiles: [values-b.yaml, values-a.yaml]\n"),
        &[],
        &[(REPO, &t)],
        &req(),
    )
    .expect("a");
    assert_eq!(only_set(&got).0, "web/values-a.yaml");
}

#[test]
fn app_level_values_are_not_in_git() {
    let t = chart_tree();
    let repos = [(REPO, &t)];
    let params = "      valueFiles: [values-b.yaml]\n      parameters:\n      - {name: resources.limits.memory, value: 1Gi}\n";
    assert!(
        matches!(run(&web(params), &[], &repos, &req()), Err(LocateError::NotInGit(r)) if r.contains("Helm parameter resources.limits.memory"))
    );
    let object = "      valuesObject:\n        resources: {limits: {memory: 1Gi}}\n";
    assert!(
        matches!(run(&web(object), &[], &repos, &req()), Err(LocateError::NotInGit(r)) if r.contains("valuesObject"))
    );
    let values =
        "      values: |\n        resources:\n          limits:\n            memory: 1Gi\n";
    assert!(matches!(
        run(&web(values), &[], &repos, &req()),
        Err(LocateError::NotInGit(_))
    ));
    // valuesObject replaces `values`: a key only in `values` is then not in effect.
    let both = "      valuesObject: {replicaCount: 3}\n      values: |\n        resources: {limits: {memory: 1Gi}}\n";
    assert_eq!(
        only_set(&run(&web(both), &[], &repos, &req()).expect("defaults")).0,
        "web/values.yaml"
    );
}

#[test]
fn override_files_win_and_are_edited() {
    let mut t = chart_tree();
    t.insert_file(
        "web/.argocd-source.yaml",
        "helm:\n  valueFiles: [values-a.yaml]\n",
    );
    t.insert_file(
        "web/.argocd-source-web.yaml",
        "helm:\n  parameters:\n  - name: resources.limits.memory\n    value: 1Gi\n",
    );
    let got = run(
        &web("      valueFiles: [values-b.yaml]\n"),
        &[],
        &[(REPO, &t)],
        &req(),
    )
    .expect("override");
    let (file, _, path, value) = only_set(&got);
    assert_eq!(file, "web/.argocd-source-web.yaml");
    assert_eq!(
        path,
        [
            k("helm"),
            k("parameters"),
            PathSeg::Match {
                key: "name".into(),
                value: "resources.limits.memory".into()
            },
            k("value")
        ]
    );
    assert_eq!(value, "640Mi");
    // Without the app-specific file, the shared override's valueFiles replace the app's.
    t.remove("web/.argocd-source-web.yaml");
    let got = run(
        &web("      valueFiles: [values-b.yaml]\n"),
        &[],
        &[(REPO, &t)],
        &req(),
    )
    .expect("valueFiles override");
    assert_eq!(only_set(&got).0, "web/values-a.yaml");
}

#[test]
fn image_tag_defaulting_to_app_version_is_added_to_values() {
    let t = chart_tree();
    let req = image(
        "Deployment",
        "prod",
        "web",
        "web",
        "registry.example.com/web:1.0",
        "registry.example.com/web:0.9",
    );
    let got = run(&web("      releaseName: web\n"), &[], &[(REPO, &t)], &req).expect("tag");
    assert_eq!(only_set(&got).0, "web/values.yaml");
    assert_eq!(only_set(&got).2, keys("image.tag").as_slice());
    let req = image(
        "Deployment",
        "prod",
        "web",
        "web",
        "registry.example.com/web:1.0",
        "registry.example.com/web@sha256:abc",
    );
    assert!(matches!(
        run(&web("      releaseName: web\n"), &[], &[(REPO, &t)], &req),
        Err(LocateError::Refused(_))
    ));
}

#[test]
fn value_files_outside_the_repo_are_refused() {
    let t = chart_tree();
    let got = run(
        &web("      valueFiles: [../../../etc/values.yaml]\n"),
        &[],
        &[(REPO, &t)],
        &req(),
    );
    assert!(matches!(got, Err(LocateError::Refused(_))), "{got:?}");
    let mut t = chart_tree();
    t.insert_symlink("web/values-link.yaml", "../../secrets.yaml");
    let got = run(
        &web("      valueFiles: [values-link.yaml]\n"),
        &[],
        &[(REPO, &t)],
        &req(),
    );
    assert!(matches!(got, Err(LocateError::Refused(_))), "{got:?}");
}

const VALUES_REPO: &str = "git@git.example.com:team/values.git";

fn multi_source(value_files: &str) -> Application {
    app(&format!(
        "metadata: {{name: podinfo, namespace: team-a}}\nspec:\n  destination: {{namespace: prod}}\n  sources:\n  - repoURL: https://stefanprodan.github.io/podinfo\n    chart: podinfo\n    targetRevision: 6.14.1\n    helm:\n      valueFiles: {value_files}\n  - repoURL: ssh://git@git.example.com/team/values\n    targetRevision: main\n    ref: values\n"
    ))
}

#[test]
fn multi_source_values_file_in_git() {
    let mut values = RepoTree::default();
    values.insert_file(
        "envs/prod/podinfo.yaml",
        "resources:\n  limits:\n    memory: 256Mi\nimage:\n  tag: 6.14.1\n",
    );
    values.insert_file("envs/prod/empty.yaml", "replicaCount: 2\n");
    let repos = [(VALUES_REPO, &values)];
    let req = memory("Deployment", "prod", "podinfo", "podinfo", "320Mi");
    let got = run(
        &multi_source("['$values/envs/prod/podinfo.yaml']"),
        &[],
        &repos,
        &req,
    )
    .expect("$values");
    assert_eq!(got.repo_url, "ssh://git@git.example.com/team/values");
    assert_eq!(only_set(&got).0, "envs/prod/podinfo.yaml");
    let img = image(
        "Deployment",
        "prod",
        "podinfo",
        "podinfo",
        "ghcr.io/stefanprodan/podinfo:6.14.1",
        "ghcr.io/stefanprodan/podinfo:6.14.0",
    );
    let got = run(
        &multi_source("['$values/envs/prod/podinfo.yaml']"),
        &[],
        &repos,
        &img,
    )
    .expect("$values image");
    assert_eq!(only_set(&got).2, keys("image.tag").as_slice());
    // Chart defaults live in the Helm repository: not in Git.
    let got = run(
        &multi_source("['$values/envs/prod/empty.yaml', values-prod.yaml]"),
        &[],
        &repos,
        &req,
    );
    assert!(
        matches!(&got, Err(LocateError::NotInGit(r)) if r.contains("chart podinfo")),
        "{got:?}"
    );
    assert!(matches!(
        run(&multi_source("['$values/../x.yaml']"), &[], &repos, &req),
        Err(LocateError::Refused(_))
    ));
    assert!(matches!(
        run(&multi_source("['$values/a.yaml']"), &[], &[], &req),
        Err(LocateError::NoRepo(_))
    ));
}

/// The Applications `argocd-example-apps/apps` renders, built as its template does.
fn example_apps_of_apps() -> Vec<Application> {
    let values = example_apps().file("apps/values.yaml").unwrap_or_default();
    let values: serde_json::Value = serde_saphyr::from_str(values).unwrap_or_default();
    let list = values["applications"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    list.iter()
        .map(|a| {
            let name = a["name"].as_str().unwrap_or_default();
            let path = a["path"].as_str().unwrap_or(name);
            let tool = match a.get("tool") {
                Some(tool) => serde_json::to_string(tool).unwrap_or_default(),
                None => "{}".into(),
            };
            let mut app = simple_app(
                &format!("example.{name}"),
                "https://github.com/argoproj/argocd-example-apps",
                path,
                name,
                "",
            );
            if let (Some(source), Ok(tool)) = (
                app.spec.source.as_mut(),
                serde_json::from_str::<serde_json::Value>(&tool),
            ) {
                let mut merged = serde_json::to_value(&*source).unwrap_or_default();
                json_patch::merge(&mut merged, &tool);
                *source = serde_json::from_value(merged).unwrap_or_default();
            }
            app
        })
        .collect()
}

#[test]
fn app_of_apps_children() {
    let apps = example_apps_of_apps();
    assert_eq!(apps.len(), 14);
    let repos = [(EXAMPLE_APPS, example_apps())];
    let by = |n: &str| {
        apps.iter()
            .find(|a| a.metadata.name.as_deref() == Some(n))
            .cloned()
            .unwrap_or_default()
    };
    let req = memory(
        "Deployment",
        "helm-guestbook",
        "helm-guestbook",
        "helm-guestbook",
        "640Mi",
    );
    let got = run(&by("example.helm-guestbook"), &apps, &repos, &req).expect("helm-guestbook");
    assert_eq!(only_set(&got).0, "helm-guestbook/values.yaml");
    let req = memory(
        "Deployment",
        "guestbook",
        "guestbook-ui",
        "guestbook-ui",
        "640Mi",
    );
    assert!(run(&by("example.guestbook"), &apps, &repos, &req).is_ok());
    let req = memory(
        "Deployment",
        "plugin-kustomized-helm",
        "kustomize-guestbook-ui",
        "guestbook-ui",
        "640Mi",
    );
    assert!(matches!(
        run(&by("example.plugin-kustomized-helm"), &apps, &repos, &req),
        Err(LocateError::Unsupported(_))
    ));
    // The app-of-apps chart renders these Applications from a template: a parameter set on
    // the live Application cannot be traced to a plain manifest, so it is not in Git.
    let mut live = by("example.helm-guestbook");
    if let Some(helm) = live.spec.source.as_mut().and_then(|s| s.helm.as_mut()) {
        helm.parameters.push(crate::gitops::argocd::HelmParameter {
            name: "resources.limits.memory".into(),
            value: "512Mi".into(),
            force_string: None,
        });
    }
    let req = memory(
        "Deployment",
        "helm-guestbook",
        "helm-guestbook",
        "helm-guestbook",
        "640Mi",
    );
    assert!(
        matches!(run(&live, &apps, &repos, &req), Err(LocateError::NotInGit(r)) if r.contains("example.helm-guestbook"))
    );
    // pre-post-sync builds on kustomize-guestbook, another child: a new overlay patch.
    let req = memory(
        "Deployment",
        "pre-post-sync",
        "pre-post-sync-kustomize-guestbook-ui",
        "guestbook-ui",
        "640Mi",
    );
    let got = run(&by("example.pre-post-sync"), &apps, &repos, &req).expect("pre-post-sync");
    assert!(
        matches!(&got.changes[0], FileChange::Create { .. }),
        "{got:#?}"
    );
}

#[test]
fn odd_templates_never_panic() {
    let templates = [
        "",
        "kind: Deployment",
        "kind: Deployment\nmetadata:\n",
        "kind: Deployment\nmetadata:\n  name: {{\n",
        "kind: Deployment\nmetadata:\n  name: }}{{ x\nspec:\n  containers:\n  -\n  - name:\n    image: {{ .Values.\n",
        "kind: Deployment\ncontainers:\n- name: web\n  image: \"{{ .Values.a }}:{{\"\n  resources:\n",
        "kind: Deployment\ncontainers:\n- name: web\n  resources:\n    {{- toYaml . | nindent 4 }}\n",
        "kind: Deployment\nmetadata:\n  name: {{a}}{{b}}{{c}}{{d}}{{e}}{{f}}{{g}}{{h}}\ncontainers:\n- name: wéb\n",
    ];
    for tpl in templates {
        let mut t = chart_tree();
        t.insert_file("web/templates/deployment.yaml", tpl);
        for req in [
            req(),
            image("Deployment", "prod", "web", "web", "a:1", "a:2"),
        ] {
            let _ = run(
                &web("      valueFiles: [values-a.yaml]\n"),
                &[],
                &[(REPO, &t)],
                &req,
            );
        }
    }
}

#[test]
fn explicit_keys_in_templates_and_shape_mismatches() {
    let mut t = chart_tree();
    t.insert_file(
        "web/templates/deployment.yaml",
        concat!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  template:\n    spec:\n",
            "      containers:\n        - name: web\n          image: {{ .Values.image }}\n          resources:\n",
            "            limits:\n              cpu: 100m\n              memory: {{ .Values.memoryLimit | quote }}\n",
        ),
    );
    t.insert_file(
        "web/values.yaml",
        "image:\n  repository: x\nmemoryLimit: 256Mi\n",
    );
    let got =
        run(&web("      releaseName: web\n"), &[], &[(REPO, &t)], &req()).expect("explicit key");
    assert_eq!(only_set(&got).2, keys("memoryLimit").as_slice());
    // `image` is a map in values.yaml but the template prints it whole: refused, not guessed.
    let img = image("Deployment", "prod", "web", "web", "x:1", "x:2");
    let got = run(&web("      releaseName: web\n"), &[], &[(REPO, &t)], &img);
    assert!(matches!(got, Err(LocateError::Refused(_))), "{got:?}");
    // A hard-coded cpu limit has no values key.
    let cpu = LocateRequest {
        target: FieldTarget::Container {
            field: vec!["resources".into(), "limits".into(), "cpu".into()],
            value: "200m".into(),
        },
        ..req()
    };
    assert!(matches!(
        run(&web("      releaseName: web\n"), &[], &[(REPO, &t)], &cpu),
        Err(LocateError::NotFound(_))
    ));
}

#[test]
fn one_key_helper_templates_are_followed() {
    let mut t = chart_tree();
    t.insert_file(
        "web/templates/_helpers.tpl",
        "{{/* resources */}}\n{{- define \"web.resources\" -}}\n{{- toYaml .Values.resources }}\n{{- end }}\n",
    );
    t.insert_file(
        "web/templates/deployment.yaml",
        concat!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  template:\n    spec:\n",
            "      containers:\n        - name: web\n          resources:\n            {{- include \"web.resources\" . | nindent 12 }}\n",
        ),
    );
    let got = run(
        &web("      valueFiles: [values-a.yaml]\n"),
        &[],
        &[(REPO, &t)],
        &req(),
    )
    .expect("helper");
    assert_eq!(only_set(&got).0, "web/values-a.yaml");
    assert_eq!(only_set(&got).2, keys("resources.limits.memory").as_slice());
}

#[test]
fn git_sources_are_searched_before_a_helm_repository_chart() {
    let mut git = RepoTree::default();
    git.insert_file("manifests/web.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n      - {name: web, image: 'x:1'}\n");
    let app = app(concat!(
        "metadata: {name: web, namespace: argocd}\nspec:\n  destination: {namespace: prod}\n  sources:\n",
        "  - {repoURL: 'https://charts.example.com', chart: redis, targetRevision: 1.0.0}\n",
        "  - {repoURL: 'https://git.example.com/team/charts', path: manifests}\n",
    ));
    let got = run(&app, &[], &[(REPO, &git)], &req()).expect("git source");
    assert_eq!(only_set(&got).0, "manifests/web.yaml");
    assert_eq!(got.repo_url, "https://git.example.com/team/charts");
}
