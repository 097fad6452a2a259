//! Reading a chart's templates (without rendering them) to learn which values key feeds a
//! container field: `resources: {{- toYaml .Values.resources | nindent 12 }}` means the memory
//! limit is `resources.limits.memory`; `image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"`
//! means the tag is `image.tag`. Templates are matched to the workload by kind and by the
//! literal parts of their (templated) names.

use std::collections::BTreeMap;

use super::super::{LocateError, LocateRequest, paths};
use crate::gitops::tree::RepoTree;

/// What feeds the field.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Feed {
    /// The whole field comes from this values key.
    Key(Vec<String>),
    /// `image:` assembled from a repository key and a tag key.
    Image {
        repository: Option<Vec<String>>,
        tag: Vec<String>,
        app_version_default: bool,
    },
}

/// The feed of the requested field and the template it was read from.
pub(crate) fn find(
    tree: &RepoTree,
    chart_dir: &str,
    req: &LocateRequest,
    field: &[String],
) -> Result<(Feed, String), LocateError> {
    let templates = paths::child(chart_dir, "templates");
    let mut best: Option<(usize, String, Vec<String>)> = None;
    for rel in paths::list(tree, &templates, true) {
        let name = paths::file_name(&rel);
        if name.starts_with('_') || !(name.ends_with(".yaml") || name.ends_with(".yml")) {
            continue;
        }
        let file = paths::child(&templates, &rel);
        let Some((real, text)) = paths::read(tree, &file)? else {
            continue;
        };
        for chunk in split_docs(text) {
            if let Some(score) = doc_score(&chunk, req)
                && best.as_ref().is_none_or(|b| score > b.0)
            {
                best = Some((score, real.clone(), chunk));
            }
        }
    }
    let w = &req.workload;
    let Some((_, file, mut lines)) = best else {
        return Err(LocateError::NotFound(format!(
            "no template in {templates} renders a {} named like {} with container {}",
            w.kind, w.name, req.container
        )));
    };
    let defines = defines(tree, &templates)?;
    for line in &mut lines {
        *line = inline_includes(line, &defines);
    }
    let list = if req.init_container {
        "initContainers"
    } else {
        "containers"
    };
    let (start, end) = container_block(&lines, list, &req.container).ok_or_else(|| {
        LocateError::NotFound(format!(
            "{file}: no {list} entry matching {}",
            req.container
        ))
    })?;
    let key_indent = item_key_indent(&lines, start);
    let feed = if field == ["image"] {
        let line = find_key(&lines, start, end, key_indent, "image").ok_or_else(|| {
            LocateError::NotFound(format!(
                "{file}: container {} has no image line",
                req.container
            ))
        })?;
        image_feed(&lines, line)
    } else {
        resolve(&lines, start, end, key_indent, field)
    };
    feed.map(|f| (f, file.clone())).ok_or_else(|| {
        LocateError::NotFound(format!(
            "{file}: cannot tell which values key sets {} of container {} (hard-coded or built by a helper template)",
            field.join("."),
            req.container
        ))
    })
}

/// Named templates (`{{ define "name" }}`) whose body is one action reading one values key,
/// e.g. `{{- toYaml .Values.resources }}`: name -> that action's expression.
fn defines(tree: &RepoTree, templates: &str) -> Result<BTreeMap<String, String>, LocateError> {
    let mut out = BTreeMap::new();
    for rel in paths::list(tree, templates, true) {
        let Some((_, text)) = paths::read(tree, &paths::child(templates, &rel))? else {
            continue;
        };
        for part in text.split("define \"").skip(1) {
            let Some((name, rest)) = part.split_once('"') else {
                continue;
            };
            let Some(body) = rest.split_once("}}").map(|(_, b)| b) else {
                continue;
            };
            let body = body
                .split("{{- end")
                .next()
                .unwrap_or("")
                .split("{{ end")
                .next()
                .unwrap_or("")
                .trim();
            let single =
                body.starts_with("{{") && body.ends_with("}}") && body.matches("{{").count() == 1;
            let expr = body
                .trim_start_matches("{{")
                .trim_end_matches("}}")
                .trim_matches(['-', ' ']);
            if single
                && expr.matches(".Values.").count() == 1
                && !expr.contains("include ")
                && !expr.contains("template ")
            {
                out.insert(name.to_string(), expr.to_string());
            }
        }
    }
    Ok(out)
}

/// `{{- include "x" . | nindent 12 }}` with a known one-key helper `x` becomes
/// `{{- <helper expression> | nindent 12 }}`, so the key is read like a direct reference.
/// Only the root context (`.` or `$`) is inlined: with another argument `.Values` means
/// something else inside the helper.
fn inline_includes(line: &str, defines: &BTreeMap<String, String>) -> String {
    let mut out = line.to_string();
    for verb in ["include \"", "template \""] {
        let Some(at) = out.find(verb) else { continue };
        let rest = &out[at + verb.len()..];
        let Some((name, after)) = rest.split_once('"') else {
            continue;
        };
        let after_trim = after.trim_start();
        let arg_len = if after_trim.starts_with(". ")
            || after_trim.starts_with("$ ")
            || after_trim.starts_with(".}")
            || after_trim.starts_with("$}")
        {
            1
        } else {
            continue;
        };
        let Some(expr) = defines.get(name) else {
            continue;
        };
        let end = at + verb.len() + name.len() + 1 + (after.len() - after_trim.len()) + arg_len;
        out = format!("{}({expr}){}", &out[..at], &out[end..]);
    }
    out
}

/// Template text split at `---` lines.
fn split_docs(text: &str) -> Vec<Vec<String>> {
    let mut docs = vec![Vec::new()];
    for line in text.lines() {
        if line.trim_end() == "---" || line.starts_with("--- ") {
            docs.push(Vec::new());
        } else if let Some(doc) = docs.last_mut() {
            doc.push(line.to_string());
        }
    }
    docs
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// Template actions and blank lines say nothing about YAML structure.
fn is_structural(line: &str) -> bool {
    let t = line.trim();
    !t.is_empty() && !t.starts_with("{{") && !t.starts_with('#')
}

/// How well a template document matches the workload (None: not at all). Literal name parts
/// count, so `{{ fullname }}-redis` beats `{{ fullname }}` for `podinfo-redis`.
fn doc_score(lines: &[String], req: &LocateRequest) -> Option<usize> {
    let kind = lines
        .iter()
        .find_map(|l| l.strip_prefix("kind:"))
        .map(|k| unquote(k.trim()))?;
    if kind != req.workload.kind {
        return None;
    }
    let meta = lines.iter().position(|l| l.trim_end() == "metadata:")?;
    let name = lines[meta + 1..]
        .iter()
        .take_while(|l| !is_structural(l) || indent(l) > 0)
        .find_map(|l| {
            (indent(l) == 2)
                .then(|| l.trim().strip_prefix("name:"))
                .flatten()
        })
        .map(|n| unquote(n.trim()).to_string())
        .unwrap_or_else(|| "{{}}".into());
    let name_score = pattern_score(&name, &req.workload.name)?;
    let list = if req.init_container {
        "initContainers"
    } else {
        "containers"
    };
    let (start, _) = container_block(lines, list, &req.container)?;
    let container = lines[start].trim().trim_start_matches('-').trim();
    let container_score = container.strip_prefix("name:").map_or(Some(0), |n| {
        pattern_score(unquote(n.trim()), &req.container)
    })?;
    Some(1 + name_score + container_score)
}

fn unquote(s: &str) -> &str {
    s.trim_matches(|c| c == '"' || c == '\'')
}

/// `pattern` with `{{ ... }}` as wildcards matched against `name`: the number of literal
/// characters, or None if it cannot produce `name`.
fn pattern_score(pattern: &str, name: &str) -> Option<usize> {
    let mut tokens: Vec<Option<&str>> = Vec::new();
    let mut rest = pattern;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            tokens.push(Some(&rest[..open]));
        }
        if tokens.last() != Some(&None) {
            tokens.push(None);
        }
        rest = rest[open..]
            .find("}}")
            .map_or("", |close| &rest[open + close + 2..]);
    }
    if !rest.is_empty() {
        tokens.push(Some(rest));
    }
    // Names are short and templates have few actions; bound the backtracking anyway.
    if tokens.iter().filter(|t| t.is_none()).count() > MAX_WILDCARDS {
        return Some(0);
    }
    glob_match(&tokens, name).then(|| tokens.iter().flatten().map(|l| l.len()).sum())
}

const MAX_WILDCARDS: usize = 6;

fn glob_match(tokens: &[Option<&str>], name: &str) -> bool {
    match tokens.split_first() {
        None => name.is_empty(),
        Some((Some(lit), rest)) => name.strip_prefix(lit).is_some_and(|n| glob_match(rest, n)),
        Some((None, rest)) => (0..=name.len())
            .filter(|&i| name.is_char_boundary(i))
            .any(|i| glob_match(rest, &name[i..])),
    }
}

/// Lines [start, end) of the container item matching `container` under `list:`.
fn container_block(lines: &[String], list: &str, container: &str) -> Option<(usize, usize)> {
    let header = lines
        .iter()
        .position(|l| l.trim_end().trim_start() == format!("{list}:"))?;
    let base = indent(&lines[header]);
    let mut items: Vec<usize> = Vec::new();
    let mut i = header + 1;
    while i < lines.len() {
        let l = &lines[i];
        if is_structural(l) && indent(l) <= base && !l.trim_start().starts_with('-') {
            break;
        }
        if is_structural(l)
            && l.trim_start().starts_with("- ")
            && (items.is_empty() || indent(l) == indent(&lines[items[0]]))
        {
            items.push(i);
        }
        i += 1;
    }
    let end_of_list = i;
    let blocks: Vec<(usize, usize)> = items
        .iter()
        .enumerate()
        .map(|(n, &s)| (s, items.get(n + 1).copied().unwrap_or(end_of_list)))
        .collect();
    let name_of = |&(s, e): &(usize, usize)| {
        let key_indent = item_key_indent(lines, s);
        find_key(lines, s, e, key_indent, "name")
            .and_then(|l| value_of(&lines[l], "name"))
            .map(|v| unquote(v.trim()).to_string())
    };
    blocks
        .iter()
        .filter_map(|b| {
            Some((
                pattern_score(&name_of(b).unwrap_or_else(|| "{{}}".into()), container)?,
                *b,
            ))
        })
        .max_by_key(|(score, _)| *score)
        .map(|(_, b)| b)
}

/// The indentation of the keys of a sequence item starting at `line` (`- name:` -> col of `n`).
fn item_key_indent(lines: &[String], line: usize) -> usize {
    let l = &lines[line];
    let after_dash = l.trim_start().trim_start_matches('-');
    l.len() - after_dash.trim_start().len()
}

/// The text after `key:` on `line` (the line's own key at any indent).
fn value_of<'l>(line: &'l str, key: &str) -> Option<&'l str> {
    let t = line.trim_start().trim_start_matches("- ");
    t.strip_prefix(key)?.strip_prefix(':')
}

/// The line in [start, end) holding `key:` at exactly `at` indentation.
fn find_key(lines: &[String], start: usize, end: usize, at: usize, key: &str) -> Option<usize> {
    (start..end.min(lines.len())).find(|&i| {
        let l = &lines[i];
        let col = if i == start {
            item_key_indent(lines, i)
        } else {
            indent(l)
        };
        col == at && value_of(l, key).is_some() && is_structural(l)
    })
}

/// Follow `path` down from the block [start, end) whose keys sit at `at`.
fn resolve(lines: &[String], start: usize, end: usize, at: usize, path: &[String]) -> Option<Feed> {
    let (first, rest) = path.split_first()?;
    let Some(line) = find_key(lines, start, end, at, first) else {
        // `{{- toYaml .Values.x | nindent N }}` in place of this level's keys.
        return block_ref(lines, start, end, at).map(|key| Feed::Key(append(key, path)));
    };
    let inline = value_of(&lines[line], first).unwrap_or("").trim();
    if inline.contains("{{") {
        return values_ref(inline, lines, line).map(|key| Feed::Key(append(key, rest)));
    }
    if !inline.is_empty() {
        return None;
    }
    // The child block: following lines deeper than this key (template lines in any column).
    let key_col = if line == start {
        item_key_indent(lines, line)
    } else {
        indent(&lines[line])
    };
    let child_end = (line + 1..end)
        .find(|&i| is_structural(&lines[i]) && indent(&lines[i]) <= key_col)
        .unwrap_or(end);
    let child_at = (line + 1..child_end)
        .find(|&i| is_structural(&lines[i]))
        .map(|i| indent(&lines[i]));
    match child_at {
        Some(child_at) if !rest.is_empty() => resolve(lines, line + 1, child_end, child_at, rest),
        _ => block_ref(lines, line + 1, child_end, key_col + 1)
            .map(|key| Feed::Key(append(key, rest))),
    }
}

fn append(mut key: Vec<String>, rest: &[String]) -> Vec<String> {
    key.extend(rest.iter().cloned());
    key
}

/// A template line in the block that includes a whole values subtree (`toYaml`).
fn block_ref(lines: &[String], start: usize, end: usize, min_col: usize) -> Option<Vec<String>> {
    (start..end.min(lines.len())).find_map(|i| {
        let l = &lines[i];
        let t = l.trim();
        let candidate = t.contains("toYaml") && (!is_structural(l) || indent(l) >= min_col);
        if candidate {
            values_ref(t, lines, i)
        } else {
            None
        }
    })
}

/// The first `.Values.a.b` path in `text`; `.` alone refers to an enclosing `with .Values.x`.
fn values_ref(text: &str, lines: &[String], line: usize) -> Option<Vec<String>> {
    // A helper template builds the value from its arguments: the key it is given is not
    // necessarily the field (`include "common.images.image" (dict "imageRoot" .Values.image)`).
    if ["include ", "template ", "tpl "]
        .iter()
        .any(|f| text.contains(f))
    {
        return None;
    }
    if let Some(key) = dotted_after(text, ".Values.") {
        return Some(key);
    }
    let action = text.split("{{").nth(1)?;
    let dot_alone = action
        .split_whitespace()
        .any(|w| w == "." || w.starts_with("(."));
    if !dot_alone {
        return None;
    }
    // The nearest `with .Values.x` above: `toYaml .` then means `.Values.x`.
    (0..line).rev().find_map(|i| {
        let l = &lines[i];
        l.contains("with")
            .then(|| {
                l.split("with")
                    .nth(1)
                    .and_then(|w| dotted_after(w, ".Values."))
            })
            .flatten()
    })
}

fn dotted_after(text: &str, marker: &str) -> Option<Vec<String>> {
    let at = text.find(marker)? + marker.len();
    let key: String = text[at..]
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
        .collect();
    let parts: Vec<String> = key
        .trim_end_matches('.')
        .split('.')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    (!parts.is_empty()).then_some(parts)
}

/// `image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"`.
fn image_feed(lines: &[String], line: usize) -> Option<Feed> {
    let value = unquote(value_of(&lines[line], "image")?.trim());
    // Split into actions and literal text; the action after the last literal `:` is the tag.
    let mut actions: Vec<(String, String)> = Vec::new(); // (literal before, action)
    let mut rest = value;
    while let Some(open) = rest.find("{{") {
        let close = rest[open..].find("}}")? + open;
        actions.push((rest[..open].to_string(), rest[open + 2..close].to_string()));
        rest = &rest[close + 2..];
    }
    let refs: Vec<Option<Vec<String>>> = actions
        .iter()
        .map(|(_, a)| values_ref(&format!("{{{{{a}}}}}"), lines, line))
        .collect();
    let tag_at = actions.iter().rposition(|(lit, _)| lit.ends_with(':'));
    match tag_at {
        Some(t) => Some(Feed::Image {
            repository: t
                .checked_sub(1)
                .and_then(|r| refs.get(r).cloned().flatten()),
            tag: refs.get(t).cloned().flatten()?,
            app_version_default: actions[t].1.contains(".Chart.AppVersion"),
        }),
        None if actions.len() == 1 && rest.is_empty() && actions[0].0.is_empty() => {
            refs[0].clone().map(Feed::Key)
        }
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_key_helpers_are_inlined() {
        let mut defines = BTreeMap::new();
        defines.insert(
            "web.resources".to_string(),
            "toYaml .Values.resources".to_string(),
        );
        let line = "  resources: {{- include \"web.resources\" . | nindent 12 }}";
        assert_eq!(
            inline_includes(line, &defines),
            "  resources: {{- (toYaml .Values.resources) | nindent 12 }}"
        );
        let other_context = "  resources: {{- include \"web.resources\" .Values.x | nindent 12 }}";
        assert_eq!(inline_includes(other_context, &defines), other_context);
        let mut tree = RepoTree::default();
        tree.insert_file(
            "c/templates/_helpers.tpl",
            "{{- define \"web.resources\" -}}\n{{- toYaml .Values.resources }}\n{{- end }}\n{{- define \"web.name\" -}}\n{{- default .Chart.Name .Values.nameOverride | trunc 63 }}-{{ .Values.x }}\n{{- end }}\n",
        );
        let found = defines_of(&tree);
        assert_eq!(
            found.get("web.resources").map(String::as_str),
            Some("toYaml .Values.resources")
        );
        assert!(!found.contains_key("web.name"));
    }

    fn defines_of(tree: &RepoTree) -> BTreeMap<String, String> {
        defines(tree, "c/templates").unwrap_or_default()
    }

    #[test]
    fn name_patterns() {
        assert_eq!(pattern_score("{{ template \"x\" . }}", "anything"), Some(0));
        assert_eq!(
            pattern_score("{{ template \"x\" . }}-redis", "podinfo-redis"),
            Some(6)
        );
        assert_eq!(
            pattern_score("{{ template \"x\" . }}-redis", "podinfo"),
            None
        );
        assert_eq!(pattern_score("web", "web"), Some(3));
        assert_eq!(pattern_score("web", "api"), None);
        assert_eq!(
            pattern_score("pre-{{ .Release.Name }}-x", "pre-rel-x"),
            Some(6)
        );
    }

    #[test]
    fn image_feeds() {
        let lines = |s: &str| vec![s.to_string()];
        let l = lines(
            "          image: \"{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}\"",
        );
        assert_eq!(
            image_feed(&l, 0),
            Some(Feed::Image {
                repository: Some(vec!["image".into(), "repository".into()]),
                tag: vec!["image".into(), "tag".into()],
                app_version_default: true
            })
        );
        let l = lines("  image: {{ .Values.image }}");
        assert_eq!(image_feed(&l, 0), Some(Feed::Key(vec!["image".into()])));
        let l = lines("  image: {{ include \"common.image\" . }}");
        assert_eq!(image_feed(&l, 0), None);
        let l = lines(
            "  image: {{ include \"common.images.image\" (dict \"imageRoot\" .Values.image) }}",
        );
        assert_eq!(image_feed(&l, 0), None);
    }
}
