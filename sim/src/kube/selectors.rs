//! `labelSelector` and `fieldSelector` parsing and matching, with the real grammar: `k=v`,
//! `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, `k>1`, `k<1`; fields support `=`,
//! `==`, `!=` on the fields each kind registers.

use serde_json::Value;

use super::registry::ResourceType;
use super::status::ApiError;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Op {
    Eq(String),
    NotEq(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    NotExists,
    Gt(i64),
    Lt(i64),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Requirement {
    key: String,
    op: Op,
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector {
    reqs: Vec<Requirement>,
}

fn parse_err(s: &str, why: &str) -> ApiError {
    ApiError::bad_request(format!("unable to parse requirement: {why}: \"{s}\""))
}

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 317
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'))
}

fn valid_value(v: &str) -> bool {
    v.len() <= 63
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Splits on commas outside parentheses.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

impl LabelSelector {
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        let mut reqs = Vec::new();
        if s.trim().is_empty() {
            return Ok(LabelSelector { reqs });
        }
        for part in split_top_level(s) {
            reqs.push(Self::parse_requirement(part.trim())?);
        }
        Ok(LabelSelector { reqs })
    }

    fn parse_requirement(s: &str) -> Result<Requirement, ApiError> {
        let check_key = |k: &str| {
            let k = k.trim();
            if valid_key(k) {
                Ok(k.to_string())
            } else {
                Err(parse_err(s, "invalid label key"))
            }
        };
        let check_value = |v: &str| {
            let v = v.trim();
            if valid_value(v) {
                Ok(v.to_string())
            } else {
                Err(parse_err(s, "invalid label value"))
            }
        };
        if let Some(rest) = s.strip_prefix('!') {
            return Ok(Requirement {
                key: check_key(rest)?,
                op: Op::NotExists,
            });
        }
        if let Some(open) = s.find('(') {
            let close = s
                .rfind(')')
                .filter(|c| *c > open && s[c + 1..].trim().is_empty())
                .ok_or_else(|| parse_err(s, "expected ')'"))?;
            let mut head = s[..open].split_whitespace();
            let (key, op) = match (head.next(), head.next(), head.next()) {
                (Some(k), Some(op), None) => (check_key(k)?, op),
                _ => return Err(parse_err(s, "expected 'key in (...)'")),
            };
            let values = s[open + 1..close]
                .split(',')
                .map(check_value)
                .collect::<Result<Vec<_>, _>>()?;
            let op = match op {
                "in" => Op::In(values),
                "notin" => Op::NotIn(values),
                _ => return Err(parse_err(s, "unknown operator")),
            };
            return Ok(Requirement { key, op });
        }
        for (token, make) in [
            ("!=", Op::NotEq as fn(String) -> Op),
            ("==", Op::Eq),
            ("=", Op::Eq),
        ] {
            if let Some((k, v)) = s.split_once(token) {
                return Ok(Requirement {
                    key: check_key(k)?,
                    op: make(check_value(v)?),
                });
            }
        }
        for (token, gt) in [(">", true), ("<", false)] {
            if let Some((k, v)) = s.split_once(token) {
                let n: i64 = v
                    .trim()
                    .parse()
                    .map_err(|_| parse_err(s, "expected an integer"))?;
                let op = if gt { Op::Gt(n) } else { Op::Lt(n) };
                return Ok(Requirement {
                    key: check_key(k)?,
                    op,
                });
            }
        }
        Ok(Requirement {
            key: check_key(s)?,
            op: Op::Exists,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }

    /// Whether the object's `metadata.labels` satisfy every requirement.
    pub fn matches(&self, obj: &Value) -> bool {
        let labels = obj.pointer("/metadata/labels");
        let label = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.reqs.iter().all(|r| {
            let v = label(&r.key);
            match &r.op {
                Op::Eq(want) => v == Some(want.as_str()),
                Op::NotEq(want) => v != Some(want.as_str()),
                Op::In(set) => v.is_some_and(|v| set.iter().any(|s| s == v)),
                Op::NotIn(set) => !v.is_some_and(|v| set.iter().any(|s| s == v)),
                Op::Exists => v.is_some(),
                Op::NotExists => v.is_none(),
                Op::Gt(n) => v
                    .and_then(|v| v.parse::<i64>().ok())
                    .is_some_and(|x| x > *n),
                Op::Lt(n) => v
                    .and_then(|v| v.parse::<i64>().ok())
                    .is_some_and(|x| x < *n),
            }
        })
    }
}

/// A parsed field selector over the fields the kind supports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSelector {
    /// (dotted JSON path, wanted value, equal?)
    reqs: Vec<(String, String, bool)>,
}

impl FieldSelector {
    pub fn parse(s: &str, rt: &ResourceType) -> Result<Self, ApiError> {
        let mut reqs = Vec::new();
        if s.trim().is_empty() {
            return Ok(FieldSelector { reqs });
        }
        for part in s.split(',') {
            let part = part.trim();
            let (field, value, eq) = if let Some((f, v)) = part.split_once("!=") {
                (f, v, false)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, v, true)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, v, true)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                )));
            };
            let field = field.trim();
            let path = match field {
                "metadata.name" | "metadata.namespace" => field.to_string(),
                _ => rt
                    .field_selectors
                    .iter()
                    .find(|(f, _)| f == field)
                    .map(|(_, p)| p.clone())
                    .ok_or_else(|| {
                        ApiError::bad_request(format!("field label not supported: {field}"))
                    })?,
            };
            reqs.push((path, value.trim().to_string(), eq));
        }
        Ok(FieldSelector { reqs })
    }

    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }

    pub fn matches(&self, obj: &Value) -> bool {
        self.reqs.iter().all(|(path, want, eq)| {
            let got = field_value(obj, path);
            (got == *want) == *eq
        })
    }
}

/// A field as the real server renders it for selection: missing fields are `""`.
fn field_value(obj: &Value, path: &str) -> String {
    let mut cur = obj;
    for seg in path.split('.') {
        match cur.get(seg) {
            Some(v) => cur = v,
            None => return String::new(),
        }
    }
    match cur {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Both selectors of a list or watch request.
#[derive(Clone, Debug, Default)]
pub struct Selectors {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl Selectors {
    pub fn matches(&self, obj: &Value) -> bool {
        self.labels.matches(obj) && self.fields.matches(obj)
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::registry::Registry;

    fn obj(labels: Value) -> Value {
        serde_json::json!({"metadata": {"name": "p", "namespace": "x", "labels": labels},
                           "spec": {"nodeName": "n1"}})
    }

    #[test]
    fn label_selector_grammar() {
        let o = obj(serde_json::json!({"app": "web", "tier": "front", "rank": "3"}));
        let yes = [
            "",
            "app=web",
            "app==web",
            "app!=db",
            "app in (web,db)",
            "app in ( web , db )",
            "tier notin (back)",
            "app",
            "!missing",
            "rank>2",
            "rank<4",
            "app=web,tier in (front),!missing",
            "missing!=x",
            "missing notin (x)",
        ];
        for s in yes {
            assert!(LabelSelector::parse(s).unwrap().matches(&o), "{s}");
        }
        let no = [
            "app=db",
            "app!=web",
            "app in (db)",
            "tier notin (front)",
            "missing",
            "!app",
            "rank>3",
            "missing in (x)",
        ];
        for s in no {
            assert!(!LabelSelector::parse(s).unwrap().matches(&o), "{s}");
        }
        for bad in [
            "app in (web",
            "a b = c",
            "app=we b",
            "rank>x",
            "a in b (c)",
            "=x",
        ] {
            assert!(LabelSelector::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn field_selectors_use_the_kind_fields() {
        let registry = Registry::standard();
        let pods = registry
            .get(registry.find("", "v1", "pods").unwrap())
            .unwrap();
        let deploys = registry
            .get(registry.find("apps", "v1", "deployments").unwrap())
            .unwrap();
        let o = obj(serde_json::json!({}));
        let f = |s: &str| FieldSelector::parse(s, pods).unwrap().matches(&o);
        assert!(f("spec.nodeName=n1"));
        assert!(f("spec.nodeName==n1,metadata.namespace=x"));
        assert!(f("spec.nodeName!=n2"));
        assert!(f("status.phase="));
        assert!(!f("metadata.name=q"));
        assert!(FieldSelector::parse("spec.nodeName=n1", deploys).is_err());
        assert!(FieldSelector::parse("nonsense", pods).is_err());
    }
}
