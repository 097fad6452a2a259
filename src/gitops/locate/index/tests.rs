//! Locating through the index gives exactly what a scan of every file gives: over the fixture
//! checkouts (every directory as an Application, every workload declared in them, names that
//! are not there) and over a generated repository full of near misses.

use std::collections::BTreeSet;

use super::super::manifest::{self, objects, parse_docs};
use super::super::testutil::*;
use super::super::*;
use super::{RepoIndex, scanning};
use crate::objref::WorkloadKind;

/// Every directory holding a file (and the root), as an Application found by Argo CD's own
/// detection (Helm, Kustomize or plain) and as a recursive plain directory.
fn apps_for(tree: &RepoTree, repo: &str) -> Vec<Application> {
    let mut dirs: BTreeSet<String> = BTreeSet::from([".".to_string()]);
    for path in tree.entries.keys() {
        let mut dir = path.as_str();
        while let Some((parent, _)) = dir.rsplit_once('/') {
            dirs.insert(parent.to_string());
            dir = parent;
        }
    }
    let mut apps = Vec::new();
    for (i, dir) in dirs.iter().enumerate() {
        apps.push(simple_app(&format!("auto-{i}"), repo, dir, "default", ""));
        // Recursive plain directories near the top, where they span most of the repository.
        if dir == "." || !dir.contains('/') {
            apps.push(simple_app(
                &format!("recurse-{i}"),
                repo,
                dir,
                "default",
                "    directory: {recurse: true}\n",
            ));
        }
    }
    apps
}

/// (kind, namespace, name, container, image) of every workload declared in the tree, and
/// variations that are not declared: a prefix of a name, a name with a suffix, another kind.
fn workloads_in(tree: &RepoTree) -> BTreeSet<(String, String, String, String, String)> {
    let mut out = BTreeSet::new();
    for (path, entry) in &tree.entries {
        let crate::gitops::tree::Entry::File(text) = entry else {
            continue;
        };
        let Some(docs) = parse_docs(path, text) else {
            continue;
        };
        for obj in objects(&docs) {
            let (Some(kind), Some(name)) = (manifest::kind(obj.value), manifest::name(obj.value))
            else {
                continue;
            };
            // The kinds the generator declares (ReplicaSets are not kept in Git).
            let Some(workload) =
                WorkloadKind::from_kind(kind).filter(|k| *k != WorkloadKind::ReplicaSet)
            else {
                continue;
            };
            let ns = manifest::namespace(obj.value)
                .unwrap_or("default")
                .to_string();
            let spec = workload.pod_spec_keys();
            let container = spec
                .iter()
                .try_fold(obj.value, |v, k| v.get(k))
                .and_then(|s| s.get("containers"))
                .and_then(|c| c.get(0));
            let c_name = container
                .and_then(|c| c.get("name"))
                .and_then(|n| n.as_str())
                .unwrap_or("app");
            let image = container
                .and_then(|c| c.get("image"))
                .and_then(|n| n.as_str())
                .unwrap_or("nginx:1");
            let mut add = |kind: &str, name: &str| {
                out.insert((
                    kind.to_string(),
                    ns.clone(),
                    name.to_string(),
                    c_name.to_string(),
                    image.to_string(),
                ));
            };
            add(kind, name);
            add(kind, &format!("{name}-x"));
            add(kind, &name[..name.len().div_ceil(2)]);
            add(
                if kind == "Deployment" {
                    "StatefulSet"
                } else {
                    "Deployment"
                },
                name,
            );
        }
    }
    out
}

/// Locate every workload in every app both ways; returns how many were located.
fn compare(tree: &RepoTree, repo: &str, extra_names: &[&str]) -> (usize, usize) {
    let apps = apps_for(tree, repo);
    let mut workloads = workloads_in(tree);
    for name in extra_names {
        workloads.insert((
            "Deployment".into(),
            "default".into(),
            name.to_string(),
            "app".into(),
            "nginx:1".into(),
        ));
    }
    let (mut located, mut total) = (0, 0);
    for app in &apps {
        for (kind, ns, name, container, image) in &workloads {
            let mut reqs = vec![memory(kind, ns, name, container, "300Mi")];
            // Images only where they are declared: the kustomize `images` and Helm paths.
            if image != "nginx:1" {
                reqs.push(image_req(kind, ns, name, container, image));
            }
            for req in reqs {
                let indexed = run(app, &apps, &[(repo, tree)], &req);
                let scanned = scanning(|| run(app, &apps, &[(repo, tree)], &req));
                assert_eq!(indexed, scanned, "{} {kind} {ns}/{name}", app_label(app));
                total += 1;
                located += usize::from(indexed.is_ok());
            }
        }
    }
    (located, total)
}

fn image_req(kind: &str, ns: &str, name: &str, container: &str, current: &str) -> LocateRequest {
    image(
        kind,
        ns,
        name,
        container,
        current,
        "registry.example.com/other:2.0",
    )
}

#[test]
fn index_and_scan_agree_on_the_example_apps() {
    let (located, total) = compare(example_apps(), EXAMPLE_APPS, &["guestbook", "helm"]);
    assert!(located >= 20 && located < total, "{located} of {total}");
}

#[test]
fn index_and_scan_agree_on_podinfo() {
    let (located, total) = compare(podinfo(), PODINFO, &["podinfo-x", "frontend"]);
    assert!(located >= 10 && located < total, "{located} of {total}");
}

/// A repository of near misses: names inside other names, a name only in a comment, escapes,
/// symlinks, lists, duplicates, unparsable files and jsonnet.
fn tricky_tree() -> RepoTree {
    let deploy = |name: &str, ns: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: nginx:1\n          resources: {{limits: {{memory: 128Mi}}}}\n"
        )
    };
    let mut t = RepoTree::default();
    for i in 0..30 {
        t.insert_file(
            format!("apps/team-{}/svc-{i}.yaml", i % 7),
            format!(
                "# svc-{i} (not svc-{}): generated\n{}",
                i + 1,
                deploy(&format!("svc-{i}"), "default")
            ),
        );
    }
    t.insert_file("apps/web.yaml", deploy("web", "default"));
    t.insert_file("apps/web-api.yaml", deploy("web-api", "default"));
    t.insert_file("apps/web-api-2.yml", deploy("web-api", "other"));
    t.insert_file("apps/quoted.yaml", deploy("\"quoted\"", "default"));
    t.insert_file(
        "apps/escaped.json",
        r#"{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "esc\u0061ped"},
            "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:1"}]}}}}"#,
    );
    t.insert_file(
        "apps/list.yaml",
        format!(
            "apiVersion: v1\nkind: List\nitems:\n- {}\n",
            "{apiVersion: apps/v1, kind: Deployment, metadata: {name: listed}, spec: {template: {spec: {containers: [{name: app, image: 'nginx:1'}]}}}}"
        ),
    );
    t.insert_file(
        "apps/multi.yaml",
        format!(
            "---\n{}---\n{}",
            deploy("first", "default"),
            deploy("second", "default")
        ),
    );
    t.insert_file("apps/dup-a.yaml", deploy("twice", "default"));
    t.insert_file("apps/nested/dup-b.yaml", deploy("twice", "default"));
    t.insert_file("apps/broken.yaml", "metadata: {name: broken\n  kind: [\n");
    t.insert_file(
        "apps/comment.yaml",
        "# ghost is mentioned only here\nkind: ConfigMap\n",
    );
    t.insert_file("apps/gen.jsonnet", "{ name: 'jsonnet-only' }\n");
    t.insert_file("real/linked.yaml", deploy("linked", "default"));
    t.insert_symlink("apps/link.yaml", "../real/linked.yaml");
    t.insert_file(
        "apps/folded.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: >-\n    folded\nspec:\n  template:\n    spec:\n      containers: [{name: app, image: 'nginx:1'}]\n",
    );
    t
}

#[test]
fn index_and_scan_agree_on_a_generated_repository() {
    let tree = tricky_tree();
    let names = [
        "web",
        "web-api",
        "we",
        "quoted",
        "escaped",
        "listed",
        "first",
        "second",
        "twice",
        "broken",
        "ghost",
        "jsonnet-only",
        "linked",
        "folded",
        "svc-1",
        "svc-19",
        "svc-29",
        "svc-30",
        "with space",
        "",
    ];
    let (located, total) = compare(&tree, "https://git.example.com/tricky.git", &names);
    assert!(located >= 30 && located < total, "{located} of {total}");
}

#[test]
fn the_index_follows_changes_to_the_tree() {
    let mut tree = tricky_tree();
    let repo = "https://git.example.com/tricky.git";
    let app = simple_app("a", repo, "apps", "default", "");
    let req = memory("Deployment", "default", "web", "app", "300Mi");
    let got = run(&app, &[], &[(repo, &tree)], &req).expect("located");
    assert_eq!(only_set(&got).0, "apps/web.yaml");
    // A second declaration makes it ambiguous: a stale index would still answer web.yaml.
    tree.insert_file(
        "apps/web-copy.yaml",
        tree.file("apps/web.yaml").unwrap_or_default().to_string(),
    );
    assert!(matches!(
        run(&app, &[], &[(repo, &tree)], &req),
        Err(LocateError::Refused(r)) if r.contains("declared 2 times")
    ));
    tree.remove("apps/web.yaml");
    let got = run(&app, &[], &[(repo, &tree)], &req).expect("located");
    assert_eq!(only_set(&got).0, "apps/web-copy.yaml");
}

#[test]
fn words_are_found_whole_and_escapes_always_count() {
    let mut tree = RepoTree::default();
    tree.insert_file("a/web.yaml", "metadata:\n  name: web # the web tier\n");
    tree.insert_file("a/web-api.yaml", "metadata: {name: \"web-api\"}\n");
    tree.insert_file(
        "a/escaped.json",
        "{\"metadata\": {\"name\": \"w\\u0065b\"}}\n",
    );
    tree.insert_file("b/web.yaml", "name: web\n");
    tree.insert_symlink("a/link.yaml", "../b/web.yaml");
    let index = RepoIndex::build(&tree);
    assert_eq!(
        index.entries_mentioning("web", "a"),
        Some(vec!["a/escaped.json", "a/link.yaml", "a/web.yaml"])
    );
    assert_eq!(
        index.entries_mentioning("web-api", ""),
        Some(vec!["a/escaped.json", "a/link.yaml", "a/web-api.yaml"])
    );
    assert_eq!(
        index.entries_mentioning("we", "a"),
        Some(vec!["a/escaped.json", "a/link.yaml"])
    );
    assert_eq!(index.entries_mentioning("web app", "a"), None);
    assert_eq!(index.entries_mentioning("", "a"), None);
    assert_eq!(index.symlinks(), ["a/link.yaml"]);
}
