//! `.argocd-source.yaml` and `.argocd-source-<app>.yaml`: files in a source's directory that
//! Argo CD merges (JSON merge patch, in that order) over the Application's `helm`/`kustomize`
//! settings. A value set there wins over the Application, so it is edited there.

use serde_json::Value;

use super::{LocateError, paths};
use crate::gitops::argocd::{Application, ApplicationSource};
use crate::gitops::edit::PathSeg;

/// Where a layer of source settings comes from.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Origin {
    /// The Application object itself (`spec.source` / `spec.sources[i]`).
    App,
    /// An override file in Git (repo-relative path).
    File(String),
}

#[derive(Clone, Debug)]
pub(crate) struct Layer {
    pub origin: Origin,
    /// The layer as a source object (`{helm: ..., kustomize: ...}`).
    pub src: Value,
}

/// The Application's source first, then the override files; later layers win.
#[derive(Clone, Debug)]
pub(crate) struct Layers(pub Vec<Layer>);

impl Layers {
    pub fn load(
        tree: &crate::gitops::tree::RepoTree,
        app_dir: &str,
        source: &ApplicationSource,
        app: &Application,
    ) -> Result<Layers, LocateError> {
        let mut layers = vec![Layer {
            origin: Origin::App,
            src: serde_json::to_value(source).unwrap_or(Value::Null),
        }];
        for name in override_names(app) {
            let Some((real, text)) = paths::read(tree, &paths::child(app_dir, &name))? else {
                continue;
            };
            let src = serde_saphyr::from_str::<Value>(text)
                .map_err(|e| LocateError::Refused(format!("{real} is not valid YAML: {e}")))?;
            if src.is_object() {
                layers.push(Layer {
                    origin: Origin::File(real),
                    src,
                });
            }
        }
        Ok(Layers(layers))
    }

    /// The source as Argo CD renders it: all layers merged. Only `helm`/`kustomize`/
    /// `directory` are taken from the files; repo, path and chart stay the Application's.
    pub fn effective(&self) -> ApplicationSource {
        let mut merged = self.0.first().map(|l| l.src.clone()).unwrap_or(Value::Null);
        for layer in self.0.iter().skip(1) {
            json_patch::merge(&mut merged, &layer.src);
        }
        let base: ApplicationSource = self
            .0
            .first()
            .and_then(|l| serde_json::from_value(l.src.clone()).ok())
            .unwrap_or_default();
        let mut out: ApplicationSource =
            serde_json::from_value(merged).unwrap_or_else(|_| base.clone());
        out.repo_url = base.repo_url;
        out.path = base.path;
        out.chart = base.chart;
        out.target_revision = base.target_revision;
        out.ref_ = base.ref_;
        out
    }

    /// The last layer holding a value at `keys` (JSON merge patch replaces lists and scalars
    /// whole, so the last layer that has them is the one in effect) and that value.
    pub fn last(&self, keys: &[PathSeg]) -> Option<(&Layer, &Value)> {
        self.0.iter().rev().find_map(|layer| {
            let v = super::manifest::get(&layer.src, keys)?;
            (!v.is_null()).then_some((layer, v))
        })
    }
}

/// Override file names: the shared one, then the app-specific one, named by the app's instance
/// name: `<name>` in the control-plane namespace, `<ns>_<name>` elsewhere. The control-plane
/// namespace is not known here, so both forms are read, the more specific one last.
fn override_names(app: &Application) -> Vec<String> {
    let mut names = vec![".argocd-source.yaml".to_string()];
    if let Some(name) = app.metadata.name.as_deref() {
        names.push(format!(".argocd-source-{name}.yaml"));
        if let Some(ns) = app
            .metadata
            .namespace
            .as_deref()
            .filter(|ns| !ns.is_empty())
        {
            names.push(format!(".argocd-source-{ns}_{name}.yaml"));
        }
    }
    names
}

/// Describe a layer for messages.
pub(crate) fn describe(origin: &Origin, app: &Application, what: &str) -> String {
    match origin {
        Origin::App => format!("{what} on Application {}", super::app_label(app)),
        Origin::File(f) => format!("{what} in {f}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gitops::tree::RepoTree;

    #[test]
    fn app_specific_file_overrides_shared_file_overrides_app() {
        let app: Application = serde_saphyr::from_str(concat!(
            "metadata: {name: web, namespace: argocd}\n",
            "spec:\n  source:\n    repoURL: https://git.example/r\n    path: app\n",
            "    helm:\n      parameters: [{name: a, value: '1'}]\n      valueFiles: [v1.yaml]\n",
        ))
        .unwrap_or_default();
        let mut tree = RepoTree::default();
        tree.insert_file(
            "app/.argocd-source.yaml",
            "helm:\n  parameters:\n  - {name: b, value: '2'}\n",
        );
        tree.insert_file(
            "app/.argocd-source-web.yaml",
            "helm:\n  valueFiles: [v2.yaml]\npath: elsewhere\n",
        );
        tree.insert_file(
            "app/.argocd-source-other.yaml",
            "helm:\n  valueFiles: [nope.yaml]\n",
        );
        let source = app.spec.source.clone().unwrap_or_default();
        let layers = Layers::load(&tree, "app", &source, &app).expect("layers");
        assert_eq!(layers.0.len(), 3);
        let eff = layers.effective();
        let helm = eff.helm.unwrap_or_default();
        assert_eq!(helm.parameters.len(), 1);
        assert_eq!(helm.parameters[0].name, "b");
        assert_eq!(helm.value_files, ["v2.yaml"]);
        assert_eq!(eff.path.as_deref(), Some("app"));
        let params = [
            PathSeg::Key("helm".into()),
            PathSeg::Key("parameters".into()),
        ];
        let (layer, _) = layers.last(&params).expect("parameters layer");
        assert_eq!(layer.origin, Origin::File("app/.argocd-source.yaml".into()));
    }

    #[test]
    fn apps_in_any_namespace_read_ns_underscore_name_files() {
        let app: Application = serde_saphyr::from_str(
            "metadata: {name: web, namespace: team-a}\nspec:\n  source: {repoURL: r, path: app}\n",
        )
        .unwrap_or_default();
        let mut tree = RepoTree::default();
        tree.insert_file(
            "app/.argocd-source-team-a_web.yaml",
            "helm:\n  valueFiles: [team-a.yaml]\n",
        );
        let source = app.spec.source.clone().unwrap_or_default();
        let layers = Layers::load(&tree, "app", &source, &app).expect("layers");
        assert_eq!(
            layers.effective().helm.unwrap_or_default().value_files,
            ["team-a.yaml"]
        );
        tree.insert_file("app/.argocd-source.yaml", "helm: [not, a, map");
        assert!(matches!(
            Layers::load(&tree, "app", &source, &app),
            Err(LocateError::Refused(_))
        ));
    }
}
