//! Lists: key order (namespace, name) like etcd, selectors, `limit`/`continue` pagination at a
//! fixed resourceVersion, and `resourceVersionMatch`.

use super::registry::ResId;
use super::status::ApiError;
use super::store::{Key, ListOptions, ListResult, State, Store};

impl Store {
    /// Lists `res` in `ns` (all namespaces when `None`), in key order, with pagination.
    pub fn list(
        &self,
        res: ResId,
        ns: Option<&str>,
        opts: &ListOptions,
    ) -> Result<ListResult, ApiError> {
        let rt = self.resource(res)?;
        let storage = self.shared.registry.storage_of(res);
        let ns = if rt.namespaced {
            ns.filter(|n| !n.is_empty())
        } else {
            None
        };
        let state = self.lock();
        let token = opts
            .continue_token
            .as_deref()
            .filter(|t| !t.is_empty())
            .map(decode_continue)
            .transpose()?;
        let list_rv = match &token {
            Some((rv, _, _)) => {
                if *rv < state.oldest {
                    return Err(ApiError::expired(
                        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
                    ));
                }
                *rv
            }
            None => {
                check_list_rv(&state, opts)?;
                state.rv
            }
        };
        let start = match &token {
            Some((_, tns, tname)) => Key {
                res: storage,
                ns: tns.clone(),
                name: tname.clone(),
            },
            None => Key {
                res: storage,
                ns: ns.unwrap_or("").to_string(),
                name: String::new(),
            },
        };
        let limit = opts.limit.filter(|l| *l > 0);
        let mut items = Vec::new();
        let mut last: Option<Key> = None;
        let mut more = 0u64;
        for (key, obj) in state.objects.range(start..) {
            if key.res != storage || ns.is_some_and(|n| n != key.ns) {
                break;
            }
            if token
                .as_ref()
                .is_some_and(|(_, tns, tname)| key.ns == *tns && key.name == *tname)
            {
                continue;
            }
            // Past the page: count what remains (`remainingItemCount`) without copying
            // objects; with selectors the real server reports no count, so one match is enough.
            let full = limit.is_some_and(|l| items.len() >= l);
            if full && opts.selectors.is_empty() {
                more += 1;
                continue;
            }
            let view = self.to_view(res, obj.clone());
            if !opts.selectors.matches(&view) {
                continue;
            }
            if full {
                more = 1;
                break;
            }
            last = Some(key.clone());
            items.push(view);
        }
        let continue_token = match (more, last) {
            (0, _) | (_, None) => None,
            (_, Some(k)) => Some(encode_continue(list_rv, &k.ns, &k.name)),
        };
        let remaining = (continue_token.is_some() && opts.selectors.is_empty()).then_some(more);
        Ok(ListResult {
            items,
            resource_version: list_rv,
            continue_token,
            remaining,
        })
    }
}

/// `list` with a resourceVersion: any version not newer than ours is served from the current
/// state; `resourceVersionMatch=Exact` can only be served for the current version.
fn check_list_rv(state: &State, opts: &ListOptions) -> Result<(), ApiError> {
    let Some(rv) = opts.resource_version.as_deref().filter(|s| !s.is_empty()) else {
        return Ok(());
    };
    let requested: u64 = rv
        .parse()
        .map_err(|_| ApiError::bad_request(format!("resourceVersion: Invalid value: \"{rv}\"")))?;
    match opts.resource_version_match.as_deref().unwrap_or("") {
        "Exact" if requested != state.rv => Err(ApiError::too_old(requested, state.rv)),
        "" | "NotOlderThan" | "Exact" => Ok(()),
        other => Err(ApiError::bad_request(format!(
            "resourceVersionMatch: Unsupported value: \"{other}\""
        ))),
    }
}

fn encode_continue(rv: u64, ns: &str, name: &str) -> String {
    format!("{rv}:{ns}/{name}")
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn decode_continue(token: &str) -> Result<(u64, String, String), ApiError> {
    let bad = || {
        ApiError::bad_request("continue key is not valid: incorrect encoded start resourceVersion")
    };
    if !token.len().is_multiple_of(2) || !token.is_ascii() {
        return Err(bad());
    }
    let bytes = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&token[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (rv, rest) = text.split_once(':').ok_or_else(bad)?;
    let (ns, name) = rest.split_once('/').ok_or_else(bad)?;
    Ok((
        rv.parse().map_err(|_| bad())?,
        ns.to_string(),
        name.to_string(),
    ))
}
