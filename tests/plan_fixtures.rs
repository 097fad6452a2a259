//! `plan` end to end over the real GitOps repositories in `tests/fixtures/gitops-repos`:
//! a live snapshot built around each repo's workload, and the exact diff suture proposes.

use suture::plan::{self, Plan, Repos, Settings};
use suture::state::ClusterState;

const REPOS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/gitops-repos");
const EXAMPLES_URL: &str = "https://github.com/argoproj/argocd-example-apps.git";
const PODINFO_URL: &str = "https://github.com/stefanprodan/podinfo";

fn repos() -> Repos {
    let mut repos = Repos::default();
    for (url, dir) in [
        (EXAMPLES_URL, "argocd-example-apps"),
        (PODINFO_URL, "podinfo"),
    ] {
        let tree =
            suture::inputs::load_tree(std::path::Path::new(&format!("{REPOS}/{dir}"))).unwrap();
        repos
            .by_url
            .insert(suture::gitops::argocd::normalize_repo_url(url), tree);
    }
    repos
}

/// An Application; `source` is the YAML of `spec.source` indented by 4 spaces.
fn application(name: &str, namespace: &str, source: &str) -> String {
    format!(
        "---\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: {name}, namespace: argocd}}\nspec:\n  project: default\n  source:\n{source}\n  destination: {{server: \"https://kubernetes.default.svc\", namespace: {namespace}}}\n"
    )
}

/// A Deployment tracked by `app`, its ReplicaSet at revision 1, and one pod whose container
/// `failing` was OOMKilled. `containers` is the pod template's container list (YAML flow).
fn oom_workload(app: &str, ns: &str, name: &str, containers: &str, failing: &str) -> String {
    format!(
        "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: {ns}\n  uid: uid-{name}\n  annotations: {{argocd.argoproj.io/tracking-id: \"{app}:apps/Deployment:{ns}/{name}\"}}\nspec:\n  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec:\n      containers: {containers}\n---\napiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: {name}-abc\n  namespace: {ns}\n  uid: uid-{name}-abc\n  labels: {{pod-template-hash: abc}}\n  annotations: {{deployment.kubernetes.io/revision: \"1\", argocd.argoproj.io/tracking-id: \"{app}:apps/Deployment:{ns}/{name}\"}}\n  ownerReferences: [{{apiVersion: apps/v1, kind: Deployment, name: {name}, uid: uid-{name}, controller: true}}]\nspec:\n  selector: {{matchLabels: {{app: {name}}}}}\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}-abc-1\n  namespace: {ns}\n  labels: {{pod-template-hash: abc}}\n  ownerReferences: [{{apiVersion: apps/v1, kind: ReplicaSet, name: {name}-abc, uid: uid-{name}-abc, controller: true}}]\nspec:\n  containers: {containers}\nstatus:\n  phase: Running\n  containerStatuses:\n  - name: {failing}\n    image: x\n    imageID: \"\"\n    ready: false\n    restartCount: 3\n    state: {{waiting: {{reason: CrashLoopBackOff}}}}\n    lastState: {{terminated: {{reason: OOMKilled, exitCode: 137, startedAt: \"2026-11-23T08:00:00Z\", finishedAt: \"2026-11-23T08:05:00Z\"}}}}\n"
    )
}

fn run(text: &str) -> Plan {
    let state = ClusterState::from_text(text).unwrap();
    plan::plan(
        &state,
        &repos(),
        &Settings::default(),
        "2026-11-23T09:00:00Z".parse().unwrap(),
    )
}

fn changed(diff: &str) -> Vec<String> {
    diff.lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
        })
        .map(str::to_string)
        .collect()
}

fn only_proposal(plan: &Plan) -> &plan::Proposal {
    assert!(
        plan.escalations.is_empty(),
        "unexpected escalations: {:#?}",
        plan.escalations
    );
    assert_eq!(plan.proposals.len(), 1, "{:#?}", plan.proposals);
    &plan.proposals[0]
}

#[test]
fn podinfo_kustomize_limit_is_a_one_line_edit_of_its_deployment() {
    let text = application(
        "podinfo",
        "default",
        &format!("    repoURL: {PODINFO_URL}\n    path: kustomize"),
    ) + &oom_workload(
        "podinfo",
        "default",
        "podinfo",
        "[{name: podinfod, image: \"ghcr.io/stefanprodan/podinfo:6.14.1\", resources: {limits: {cpu: 2000m, memory: 512Mi}, requests: {cpu: 100m, memory: 64Mi}}}]",
        "podinfod",
    );
    let plan = run(&text);
    let p = only_proposal(&plan);
    assert_eq!(p.file.as_deref(), Some("kustomize/deployment.yaml"));
    assert_eq!(
        changed(p.diff.as_deref().unwrap()),
        ["-            memory: 512Mi", "+            memory: 640Mi"]
    );
}

#[test]
fn sock_shop_guaranteed_carts_raises_limit_and_request_in_two_lines() {
    let text = application(
        "sock-shop",
        "sock-shop",
        &format!("    repoURL: {EXAMPLES_URL}\n    path: sock-shop"),
    ) + &oom_workload(
        "sock-shop",
        "sock-shop",
        "carts",
        "[{name: carts, image: \"weaveworksdemos/carts:0.4.8\", resources: {limits: {cpu: 300m, memory: 500Mi}, requests: {cpu: 300m, memory: 500Mi}}}]",
        "carts",
    );
    let plan = run(&text);
    let p = only_proposal(&plan);
    assert_eq!(p.file.as_deref(), Some("sock-shop/base/carts-dep.yaml"));
    assert_eq!(p.draft.change.to, "640Mi");
    assert_eq!(
        changed(p.diff.as_deref().unwrap()),
        [
            "-            memory: 500Mi",
            "+            memory: 640Mi",
            "-            memory: 500Mi",
            "+            memory: 640Mi"
        ]
    );
}

#[test]
fn kustomize_name_prefix_is_matched_to_the_live_name() {
    let text = application(
        "kustomize-guestbook",
        "default",
        &format!("    repoURL: {EXAMPLES_URL}\n    path: kustomize-guestbook"),
    ) + &oom_workload(
        "kustomize-guestbook",
        "default",
        "kustomize-guestbook-ui",
        "[{name: guestbook-ui, image: \"gcr.io/heptio-images/ks-guestbook-demo:0.1\"}]",
        "guestbook-ui",
    );
    // The manifest sets no memory limit: suture escalates rather than invent one.
    let plan = run(&text);
    assert!(plan.proposals.is_empty());
    assert!(
        plan.escalations[0].reason.contains("no memory limit"),
        "{:?}",
        plan.escalations
    );
}

#[test]
fn shared_podinfo_base_gets_an_overlay_patch_not_a_base_edit() {
    let src = |env: &str| format!("    repoURL: {PODINFO_URL}\n    path: deploy/overlays/{env}");
    let text = application("podinfo-production", "production", &src("production"))
        + &application("podinfo-staging", "staging", &src("staging"))
        + &application("podinfo-dev", "dev", &src("dev"))
        + &oom_workload(
            "podinfo-production",
            "production",
            "backend",
            "[{name: backend, image: \"ghcr.io/stefanprodan/podinfo:6.14.1\", resources: {limits: {cpu: 2000m, memory: 512Mi}, requests: {cpu: 100m, memory: 32Mi}}}]",
            "backend",
        );
    let plan = run(&text);
    let p = only_proposal(&plan);
    let files: Vec<&str> = p.files.iter().map(|(f, _)| f.as_str()).collect();
    assert!(
        files
            .iter()
            .all(|f| f.starts_with("deploy/overlays/production/")),
        "{files:?}"
    );
    assert!(
        files.contains(&"deploy/overlays/production/kustomization.yaml"),
        "{files:?}"
    );
    let patch = p
        .files
        .iter()
        .find(|(f, _)| !f.ends_with("kustomization.yaml"))
        .unwrap();
    assert!(
        patch.1.contains("640Mi") && patch.1.contains("backend"),
        "{}",
        patch.1
    );
}

#[test]
fn helm_guestbook_without_limits_escalates() {
    let text = application(
        "helm-guestbook",
        "default",
        &format!(
            "    repoURL: {EXAMPLES_URL}\n    path: helm-guestbook\n    helm: {{valueFiles: [values-production.yaml]}}"
        ),
    ) + &oom_workload(
        "helm-guestbook",
        "default",
        "helm-guestbook",
        "[{name: helm-guestbook, image: \"gcr.io/heptio-images/ks-guestbook-demo:0.1\"}]",
        "helm-guestbook",
    );
    let plan = run(&text);
    assert!(plan.proposals.is_empty());
    assert!(plan.escalations[0].reason.contains("no memory limit"));
}

#[test]
fn app_pointing_outside_the_repo_is_escalated_and_the_rest_still_planned() {
    let text = application(
        "escape",
        "default",
        &format!("    repoURL: {PODINFO_URL}\n    path: ../.."),
    ) + &oom_workload(
        "escape",
        "default",
        "web",
        "[{name: web, image: x, resources: {limits: {memory: 512Mi}}}]",
        "web",
    ) + &application(
        "podinfo",
        "default",
        &format!("    repoURL: {PODINFO_URL}\n    path: kustomize"),
    ) + &oom_workload(
        "podinfo",
        "default",
        "podinfo",
        "[{name: podinfod, image: x, resources: {limits: {memory: 512Mi}}}]",
        "podinfod",
    );
    let plan = run(&text);
    assert_eq!(plan.proposals.len(), 1);
    assert_eq!(plan.escalations.len(), 1);
    assert_eq!(plan.escalations[0].key.name, "web");
    assert!(
        plan.escalations[0]
            .reason
            .contains("cannot write the fix in Git"),
        "{}",
        plan.escalations[0].reason
    );
}

/// A Deployment at revision 2 (`new_image`, pods failing to pull) whose revision 1
/// (`old_image`) still has available pods.
fn bad_rollout(
    app: &str,
    ns: &str,
    name: &str,
    container: &str,
    old_image: &str,
    new_image: &str,
) -> String {
    let rs = |rev: u32, hash: &str, image: &str, available: u32| {
        format!(
            "---\napiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: {name}-{hash}\n  namespace: {ns}\n  uid: uid-{hash}\n  labels: {{pod-template-hash: {hash}}}\n  annotations: {{deployment.kubernetes.io/revision: \"{rev}\"}}\n  ownerReferences: [{{apiVersion: apps/v1, kind: Deployment, name: {name}, uid: uid-{name}, controller: true}}]\nspec:\n  selector: {{matchLabels: {{pod-template-hash: {hash}}}}}\n  template:\n    spec:\n      containers: [{{name: {container}, image: \"{image}\"}}]\nstatus: {{replicas: {available}, availableReplicas: {available}}}\n"
        )
    };
    format!(
        "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: {ns}\n  uid: uid-{name}\n  annotations: {{argocd.argoproj.io/tracking-id: \"{app}:apps/Deployment:{ns}/{name}\"}}\nspec:\n  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    spec:\n      containers: [{{name: {container}, image: \"{new_image}\"}}]\n{}{}---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}-new-1\n  namespace: {ns}\n  labels: {{pod-template-hash: new}}\n  ownerReferences: [{{apiVersion: apps/v1, kind: ReplicaSet, name: {name}-new, uid: uid-new, controller: true}}]\nspec:\n  containers: [{{name: {container}, image: \"{new_image}\"}}]\nstatus:\n  phase: Pending\n  containerStatuses:\n  - name: {container}\n    image: \"{new_image}\"\n    imageID: \"\"\n    ready: false\n    restartCount: 0\n    state: {{waiting: {{reason: ErrImagePull, message: \"rpc error: code = NotFound desc = failed to pull and unpack image \\\"{new_image}\\\": failed to resolve reference \\\"{new_image}\\\": not found\"}}}}\n",
        rs(1, "old", old_image, 2),
        rs(2, "new", new_image, 0)
    )
}

#[test]
fn helm_guestbook_missing_tag_reverts_image_tag_in_values() {
    let text = application(
        "helm-guestbook",
        "default",
        &format!(
            "    repoURL: {EXAMPLES_URL}\n    path: helm-guestbook\n    helm: {{valueFiles: [values-production.yaml]}}"
        ),
    ) + &bad_rollout(
        "helm-guestbook",
        "default",
        "helm-guestbook",
        "helm-guestbook",
        "gcr.io/google-samples/gb-frontend:v4",
        "gcr.io/google-samples/gb-frontend:v5",
    );
    let plan = run(&text);
    let p = only_proposal(&plan);
    assert_eq!(p.draft.primitive, suture::proposal::Primitive::RevertImage);
    assert_eq!(p.file.as_deref(), Some("helm-guestbook/values.yaml"));
    assert_eq!(
        changed(p.diff.as_deref().unwrap()),
        ["-  tag: v5", "+  tag: v4"]
    );
}

#[test]
fn plain_guestbook_missing_tag_reverts_the_manifest_image() {
    let text = application(
        "guestbook",
        "default",
        &format!("    repoURL: {EXAMPLES_URL}\n    path: guestbook"),
    ) + &bad_rollout(
        "guestbook",
        "default",
        "guestbook-ui",
        "guestbook-ui",
        "gcr.io/google-samples/gb-frontend:v4",
        "gcr.io/google-samples/gb-frontend:v5",
    );
    let plan = run(&text);
    let p = only_proposal(&plan);
    assert_eq!(
        p.file.as_deref(),
        Some("guestbook/guestbook-ui-deployment.yaml")
    );
    assert_eq!(
        changed(p.diff.as_deref().unwrap()),
        [
            "-        - image: gcr.io/google-samples/gb-frontend:v5",
            "+        - image: gcr.io/google-samples/gb-frontend:v4"
        ]
    );
}

#[test]
fn git_that_disagrees_with_the_live_object_is_not_edited() {
    // Git declares gb-frontend:v5, the cluster runs another image: a sync is pending.
    let text = application(
        "guestbook",
        "default",
        &format!("    repoURL: {EXAMPLES_URL}\n    path: guestbook"),
    ) + &bad_rollout(
        "guestbook",
        "default",
        "guestbook-ui",
        "guestbook-ui",
        "gcr.io/heptio-images/ks-guestbook-demo:0.1",
        "gcr.io/heptio-images/ks-guestbook-demo:0.2",
    );
    let plan = run(&text);
    assert!(plan.proposals.is_empty());
    let reason = &plan.escalations[0].reason;
    assert!(
        reason.contains("Git and the cluster disagree") && reason.contains("gb-frontend:v5"),
        "{reason}"
    );
}
