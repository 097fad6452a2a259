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

/// Conventions of the file, applied to inserted text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Style {
    /// Columns a nested mapping is indented by.
    pub step: usize,
    /// Columns a block sequence's `-` is indented relative to its key (0 = flush).
    pub seq_offset: usize,
    /// How the file quotes: `Single` or `Double`, for new strings that need quotes.
    pub quote: QuoteStyle,
}

/// True when `s` written plain would not read back as the same string in YAML 1.1 or 1.2
/// (booleans, nulls, numbers, timestamps, indicators, comment or mapping syntax).
pub(super) fn needs_quotes(s: &str, flow: bool) -> bool {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return true;
    };
    if s.trim() != s || s.chars().any(needs_escape) {
        return true;
    }
    // `-`, `?` and `:` start a plain scalar when a non-space follows (`--port`, `-Xmx1g`),
    // except that `?` and `:` are indicators in flow collections for some parsers.
    let next_safe = chars
        .next()
        .is_some_and(|c| !(c.is_whitespace() || flow && ",[]{}".contains(c)));
    let indicator = match first {
        '-' => !next_safe,
        '?' | ':' => flow || !next_safe,
        c => ",[]{}#&*!|>'\"%@`".contains(c),
    };
    if indicator {
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

/// Plain scalars that some reader resolves to something other than a string: the YAML 1.2
/// core schema, YAML 1.1 types as PyYAML and go-yaml (Kubernetes, Helm, Argo CD) read them,
/// and serde-saphyr (the verifier). The 1.1 spec's float pattern would also take `1.2.3`;
/// no parser does, so versions stay plain.
fn resolves_to_non_string(s: &str) -> bool {
    let bool_word = ["y", "n", "yes", "no", "on", "off", "true", "false"]
        .iter()
        .any(|w| s.eq_ignore_ascii_case(w)); // serde-saphyr ignores case
    bool_word
        || matches!(s, "~" | "null" | "Null" | "NULL" | "<<" | "=")
        || is_number(s)
        || is_sexagesimal(s)
        || is_timestamp(s)
}

fn all_digits(s: &str, radix: u32) -> bool {
    s.chars().any(|c| c.is_digit(radix)) && s.chars().all(|c| c.is_digit(radix) || c == '_')
}

/// Integers and floats in any of the readers' spellings. go-yaml drops every `_` before
/// reading a number, so underscores are ignored here too.
fn is_number(s: &str) -> bool {
    if s.starts_with('_') {
        return false;
    }
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    if matches!(body, ".inf" | ".Inf" | ".INF" | ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    let prefixed = [
        ("0x", 16),
        ("0X", 16),
        ("0o", 8),
        ("0O", 8),
        ("0b", 2),
        ("0B", 2),
    ];
    for (prefix, radix) in prefixed {
        if let Some(rest) = body.strip_prefix(prefix) {
            return all_digits(rest, radix);
        }
    }
    // Decimal integers (`0123` too) and floats: `(d+(.d*)?|.d+)([eE][-+]?d+)?`.
    let b: String = body.chars().filter(|&c| c != '_').collect();
    let (mantissa, exp) = match b.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e.strip_prefix(['+', '-']).unwrap_or(e))),
        None => (b.as_str(), None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => {
            (digits(int) && (frac.is_empty() || digits(frac))) || (int.is_empty() && digits(frac))
        }
        None => digits(mantissa),
    };
    mantissa_ok && exp.is_none_or(digits)
}

/// YAML 1.1 base 60: `12:30` (an integer, first digit 1-9) and `1:30:15.5` (a float).
fn is_sexagesimal(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let mut parts = body.split(':');
    let Some(head) = parts.next() else {
        return false;
    };
    let rest: Vec<&str> = parts.collect();
    let Some((last, middle)) = rest.split_last() else {
        return false;
    };
    let base60 = |p: &str| {
        let b = p.as_bytes();
        match b {
            [d] => d.is_ascii_digit(),
            [t, d] => (b'0'..=b'5').contains(t) && d.is_ascii_digit(),
            _ => false,
        }
    };
    let head_ok = head.starts_with(|c: char| c.is_ascii_digit()) && all_digits(head, 10);
    if !head_ok || !middle.iter().all(|p| base60(p)) {
        return false;
    }
    if base60(last) {
        return !head.starts_with('0');
    }
    match last.split_once('.') {
        Some((whole, frac)) => {
            base60(whole) && frac.chars().all(|c| c.is_ascii_digit() || c == '_')
        }
        None => false,
    }
}

/// YAML 1.1 timestamps as go-yaml and PyYAML read them: `2001-12-14`, `2001-1-2`,
/// `2001-12-14t21:59:43.10-05:00`, `2001-12-14 21:59:43.10 Z`, ...
fn is_timestamp(s: &str) -> bool {
    // Take 1 or 2 (or exactly `n` when `exact`) digits from the front.
    fn num(s: &str, exact: Option<usize>) -> Option<&str> {
        let n = s.bytes().take_while(u8::is_ascii_digit).count();
        let ok = match exact {
            Some(e) => n == e,
            None => (1..=2).contains(&n),
        };
        ok.then(|| &s[n..])
    }
    fn after(s: &str, c: char) -> Option<&str> {
        s.strip_prefix(c)
    }
    let date = num(s, Some(4))
        .and_then(|r| after(r, '-'))
        .and_then(|r| num(r, None))
        .and_then(|r| after(r, '-'))
        .and_then(|r| num(r, None));
    let Some(rest) = date else {
        return false;
    };
    if rest.is_empty() {
        return true;
    }
    let rest = match rest.strip_prefix(['T', 't']) {
        Some(r) => r,
        None if rest.starts_with([' ', '\t']) => rest.trim_start_matches([' ', '\t']),
        None => return false,
    };
    let time = num(rest, None)
        .and_then(|r| after(r, ':'))
        .and_then(|r| num(r, None))
        .and_then(|r| after(r, ':'))
        .and_then(|r| num(r, None));
    let Some(mut rest) = time else {
        return false;
    };
    if let Some(frac) = rest.strip_prefix('.') {
        rest = frac.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let zone = rest.trim_start_matches([' ', '\t']);
    zone.is_empty()
        || zone == "Z"
        || zone
            .strip_prefix(['+', '-'])
            .and_then(|r| num(r, None))
            .is_some_and(|r| {
                r.is_empty() || after(r, ':').and_then(|m| num(m, Some(2))) == Some("")
            })
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

/// A string scalar: in `own` style (the replaced scalar's) where it can represent `s`;
/// plain only when that reads back as the same string; else quoted in the file's `quote`.
pub(super) fn string_scalar(s: &str, own: QuoteStyle, quote: QuoteStyle, flow: bool) -> String {
    let escapes = s.chars().any(needs_escape);
    let style = match own {
        QuoteStyle::Plain if !needs_quotes(s, flow) => return s.to_string(),
        QuoteStyle::Plain => quote,
        quoted => quoted,
    };
    match style {
        QuoteStyle::Single if !escapes => single_quoted(s),
        _ => double_quoted(s),
    }
}

/// A value written on one line: a scalar, or a flow collection.
pub(super) fn inline(v: &Value, own: QuoteStyle, quote: QuoteStyle, flow: bool) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string_scalar(s, own, quote, flow),
        Value::Array(items) => {
            let items: Vec<String> = items
                .iter()
                .map(|i| inline(i, QuoteStyle::Plain, quote, true))
                .collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let entries: Vec<String> = map
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}: {}",
                        key(k, quote, true),
                        inline(v, QuoteStyle::Plain, quote, true)
                    )
                })
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
    }
}

/// A mapping key.
pub(super) fn key(k: &str, quote: QuoteStyle, flow: bool) -> String {
    string_scalar(k, QuoteStyle::Plain, quote, flow)
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
    let k = key(k, st.quote, false);
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
        _ => out.push(format!(
            "{pad}{k}: {}",
            inline(v, QuoteStyle::Plain, st.quote, false)
        )),
    }
}

/// Lines of the block sequence items `items` with their `-` at column `col`.
pub(super) fn seq_lines(items: &[Value], col: usize, st: Style, out: &mut Vec<String>) {
    for item in items {
        if !is_block_collection(item) {
            out.push(format!(
                "{}- {}",
                " ".repeat(col),
                inline(item, QuoteStyle::Plain, st.quote, false)
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

    /// Strings that YAML 1.1 or 1.2 reads as another type, or as other syntax, when plain.
    const MUST_QUOTE: &[&str] = &[
        // booleans, YAML 1.1 and 1.2, any case (serde-saphyr ignores case)
        "yes",
        "No",
        "ON",
        "off",
        "y",
        "N",
        "true",
        "False",
        "yEs",
        // nulls
        "null",
        "~",
        "NULL",
        "Null",
        // integers: decimal, 1.1 octal, 1.2 octal, hex, binary, underscores, signs
        "123",
        "-1",
        "+1",
        "0123",
        "0o17",
        "0x1F",
        "0X1f",
        "-0x1F",
        "0b101",
        "1_000",
        "1_",
        "+_1",
        // floats: 1.2 forms, 1.1 forms, non-finite
        "1.10",
        "1.5",
        ".5",
        "1.",
        "1e3",
        "1E-3",
        "1.2e+3",
        "1_0.5",
        ".inf",
        "-.Inf",
        "+.INF",
        ".NaN",
        "-.nan",
        // YAML 1.1 base 60
        "12:30",
        "1:30",
        "1:30:15",
        "190:20:30.15",
        "-1:30",
        // YAML 1.1 timestamps
        "2001-12-14",
        "2001-1-2",
        "2001-12-14t21:59:43.10-05:00",
        "2001-12-14T21:59:43Z",
        "2001-12-14 21:59:43.10 -5",
        "2001-12-14 21:59:43.10",
        // merge and value keys
        "<<",
        "=",
        // syntax
        "a: b",
        "a #b",
        "- x",
        "-",
        "? x",
        "?",
        ":",
        ": x",
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
        "a:",
        "a\nb",
        "a\tb",
    ];

    /// Strings that read back as themselves when plain: never quoted unless the value was.
    const PLAIN: &[&str] = &[
        "1.2.3",
        "v1.2.3",
        "1.2.3-rc.1",
        "10.0.0.1",
        "512Mi",
        "100m",
        "1Gi",
        "web",
        "nginx:1.25",
        "--port",
        "-Xmx512m",
        "-x",
        "?x",
        ":x",
        "a,b",
        "a#b",
        "http://x",
        "12e",
        "e3",
        "1e",
        "0x",
        "0b2",
        "0o8",
        "_1",
        "yess",
        "null-ish",
        "NuLL",
        "inf",
        "nan",
        "NaN",
        "Infinity",
        "0:30",
        "1:60",
        "1:2:3:x",
        "2024-01-05-abc",
        "2024-1",
        "20241-01-01",
        "foo bar",
        ".",
        "+",
        "1..2",
        "1.2e",
        "say \"hi\"",
        "it's",
    ];

    #[test]
    fn quoting_of_ambiguous_strings() {
        for s in MUST_QUOTE {
            assert!(needs_quotes(s, false), "{s:?} must be quoted");
        }
        for s in PLAIN {
            assert!(!needs_quotes(s, false), "{s:?} must stay plain");
        }
        // Flow collections add their own indicators.
        for s in ["a,b", "[x", "x]", "{x", "x}", "?x", ":x", "-,"] {
            assert!(needs_quotes(s, true), "{s:?} in flow");
        }
        for s in ["--port", "nginx:1.25", "1.2.3"] {
            assert!(!needs_quotes(s, true), "{s:?} in flow");
        }
    }

    #[test]
    fn the_lists_agree_with_a_real_parser() {
        // What needs_quotes calls safe must read back as the same string (serde-saphyr, the
        // verifier); what it quotes because of type must not, in at least one of the readers
        // (so the check is not vacuous for serde-saphyr's share).
        for s in PLAIN {
            let v: serde_json::Value = serde_saphyr::from_str(&format!("k: {s}\n")).unwrap();
            assert_eq!(v, json!({ "k": s }), "{s:?}");
        }
        for s in [
            "yes", "yEs", "0123", "1.10", "1e3", "~", "null", "on", "0x1F", "1_000",
        ] {
            let v: serde_json::Value = serde_saphyr::from_str(&format!("k: {s}\n")).unwrap();
            assert_ne!(v, json!({ "k": s }), "{s:?}");
        }
    }

    #[test]
    fn scalar_styles() {
        use QuoteStyle::{Double, Plain, Single};
        // The replaced scalar's own quotes are kept when they can carry the new string.
        assert_eq!(string_scalar("it's", Single, Double, false), "'it''s'");
        assert_eq!(string_scalar("512Mi", Single, Double, false), "'512Mi'");
        assert_eq!(string_scalar("512Mi", Double, Single, false), "\"512Mi\"");
        assert_eq!(
            string_scalar("a\"b\\", Double, Single, false),
            r#""a\"b\\""#
        );
        assert_eq!(string_scalar("a\nb", Single, Single, false), r#""a\nb""#);
        // A plain scalar stays plain when it can, else takes the file's quotes.
        assert_eq!(string_scalar("1.2.3", Plain, Double, false), "1.2.3");
        assert_eq!(string_scalar("yes", Plain, Double, false), "\"yes\"");
        assert_eq!(string_scalar("yes", Plain, Single, false), "'yes'");
        assert_eq!(string_scalar("it's: x", Plain, Single, false), "'it''s: x'");
        assert_eq!(string_scalar("tab\tx", Plain, Single, false), "\"tab\\tx\"");
        assert_eq!(inline(&json!(8080), Double, Double, false), "8080");
        assert_eq!(
            inline(&json!({"a": [1, "x,y", "1.10"]}), Plain, Single, false),
            "{a: [1, 'x,y', '1.10']}"
        );
    }

    #[test]
    fn block_rendering() {
        let st = Style {
            step: 2,
            seq_offset: 0,
            quote: QuoteStyle::Single,
        };
        let mut out = Vec::new();
        let v = json!({"httpGet": {"path": "/healthz", "port": 8080}, "args": ["a", {"b": 1, "c": [2]}], "e": {}, "on": "1.10"});
        entry_lines("probe", &v, 4, st, &mut out);
        assert_eq!(
            out.join("\n"),
            "    probe:\n      httpGet:\n        path: /healthz\n        port: 8080\n      args:\n      - a\n      - b: 1\n        c:\n        - 2\n      e: {}\n      'on': '1.10'"
        );
    }
}
