//! Bad input inside the GitOps repo: each problem becomes an escalation that says why, no
//! panic, and the rest of the plan is still computed. Driven through the binary with
//! `--repo DIR` (one checkout serving every source).

use std::process::Command;

const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: NAME\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: shop/app:1\n          resources:\n            limits:\n              memory: 512Mi\n";

/// Application + Deployment + an OOMKilled pod for workload `name` deployed from `path`.
fn workload(name: &str, path: &str) -> String {
    format!(
        "---\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: {name}, namespace: argocd}}\nspec:\n  source: {{repoURL: \"https://git.example.com/shop.git\", path: \"{path}\"}}\n  destination: {{namespace: shop}}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: shop\n  uid: u-{name}\n  annotations: {{argocd.argoproj.io/tracking-id: \"{name}:apps/Deployment:shop/{name}\"}}\nspec:\n  selector: {{}}\n  template:\n    spec:\n      containers: [{{name: app, image: \"shop/app:1\", resources: {{limits: {{memory: 512Mi}}}}}}]\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}-1\n  namespace: shop\n  ownerReferences: [{{apiVersion: apps/v1, kind: Deployment, name: {name}, uid: u-{name}, controller: true}}]\nspec:\n  containers: [{{name: app, image: \"shop/app:1\"}}]\nstatus:\n  containerStatuses:\n  - {{name: app, image: \"shop/app:1\", imageID: \"\", ready: false, restartCount: 2, lastState: {{terminated: {{reason: OOMKilled, exitCode: 137}}}}, state: {{waiting: {{reason: CrashLoopBackOff}}}}}}\n"
    )
}

#[test]
fn broken_yaml_escaping_paths_and_symlinks_escalate_while_the_good_app_is_planned() {
    let repo = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let p = repo.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write(
        "apps/good/deployment.yaml",
        &DEPLOYMENT.replace("NAME", "good"),
    );
    write(
        "apps/broken/deployment.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: broken\nspec: [\n",
    );
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(
        outside.path().join("deployment.yaml"),
        DEPLOYMENT.replace("NAME", "linked"),
    )
    .unwrap();
    std::os::unix::fs::symlink(outside.path(), repo.path().join("apps/linked")).unwrap();

    let state = tempfile::tempdir().unwrap();
    let snapshot = workload("good", "apps/good")
        + &workload("broken", "apps/broken")
        + &workload("linked", "apps/linked")
        + &workload("escape", "../..");
    std::fs::write(state.path().join("cluster.yaml"), snapshot).unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_suture"))
        .args(["plan", "--format", "json", "--state"])
        .arg(state.path())
        .arg("--repo")
        .arg(repo.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    let proposals = plan["proposals"].as_array().unwrap();
    assert_eq!(proposals.len(), 1, "{plan:#}");
    assert_eq!(proposals[0]["file"], "apps/good/deployment.yaml");

    let reason = |name: &str| -> String {
        let e = plan["escalations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| {
                e["key"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("/Deployment/{name}/"))
            })
            .unwrap_or_else(|| panic!("no escalation for {name}: {plan:#}"));
        e["reason"].as_str().unwrap().to_string()
    };
    let broken = reason("broken");
    assert!(broken.contains("apps/broken/deployment.yaml"), "{broken}");
    assert!(reason("linked").contains("refused"), "{}", reason("linked"));
    assert!(reason("escape").contains("refused"), "{}", reason("escape"));
}
