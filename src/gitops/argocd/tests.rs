use super::*;

fn app(yaml: &str) -> Application {
    serde_saphyr::from_str(yaml).expect("test Application parses")
}

fn meta(annotations: &[(&str, &str)], labels: &[(&str, &str)]) -> ObjectMeta {
    let map = |kv: &[(&str, &str)]| {
        (!kv.is_empty()).then(|| {
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
    };
    ObjectMeta {
        annotations: map(annotations),
        labels: map(labels),
        ..Default::default()
    }
}

fn deploy(ns: &str, name: &str) -> ObjectRef {
    ObjectRef::new("apps", "Deployment", ns, name)
}

fn apps() -> Vec<Application> {
    vec![
        app("metadata: {name: guestbook, namespace: argocd}\nspec: {project: default}\n"),
        app("metadata: {name: guestbook, namespace: team-a}\nspec: {project: default}\n"),
        app(concat!(
            "metadata: {name: listed, namespace: argocd}\n",
            "status:\n  resources:\n  - {group: apps, kind: Deployment, namespace: web, name: lonely}\n",
            "  - {kind: Service, namespace: web, name: lonely}\n",
        )),
    ]
}

fn name_ns(a: Option<&Application>) -> Option<(String, String)> {
    a.map(|a| {
        (
            a.metadata.namespace.clone().unwrap_or_default(),
            a.metadata.name.clone().unwrap_or_default(),
        )
    })
}

#[test]
fn tracking_id_on_the_object_it_names() {
    let apps = apps();
    let m = meta(
        &[(
            TRACKING_ANNOTATION,
            "guestbook:apps/Deployment:default/guestbook-ui",
        )],
        &[],
    );
    let found = find_application(
        &apps,
        &deploy("default", "guestbook-ui"),
        &m,
        &ArgoSettings::default(),
    );
    assert_eq!(name_ns(found), Some(("argocd".into(), "guestbook".into())));
}

#[test]
fn tracking_id_copied_onto_a_replicaset_does_not_match_it() {
    let apps = apps();
    let m = meta(
        &[(
            TRACKING_ANNOTATION,
            "guestbook:apps/Deployment:default/guestbook-ui",
        )],
        &[],
    );
    let rs = ObjectRef::new("apps", "ReplicaSet", "default", "guestbook-ui-5d8f7c");
    assert_eq!(
        find_application(&apps, &rs, &m, &ArgoSettings::default()),
        None
    );
}

#[test]
fn core_group_is_empty_in_the_tracking_id() {
    let apps = apps();
    let m = meta(&[(TRACKING_ANNOTATION, "guestbook:/Pod:default/solo")], &[]);
    let pod = ObjectRef::new("", "Pod", "default", "solo");
    assert!(find_application(&apps, &pod, &m, &ArgoSettings::default()).is_some());
}

#[test]
fn apps_in_any_namespace_use_ns_underscore_name() {
    let apps = apps();
    let s = ArgoSettings::default();
    let m = meta(
        &[(
            TRACKING_ANNOTATION,
            "team-a_guestbook:apps/Deployment:web/ui",
        )],
        &[],
    );
    let found = find_application(&apps, &deploy("web", "ui"), &m, &s);
    assert_eq!(name_ns(found), Some(("team-a".into(), "guestbook".into())));
    // The same id without the prefix is the control-plane app.
    let m = meta(
        &[(TRACKING_ANNOTATION, "guestbook:apps/Deployment:web/ui")],
        &[],
    );
    assert_eq!(
        name_ns(find_application(&apps, &deploy("web", "ui"), &m, &s)),
        Some(("argocd".into(), "guestbook".into()))
    );
}

#[test]
fn instance_label_is_the_2x_fallback_and_its_key_configurable() {
    let apps = apps();
    let m = meta(&[], &[("app.kubernetes.io/instance", "team-a_guestbook")]);
    let found = find_application(&apps, &deploy("web", "ui"), &m, &ArgoSettings::default());
    assert_eq!(name_ns(found), Some(("team-a".into(), "guestbook".into())));
    let custom = ArgoSettings {
        instance_label_key: "argocd.argoproj.io/instance".into(),
        ..Default::default()
    };
    assert_eq!(
        find_application(&apps, &deploy("web", "ui"), &m, &custom),
        None
    );
    let m = meta(&[], &[("argocd.argoproj.io/instance", "guestbook")]);
    assert!(find_application(&apps, &deploy("web", "ui"), &m, &custom).is_some());
}

#[test]
fn annotation_wins_over_label() {
    let apps = apps();
    let m = meta(
        &[(
            TRACKING_ANNOTATION,
            "team-a_guestbook:apps/Deployment:web/ui",
        )],
        &[("app.kubernetes.io/instance", "guestbook")],
    );
    let found = find_application(&apps, &deploy("web", "ui"), &m, &ArgoSettings::default());
    assert_eq!(name_ns(found), Some(("team-a".into(), "guestbook".into())));
}

#[test]
fn label_contradicted_by_status_resources_is_ignored() {
    let apps = apps();
    // A Helm chart's own instance label naming an app that does not list this workload.
    let m = meta(&[], &[("app.kubernetes.io/instance", "listed")]);
    assert_eq!(
        find_application(&apps, &deploy("web", "other"), &m, &ArgoSettings::default()),
        None
    );
    assert!(
        find_application(
            &apps,
            &deploy("web", "lonely"),
            &m,
            &ArgoSettings::default()
        )
        .is_some()
    );
}

#[test]
fn status_resources_fallback_needs_a_single_owner() {
    let mut apps = apps();
    let s = ArgoSettings::default();
    let found = find_application(&apps, &deploy("web", "lonely"), &ObjectMeta::default(), &s);
    assert_eq!(name_ns(found), Some(("argocd".into(), "listed".into())));
    let mut twin = apps[2].clone();
    twin.metadata.name = Some("twin".into());
    apps.push(twin);
    assert_eq!(
        find_application(&apps, &deploy("web", "lonely"), &ObjectMeta::default(), &s),
        None
    );
}

#[test]
fn malformed_tracking_ids_are_ignored() {
    for id in [
        "",
        "guestbook",
        "a:b",
        "a:apps/Deployment",
        ":apps/Deployment:default/x",
        "a:apps:ns/x",
    ] {
        assert_eq!(TrackingId::parse(id), None, "{id}");
    }
}

#[test]
fn repo_urls_compare_equal_in_their_usual_forms() {
    let n = normalize_repo_url;
    let canonical = n("https://github.com/argoproj/argocd-example-apps");
    for u in [
        "https://GitHub.com/argoproj/argocd-example-apps.git",
        "HTTPS://github.com/argoproj/argocd-example-apps/",
        "https://github.com/argoproj/argocd-example-apps.git/",
        " https://github.com/argoproj/argocd-example-apps ",
    ] {
        assert_eq!(n(u), canonical, "{u}");
    }
    assert_eq!(
        n("git@GitHub.com:org/Repo.git"),
        n("ssh://git@github.com/org/Repo")
    );
    assert_ne!(
        n("https://github.com/org/Repo"),
        n("https://github.com/org/repo")
    );
    assert_eq!(
        n("https://gitlab.example.com:8443/group/sub/repo.git"),
        "https://gitlab.example.com:8443/group/sub/repo"
    );
}
