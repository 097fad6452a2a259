//! Images in a Kustomize build. The image transformer runs after patches, so the place in
//! effect is, in order: Argo CD's `kustomize.images`, the last `images[]` entry that matches the
//! image name, else the `image:` field of the manifest (or of the patch setting it).

use serde_json::{Value, json};

use super::super::app_manifest;
use super::super::manifest::{self, field_path, image_name, image_tag_digest, parse_docs};
use super::super::source_overrides::{Origin, describe};
use super::super::{FileChange, LocateError, Located, paths};
use super::patches::{PatchLoc, Setter};
use super::{Plan, edit};
use crate::gitops::edit::{PathSeg, YamlEdit, YamlOp};

pub(crate) fn locate(
    plan: &Plan<'_, '_, '_>,
    current: &str,
    desired: &str,
) -> Result<Located, LocateError> {
    let req = plan.ctx.req;
    let field = field_path(req);
    let setters = plan.setters(&field)?;
    let written = written_image(plan, setters.last()).unwrap_or_else(|| current.to_string());
    let (d_tag, d_digest) = image_tag_digest(desired);
    let d_name = image_name(desired);
    if d_tag.is_none() && d_digest.is_none() {
        return Err(LocateError::Refused(format!(
            "desired image {desired} has neither tag nor digest"
        )));
    }

    // Follow the name through each layer's `images` entries, innermost first.
    let mut name = image_name(&written).to_string();
    let mut last: Option<(usize, String, Value)> = None;
    for &li in &plan.res.chain {
        let layer = &plan.build.layers[li];
        for l in layer.components.iter().copied().chain([li]) {
            for entry in plan.build.layers[l].list("images") {
                if entry.get("name").and_then(Value::as_str) == Some(name.as_str()) {
                    last = Some((l, name.clone(), entry.clone()));
                    if let Some(new_name) = entry.get("newName").and_then(Value::as_str) {
                        name = new_name.to_string();
                    }
                }
            }
        }
    }

    let argo_path = [
        PathSeg::Key("kustomize".into()),
        PathSeg::Key("images".into()),
    ];
    if let Some((layer, list)) = plan.src.layers.last(&argo_path) {
        for (i, s) in list
            .as_array()
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .enumerate()
        {
            let Some(s) = s.as_str() else { continue };
            let (n, has_eq) = match s.split_once('=') {
                Some((n, _)) => (n, true),
                None => (image_name(s), false),
            };
            if n != name {
                continue;
            }
            let value = Value::String(if has_eq || d_name != n {
                format!("{n}={desired}")
            } else {
                desired.to_string()
            });
            let place = format!("kustomize.images[{i}]");
            let rel = vec![
                argo_path[0].clone(),
                argo_path[1].clone(),
                PathSeg::Index(i),
            ];
            return match &layer.origin {
                Origin::File(file) => Ok(plan.located(
                    vec![edit(file, 0, rel, value)],
                    format!(
                        "{} in {file} overrides the image of {}; it is changed there.",
                        place,
                        what(plan)
                    ),
                )),
                Origin::App => app_manifest::edit_or_not_in_git(
                    plan.ctx,
                    plan.src,
                    &rel,
                    value,
                    &format!(
                        "the image of {} is set by {}",
                        what(plan),
                        describe(&Origin::App, plan.ctx.app, &place)
                    ),
                ),
            };
        }
    }

    if let Some((l, entry_name, entry)) = last {
        let layer = &plan.build.layers[l];
        if plan.shared_with(&layer.file).is_none() {
            return images_entry(plan, l, &entry_name, &entry, desired);
        }
    }

    let shared = match setters.last() {
        Some(Setter {
            loc: PatchLoc::File { file, .. },
        }) => plan.shared_with(file).is_some(),
        Some(_) => true,
        None => plan.shared_with(&plan.res.file).is_some(),
    };
    if !shared {
        return plan.field(&field, Value::String(desired.to_string()));
    }
    let mut entry = json!({"name": name});
    if d_name != name {
        entry["newName"] = json!(d_name);
    }
    match d_digest {
        Some(d) => entry["digest"] = json!(d),
        None => entry["newTag"] = json!(d_tag),
    }
    let overlay = &plan.build.layers[0];
    let append = YamlEdit {
        document: 0,
        op: YamlOp::Append {
            path: vec![PathSeg::Key("images".into())],
            value: entry,
        },
    };
    Ok(plan.located(
        vec![FileChange::Edit { file: overlay.file.clone(), edit: append }],
        format!(
            "The image of {} is declared in files other Applications also deploy, so an images entry in this app's overlay {} sets it.",
            what(plan),
            overlay.file
        ),
    ))
}

/// Change a kustomization's `images[]` entry to the desired image.
fn images_entry(
    plan: &Plan<'_, '_, '_>,
    l: usize,
    entry_name: &str,
    entry: &Value,
    desired: &str,
) -> Result<Located, LocateError> {
    let file = &plan.build.layers[l].file;
    let (d_tag, d_digest) = image_tag_digest(desired);
    let d_name = image_name(desired);
    let at = |key: &str| {
        vec![
            PathSeg::Key("images".into()),
            PathSeg::Match {
                key: "name".into(),
                value: entry_name.into(),
            },
            PathSeg::Key(key.into()),
        ]
    };
    let mut changes = Vec::new();
    let effective_name = entry
        .get("newName")
        .and_then(Value::as_str)
        .unwrap_or(entry_name);
    if d_name != effective_name {
        changes.push(edit(file, 0, at("newName"), json!(d_name)));
    }
    match (d_tag, d_digest) {
        (_, Some(d)) => changes.push(edit(file, 0, at("digest"), json!(d))),
        (Some(t), None) if entry.get("digest").is_some() => {
            return Err(LocateError::Refused(format!(
                "images entry {entry_name} in {file} pins a digest, which wins over newTag {t}; remove the digest by hand"
            )));
        }
        (Some(t), None) => changes.push(edit(file, 0, at("newTag"), json!(t))),
        (None, None) => {}
    }
    Ok(plan.located(changes, format!("Kustomize images entry {entry_name} in {file} sets the image of {}; it is changed there.", what(plan))))
}

/// The image as written in the manifest or in the patch that sets it.
fn written_image(plan: &Plan<'_, '_, '_>, setter: Option<&Setter>) -> Option<String> {
    let req = plan.ctx.req;
    match setter.map(|s| &s.loc) {
        Some(PatchLoc::File { file, doc, path }) => {
            let (real, text) = paths::read(plan.src.tree, file).ok()??;
            let docs = parse_docs(&real, text)?;
            manifest::get(docs.get(*doc)?, path)?
                .as_str()
                .map(str::to_string)
        }
        _ => manifest::get(&plan.res.obj, &field_path(req))?
            .as_str()
            .map(str::to_string),
    }
}

fn what(plan: &Plan<'_, '_, '_>) -> String {
    let req = plan.ctx.req;
    format!(
        "{} {} container {}",
        req.workload.kind, req.workload.name, req.container
    )
}
