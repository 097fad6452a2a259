//! suture's own RBAC in `deploy/` is least-privilege: it can read what detection needs, patch
//! Argo CD Applications, and patch the workload kinds only through the `suture-dry-run` role
//! (the server-side dry run before a PR); never delete, escalate, bind, or use wildcards.

#[test]
fn rbac_grants_no_delete_no_wildcards_and_patches_workloads_only_for_the_dry_run() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/rbac.yaml")).unwrap();
    let docs = suture::state::parse_objects(&text).unwrap();
    let mut patch_targets = Vec::new();
    let mut rules_seen = 0;
    for doc in &docs {
        let role = doc["metadata"]["name"].as_str().unwrap_or_default();
        for rule in doc["rules"].as_array().into_iter().flatten() {
            rules_seen += 1;
            let strings = |k: &str| -> Vec<String> {
                rule[k]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_string())
                    .collect()
            };
            let (verbs, resources, groups) =
                (strings("verbs"), strings("resources"), strings("apiGroups"));
            for forbidden in [
                "*",
                "delete",
                "deletecollection",
                "escalate",
                "bind",
                "impersonate",
                "create",
            ] {
                assert!(
                    !verbs.iter().any(|v| v == forbidden),
                    "verb {forbidden} in {rule}"
                );
            }
            assert!(
                !resources.iter().chain(&groups).any(|v| v == "*"),
                "wildcard in {rule}"
            );
            assert!(
                !resources
                    .iter()
                    .any(|r| r == "secrets" || r == "configmaps"),
                "{rule}"
            );
            if verbs.iter().any(|v| v == "patch" || v == "update") {
                patch_targets.extend(
                    resources
                        .iter()
                        .map(|r| format!("{role}: {}/{r}", groups.join(","))),
                );
            }
        }
    }
    assert!(rules_seen >= 5);
    assert_eq!(
        patch_targets,
        [
            "suture-pause-sync: argoproj.io/applications",
            // The dry run's patch (dryRun=All); never a real write to a workload.
            "suture-dry-run: apps/deployments",
            "suture-dry-run: apps/replicasets",
            "suture-dry-run: apps/statefulsets",
            "suture-dry-run: apps/daemonsets",
            "suture-dry-run: batch/jobs",
            "suture-dry-run: batch/cronjobs",
        ]
    );
}

/// Every core kind suture watches is readable (get, list, watch) by the ClusterRole: a missing
/// grant leaves that watcher forbidden and suture never ready.
#[test]
fn rbac_reads_every_core_kind_suture_watches() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/rbac.yaml")).unwrap();
    let docs = suture::state::parse_objects(&text).unwrap();
    let role = docs
        .iter()
        .find(|d| d["kind"] == "ClusterRole")
        .expect("ClusterRole");
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect()
    };
    for resource in [
        "pods",
        "events",
        "nodes",
        "persistentvolumeclaims",
        "limitranges",
        "resourcequotas",
    ] {
        let granted = role["rules"].as_array().into_iter().flatten().any(|rule| {
            let verbs = strings(&rule["verbs"]);
            strings(&rule["apiGroups"]) == [""]
                && strings(&rule["resources"]).iter().any(|r| r == resource)
                && ["get", "list", "watch"]
                    .iter()
                    .all(|v| verbs.iter().any(|g| g == v))
        });
        assert!(granted, "no get/list/watch on core {resource}");
    }
}
