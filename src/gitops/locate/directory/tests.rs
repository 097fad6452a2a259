use super::super::testutil::*;
use super::super::*;
use crate::gitops::edit::PathSeg;

#[test]
fn guestbook_plain_directory_memory_limit() {
    let app = simple_app("guestbook", EXAMPLE_APPS, "guestbook", "default", "");
    let req = memory(
        "Deployment",
        "default",
        "guestbook-ui",
        "guestbook-ui",
        "640Mi",
    );
    let got = run(&app, &[], &[(EXAMPLE_APPS, example_apps())], &req).expect("located");
    let (file, doc, path, value) = only_set(&got);
    assert_eq!(file, "guestbook/guestbook-ui-deployment.yaml");
    assert_eq!(doc, 0);
    assert_eq!(
        path,
        container_field("guestbook-ui", "resources.limits.memory").as_slice()
    );
    assert_eq!(value, "640Mi");
    assert_eq!(got.repo_url, EXAMPLE_APPS);
    assert!(
        got.why.contains("guestbook/guestbook-ui-deployment.yaml"),
        "{}",
        got.why
    );
}

#[test]
fn guestbook_image() {
    let app = simple_app("guestbook", EXAMPLE_APPS, "guestbook", "default", "");
    let req = image(
        "Deployment",
        "default",
        "guestbook-ui",
        "guestbook-ui",
        "gcr.io/google-samples/gb-frontend:v6",
        "gcr.io/google-samples/gb-frontend:v5",
    );
    let got = run(&app, &[], &[(EXAMPLE_APPS, example_apps())], &req).expect("located");
    let (_, _, path, value) = only_set(&got);
    assert_eq!(path, container_field("guestbook-ui", "image").as_slice());
    assert_eq!(value, "gcr.io/google-samples/gb-frontend:v5");
}

#[test]
fn wrong_namespace_or_container_is_not_found() {
    let app = simple_app("guestbook", EXAMPLE_APPS, "guestbook", "default", "");
    let repos = [(EXAMPLE_APPS, example_apps())];
    let req = memory("Deployment", "other", "guestbook-ui", "guestbook-ui", "1Gi");
    assert!(matches!(
        run(&app, &[], &repos, &req),
        Err(LocateError::NotFound(_))
    ));
    let req = memory("Deployment", "default", "guestbook-ui", "sidecar", "1Gi");
    assert!(
        matches!(run(&app, &[], &repos, &req), Err(LocateError::NotFound(r)) if r.contains("sidecar"))
    );
}

fn deploy(name: &str, container: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  template:\n    spec:\n      containers:\n      - name: {container}\n        image: nginx:1\n"
    )
}

const REPO: &str = "https://git.example.com/team/deploy.git";

fn tree() -> RepoTree {
    let mut t = RepoTree::default();
    t.insert_file("app/a.yaml", deploy("a", "web"));
    t.insert_file("app/sub/b.yaml", deploy("b", "web"));
    t.insert_file("app/sub/c.yml", deploy("c", "web"));
    t.insert_file("app/notes.txt", deploy("d", "web"));
    t.insert_file(
        "app/multi.yaml",
        format!("---\napiVersion: v1\nkind: Service\nmetadata: {{name: e}}\n---\n{}---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: batch/v1\n  kind: CronJob\n  metadata: {{name: f, namespace: jobs}}\n  spec:\n    jobTemplate:\n      spec:\n        template:\n          spec:\n            initContainers: [{{name: init, image: busybox}}]\n            containers: [{{name: job, image: busybox}}]\n", deploy("e", "web")),
    );
    t.insert_file("app/pod.json", r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}"#);
    t
}

fn dir_app(extra: &str) -> Application {
    simple_app("web", REPO, "app", "prod", extra)
}

#[test]
fn recurse_include_exclude() {
    let t = tree();
    let repos = [(REPO, &t)];
    let req_b = memory("Deployment", "prod", "b", "web", "1Gi");
    assert!(matches!(
        run(&dir_app(""), &[], &repos, &req_b),
        Err(LocateError::NotFound(_))
    ));
    let recurse = "    directory:\n      recurse: true\n";
    assert_eq!(
        only_set(&run(&dir_app(recurse), &[], &repos, &req_b).expect("recurse")).0,
        "app/sub/b.yaml"
    );
    // Not a manifest extension: never read.
    let req_d = memory("Deployment", "prod", "d", "web", "1Gi");
    assert!(run(&dir_app(recurse), &[], &repos, &req_d).is_err());
    // `*` crosses `/` (gobwas/glob without separators) and `{a,b}` alternates.
    let exclude = "    directory:\n      recurse: true\n      exclude: '{*.yml,sub/b*}'\n";
    assert!(run(&dir_app(exclude), &[], &repos, &req_b).is_err());
    let req_c = memory("Deployment", "prod", "c", "web", "1Gi");
    assert!(run(&dir_app(exclude), &[], &repos, &req_c).is_err());
    let req_a = memory("Deployment", "prod", "a", "web", "1Gi");
    assert!(run(&dir_app(exclude), &[], &repos, &req_a).is_ok());
    let include = "    directory:\n      recurse: true\n      include: '*/c.yml'\n";
    assert!(run(&dir_app(include), &[], &repos, &req_c).is_ok());
    assert!(run(&dir_app(include), &[], &repos, &req_a).is_err());
    let bad = "    directory:\n      include: '{a'\n";
    assert!(matches!(
        run(&dir_app(bad), &[], &repos, &req_a),
        Err(LocateError::Refused(_))
    ));
}

#[test]
fn multi_document_list_cronjob_init_container_and_json_pod() {
    let t = tree();
    let repos = [(REPO, &t)];
    let got = run(
        &dir_app(""),
        &[],
        &repos,
        &memory("Deployment", "prod", "e", "web", "1Gi"),
    )
    .expect("e");
    assert_eq!(only_set(&got).0, "app/multi.yaml");
    assert_eq!(only_set(&got).1, 1);
    let mut req = memory("CronJob", "jobs", "f", "init", "1Gi");
    req.init_container = true;
    let got = run(&dir_app(""), &[], &repos, &req).expect("f");
    let (_, doc, path, _) = only_set(&got);
    assert_eq!(doc, 2);
    let mut want = keys("items");
    want.push(PathSeg::Index(0));
    want.extend(keys("spec.jobTemplate.spec.template.spec.initContainers"));
    want.push(m("init"));
    want.extend(keys("resources.limits.memory"));
    assert_eq!(path, want.as_slice());
    // The CronJob's own namespace wins over the destination namespace.
    assert!(
        run(
            &dir_app(""),
            &[],
            &repos,
            &memory("CronJob", "prod", "f", "job", "1Gi")
        )
        .is_err()
    );
    let got = run(
        &dir_app(""),
        &[],
        &repos,
        &memory("Pod", "prod", "p", "c", "1Gi"),
    )
    .expect("pod");
    let (file, _, path, _) = only_set(&got);
    assert_eq!(file, "app/pod.json");
    assert_eq!(path[..3], [k("spec"), k("containers"), m("c")]);
}

#[test]
fn duplicates_are_refused() {
    let mut t = tree();
    t.insert_file("app/a-copy.yaml", deploy("a", "web"));
    let got = run(
        &dir_app(""),
        &[],
        &[(REPO, &t)],
        &memory("Deployment", "prod", "a", "web", "1Gi"),
    );
    assert!(matches!(got, Err(LocateError::Refused(r)) if r.contains("2 times")));
}

#[test]
fn traversal_and_symlink_escapes_are_refused() {
    let mut t = tree();
    let req = memory("Deployment", "prod", "a", "web", "1Gi");
    let up = simple_app("web", REPO, "../..", "prod", "");
    assert!(matches!(
        run(&up, &[], &[(REPO, &t)], &req),
        Err(LocateError::Refused(_))
    ));
    let sneaky = simple_app("web", REPO, "app/../../etc", "prod", "");
    assert!(matches!(
        run(&sneaky, &[], &[(REPO, &t)], &req),
        Err(LocateError::Refused(_))
    ));
    // A symlink inside the repo is followed; the edit goes to the real file.
    t.insert_symlink("linked", "app");
    let via_link = simple_app("web", REPO, "linked", "prod", "");
    assert_eq!(
        only_set(&run(&via_link, &[], &[(REPO, &t)], &req).expect("followed")).0,
        "app/a.yaml"
    );
    t.insert_symlink("app/evil.yaml", "../../../etc/passwd");
    assert!(
        matches!(run(&dir_app(""), &[], &[(REPO, &t)], &req), Err(LocateError::Refused(r)) if r.contains("evil"))
    );
}

#[test]
fn unsupported_and_missing_repo() {
    let t = tree();
    let req = memory("Deployment", "prod", "a", "web", "1Gi");
    let plugin = dir_app("    plugin:\n      name: kasane\n");
    assert!(matches!(
        run(&plugin, &[], &[(REPO, &t)], &req),
        Err(LocateError::Unsupported(_))
    ));
    assert!(matches!(run(&dir_app(""), &[], &[], &req), Err(LocateError::NoRepo(u)) if u == REPO));
    let mut jt = RepoTree::default();
    jt.insert_file("app/main.jsonnet", "{}");
    assert!(matches!(
        run(&dir_app(""), &[], &[(REPO, &jt)], &req),
        Err(LocateError::Unsupported(_))
    ));
}
