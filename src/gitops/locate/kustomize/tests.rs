use serde_json::{Value, json};

use super::super::testutil::*;
use super::super::*;
use crate::gitops::edit::{PathSeg, YamlOp};

fn guestbook_apps() -> Vec<Application> {
    vec![
        simple_app(
            "kustomize-guestbook",
            EXAMPLE_APPS,
            "kustomize-guestbook",
            "kustomize-guestbook",
            "",
        ),
        simple_app(
            "pre-post-sync",
            EXAMPLE_APPS,
            "pre-post-sync",
            "pre-post-sync",
            "",
        ),
    ]
}

#[test]
fn name_prefix_is_part_of_the_live_name() {
    let apps = guestbook_apps();
    let repos = [(EXAMPLE_APPS, example_apps())];
    let req = memory(
        "Deployment",
        "kustomize-guestbook",
        "kustomize-guestbook-ui",
        "guestbook-ui",
        "640Mi",
    );
    let got = run(&apps[0], &apps[..1], &repos, &req).expect("located");
    let (file, doc, path, _) = only_set(&got);
    assert_eq!(
        (file, doc),
        ("kustomize-guestbook/guestbook-ui-deployment.yaml", 0)
    );
    assert_eq!(
        path,
        container_field("guestbook-ui", "resources.limits.memory").as_slice()
    );
    // The unprefixed name is not what runs.
    let req = memory(
        "Deployment",
        "kustomize-guestbook",
        "guestbook-ui",
        "guestbook-ui",
        "640Mi",
    );
    assert!(matches!(
        run(&apps[0], &apps[..1], &repos, &req),
        Err(LocateError::NotFound(_))
    ));
}

#[test]
fn own_directory_used_as_a_base_elsewhere_is_edited_with_a_note() {
    let apps = guestbook_apps();
    let req = memory(
        "Deployment",
        "kustomize-guestbook",
        "kustomize-guestbook-ui",
        "guestbook-ui",
        "640Mi",
    );
    let got = run(&apps[0], &apps, &[(EXAMPLE_APPS, example_apps())], &req).expect("located");
    assert_eq!(
        only_set(&got).0,
        "kustomize-guestbook/guestbook-ui-deployment.yaml"
    );
    assert!(got.why.contains("argocd/pre-post-sync"), "{}", got.why);
}

#[test]
fn shared_base_gets_a_new_overlay_patch() {
    let apps = guestbook_apps();
    let repos = [(EXAMPLE_APPS, example_apps())];
    // Prefixes stack: pre-post-sync- + kustomize- + guestbook-ui; legacy `bases:` is followed.
    let req = memory(
        "Deployment",
        "pre-post-sync",
        "pre-post-sync-kustomize-guestbook-ui",
        "guestbook-ui",
        "640Mi",
    );
    let got = run(&apps[1], &apps, &repos, &req).expect("located");
    assert_eq!(got.changes.len(), 2, "{got:#?}");
    let FileChange::Create { file, content } = &got.changes[0] else {
        panic!("{got:#?}")
    };
    assert_eq!(
        file,
        "pre-post-sync/suture-deployment-kustomize-guestbook-ui.yaml"
    );
    let patch: Value = serde_saphyr::from_str(content).expect("patch parses");
    assert_eq!(patch["metadata"]["name"], "kustomize-guestbook-ui");
    assert_eq!(patch["kind"], "Deployment");
    assert_eq!(patch["apiVersion"], "apps/v1");
    assert_eq!(
        patch["spec"]["template"]["spec"]["containers"][0],
        json!({"name": "guestbook-ui", "resources": {"limits": {"memory": "640Mi"}}})
    );
    let FileChange::Edit { file, edit } = &got.changes[1] else {
        panic!("{got:#?}")
    };
    assert_eq!(file, "pre-post-sync/kustomization.yaml");
    assert_eq!(
        edit.op,
        YamlOp::Append {
            path: vec![k("patches")],
            value: json!({"path": "suture-deployment-kustomize-guestbook-ui.yaml"})
        }
    );
    assert!(
        got.why.contains("argocd/kustomize-guestbook"),
        "{}",
        got.why
    );
    // Without the other app the base is this app's alone: edited in place.
    let alone = run(&apps[1], &apps[1..], &repos, &req).expect("alone");
    assert_eq!(
        only_set(&alone).0,
        "kustomize-guestbook/guestbook-ui-deployment.yaml"
    );
}

#[test]
fn sock_shop_documents_behind_a_leading_separator() {
    let app = simple_app("sock-shop", EXAMPLE_APPS, "sock-shop", "sock-shop", "");
    let req = memory("Deployment", "sock-shop", "carts", "carts", "640Mi");
    let got = run(&app, &[], &[(EXAMPLE_APPS, example_apps())], &req).expect("located");
    let (file, doc, path, _) = only_set(&got);
    assert_eq!((file, doc), ("sock-shop/base/carts-dep.yaml", 0));
    assert_eq!(
        path,
        container_field("carts", "resources.limits.memory").as_slice()
    );
}

#[test]
fn podinfo_kustomize_directory() {
    let app = simple_app("podinfo", PODINFO, "kustomize", "podinfo", "");
    let req = memory("Deployment", "podinfo", "podinfo", "podinfod", "640Mi");
    let got = run(&app, &[], &[(PODINFO, podinfo())], &req).expect("located");
    assert_eq!(only_set(&got).0, "kustomize/deployment.yaml");
}

fn podinfo_envs() -> Vec<Application> {
    ["dev", "staging", "production"]
        .iter()
        .map(|env| {
            simple_app(
                &format!("webapp-{env}"),
                PODINFO,
                &format!("deploy/overlays/{env}"),
                env,
                "",
            )
        })
        .collect()
}

#[test]
fn podinfo_overlays_share_bases() {
    let apps = podinfo_envs();
    let repos = [(PODINFO, podinfo())];
    let req = memory("Deployment", "dev", "frontend", "frontend", "192Mi");
    let got = run(&apps[0], &apps, &repos, &req).expect("located");
    let FileChange::Create { file, content } = &got.changes[0] else {
        panic!("{got:#?}")
    };
    assert_eq!(file, "deploy/overlays/dev/suture-deployment-frontend.yaml");
    assert!(content.contains("192Mi"), "{content}");
    let FileChange::Edit { file, .. } = &got.changes[1] else {
        panic!("{got:#?}")
    };
    assert_eq!(file, "deploy/overlays/dev/kustomization.yaml");
    // The overlay's namespace applies: the same Deployment in staging belongs to staging.
    assert!(matches!(
        run(
            &apps[0],
            &apps,
            &repos,
            &memory("Deployment", "staging", "frontend", "frontend", "1Gi")
        ),
        Err(LocateError::NotFound(_))
    ));
    // A CronJob in a shared base: the new patch follows the jobTemplate.
    let got = run(
        &apps[2],
        &apps,
        &repos,
        &memory("CronJob", "production", "backup-daily", "backup", "64Mi"),
    )
    .expect("cronjob");
    let FileChange::Create { content, .. } = &got.changes[0] else {
        panic!("{got:#?}")
    };
    let patch: Value = serde_saphyr::from_str(content).expect("patch parses");
    assert_eq!(
        patch["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
            ["memory"],
        "64Mi"
    );
    // Only one app: the base is edited.
    let got = run(&apps[0], &apps[..1], &repos, &req).expect("alone");
    assert_eq!(only_set(&got).0, "deploy/bases/frontend/deployment.yaml");
}

#[test]
fn podinfo_shared_base_image_goes_to_overlay_images() {
    let apps = podinfo_envs();
    let req = image(
        "Deployment",
        "dev",
        "frontend",
        "frontend",
        "ghcr.io/stefanprodan/podinfo:6.14.1",
        "ghcr.io/stefanprodan/podinfo:6.14.0",
    );
    let got = run(&apps[0], &apps, &[(PODINFO, podinfo())], &req).expect("located");
    assert_eq!(got.changes.len(), 1);
    let FileChange::Edit { file, edit } = &got.changes[0] else {
        panic!("{got:#?}")
    };
    assert_eq!(file, "deploy/overlays/dev/kustomization.yaml");
    assert_eq!(
        edit.op,
        YamlOp::Append {
            path: vec![k("images")],
            value: json!({"name": "ghcr.io/stefanprodan/podinfo", "newTag": "6.14.0"})
        }
    );
}

const REPO: &str = "https://git.example.com/team/deploy";

fn deploy(name: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: registry.example.com/web:1.0\n        resources:\n          limits:\n            memory: 256Mi\n"
    )
}

fn overlay_tree(kustomization: &str) -> RepoTree {
    let mut t = RepoTree::default();
    t.insert_file("base/kustomization.yaml", "resources:\n- deployment.yaml\n");
    t.insert_file("base/deployment.yaml", deploy("web"));
    t.insert_file("envs/prod/kustomization.yaml", kustomization);
    t.insert_file(
        "envs/prod/memory.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        resources:\n          limits:\n            memory: 512Mi\n",
    );
    t.insert_file("envs/prod/cpu.yaml", "kind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        resources:\n          limits:\n            cpu: '1'\n");
    t.insert_file(
        "envs/prod/json.yaml",
        "- op: replace\n  path: /spec/template/spec/containers/0/resources/limits/memory\n  value: 768Mi\n",
    );
    t
}

fn prod(extra: &str) -> Application {
    simple_app("web-prod", REPO, "envs/prod", "prod", extra)
}

#[test]
fn the_last_patch_setting_the_field_wins() {
    let req = memory("Deployment", "prod", "prod-web", "web", "1Gi");
    let t = overlay_tree(
        "namePrefix: prod-\nresources:\n- ../../base\npatches:\n- path: memory.yaml\n- path: cpu.yaml\n",
    );
    let got = run(&prod(""), &[], &[(REPO, &t)], &req).expect("smp");
    assert_eq!(only_set(&got).0, "envs/prod/memory.yaml");
    assert_eq!(
        only_set(&got).2,
        container_field("web", "resources.limits.memory").as_slice()
    );
    // A JSON 6902 patch after it (legacy field, target by base name) wins.
    let t = overlay_tree(concat!(
        "namePrefix: prod-\nresources:\n- ../../base\npatchesStrategicMerge:\n- memory.yaml\n",
        "patchesJson6902:\n- target: {group: apps, version: v1, kind: Deployment, name: web}\n  path: json.yaml\n"
    ));
    let got = run(&prod(""), &[], &[(REPO, &t)], &req).expect("json6902");
    let (file, _, path, _) = only_set(&got);
    assert_eq!(file, "envs/prod/json.yaml");
    assert_eq!(path, [PathSeg::Index(0), k("value")]);
}

#[test]
fn inline_patches_are_refused_with_a_reason() {
    let t = overlay_tree(concat!(
        "resources:\n- ../../base\npatches:\n- path: memory.yaml\n",
        "- target: {kind: Deployment, name: web}\n  patch: |-\n    - op: replace\n      path: /spec/template/spec/containers/0/resources/limits/memory\n      value: 1Gi\n"
    ));
    let got = run(
        &prod(""),
        &[],
        &[(REPO, &t)],
        &memory("Deployment", "prod", "web", "web", "2Gi"),
    );
    assert!(matches!(got, Err(LocateError::Refused(r)) if r.contains("inline patches[1].patch")));
}

#[test]
fn application_level_kustomize_settings() {
    let t = overlay_tree("resources:\n- ../../base\n");
    let repos = [(REPO, &t)];
    // Argo CD's namePrefix replaces the overlay's.
    let app = prod("    kustomize:\n      namePrefix: argo-\n");
    assert!(
        run(
            &app,
            &[],
            &repos,
            &memory("Deployment", "prod", "argo-web", "web", "1Gi")
        )
        .is_ok()
    );
    // A patch on the Application is not in Git.
    let app = prod(
        "    kustomize:\n      patches:\n      - target: {kind: Deployment, name: web}\n        patch: |-\n          - op: replace\n            path: /spec/template/spec/containers/0/resources/limits/memory\n            value: 1Gi\n",
    );
    assert!(matches!(
        run(
            &app,
            &[],
            &repos,
            &memory("Deployment", "prod", "web", "web", "2Gi")
        ),
        Err(LocateError::NotInGit(_))
    ));
}

#[test]
fn images_entries_and_overrides() {
    let req = image(
        "Deployment",
        "prod",
        "web",
        "web",
        "registry.example.com/web:2.0",
        "registry.example.com/web:1.9",
    );
    // An overlay images entry: newTag.
    let t = overlay_tree(
        "resources:\n- ../../base\nimages:\n- name: registry.example.com/web\n  newTag: '2.0'\n",
    );
    let got = run(&prod(""), &[], &[(REPO, &t)], &req).expect("images entry");
    let (file, _, path, value) = only_set(&got);
    assert_eq!(file, "envs/prod/kustomization.yaml");
    assert_eq!(
        path,
        [k("images"), m("registry.example.com/web"), k("newTag")]
    );
    assert_eq!(value, "1.9");
    // A digest is written as digest.
    let req_digest = image(
        "Deployment",
        "prod",
        "web",
        "web",
        "x",
        "registry.example.com/web@sha256:abc",
    );
    let got = run(&prod(""), &[], &[(REPO, &t)], &req_digest).expect("digest");
    assert_eq!(only_set(&got).2.last(), Some(&k("digest")));
    // No images entry, base not shared: the manifest's image.
    let plain = overlay_tree("resources:\n- ../../base\n");
    let got = run(&prod(""), &[], &[(REPO, &plain)], &req).expect("manifest");
    assert_eq!(only_set(&got).0, "base/deployment.yaml");
    assert_eq!(only_set(&got).2, container_field("web", "image").as_slice());
    // `.argocd-source.yaml` overrides win and are edited.
    let mut over = t.clone();
    over.insert_file(
        "envs/prod/.argocd-source.yaml",
        "kustomize:\n  images:\n  - registry.example.com/web:2.0\n",
    );
    let got = run(&prod(""), &[], &[(REPO, &over)], &req).expect("override");
    let (file, _, path, value) = only_set(&got);
    assert_eq!(file, "envs/prod/.argocd-source.yaml");
    assert_eq!(path, [k("kustomize"), k("images"), PathSeg::Index(0)]);
    assert_eq!(value, "registry.example.com/web:1.9");
    // The same override on a live Application that is not in Git.
    let app = prod(
        "    kustomize:\n      images: ['registry.example.com/web=registry.example.com/web:2.0']\n",
    );
    assert!(matches!(
        run(&app, &[], &[(REPO, &t)], &req),
        Err(LocateError::NotInGit(_))
    ));
}

#[test]
fn app_of_apps_manifest_in_git_is_edited() {
    let mut t = overlay_tree("resources:\n- ../../base\n");
    let manifest = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: web-prod\n  namespace: argocd\nspec:\n  destination: {namespace: prod}\n  source:\n    repoURL: https://git.example.com/team/deploy\n    path: envs/prod\n    kustomize:\n      images:\n      - registry.example.com/web:2.0\n";
    t.insert_file("apps/web-prod.yaml", manifest);
    let app = prod("    kustomize:\n      images: ['registry.example.com/web:2.0']\n");
    let req = image(
        "Deployment",
        "prod",
        "web",
        "web",
        "registry.example.com/web:2.0",
        "registry.example.com/web:1.9",
    );
    let got = run(&app, &[], &[(REPO, &t)], &req).expect("app manifest");
    let (file, _, path, value) = only_set(&got);
    assert_eq!(file, "apps/web-prod.yaml");
    assert_eq!(
        path,
        [
            k("spec"),
            k("source"),
            k("kustomize"),
            k("images"),
            PathSeg::Index(0)
        ]
    );
    assert_eq!(value, "registry.example.com/web:1.9");
}

#[test]
fn escapes_are_refused() {
    let t = overlay_tree("resources:\n- ../../../outside\n");
    let req = memory("Deployment", "prod", "web", "web", "1Gi");
    assert!(matches!(
        run(&prod(""), &[], &[(REPO, &t)], &req),
        Err(LocateError::Refused(_))
    ));
    let mut t = overlay_tree("resources:\n- linked.yaml\n");
    t.insert_symlink("envs/prod/linked.yaml", "/etc/passwd");
    assert!(matches!(
        run(&prod(""), &[], &[(REPO, &t)], &req),
        Err(LocateError::Refused(_))
    ));
    let t = overlay_tree("resources:\n- /etc/passwd\n");
    assert!(matches!(
        run(&prod(""), &[], &[(REPO, &t)], &req),
        Err(LocateError::Refused(_))
    ));
    let mut cyc = RepoTree::default();
    cyc.insert_file("a/kustomization.yaml", "resources: [../b]\n");
    cyc.insert_file("b/kustomization.yaml", "resources: [../a]\n");
    let app = simple_app("cyc", REPO, "a", "prod", "");
    assert!(matches!(
        run(&app, &[], &[(REPO, &cyc)], &req),
        Err(LocateError::Refused(_))
    ));
}

#[test]
fn components_patches_and_empty_documents() {
    let mut t = overlay_tree("resources:\n- ../../base\ncomponents:\n- ../../components/big\n");
    t.insert_file(
        "components/big/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\npatches:\n- path: big.yaml\n",
    );
    t.insert_file(
        "components/big/big.yaml",
        "---\n---\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        resources: {limits: {memory: 2Gi}}\n",
    );
    let got = run(
        &prod(""),
        &[],
        &[(REPO, &t)],
        &memory("Deployment", "prod", "web", "web", "3Gi"),
    )
    .expect("component patch");
    let (file, doc, _, _) = only_set(&got);
    // The empty document before it counts, as the edit module counts documents.
    assert_eq!((file, doc), ("components/big/big.yaml", 1));
}

#[test]
fn garbage_never_panics() {
    let junk = [
        "",
        "---",
        "[]",
        "a: [",
        "resources: 3",
        "resources: [{a: b}]",
        "patches: [1, {path: 2}, {patch: 3}]",
        "images: [{name: 1}]",
        "bases: [../../../..]",
        "kind: List\nitems: 3",
        "\u{0}\u{feff}:",
    ];
    for text in junk {
        let mut t = RepoTree::default();
        t.insert_file("envs/prod/kustomization.yaml", text);
        t.insert_file("envs/prod/x.yaml", text);
        t.insert_file("envs/prod/Chart.yaml", text);
        for req in [
            memory("Deployment", "prod", "web", "web", "1Gi"),
            image("Deployment", "prod", "web", "web", "a:1", "a:2"),
        ] {
            let _ = run(&prod(""), &[], &[(REPO, &t)], &req);
            t.remove("envs/prod/Chart.yaml");
            let _ = run(&prod(""), &[], &[(REPO, &t)], &req);
            t.remove("envs/prod/kustomization.yaml");
            let _ = run(&prod(""), &[], &[(REPO, &t)], &req);
        }
    }
}

#[test]
fn application_namespace_and_suffix_replace_the_overlays() {
    let t = overlay_tree("namespace: prod\nnameSuffix: -v1\nresources:\n- ../../base\n");
    let repos = [(REPO, &t)];
    assert!(
        run(
            &prod(""),
            &[],
            &repos,
            &memory("Deployment", "prod", "web-v1", "web", "1Gi")
        )
        .is_ok()
    );
    let app = prod("    kustomize:\n      namespace: canary\n      nameSuffix: -v2\n");
    assert!(
        run(
            &app,
            &[],
            &repos,
            &memory("Deployment", "canary", "web-v2", "web", "1Gi")
        )
        .is_ok()
    );
    assert!(
        run(
            &app,
            &[],
            &repos,
            &memory("Deployment", "prod", "web-v1", "web", "1Gi")
        )
        .is_err()
    );
}

#[test]
fn a_patch_file_shared_by_two_overlays_is_not_edited() {
    let mut t =
        overlay_tree("resources:\n- ../../base\npatches:\n- path: ../../patches/memory.yaml\n");
    t.insert_file(
        "patches/memory.yaml",
        t.file("envs/prod/memory.yaml")
            .unwrap_or_default()
            .to_string(),
    );
    t.insert_file(
        "envs/stage/kustomization.yaml",
        "resources:\n- ../../base\npatches:\n- path: ../../patches/memory.yaml\n",
    );
    let stage = simple_app("web-stage", REPO, "envs/stage", "stage", "");
    let req = memory("Deployment", "prod", "web", "web", "1Gi");
    let got = run(&prod(""), std::slice::from_ref(&stage), &[(REPO, &t)], &req).expect("located");
    assert!(
        matches!(&got.changes[0], FileChange::Create { file, .. } if file == "envs/prod/suture-deployment-web.yaml"),
        "{got:#?}"
    );
    assert!(got.why.contains("patches/memory.yaml"), "{}", got.why);
    // Alone, the patch file is edited.
    let got = run(&prod(""), &[], &[(REPO, &t)], &req).expect("alone");
    assert_eq!(only_set(&got).0, "patches/memory.yaml");
}
