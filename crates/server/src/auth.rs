//! API keys at the door: which header holds the key, whether it is known and live, the
//! per-second rate of its plan, and (for counted calls) its monthly quota.
//!
//! Order: key (401/403) → rate (429, nothing counted) → quota (429). The quota is
//! counted in the store before the handler runs, so a crash after the response loses
//! no count.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use codeexec_store::{KeyRecord, Month, Plan};

use crate::clock::unix_now;
use crate::error::ApiError;
use crate::ratelimit::Decision;
use crate::state::AppState;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, no key looked at.
    Public,
    /// A live key, within its plan's rate; the call does not count against the quota.
    Key,
    /// A live key, within its rate and monthly quota; the call is counted.
    Counted,
}

/// The caller of a keyed route, in the request's extensions. `key` and `plan` are
/// `None` on a server without authentication.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key: Option<KeyRecord>,
    pub plan: Option<Plan>,
}

/// Headers that may carry the key, in the order they are looked at.
pub const KEY_HEADERS: [&str; 2] = ["x-api-key", "x-oanor-key"];

/// Longest key looked up (real ones are 72 characters).
const MAX_KEY_LEN: usize = 256;

/// The key the request presents: `x-api-key`, `x-oanor-key`, or `Authorization:
/// Bearer KEY` (or a bare `Authorization: KEY`, as Piston's clients send it), whichever
/// comes first in that order.
pub fn presented_key(headers: &HeaderMap) -> Option<String> {
    let value = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    KEY_HEADERS
        .iter()
        .find_map(|name| value(name))
        .or_else(|| {
            value("authorization").and_then(|auth| match auth.split_once(' ') {
                Some((scheme, token)) => scheme
                    .eq_ignore_ascii_case("bearer")
                    .then(|| token.trim())
                    .filter(|t| !t.is_empty()),
                // A bare key, as Piston's clients send theirs.
                None => Some(auth),
            })
        })
        .map(str::to_owned)
}

/// Middleware for [`Access::Key`] routes.
pub async fn require_key(State(state): State<AppState>, request: Request, next: Next) -> Response {
    gate(state, request, next, false).await
}

/// Middleware for [`Access::Counted`] routes.
pub async fn require_counted_key(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    gate(state, request, next, true).await
}

async fn gate(state: AppState, mut request: Request, next: Next, count: bool) -> Response {
    if !state.config().auth {
        request.extensions_mut().insert(Caller {
            key: None,
            plan: None,
        });
        return next.run(request).await;
    }
    match authenticate(&state, request.headers(), count).await {
        Err(e) => e.into_response(),
        Ok((caller, headers)) => {
            request.extensions_mut().insert(caller);
            let mut response = next.run(request).await;
            for (name, value) in headers {
                if let Ok(value) = HeaderValue::from_str(&value) {
                    response
                        .headers_mut()
                        .insert(HeaderName::from_static(name), value);
                }
            }
            response
        }
    }
}

/// Checks the key, rate and (if `count`) quota; returns the caller and the
/// `X-RateLimit-*` / `X-Quota-*` headers for the response.
async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    count: bool,
) -> Result<(Caller, Vec<(&'static str, String)>), ApiError> {
    let secret = presented_key(headers).ok_or(ApiError::MissingKey)?;
    if secret.len() > MAX_KEY_LEN {
        return Err(ApiError::UnknownKey);
    }
    let key = state
        .store(move |s| s.find_key(&secret))
        .await?
        .ok_or(ApiError::UnknownKey)?;
    if key.is_revoked() {
        return Err(ApiError::RevokedKey);
    }
    let plan =
        state
            .config()
            .plan(&key.plan)
            .cloned()
            .ok_or_else(|| ApiError::PlanNotConfigured {
                plan: key.plan.clone(),
            })?;

    let mut out = Vec::new();
    match state
        .rate_limiter()
        .check(key.id, plan.rate_per_second, Instant::now())
    {
        Decision::Limited {
            limit,
            retry_after_secs,
        } => {
            return Err(ApiError::RateLimited {
                limit,
                retry_after: retry_after_secs,
            })
        }
        Decision::Allowed {
            limit,
            remaining,
            reset_secs,
        } if limit > 0 => {
            out.push(("x-ratelimit-limit", limit.to_string()));
            out.push(("x-ratelimit-remaining", remaining.to_string()));
            out.push(("x-ratelimit-reset", reset_secs.to_string()));
        }
        Decision::Allowed { .. } => {}
    }

    if count {
        let now = unix_now();
        let (key_id, quota) = (key.id, plan.monthly_quota);
        let used = state
            .store(move |s| s.try_record_call(key_id, now, quota))
            .await?;
        let reset = Month::from_unix(now).next_start_unix() - now;
        out.push(("x-quota-limit", quota.to_string()));
        out.push(("x-quota-remaining", quota.saturating_sub(used).to_string()));
        out.push(("x-quota-reset", reset.to_string()));
    }
    Ok((
        Caller {
            key: Some(key),
            plan: Some(plan),
        },
        out,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn every_spelling_is_read() {
        assert_eq!(presented_key(&headers(&[("x-api-key", "a")])).unwrap(), "a");
        assert_eq!(
            presented_key(&headers(&[("x-oanor-key", "b")])).unwrap(),
            "b"
        );
        assert_eq!(
            presented_key(&headers(&[("authorization", "bearer  c ")])).unwrap(),
            "c"
        );
        assert_eq!(
            presented_key(&headers(&[("x-oanor-key", "b"), ("x-api-key", "a")])).unwrap(),
            "a"
        );
        assert_eq!(
            presented_key(&headers(&[("authorization", "Basic eA==")])),
            None
        );
        assert_eq!(
            presented_key(&headers(&[("authorization", "cx_live_abc")])).unwrap(),
            "cx_live_abc"
        );
        assert_eq!(presented_key(&headers(&[("x-api-key", " ")])), None);
        assert_eq!(presented_key(&headers(&[])), None);
    }
}
