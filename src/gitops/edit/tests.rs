use serde_json::{Value, json};

use super::*;

/// `a.b[name=web].c[0]` -> path segments (test shorthand).
fn p(s: &str) -> Vec<PathSeg> {
    let mut out = Vec::new();
    for part in s.split('.') {
        let (key, rest) = part.split_once('[').unwrap_or((part, ""));
        if !key.is_empty() {
            out.push(PathSeg::Key(key.into()));
        }
        for sel in rest.split('[').filter(|x| !x.is_empty()) {
            let sel = sel.trim_end_matches(']');
            out.push(match sel.split_once('=') {
                Some((k, v)) => PathSeg::Match {
                    key: k.into(),
                    value: v.into(),
                },
                None => PathSeg::Index(sel.parse().expect("index")),
            });
        }
    }
    out
}

fn set_doc(text: &str, document: usize, path: &str, value: Value) -> Result<String, EditError> {
    let op = YamlOp::Set {
        path: p(path),
        value,
    };
    apply(text, &YamlEdit { document, op })
}

fn set(text: &str, path: &str, value: Value) -> Result<String, EditError> {
    set_doc(text, 0, path, value)
}

fn append(text: &str, path: &str, value: Value) -> Result<String, EditError> {
    let op = YamlOp::Append {
        path: p(path),
        value,
    };
    apply(text, &YamlEdit { document: 0, op })
}

/// Lines (with their line ends) that differ, as (old, new); panics unless the line
/// counts match.
fn changed_lines<'a>(old: &'a str, new: &'a str) -> Vec<(&'a str, &'a str)> {
    let (a, b): (Vec<_>, Vec<_>) = (
        old.split_inclusive('\n').collect(),
        new.split_inclusive('\n').collect(),
    );
    assert_eq!(a.len(), b.len(), "line count changed:\n{new}");
    a.into_iter().zip(b).filter(|(x, y)| x != y).collect()
}

/// Assert `new` is `old` with exactly one line replaced by `line`.
fn one_line(old: &str, new: &str, line: &str) {
    let changed = changed_lines(old, new);
    assert_eq!(changed.len(), 1, "expected one changed line:\n{new}");
    assert_eq!(changed[0].1.trim_end_matches(['\r', '\n']), line);
}

const DEPLOY: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web  # the app
spec:
  template:
    spec:
      containers:
      - name: sidecar
        image: envoy
      - name: web
        image: 'nginx:1.25'
        resources:
          limits:
            memory: 512Mi  # bumped in Q3
            cpu: \"1\"
          requests: {cpu: 100m, memory: 256Mi}
        args: [--port, \"8080\"]
        command: |
          run
          --fast
      # trailing comment
";

#[test]
fn one_value_is_one_line() {
    let out = set(
        DEPLOY,
        "spec.template.spec.containers[name=web].resources.limits.memory",
        json!("640Mi"),
    )
    .unwrap();
    one_line(DEPLOY, &out, "            memory: 640Mi  # bumped in Q3");
}

#[test]
fn quote_style_is_kept() {
    let out = set(
        DEPLOY,
        "spec.template.spec.containers[name=web].image",
        json!("nginx:1.27"),
    )
    .unwrap();
    one_line(DEPLOY, &out, "        image: 'nginx:1.27'");
    let out = set(
        DEPLOY,
        "spec.template.spec.containers[name=web].resources.limits.cpu",
        json!("2"),
    )
    .unwrap();
    one_line(DEPLOY, &out, "            cpu: \"2\"");
    // A number replaces a quoted string with a plain number: the type is what was asked.
    let out = set(
        DEPLOY,
        "spec.template.spec.containers[name=web].resources.limits.cpu",
        json!(2),
    )
    .unwrap();
    one_line(DEPLOY, &out, "            cpu: 2");
}

#[test]
fn ambiguous_strings_are_quoted() {
    // No quotes anywhere in the file: new quotes are double.
    let base = "a:\n  b: x  # c\n";
    for (v, line) in [
        ("1.10", "  b: \"1.10\"  # c"),
        ("yes", "  b: \"yes\"  # c"),
        ("0123", "  b: \"0123\"  # c"),
        ("1e3", "  b: \"1e3\"  # c"),
        ("~", "  b: \"~\"  # c"),
        ("null", "  b: \"null\"  # c"),
        ("on", "  b: \"on\"  # c"),
        ("0x1F", "  b: \"0x1F\"  # c"),
        (".inf", "  b: \".inf\"  # c"),
        ("12:30", "  b: \"12:30\"  # c"),
        ("2001-12-14", "  b: \"2001-12-14\"  # c"),
        ("a: b", "  b: \"a: b\"  # c"),
        ("", "  b: \"\"  # c"),
        ("x # y", "  b: \"x # y\"  # c"),
        ("line\nbreak", "  b: \"line\\nbreak\"  # c"),
        // Strings that read back as themselves stay plain.
        ("plain", "  b: plain  # c"),
        ("1.2.3", "  b: 1.2.3  # c"),
        ("--port=8080", "  b: --port=8080  # c"),
        ("0:30", "  b: 0:30  # c"),
        ("v1.10", "  b: v1.10  # c"),
    ] {
        let out = set(base, "a.b", json!(v)).unwrap();
        one_line(base, &out, line);
    }
    let out = set(base, "a.b", json!(true)).unwrap();
    one_line(base, &out, "  b: true  # c");
    let out = set(base, "a.b", json!(null)).unwrap();
    one_line(base, &out, "  b: null  # c");
    let out = set(base, "a.b", json!(1.5)).unwrap();
    one_line(base, &out, "  b: 1.5  # c");
}

#[test]
fn new_quotes_follow_the_file() {
    // A kustomization that single-quotes: a plain `newTag` that needs quotes gets single ones.
    let text =
        "images:\n- name: 'web'\n  newTag: 1.2.3\n  digest: ''\n- name: \"db\"\n  newTag: v2\n";
    let tag = "images[name=web].newTag";
    let out = set(text, tag, json!("1.2.4")).unwrap();
    one_line(text, &out, "  newTag: 1.2.4");
    let out = set(text, tag, json!("1.10")).unwrap();
    one_line(text, &out, "  newTag: '1.10'");
    // A value that was quoted keeps its own quotes, needed or not.
    let out = set(text, "images[name=db].name", json!("1.10")).unwrap();
    one_line(text, &out, "- name: \"1.10\"");
    let out = set(text, "images[name=web].name", json!("api")).unwrap();
    one_line(text, &out, "- name: 'api'");
    // Single quotes cannot carry a line break: double quotes then.
    let out = set(text, tag, json!("a\nb")).unwrap();
    one_line(text, &out, "  newTag: \"a\\nb\"");
    // Inserted keys and values follow the file too.
    let out = set(text, "images[name=db].newName", json!("yes")).unwrap();
    assert_eq!(out, format!("{text}  newName: 'yes'\n"));
    let out = set(text, "images[name=web].on", json!(1)).unwrap();
    assert!(out.contains("  digest: ''\n  'on': 1\n"), "{out}");
    // Mostly double-quoted, or no quotes: double.
    let text = "a: \"x\"\nb: \"y\"\nc: 'z'\nd: 1.2.3\n";
    let out = set(text, "d", json!("1.10")).unwrap();
    one_line(text, &out, "d: \"1.10\"");
    // The document's own quotes decide; other documents only when it has none.
    let text = "a: 'x'\n---\nb: \"y\"\nc: \"z\"\n---\nd: v\n";
    let out = set_doc(text, 0, "a2", json!("no")).unwrap();
    assert!(out.starts_with("a: 'x'\na2: 'no'\n---\n"), "{out}");
    let out = set_doc(text, 2, "d", json!("no")).unwrap();
    assert!(out.ends_with("d: \"no\"\n"), "{out}");
}

#[test]
fn crlf_and_odd_indentation_survive() {
    let text = "a:\r\n   b:\r\n      - name: web\r\n        mem: 1Gi\r\n   c: 1\r\n";
    let out = set(text, "a.b[name=web].mem", json!("2Gi")).unwrap();
    assert_eq!(out, text.replace("1Gi", "2Gi"));
    let out = set(text, "a.d", json!({"x": 1})).unwrap();
    assert_eq!(out, format!("{text}   d:\r\n      x: 1\r\n"));
    let out = set(text, "a.b[name=web].limits", json!({"memory": "1Gi"})).unwrap();
    assert!(
        out.contains(
            "        mem: 1Gi\r\n        limits:\r\n           memory: 1Gi\r\n   c: 1\r\n"
        ),
        "{out}"
    );
}

#[test]
fn missing_keys_are_created_as_a_block() {
    let probe = json!({"httpGet": {"path": "/healthz", "port": 8080}, "failureThreshold": 30, "periodSeconds": 10});
    let out = set(
        DEPLOY,
        "spec.template.spec.containers[name=web].startupProbe",
        probe,
    )
    .unwrap();
    let expected = DEPLOY.replace(
        "          --fast\n",
        "          --fast\n        startupProbe:\n          httpGet:\n            path: /healthz\n            port: 8080\n          failureThreshold: 30\n          periodSeconds: 10\n",
    );
    assert_eq!(out, expected);
    // Deeper: two missing levels under an existing mapping, 4-space style.
    let text = "spec:\n    replicas: 1\n    template:\n        x: 1\n";
    let out = set(text, "spec.strategy.rollingUpdate.maxSurge", json!("25%")).unwrap();
    assert_eq!(
        out,
        format!("{text}    strategy:\n        rollingUpdate:\n            maxSurge: 25%\n")
    );
}

#[test]
fn flow_mappings_are_edited_in_place() {
    let path = "spec.template.spec.containers[name=web].resources.requests";
    let out = set(DEPLOY, &format!("{path}.memory"), json!("300Mi")).unwrap();
    one_line(
        DEPLOY,
        &out,
        "          requests: {cpu: 100m, memory: 300Mi}",
    );
    let out = set(DEPLOY, &format!("{path}.ephemeral-storage"), json!("1Gi")).unwrap();
    one_line(
        DEPLOY,
        &out,
        "          requests: {cpu: 100m, memory: 256Mi, ephemeral-storage: 1Gi}",
    );
    let out = set(
        DEPLOY,
        "spec.template.spec.containers[name=web].args[1]",
        json!("9090"),
    )
    .unwrap();
    one_line(DEPLOY, &out, "        args: [--port, \"9090\"]");
    let out = append(
        DEPLOY,
        "spec.template.spec.containers[name=web].args",
        json!("a,b"),
    )
    .unwrap();
    one_line(DEPLOY, &out, "        args: [--port, \"8080\", \"a,b\"]");
    let text = "resources: {}  # none\nx: 1\n";
    let out = set(text, "resources.limits.memory", json!("1Gi")).unwrap();
    one_line(text, &out, "resources: {limits: {memory: 1Gi}}  # none");
    let text = "a: {b: 1,\n  c: 2, }\n";
    let out = set(text, "a.d", json!([1, "x"])).unwrap();
    assert_eq!(out, "a: {b: 1,\n  c: 2, d: [1, x] }\n");
}

#[test]
fn block_scalars_survive_and_are_not_edited() {
    let out = set(
        DEPLOY,
        "spec.template.spec.containers[name=web].image",
        json!("x"),
    )
    .unwrap();
    assert!(out.contains("        command: |\n          run\n          --fast\n"));
    let err = set(
        DEPLOY,
        "spec.template.spec.containers[name=web].command",
        json!("x"),
    )
    .unwrap_err();
    assert!(matches!(err, EditError::Unsafe(_)), "{err:?}");
    let text = "a: >-\n  folded\n  text\nb: 1\nc: |+\n  keep\n\n";
    let out = set(text, "b", json!(2)).unwrap();
    assert_eq!(out, text.replace("b: 1", "b: 2"));
}

#[test]
fn keys_go_after_kept_trailing_blank_lines() {
    let text = "a:\n  s: |+\n    keep\n\n  # c\nb: 1\n";
    let out = set(text, "a.k", json!(1)).unwrap();
    assert_eq!(out, "a:\n  s: |+\n    keep\n\n  k: 1\n  # c\nb: 1\n");
    let text = "a:\n  s: |\n    clip\n\nb: 1\n";
    let out = set(text, "a.k", json!(1)).unwrap();
    assert_eq!(out, "a:\n  s: |\n    clip\n  k: 1\n\nb: 1\n");
}

#[test]
fn verification_catches_wrong_results() {
    let text = "a: 1\nb: [x]\n---\nc: 1\n";
    let edit = YamlEdit {
        document: 0,
        op: YamlOp::Set {
            path: p("a"),
            value: json!(2),
        },
    };
    let before = verify::documents(text).unwrap();
    let check = |after: &str| verify::check(&before, text, after, &edit);
    assert_eq!(check("a: 2\nb: [x]\n---\nc: 1\n"), Ok(()));
    for wrong in [
        "a: 3\nb: [x]\n---\nc: 1\n",      // wrong value
        "a: 2\nb: [y]\n---\nc: 1\n",      // collateral change
        "a: 2\nb: [x]\n---\nc: 1  # x\n", // other document touched
        "a: 2\nb: [x]\n",                 // document lost
        "a: 2\nb: [x\n---\nc: 1\n",       // broken YAML
        "a: \"2\"\nb: [x]\n---\nc: 1\n",  // wrong type
    ] {
        assert!(
            matches!(check(wrong), Err(EditError::Verify(_))),
            "{wrong:?}"
        );
    }
}

#[test]
fn aliases_anchors_and_merges_are_refused() {
    let text = "base: &b\n  mem: 1Gi\nother: *b\nmerged:\n  <<: *b\n  cpu: 1\nval: &v 3\nlist:\n- &i {x: 1}\n";
    for path in [
        "other.mem",
        "base.mem",
        "merged.mem",
        "val",
        "list[0].x",
        "other",
    ] {
        let err = set(text, path, json!("2Gi")).unwrap_err();
        assert!(matches!(err, EditError::Alias(_)), "{path}: {err:?}");
    }
    // An explicit key next to a merge key is not shared.
    let out = set(text, "merged.cpu", json!(2)).unwrap();
    one_line(text, &out, "  cpu: 2");
}

#[test]
fn append_keeps_sequence_style() {
    let flush = "resources:\n- a.yaml\npatches:\n- path: p1.yaml\n  target:\n    kind: Deployment\nimages: []\n";
    let out = append(flush, "patches", json!({"path": "patch-web-memory.yaml"})).unwrap();
    assert_eq!(
        out,
        flush.replace(
            "Deployment\n",
            "Deployment\n- path: patch-web-memory.yaml\n"
        )
    );
    let indented = "resources:\n  - a.yaml\n  - b.yaml\n";
    let out = append(indented, "resources", json!("c.yaml")).unwrap();
    assert_eq!(out, format!("{indented}  - c.yaml\n"));
    // Missing `patches:` is created at the end, in the file's sequence style.
    let out = append(
        indented,
        "patches",
        json!({"path": "p.yaml", "target": {"kind": "Deployment"}}),
    )
    .unwrap();
    assert_eq!(
        out,
        format!("{indented}patches:\n  - path: p.yaml\n    target:\n      kind: Deployment\n")
    );
    let out = append(flush, "images", json!({"name": "web", "newTag": "1.2"})).unwrap();
    one_line(flush, &out, "images: [{name: web, newTag: \"1.2\"}]");
    let no_newline = "resources:\n- a.yaml";
    assert_eq!(
        append(no_newline, "resources", json!("b.yaml")).unwrap(),
        "resources:\n- a.yaml\n- b.yaml"
    );
}

#[test]
fn null_values_take_a_block() {
    let text = "a:\n  resources:\n  b: ~  # none\n  c: 1\n";
    let out = set(text, "a.resources.limits.memory", json!("1Gi")).unwrap();
    assert_eq!(
        out,
        "a:\n  resources:\n    limits:\n      memory: 1Gi\n  b: ~  # none\n  c: 1\n"
    );
    let out = append(text, "a.b", json!("x")).unwrap();
    assert_eq!(out, "a:\n  resources:\n  b:  # none\n    - x\n  c: 1\n");
    // The parser puts an implicit null after a trailing comment; the value goes before it.
    let commented = "a:   # note\nb:\n-   # empty item\n";
    let out = set(commented, "a", json!("x")).unwrap();
    one_line(commented, &out, "a: x   # note");
    let out = set(commented, "b[0]", json!(1)).unwrap();
    one_line(commented, &out, "- 1   # empty item");
    let out = set(commented, "a.k", json!(1)).unwrap();
    assert_eq!(out, "a:   # note\n  k: 1\nb:\n-   # empty item\n");
    let out = set(text, "a.resources", json!("x")).unwrap();
    assert_eq!(out, "a:\n  resources: x\n  b: ~  # none\n  c: 1\n");
}

#[test]
fn objects_onto_mappings_go_leaf_by_leaf() {
    let path = "spec.template.spec.containers[name=web].resources.limits";
    let out = set(DEPLOY, path, json!({"memory": "1Gi", "cpu": "1"})).unwrap();
    one_line(DEPLOY, &out, "            memory: 1Gi  # bumped in Q3");
    let err = set(DEPLOY, path, json!({"memory": "1Gi"})).unwrap_err();
    assert!(
        matches!(err, EditError::Unsafe(ref m) if m.contains("cpu")),
        "{err:?}"
    );
    let err = set(DEPLOY, path, json!("1Gi")).unwrap_err();
    assert!(matches!(err, EditError::Unsafe(_)), "{err:?}");
}

#[test]
fn multi_document_files() {
    let text = "# leading\n---\na: 1\n...\n# between\n---\na: 1\nb: [x]\n---\n# last\na: 1\n";
    let out = set_doc(text, 1, "a", json!(2)).unwrap();
    assert_eq!(
        out,
        "# leading\n---\na: 1\n...\n# between\n---\na: 2\nb: [x]\n---\n# last\na: 1\n"
    );
    let out = set_doc(text, 2, "c", json!("new")).unwrap();
    assert_eq!(out, format!("{text}c: new\n"));
    assert_eq!(
        set_doc(text, 3, "a", json!(2)),
        Err(EditError::NoDocument(3))
    );
    // An empty document in the middle keeps the indices aligned.
    let text = "a: 1\n---\n---\na: 1\n";
    let out = set_doc(text, 2, "a", json!(2)).unwrap();
    assert_eq!(out, "a: 1\n---\n---\na: 2\n");
}

#[test]
fn errors_are_reported() {
    assert!(matches!(
        set("a: [1\n", "a", json!(1)),
        Err(EditError::Parse(_))
    ));
    assert!(matches!(
        set("a: 1\na: 2\n", "a", json!(1)),
        Err(EditError::Parse(_))
    ));
    let err = set(
        DEPLOY,
        "spec.template.spec.containers[name=nope].image",
        json!("x"),
    )
    .unwrap_err();
    assert_eq!(
        err,
        EditError::PathNotFound(
            "spec.template.spec.containers[name=nope] (spec.template.spec.containers is without an item with name: nope)".into()
        )
    );
    let err = set(DEPLOY, "kind.x", json!("x")).unwrap_err();
    assert!(
        matches!(err, EditError::PathNotFound(ref m) if m.starts_with("kind.x")),
        "{err:?}"
    );
    let err = set(DEPLOY, "spec.template.spec.containers[5].image", json!("x")).unwrap_err();
    assert!(matches!(err, EditError::PathNotFound(_)), "{err:?}");
    let err = set(DEPLOY, "metadata.labels[0]", json!("x")).unwrap_err();
    assert!(matches!(err, EditError::PathNotFound(_)), "{err:?}");
    assert!(matches!(
        set("", "a", json!(1)),
        Err(EditError::NoDocument(0))
    ));
    assert!(matches!(
        set("# only a comment\n", "a", json!(1)),
        Err(EditError::NoDocument(0) | EditError::Unsafe(_))
    ));
    let err = append(DEPLOY, "kind", json!("x")).unwrap_err();
    assert!(matches!(err, EditError::Unsafe(_)), "{err:?}");
    let err = set("a: !!str 5\n", "a", json!("6")).unwrap_err();
    assert!(matches!(err, EditError::Unsafe(_)), "{err:?}");
}

#[test]
fn odd_but_valid_files() {
    for (text, path, value, line) in [
        ("%YAML 1.2\n---\na: 1\n", "a", json!(2), "a: 2"),
        ("\u{feff}a: 1\nb: 2\n", "b", json!(3), "b: 3"),
        ("a:     'x'    # c\n", "a", json!("y"), "a:     'y'    # c"),
        (
            "a: \"x # y\"  # c\n",
            "a",
            json!("z # w"),
            "a: \"z # w\"  # c",
        ),
        (
            "- name: a\n  v: 1\n- name: b\n  v: 1\n",
            "[name=b].v",
            json!(2),
            "  v: 2",
        ),
        (
            "l:\n- {name: a, v: 1}\n- {name: b, v: 1}\n",
            "l[name=b].v",
            json!(2),
            "- {name: b, v: 2}",
        ),
        ("\"quoted key\": 1\n'k2': 2\n", "k2", json!(3), "'k2': 3"),
        (
            "a: {x: 1}\r\nb: [1]\r\n",
            "a.y",
            json!("n"),
            "a: {x: 1, \"y\": \"n\"}",
        ),
        ("a: plain\n  continued\nb: 1\n", "b", json!(2), "b: 2"),
    ] {
        let out = set(text, path, value).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        one_line(text, &out, line);
    }
}

#[test]
fn path_rendering() {
    assert_eq!(
        path_to_string(&p("spec.containers[name=web].ports[0].x")),
        "spec.containers[name=web].ports[0].x"
    );
}

fn fixture(rel: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/gitops-repos/{rel}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn fixture_podinfo_memory() {
    let text = fixture("podinfo/kustomize/deployment.yaml");
    let out = set(
        &text,
        "spec.template.spec.containers[name=podinfod].resources.limits.memory",
        json!("640Mi"),
    )
    .unwrap();
    one_line(&text, &out, "            memory: 640Mi");
    let out = set(
        &text,
        "spec.template.spec.containers[name=podinfod].startupProbe",
        json!({"httpGet": {"path": "/healthz", "port": 9898}}),
    )
    .unwrap();
    assert!(out.contains("            memory: 64Mi\n        volumeMounts:\n          - name: data\n            mountPath: /data\n        startupProbe:\n          httpGet:\n            path: /healthz\n            port: 9898\n      volumes:\n"), "{out}");
}

#[test]
fn fixture_helm_values() {
    let text = fixture("argocd-example-apps/helm-guestbook/values.yaml");
    let out = set(&text, "image.tag", json!("v6")).unwrap();
    one_line(&text, &out, "  tag: v6");
    // `resources:\n  {}` (Helm's default) takes the new keys in flow style, on the `{}` line.
    let out = set(&text, "resources.limits.memory", json!("256Mi")).unwrap();
    one_line(&text, &out, "  {limits: {memory: 256Mi}}");
    let out = set(&text, "replicaCount", json!(3)).unwrap();
    one_line(&text, &out, "replicaCount: 3");
}

#[test]
fn fixture_multi_document() {
    let text = fixture("argocd-example-apps/sync-waves/manifests.yaml");
    let out = set_doc(&text, 1, "spec.replicas", json!(2)).unwrap();
    one_line(&text, &out, "  replicas: 2");
    let text = fixture("argocd-example-apps/sock-shop/base/carts-db-dep.yaml");
    let out = set_doc(
        &text,
        0,
        "spec.template.spec.containers[name=carts-db].image",
        json!("mongo:7"),
    )
    .unwrap();
    one_line(&text, &out, "        image: mongo:7");
    let text = fixture("argocd-example-apps/helm-hooks/manifests.yaml");
    let mut path = p("metadata.annotations");
    path.push(PathSeg::Key("helm.sh/hook-weight".into()));
    let edit = YamlEdit {
        document: 1,
        op: YamlOp::Set {
            path,
            value: json!("-3"),
        },
    };
    let out = apply(&text, &edit).unwrap();
    one_line(&text, &out, "    helm.sh/hook-weight: \"-3\"");
    let out = set_doc(
        &text,
        1,
        "spec.template.spec.containers[name=page-up].command[1]",
        json!("10"),
    )
    .unwrap();
    one_line(&text, &out, "          command: [\"sleep\", \"10\"]");
    let out = set_doc(
        &text,
        1,
        "spec.template.spec.containers[name=page-up].resources",
        json!({"limits": {"memory": "64Mi"}}),
    )
    .unwrap();
    assert!(out.contains("          command: [\"sleep\", \"2\"]\n          resources:\n            limits:\n              memory: 64Mi\n      restartPolicy"), "{out}");
}

#[test]
fn fixture_kustomization_append() {
    let text = fixture("argocd-example-apps/sock-shop/kustomization.yaml");
    let out = append(&text, "patches", json!({"path": "patch-web-memory.yaml"})).unwrap();
    assert_eq!(
        out,
        format!("{text}patches:\n  - path: patch-web-memory.yaml\n")
    );
}

#[test]
fn every_fixture_edits_cleanly() {
    // In every document of every fixture: setting any leaf is a one-line diff, adding a key
    // to any mapping and appending to any sequence only add lines (a flow collection
    // changes its one line). A refusal is allowed, but never a failed verification.
    let root = format!("{}/tests/fixtures/gitops-repos", env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    let mut dirs = vec![std::path::PathBuf::from(root)];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).expect("fixture dir").flatten() {
            let path = e.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                files.push(path);
            }
        }
    }
    assert!(files.len() > 20);
    let (mut edited, mut refused) = (0, 0);
    for f in files {
        let text = std::fs::read_to_string(&f).expect("fixture");
        let Ok(docs) = verify::documents(&text) else {
            continue; // Helm templates are not YAML.
        };
        for (i, doc) in docs.iter().enumerate() {
            let mut paths = Collected::default();
            collect(
                doc.value.as_ref().unwrap_or(&Value::Null),
                Vec::new(),
                &mut paths,
            );
            // A sample keeps the test fast: leaves, mappings and sequences spread over the doc.
            let sample = |v: Vec<Vec<PathSeg>>| {
                let step = v.len() / 4 + 1;
                v.into_iter().step_by(step)
            };
            let ops = sample(paths.leaves)
                .map(|path| {
                    (
                        true,
                        YamlOp::Set {
                            path,
                            value: json!("edited-value"),
                        },
                    )
                })
                .chain(sample(paths.maps).map(|mut path| {
                    path.push(PathSeg::Key("added".into()));
                    (
                        false,
                        YamlOp::Set {
                            path,
                            value: json!({"k": [1, {"v": "yes"}]}),
                        },
                    )
                }))
                .chain(sample(paths.seqs).map(|path| {
                    (
                        false,
                        YamlOp::Append {
                            path,
                            value: json!({"name": "x", "n": 1}),
                        },
                    )
                }));
            for (leaf, op) in ops {
                let edit = YamlEdit { document: i, op };
                match apply(&text, &edit) {
                    Ok(out) => {
                        let (del, ins) = line_changes(&text, &out);
                        let ok = if leaf {
                            (del, ins) == (1, 1)
                        } else {
                            del == 0 || (del, ins) == (1, 1)
                        };
                        assert!(ok, "{f:?} {edit:?}\n{out}");
                        edited += 1;
                    }
                    Err(e) => {
                        assert!(!matches!(e, EditError::Verify(_)), "{f:?}: {e}");
                        refused += 1;
                    }
                }
            }
        }
    }
    assert!(
        edited > 400 && refused < edited / 20,
        "{edited} edited, {refused} refused"
    );
}

/// (deleted, inserted) line counts between two texts.
fn line_changes(old: &str, new: &str) -> (usize, usize) {
    // A missing final line break is not a change of the last line.
    let (old, new) = (
        format!("{}\n", old.trim_end_matches('\n')),
        format!("{}\n", new.trim_end_matches('\n')),
    );
    let diff = similar::TextDiff::from_lines(&old, &new);
    let mut counts = (0, 0);
    for change in diff.iter_all_changes() {
        match change.tag() {
            similar::ChangeTag::Delete => counts.0 += 1,
            similar::ChangeTag::Insert => counts.1 += 1,
            similar::ChangeTag::Equal => {}
        }
    }
    counts
}

#[derive(Default)]
struct Collected {
    leaves: Vec<Vec<PathSeg>>,
    maps: Vec<Vec<PathSeg>>,
    seqs: Vec<Vec<PathSeg>>,
}

fn collect(v: &Value, path: Vec<PathSeg>, out: &mut Collected) {
    match v {
        Value::Object(m) => {
            out.maps.push(path.clone());
            for (k, v) in m {
                let mut p = path.clone();
                p.push(PathSeg::Key(k.clone()));
                collect(v, p, out);
            }
        }
        Value::Array(a) => {
            out.seqs.push(path.clone());
            for (i, v) in a.iter().enumerate() {
                let mut p = path.clone();
                p.push(PathSeg::Index(i));
                collect(v, p, out);
            }
        }
        _ if path.is_empty() => {}
        _ => out.leaves.push(path),
    }
}

fn remove(text: &str, path: &str) -> Result<String, EditError> {
    remove_doc(text, 0, path)
}

fn remove_doc(text: &str, document: usize, path: &str) -> Result<String, EditError> {
    let op = YamlOp::Remove { path: p(path) };
    apply(text, &YamlEdit { document, op })
}

#[test]
fn rollback_of_an_added_key_restores_the_file() {
    let probe = json!({"httpGet": {"path": "/healthz", "port": 8080}, "failureThreshold": 30});
    let path = "spec.template.spec.containers[name=web].startupProbe";
    let added = set(DEPLOY, path, probe).unwrap();
    assert_ne!(added, DEPLOY);
    assert_eq!(remove(&added, path).unwrap(), DEPLOY);
    let text = fixture("podinfo/kustomize/deployment.yaml");
    let path = "spec.template.spec.containers[name=podinfod].startupProbe";
    let added = set(&text, path, json!({"exec": {"command": ["true"]}})).unwrap();
    assert_eq!(remove(&added, path).unwrap(), text);
}

#[test]
fn remove_takes_the_entry_and_its_own_comments() {
    let text = "\
a:
  # about b: stays, it may head more keys
  b:
    c: 1  # c
    d: [1, 2]
    # end of b: goes with b
  # about e: stays
  e: 2

f: |
  keep
g: 3
";
    let out = remove(text, "a.b").unwrap();
    assert_eq!(
        out,
        "a:\n  # about b: stays, it may head more keys\n  # about e: stays\n  e: 2\n\nf: |\n  keep\ng: 3\n"
    );
    // A block scalar neighbour keeps its text; the entry after it goes.
    let out = remove(text, "g").unwrap();
    assert_eq!(out, text.replace("g: 3\n", ""));
    let out = remove(text, "f").unwrap();
    assert_eq!(out, text.replace("f: |\n  keep\n", ""));
    // A key with a comment on its line.
    let out = remove(text, "a.b.c").unwrap();
    assert_eq!(out, text.replace("    c: 1  # c\n", ""));
}

#[test]
fn remove_edge_positions() {
    // The last line, without a final line break: the file still has none.
    assert_eq!(remove("a: 1\nb: 2", "b").unwrap(), "a: 1");
    assert_eq!(remove("a: 1\r\nb: 2\r\n", "a").unwrap(), "b: 2\r\n");
    // The only key of a mapping leaves `{}` on its line.
    assert_eq!(
        remove("a:\n  b: 1  # x\nc: 1\n", "a.b").unwrap(),
        "a:\n  {}\nc: 1\n"
    );
    assert_eq!(remove("only: 1\n", "only").unwrap(), "{}\n");
    assert_eq!(
        remove("l:\n- only: 1\n", "l[0].only").unwrap(),
        "l:\n- {}\n"
    );
    // The first key of a `- ` item: the next key moves onto the dash line.
    let text = "l:\n- name: web  # n\n  image: x\n- name: db\n";
    assert_eq!(
        remove(text, "l[name=web].name").unwrap(),
        "l:\n- image: x\n- name: db\n"
    );
    assert_eq!(
        remove(text, "l[name=web].image").unwrap(),
        "l:\n- name: web  # n\n- name: db\n"
    );
    let err = remove(
        "l:\n- name: web\n  # about image\n  image: x\n",
        "l[0].name",
    )
    .unwrap_err();
    assert!(
        matches!(err, EditError::Unsafe(ref m) if m.contains("comment")),
        "{err:?}"
    );
    // Multi-document: only the named document changes.
    let text = "a: 1\nb: 2\n---\na: 1\nb: 2\n";
    assert_eq!(remove_doc(text, 1, "a").unwrap(), "a: 1\nb: 2\n---\nb: 2\n");
}

#[test]
fn remove_from_flow_mappings() {
    let text = "r: {cpu: 100m, memory: 1Gi, x: 'y'}  # c\n";
    assert_eq!(
        remove(text, "r.cpu").unwrap(),
        "r: {memory: 1Gi, x: 'y'}  # c\n"
    );
    assert_eq!(
        remove(text, "r.x").unwrap(),
        "r: {cpu: 100m, memory: 1Gi}  # c\n"
    );
    assert_eq!(remove("r: { a: 1 }\n", "r.a").unwrap(), "r: {}\n");
    assert_eq!(
        remove("r: [{a: 1, b: 2,}]\n", "r[0].b").unwrap(),
        "r: [{a: 1,}]\n"
    );
    for text in ["r: {a: 1,\n  b: 2}\n", "r: {a: 1, # c\n  b: 2}\n"] {
        let err = remove(text, "r.a").unwrap_err();
        assert!(
            matches!(err, EditError::Unsafe(ref m) if m.contains("flow mapping")),
            "{err:?}"
        );
    }
}

#[test]
fn remove_refusals_are_clear() {
    let text =
        "base: &b\n  mem: 1Gi\nother: *b\nmerged:\n  <<: *b\n  cpu: 1\nx:\n  a: &v 1\n  y: 2\n";
    for path in ["base.mem", "other.mem", "merged.cpu", "merged.mem", "x.a"] {
        let err = remove(text, path).unwrap_err();
        assert!(matches!(err, EditError::Alias(_)), "{path}: {err:?}");
    }
    let out = remove(text, "x.y").unwrap();
    assert_eq!(out, text.replace("  y: 2\n", ""));
    assert_eq!(
        remove(text, "x.nope"),
        Err(EditError::PathNotFound("x.nope (no such key)".into()))
    );
    assert!(matches!(
        remove(text, "nope.a"),
        Err(EditError::PathNotFound(_))
    ));
    assert!(matches!(
        remove(text, "x.y.b"),
        Err(EditError::PathNotFound(_))
    ));
    let err = remove("l: [1, 2]\n", "l[0]").unwrap_err();
    assert!(
        matches!(err, EditError::Unsafe(ref m) if m.contains("mapping key")),
        "{err:?}"
    );
    let err = remove("a: 1\n", "").unwrap_err();
    assert!(matches!(err, EditError::Unsafe(_)), "{err:?}");
    let err = remove("a: !!map {b: 1}\n", "a.b").unwrap_err();
    assert!(
        matches!(err, EditError::Unsafe(ref m) if m.contains("tag")),
        "{err:?}"
    );
}
