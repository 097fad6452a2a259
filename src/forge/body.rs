//! What suture writes for reviewers: PR/MR titles, bodies, commit messages and comments, rendered
//! from `templates/` with minijinja (a user's templates directory overrides them by name). Pure:
//! template texts and a view in, text out.
//!
//! Text copied from the cluster (messages, names, images) is untrusted. Every value a template
//! prints is Markdown-escaped by default (HTML defused, `@mentions` broken, Markdown
//! punctuation escaped, newlines folded, length bounded); the `code` filter prints a value as an
//! inline code span instead. Only the template's own text is Markdown.

use std::collections::BTreeMap;

use minijinja::value::Value;
use minijinja::{Environment, Error as TemplateError, ErrorKind};
use serde::Serialize;

/// The bundled templates, by the file name a user's directory overrides.
pub const BUNDLED: [(&str, &str); 5] = [
    ("pr-title.txt", include_str!("../../templates/pr-title.txt")),
    ("pr-body.md", include_str!("../../templates/pr-body.md")),
    (
        "commit-message.txt",
        include_str!("../../templates/commit-message.txt"),
    ),
    (
        "recurrence-comment.md",
        include_str!("../../templates/recurrence-comment.md"),
    ),
    (
        "revert-body.md",
        include_str!("../../templates/revert-body.md"),
    ),
];

/// Longest text taken from the cluster into a body: kubelet messages can be kilobytes.
pub const MAX_VALUE_CHARS: usize = 300;

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("template {name}: {source}")]
    Template {
        name: String,
        #[source]
        source: TemplateError,
    },
    #[error(
        "unknown template {0} (known: pr-title.txt, pr-body.md, commit-message.txt, recurrence-comment.md)"
    )]
    Unknown(String),
}

/// One field change, as reviewers read it.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct ChangeView {
    pub field: String,
    pub from: String,
    pub to: String,
}

/// Everything a PR body may show. Built by the runner from the placed proposal.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct PullRequestView {
    pub incident_key: String,
    pub fault: String,
    /// `docs/faults.md#<fault>` in suture's repository.
    pub fault_doc: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub container: String,
    /// The change in words: `raise memory limit 512Mi -> 640Mi`.
    pub summary: String,
    /// What happened, in one sentence from the evidence.
    pub root_cause: String,
    /// (label, value) rows read from the objects.
    pub evidence: Vec<(String, String)>,
    pub basis: String,
    /// `est. 80% (why)`.
    pub confidence: String,
    pub changes: Vec<ChangeView>,
    pub rollback: Vec<ChangeView>,
    pub rollback_description: String,
    pub application: String,
    /// The repository file the change edits.
    pub file: String,
    /// Argo CD sync during review: paused until when, or why it is not paused.
    pub sync: String,
    pub verification: String,
    /// The checks run against the live cluster before the PR (all passed or skipped: a
    /// failed check escalates instead).
    pub checks: Vec<CheckView>,
    /// The machine-readable block (incident key, rollback spec), JSON.
    pub machine: serde_json::Value,
}

/// One row of the body's Checks table.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct CheckView {
    pub name: String,
    pub result: String,
    pub detail: String,
}

/// At most `max_chars` of `text` on one line (whitespace folded, control characters dropped),
/// each other character written by `write`; `…` marks a cut.
fn one_line(text: &str, max_chars: usize, mut write: impl FnMut(char, &mut String)) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars * 2));
    for (n, c) in text.chars().enumerate() {
        if n == max_chars {
            out.push('…');
            break;
        }
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => write(c, &mut out),
        }
    }
    out
}

/// Escape untrusted text for Markdown prose: bounded, one line, no HTML, no mentions, no
/// Markdown syntax. Only what is active inside a line is escaped everywhere (emphasis, code,
/// links, tables, strikethrough, `#123` references); list, heading and quote markers only where
/// they would start a block, so `checkout-api: OOMKilled (137).` stays readable in the raw body.
pub fn escape_markdown(text: &str, max_chars: usize) -> String {
    let mut at_start = true;
    let mut leading_digits = true;
    one_line(text, max_chars, |c, out| {
        let block_marker = at_start && matches!(c, '-' | '+' | '=' | '>' | '!');
        let list_number = leading_digits && !at_start && matches!(c, '.' | ')');
        leading_digits &= c.is_ascii_digit();
        at_start = false;
        match c {
            '<' => out.push_str("&lt;"),
            '>' if !block_marker => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            // A zero-width space after `@` (as Renovate does) keeps GitHub and GitLab from
            // turning `@team` into a notification.
            '@' => out.push_str("@&#8203;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' | '#' => {
                out.push('\\');
                out.push(c);
            }
            c if block_marker || list_number => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    })
}

/// Untrusted text for plain-text templates (titles, commit messages): one line, bounded, and no
/// `@mention` (a zero-width space follows every `@`).
pub fn plain_text(text: &str, max_chars: usize) -> String {
    one_line(text, max_chars, |c, out| match c {
        '@' => out.push_str("@\u{200B}"),
        c => out.push(c),
    })
}

/// Untrusted text as an inline code span: nothing inside is Markdown, HTML or a mention. Pipes
/// are escaped (GFM tables split on them even in code) and newlines folded.
pub fn code_span(text: &str, max_chars: usize) -> String {
    let mut body: String = text
        .chars()
        .take(max_chars)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().count() > max_chars {
        body.push('…');
    }
    let body = body.replace('|', "\\|");
    // A fence one backtick longer than any run inside.
    let longest = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if body.starts_with('`') || body.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{body}{pad}{fence}")
}

/// JSON for an HTML comment: `<`, `>` and `&` as JSON escapes, so no value can close the comment.
pub fn comment_json(value: &serde_json::Value) -> String {
    serde_json::to_string(value)
        .unwrap_or_default()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// The templates in force: the bundled ones, with a user's overrides by name.
pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// `overrides`: file name -> template text (read from the user's directory at the edge).
    /// A name suture does not know is refused, so a typo does not silently do nothing.
    pub fn new(overrides: BTreeMap<String, String>) -> Result<Templates, BodyError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        let syntax = minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .keep_trailing_newline(true)
            .build()
            .map_err(|source| BodyError::Template {
                name: "(syntax)".into(),
                source,
            })?;
        env.set_syntax(syntax);
        env.set_formatter(|out, state, value| {
            let text = if value.is_safe() {
                value.to_string()
            } else if value.is_none() || value.is_undefined() {
                String::new()
            } else if state.name().ends_with(".md") {
                escape_markdown(&value.to_string(), MAX_VALUE_CHARS)
            } else {
                plain_text(&value.to_string(), MAX_VALUE_CHARS)
            };
            out.write_str(&text)
                .map_err(|e| TemplateError::new(ErrorKind::WriteFailure, e.to_string()))
        });
        env.add_filter("code", |v: Value| {
            Value::from_safe_string(code_span(&v.to_string(), MAX_VALUE_CHARS))
        });
        env.add_filter("comment_json", |v: Value| {
            let json = serde_json::to_value(&v).unwrap_or_default();
            Value::from_safe_string(comment_json(&json))
        });
        for name in overrides.keys() {
            if !BUNDLED.iter().any(|(n, _)| n == name) {
                return Err(BodyError::Unknown(name.clone()));
            }
        }
        for (name, bundled) in BUNDLED {
            let text = overrides
                .get(name)
                .cloned()
                .unwrap_or_else(|| bundled.to_string());
            env.add_template_owned(name, text)
                .map_err(|source| BodyError::Template {
                    name: name.to_string(),
                    source,
                })?;
        }
        Ok(Templates { env })
    }

    pub fn bundled() -> Templates {
        // The bundled templates are tested to compile; this cannot fail at run time.
        Templates::new(BTreeMap::new()).unwrap_or_else(|e| panic!("bundled templates: {e}"))
    }

    pub fn render(&self, name: &str, view: &impl Serialize) -> Result<String, BodyError> {
        let template = self
            .env
            .get_template(name)
            .map_err(|_| BodyError::Unknown(name.to_string()))?;
        template
            .render(Value::from(minijinja::value::Serde(view)))
            .map_err(|source| BodyError::Template {
                name: name.to_string(),
                source,
            })
    }

    /// `fix(<namespace>/<name>): <change in words>`, one line.
    pub fn title(&self, view: &PullRequestView) -> Result<String, BodyError> {
        Ok(self
            .render("pr-title.txt", view)?
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_string())
    }

    pub fn body(&self, view: &PullRequestView) -> Result<String, BodyError> {
        self.render("pr-body.md", view)
    }
}

/// Read the machine-readable block back out of a body suture wrote.
pub fn machine_block(body: &str) -> Option<serde_json::Value> {
    let start = body.find(MACHINE_OPEN)? + MACHINE_OPEN.len();
    let end = start + body[start..].find("-->")?;
    serde_json::from_str(body[start..end].trim()).ok()
}

/// How the bundled body opens its hidden block (a user's template must keep it).
pub const MACHINE_OPEN: &str = "<!-- suture:incident";

#[cfg(test)]
mod tests;
