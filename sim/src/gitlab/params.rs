//! Request parameters as Grape reads them: the query string, then a form or JSON body, merged.
//! The gitlab crate sends forms (`labels=a,b`, Rack-style `actions[][action]=create`); other
//! clients send JSON. Wrong types are GitLab's 400 `{"error": "<key> is invalid"}`.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde_json::{Map, Value};

use super::routes::{ApiError, MAX_BODY};

/// Every parameter of one request.
#[derive(Debug, Default, Clone)]
pub(crate) struct Params(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let mut params = Params::default();
        if let Some(q) = req.uri().query() {
            params.add_form(q.as_bytes());
        }
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.to_ascii_lowercase().contains("json"));
        let body = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::message(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "413 Request Entity Too Large",
                )
            } else {
                ApiError::error(StatusCode::BAD_REQUEST, "400 Bad Request")
            }
        })?;
        if body.len() > MAX_BODY {
            return Err(ApiError::message(
                StatusCode::PAYLOAD_TOO_LARGE,
                "413 Request Entity Too Large",
            ));
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(params);
        }
        if json {
            match serde_json::from_slice::<Value>(&body) {
                Ok(Value::Object(m)) => params.0.extend(m),
                _ => {
                    return Err(ApiError::error(
                        StatusCode::BAD_REQUEST,
                        "400 Bad request - body is not valid JSON",
                    ));
                }
            }
        } else {
            params.add_form(&body);
        }
        Ok(params)
    }
}

impl Params {
    /// Add `application/x-www-form-urlencoded` pairs: `k[]` collects an array, `a[][k]` an
    /// array of objects where a repeated key starts the next object (Rack's rule).
    pub fn add_form(&mut self, raw: &[u8]) {
        for (k, v) in form_urlencoded::parse(raw) {
            let v = Value::String(v.into_owned());
            if let Some((outer, inner)) = k.split_once("[][")
                && let Some(inner) = inner.strip_suffix(']')
            {
                let list = self
                    .0
                    .entry(outer.to_owned())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if !list.is_array() {
                    *list = Value::Array(Vec::new());
                }
                if let Value::Array(items) = list {
                    let start_new = items
                        .last()
                        .and_then(Value::as_object)
                        .is_none_or(|o| o.contains_key(inner));
                    if start_new {
                        items.push(Value::Object(Map::new()));
                    }
                    if let Some(Value::Object(o)) = items.last_mut() {
                        o.insert(inner.to_owned(), v);
                    }
                }
            } else if let Some(outer) = k.strip_suffix("[]") {
                let list = self
                    .0
                    .entry(outer.to_owned())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(items) = list {
                    items.push(v);
                } else {
                    *list = Value::Array(vec![v]);
                }
            } else {
                self.0.insert(k.into_owned(), v);
            }
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    /// A scalar as text; a list or object is "invalid".
    pub fn str(&self, key: &str) -> Result<Option<String>, ApiError> {
        scalar(self.get(key), key)
    }

    /// A required text parameter; missing or blank is Grape's "<key> is missing".
    pub fn required(&self, key: &str) -> Result<String, ApiError> {
        self.str(key)?
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| ApiError::missing(&[key]))
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
                "true" | "t" | "1" | "yes" => Ok(Some(true)),
                "false" | "f" | "0" | "no" => Ok(Some(false)),
                _ => Err(ApiError::invalid(key)),
            },
            Some(_) => Err(ApiError::invalid(key)),
        }
    }

    pub fn u64(&self, key: &str) -> Result<Option<u64>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(|| ApiError::invalid(key)),
            Some(Value::String(s)) => s.parse().map(Some).map_err(|_| ApiError::invalid(key)),
            Some(_) => Err(ApiError::invalid(key)),
        }
    }

    /// A label list: `"a,b"` or `["a", "b"]`; empty entries are dropped, order kept, no dups.
    pub fn list(&self, key: &str) -> Result<Option<Vec<String>>, ApiError> {
        let raw: Vec<String> = match self.get(key) {
            None => return Ok(None),
            Some(Value::String(s)) => s.split(',').map(str::to_owned).collect(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| scalar(Some(v), key).map(Option::unwrap_or_default))
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(ApiError::invalid(key)),
        };
        let mut out: Vec<String> = Vec::new();
        for s in raw {
            let s = s.trim();
            if !s.is_empty() && !out.iter().any(|o| o == s) {
                out.push(s.to_owned());
            }
        }
        Ok(Some(out))
    }

    /// A list of objects, e.g. commit `actions`.
    pub fn objects(&self, key: &str) -> Result<Vec<Params>, ApiError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::Object(m) => Ok(Params(m.clone())),
                    _ => Err(ApiError::invalid(key)),
                })
                .collect(),
            Some(_) => Err(ApiError::invalid(key)),
        }
    }
}

fn scalar(v: Option<&Value>, key: &str) -> Result<Option<String>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(_) => Err(ApiError::invalid(key)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rack_style_arrays_of_objects() {
        let mut p = Params::default();
        p.add_form(
            b"branch=main&actions%5B%5D%5Baction%5D=create&actions%5B%5D%5Bfile_path%5D=a\
              &actions%5B%5D%5Baction%5D=delete&actions%5B%5D%5Bfile_path%5D=b&labels=x,%20y,,x\
              &iids%5B%5D=1&iids%5B%5D=2",
        );
        let actions = p.objects("actions").unwrap();
        assert_eq!(actions.len(), 2);
        assert_eq!(actions[1].str("action").unwrap().as_deref(), Some("delete"));
        assert_eq!(actions[1].str("file_path").unwrap().as_deref(), Some("b"));
        assert_eq!(
            p.list("labels").unwrap(),
            Some(vec!["x".into(), "y".into()])
        );
        assert_eq!(p.list("iids").unwrap(), Some(vec!["1".into(), "2".into()]));
        assert!(p.objects("branch").is_err());
        assert_eq!(
            p.required("title").unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn bools_and_numbers() {
        let p = Params(
            serde_json::json!({"a": "true", "b": false, "c": "x", "n": "12", "m": [1]})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
        assert_eq!(p.bool("a").unwrap(), Some(true));
        assert_eq!(p.bool("b").unwrap(), Some(false));
        assert!(p.bool("c").is_err());
        assert_eq!(p.u64("n").unwrap(), Some(12));
        assert!(p.str("m").is_err());
        assert_eq!(p.bool("zzz").unwrap(), None);
    }
}
