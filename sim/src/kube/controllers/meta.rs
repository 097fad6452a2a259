//! Small helpers over JSON objects shared by the controllers: owner references, hashes the
//! way the real controllers render them, quantities, timestamps.

use jiff::Timestamp;
use serde_json::{Map, Value, json};

pub fn s<'a>(obj: &'a Value, pointer: &str) -> &'a str {
    obj.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

pub fn int(obj: &Value, pointer: &str) -> Option<i64> {
    obj.pointer(pointer).and_then(Value::as_i64)
}

pub fn name(obj: &Value) -> &str {
    s(obj, "/metadata/name")
}

pub fn namespace(obj: &Value) -> &str {
    s(obj, "/metadata/namespace")
}

pub fn uid(obj: &Value) -> &str {
    s(obj, "/metadata/uid")
}

/// The uid of the `controller: true` owner reference.
pub fn controller_uid(obj: &Value) -> Option<&str> {
    obj.pointer("/metadata/ownerReferences")?
        .as_array()?
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))?
        .get("uid")?
        .as_str()
}

pub fn is_controlled_by(obj: &Value, owner: &Value) -> bool {
    controller_uid(obj) == Some(uid(owner))
}

/// The owner reference a controller puts on what it creates.
pub fn owner_ref(owner: &Value) -> Value {
    json!({
        "apiVersion": s(owner, "/apiVersion"),
        "kind": s(owner, "/kind"),
        "name": name(owner),
        "uid": uid(owner),
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

pub fn labels(obj: &Value, pointer: &str) -> Map<String, Value> {
    obj.pointer(pointer)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// `metav1.Time`: RFC 3339, whole seconds.
pub fn ts(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub fn parse_ts(obj: &Value, pointer: &str) -> Option<Timestamp> {
    s(obj, pointer).parse().ok()
}

/// FNV-1a, 32 bit: what the real controllers hash pod templates with.
pub fn fnv32a(data: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in data {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// `rand.SafeEncodeString`: digits become letters and vowels are avoided, so hashes never
/// spell words (`7d4b9c8f5`).
pub fn safe_encode(s: &str) -> String {
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    s.bytes()
        .map(|b| ALPHANUMS[b as usize % ALPHANUMS.len()] as char)
        .collect()
}

/// A stable hash of a JSON value (keys sorted, so patch order does not matter).
pub fn template_hash(template: &Value) -> String {
    let canonical = canonical(template).to_string();
    safe_encode(&fnv32a(canonical.as_bytes()).to_string())
}

fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                if let Some(child) = map.get(k) {
                    out.insert(k.clone(), canonical(child));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// Bytes of a memory quantity.
pub fn bytes(q: &Value) -> Option<i128> {
    crate::quantity::bytes(q.as_str()?)
}

/// Millicores of a cpu quantity (`500m`, `2`, `0.5`).
pub fn millicores(q: &Value) -> Option<i128> {
    match q {
        Value::String(t) => crate::quantity::millicores(t),
        Value::Number(n) => crate::quantity::millicores(&n.to_string()),
        _ => None,
    }
}

/// The scheduler's view of what a pod asks for: the sum over containers of requests (a
/// missing request defaults to the limit), at least the largest init container's.
pub fn pod_requests(pod: &Value) -> (i128, i128) {
    let sum = |list: &str| -> Vec<(i128, i128)> {
        pod.pointer(list)
            .and_then(Value::as_array)
            .map(|cs| cs.iter().map(container_requests).collect())
            .unwrap_or_default()
    };
    let app = sum("/spec/containers");
    let cpu: i128 = app.iter().map(|r| r.0).sum();
    let mem: i128 = app.iter().map(|r| r.1).sum();
    let init = sum("/spec/initContainers");
    let init_cpu = init.iter().map(|r| r.0).max().unwrap_or(0);
    let init_mem = init.iter().map(|r| r.1).max().unwrap_or(0);
    (cpu.max(init_cpu), mem.max(init_mem))
}

fn container_requests(c: &Value) -> (i128, i128) {
    let pick = |res: &str| {
        c.pointer(&format!("/resources/requests/{res}"))
            .or_else(|| c.pointer(&format!("/resources/limits/{res}")))
    };
    (
        pick("cpu").and_then(millicores).unwrap_or(0),
        pick("memory").and_then(bytes).unwrap_or(0),
    )
}

/// A Go `time.Duration` string for whole seconds: `10s`, `1m20s`, `5m0s`.
pub fn go_duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

/// Resolves an int-or-percent (`25%`, `1`) against `total`; percentages round up or down.
pub fn int_or_percent(v: Option<&Value>, total: i64, round_up: bool, default: &str) -> i64 {
    let text = match v {
        Some(Value::Number(n)) => return n.as_i64().unwrap_or(0).max(0),
        Some(Value::String(t)) => t.as_str(),
        _ => default,
    };
    match text.strip_suffix('%') {
        Some(p) => {
            let p = p.trim().parse::<i64>().unwrap_or(0).max(0);
            let scaled = p.saturating_mul(total);
            if round_up {
                (scaled + 99) / 100
            } else {
                scaled / 100
            }
        }
        None => text.trim().parse::<i64>().unwrap_or(0).max(0),
    }
}

/// Sets condition `ctype` in `conditions` like `SetCondition` helpers do: unchanged when
/// status and reason are equal; the transition time kept while the status stays.
pub fn set_condition(conditions: &mut Vec<Value>, mut cond: Value) {
    let ctype = s(&cond, "/type").to_string();
    if let Some(pos) = conditions.iter().position(|c| s(c, "/type") == ctype) {
        let current = &conditions[pos];
        if s(current, "/status") == s(&cond, "/status") {
            if s(current, "/reason") == s(&cond, "/reason") {
                return;
            }
            if let Some(t) = current.get("lastTransitionTime") {
                cond["lastTransitionTime"] = t.clone();
            }
        }
        conditions[pos] = cond;
    } else {
        conditions.push(cond);
    }
}

pub fn conditions(obj: &Value) -> Vec<Value> {
    obj.pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

pub fn condition<'a>(obj: &'a Value, ctype: &str) -> Option<&'a Value> {
    obj.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| s(c, "/type") == ctype)
}

pub fn condition_true(obj: &Value, ctype: &str) -> bool {
    condition(obj, ctype).is_some_and(|c| s(c, "/status") == "True")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_render_like_the_real_ones() {
        let a = template_hash(&json!({"b": 1, "a": [1, {"y": 2, "x": 3}]}));
        let b = template_hash(&json!({"a": [1, {"x": 3, "y": 2}], "b": 1}));
        assert_eq!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()) && (1..=10).contains(&a.len()));
    }

    #[test]
    fn quantities_and_durations() {
        assert_eq!(millicores(&json!("500m")), Some(500));
        assert_eq!(millicores(&json!(2)), Some(2000));
        assert_eq!(bytes(&json!("1Gi")), Some(1 << 30));
        assert_eq!(go_duration(10), "10s");
        assert_eq!(go_duration(80), "1m20s");
        assert_eq!(go_duration(300), "5m0s");
        assert_eq!(int_or_percent(Some(&json!("25%")), 2, true, "25%"), 1);
        assert_eq!(int_or_percent(Some(&json!("25%")), 2, false, "25%"), 0);
        assert_eq!(int_or_percent(None, 10, false, "25%"), 2);
    }
}
