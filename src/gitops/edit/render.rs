//! Writing JSON values as YAML text: scalars (with safe quoting), flow collections and
//! indented block collections.

use serde_json::Value;

/// How the scalar being replaced was written; kept for new string values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum QuoteStyle {
    Plain,
    Single,
    Double,
}

impl QuoteStyle {
    pub(super) fn of(scalar_text: &str) -> Self {
        match scalar_text.as_bytes().first() {
            Some(b'\'') => Self::Single,
            Some(b'"') => Self::Double,
            _ => Self::Plain,
        }
    }
}

/// Indentation conventions of the file, applied to inserted block text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Style {
    /// Columns a nested mapping is indented by.
    pub step: usize,
    /// Columns a block sequence's `-` is indented relative to its key (0 = flush).
    pub seq_offset: usize,
}

/// True when `s` written plain would not read back as the same string in YAML 1.1 or 1.2
/// (booleans, nulls, numbers, timestamps, indicators, comment or mapping syntax).
pub(super) fn needs_quotes(s: &str, flow: bool) -> bool {
    let Some(first) = s.chars().next() else {
        return true;
    };
    if s.trim() != s || s.chars().any(needs_escape) {
        return true;
    }
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        return true;
    }
    if s.contains(": ") || s.contains(":\t") || s.contains(" #") || s.contains("\t#") {
        return true;
    }
    if s.ends_with(':') || (flow && s.contains([',', '[', ']', '{', '}'])) {
        return true;
    }
    resolves_to_non_string(s)
}

/// YAML 1.1 and 1.2 plain scalars that resolve to something other than a string.
fn resolves_to_non_string(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null" | "~" | "=" | "<<"
    ) {
        return true;
    }
    let body = lower.strip_prefix(['+', '-']).unwrap_or(&lower);
    if matches!(body, ".inf" | ".nan") {
        return true;
    }
    let radix_digits = |rest: &str, ok: fn(char) -> bool| {
        !rest.is_empty() && rest.chars().all(|c| ok(c) || c == '_')
    };
    if let Some(rest) = body.strip_prefix("0x")
        && radix_digits(rest, |c| c.is_ascii_hexdigit())
    {
        return true;
    }
    if let Some(rest) = body.strip_prefix("0o")
        && radix_digits(rest, |c| c.is_digit(8))
    {
        return true;
    }
    if let Some(rest) = body.strip_prefix("0b")
        && radix_digits(rest, |c| c.is_digit(2))
    {
        return true;
    }
    // Integers, floats, octals, `1_000`, sexagesimal `1:30` (1.1), versions like `1.10`.
    let numeric = |t: &str| {
        t.chars().any(|c| c.is_ascii_digit())
            && t.chars().all(|c| c.is_ascii_digit() || "_.:".contains(c))
    };
    if numeric(body) {
        return true;
    }
    if let Some((mantissa, exp)) = body.split_once('e') {
        let exp = exp.strip_prefix(['+', '-']).unwrap_or(exp);
        if numeric(mantissa) && !exp.is_empty() && exp.chars().all(|c| c.is_ascii_digit()) {
            return true;
        }
    }
    // Timestamps: `2001-12-14`, `2001-12-14t21:59:43.10-05:00`, ...
    let b = body.as_bytes();
    b.len() >= 6 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' && b[5].is_ascii_digit()
}

/// Characters that only a double-quoted scalar can carry (as escapes).
fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{feff}' | '\u{2028}' | '\u{2029}')
}

pub(super) fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if needs_escape(c) => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn single_quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A string scalar, keeping `style` where it can represent `s`.
pub(super) fn string_scalar(s: &str, style: QuoteStyle, flow: bool) -> String {
    let escapes = s.chars().any(needs_escape);
    match style {
        QuoteStyle::Single if !escapes => single_quoted(s),
        QuoteStyle::Plain if !needs_quotes(s, flow) => s.to_string(),
        _ => double_quoted(s),
    }
}

/// A value written on one line: a scalar, or a flow collection.
pub(super) fn inline(v: &Value, style: QuoteStyle, flow: bool) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string_scalar(s, style, flow),
        Value::Array(items) => {
            let items: Vec<String> = items
                .iter()
                .map(|i| inline(i, QuoteStyle::Plain, true))
                .collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let entries: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", key(k, true), inline(v, QuoteStyle::Plain, true)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
    }
}

/// A mapping key.
pub(super) fn key(k: &str, flow: bool) -> String {
    string_scalar(k, QuoteStyle::Plain, flow)
}

fn is_block_collection(v: &Value) -> bool {
    match v {
        Value::Object(m) => !m.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => false,
    }
}

/// Lines (without line ends) of the block entry `k: v` with the key at column `col`.
pub(super) fn entry_lines(k: &str, v: &Value, col: usize, st: Style, out: &mut Vec<String>) {
    let pad = " ".repeat(col);
    let k = key(k, false);
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push(format!("{pad}{k}:"));
            for (ck, cv) in m {
                entry_lines(ck, cv, col + st.step, st, out);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            out.push(format!("{pad}{k}:"));
            seq_lines(a, col + st.seq_offset, st, out);
        }
        _ => out.push(format!("{pad}{k}: {}", inline(v, QuoteStyle::Plain, false))),
    }
}

/// Lines of the block sequence items `items` with their `-` at column `col`.
pub(super) fn seq_lines(items: &[Value], col: usize, st: Style, out: &mut Vec<String>) {
    for item in items {
        if !is_block_collection(item) {
            out.push(format!(
                "{}- {}",
                " ".repeat(col),
                inline(item, QuoteStyle::Plain, false)
            ));
            continue;
        }
        // Render the item two columns right of the dash, then put the dash on its first line.
        let mut sub = Vec::new();
        match item {
            Value::Object(m) => {
                for (k, v) in m {
                    entry_lines(k, v, col + 2, st, &mut sub);
                }
            }
            Value::Array(a) => seq_lines(a, col + 2, st, &mut sub),
            _ => {}
        }
        if let Some(first) = sub.first_mut() {
            *first = format!("{}- {}", " ".repeat(col), &first[col + 2..]);
        }
        out.extend(sub);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quoting_of_ambiguous_strings() {
        for s in [
            "yes",
            "No",
            "ON",
            "off",
            "y",
            "N",
            "true",
            "False",
            "null",
            "~",
            "NULL",
            "0123",
            "1.10",
            "1e3",
            "1E-3",
            "0x1F",
            ".inf",
            "-.Inf",
            ".NaN",
            "1_000",
            "2001-12-14",
            "1:30",
            "123",
            "-1",
            "+1",
            ".5",
            "a: b",
            "a #b",
            "-x",
            "? x",
            ":x",
            ",",
            "[a",
            "]",
            "{",
            "}",
            "#x",
            "&a",
            "*a",
            "!t",
            "|",
            ">",
            "'",
            "\"",
            "%x",
            "@x",
            "`x",
            " a",
            "a ",
            "",
            "<<",
            "=",
            "a:",
            "1.2.3",
        ] {
            assert!(needs_quotes(s, false), "{s:?} must be quoted");
        }
        for s in [
            "512Mi",
            "100m",
            "1Gi",
            "web",
            "nginx:1.25",
            "v1.2.3",
            "a,b",
            "a#b",
            "http://x",
            "12e",
            "e3",
            "yess",
            "null-ish",
            "inf",
            "nan",
            "-",
            "foo bar",
        ] {
            assert_eq!(needs_quotes(s, false), s == "-", "{s:?}");
        }
        assert!(needs_quotes("a,b", true));
    }

    #[test]
    fn scalar_styles() {
        assert_eq!(string_scalar("it's", QuoteStyle::Single, false), "'it''s'");
        assert_eq!(
            string_scalar("a\"b\\", QuoteStyle::Double, false),
            r#""a\"b\\""#
        );
        assert_eq!(
            string_scalar("a\nb", QuoteStyle::Single, false),
            r#""a\nb""#
        );
        assert_eq!(string_scalar("yes", QuoteStyle::Plain, false), "\"yes\"");
        assert_eq!(string_scalar("512Mi", QuoteStyle::Single, false), "'512Mi'");
        assert_eq!(inline(&json!(8080), QuoteStyle::Double, false), "8080");
        assert_eq!(
            inline(&json!({"a": [1, "x,y"]}), QuoteStyle::Plain, false),
            "{a: [1, \"x,y\"]}"
        );
    }

    #[test]
    fn block_rendering() {
        let st = Style {
            step: 2,
            seq_offset: 0,
        };
        let mut out = Vec::new();
        let v = json!({"httpGet": {"path": "/healthz", "port": 8080}, "args": ["a", {"b": 1, "c": [2]}], "e": {}});
        entry_lines("probe", &v, 4, st, &mut out);
        assert_eq!(
            out.join("\n"),
            "    probe:\n      httpGet:\n        path: /healthz\n        port: 8080\n      args:\n      - a\n      - b: 1\n        c:\n        - 2\n      e: {}"
        );
    }
}
