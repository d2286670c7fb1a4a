//! Every way a request can fail, mapped to an HTTP status, a machine-readable code, the
//! field at fault and the headers the client needs (`Retry-After` …).

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use codeexec_catalog::{RawKind, ResolveError};
use codeexec_store::StoreError;
use serde_json::{json, Map, Value};

use crate::envelope::Pending;

/// A request refused or failed. Rendered as the envelope with `success: false`, the
/// message, and `data: {error, field, …details}`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing required field `{field}`{hint}")]
    MissingField {
        field: &'static str,
        hint: &'static str,
    },
    #[error("invalid `{field}`: {reason}")]
    InvalidField { field: String, reason: String },
    #[error("unknown field `{field}`; known fields: {}", .known.join(", "))]
    UnknownField {
        field: String,
        known: &'static [&'static str],
    },
    #[error("the request body is not valid JSON: {0}")]
    BadJson(String),
    #[error("{}: {source}", resolve_field(.source))]
    Resolve { source: ResolveError },
    #[error("`{field}` is {size} bytes, over this server's limit of {limit} bytes")]
    TooLarge {
        field: &'static str,
        size: usize,
        limit: usize,
    },
    #[error("the request body is over this server's limit of {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("`{field}` is {given}, above the maximum of {max} for this compiler on this server")]
    LimitAboveMax {
        field: &'static str,
        given: u64,
        max: u64,
    },
    #[error("`{field}` is {given}, below the minimum of {min}")]
    LimitBelowMin {
        field: &'static str,
        given: u64,
        min: u64,
    },
    #[error("no API key: send it in the `x-api-key` header (or `x-oanor-key`, or `Authorization: Bearer KEY`)")]
    MissingKey,
    #[error("unknown API key")]
    UnknownKey,
    #[error("this API key was revoked")]
    RevokedKey,
    #[error("permlink `{id}` was made by another key; only the key that made it may delete it")]
    NotPermlinkOwner { id: String },
    #[error("rate limit of {limit} requests per second exceeded; retry in {retry_after} s")]
    RateLimited { limit: u32, retry_after: u64 },
    #[error("monthly quota of {quota} calls used up; it resets at {resets_at}")]
    QuotaExceeded {
        quota: u64,
        resets_at: String,
        resets_in: u64,
    },
    #[error("the run queue is full ({waiting} jobs waiting); retry in {retry_after} s")]
    QueueFull { waiting: usize, retry_after: u64 },
    #[error("the server is shutting down; retry shortly")]
    ShuttingDown,
    #[error("no route {method} {path}; see /v1/openapi.json for the routes")]
    RouteNotFound { method: String, path: String },
    #[error("method {method} is not allowed on {path}")]
    MethodNotAllowed { method: String, path: String },
    #[error("no permlink `{id}`")]
    PermlinkNotFound { id: String },
    #[error("internal error: the key's plan `{plan}` is not configured on this server")]
    PlanNotConfigured { plan: String },
    #[error("internal error: {0}")]
    Internal(String),
    /// A rejection from outside the handlers (an extractor, a layer), kept as is.
    #[error("{message}")]
    Other { status: StatusCode, message: String },
}

/// The request field a resolve error is about, in this API's spelling.
fn resolve_field(e: &ResolveError) -> &'static str {
    match e {
        ResolveError::RawNotAllowed {
            kind: RawKind::Compile,
            ..
        } => "compiler_options",
        ResolveError::RawNotAllowed {
            kind: RawKind::Runtime,
            ..
        } => "args",
        other => other.field(),
    }
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ApiError {
        ApiError::InvalidField {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        use ApiError::*;
        match self {
            MissingField { .. }
            | InvalidField { .. }
            | UnknownField { .. }
            | BadJson(_)
            | Resolve { .. }
            | LimitAboveMax { .. }
            | LimitBelowMin { .. } => StatusCode::BAD_REQUEST,
            TooLarge { .. } | BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            MissingKey | UnknownKey => StatusCode::UNAUTHORIZED,
            RevokedKey | NotPermlinkOwner { .. } => StatusCode::FORBIDDEN,
            RateLimited { .. } | QuotaExceeded { .. } => StatusCode::TOO_MANY_REQUESTS,
            QueueFull { .. } | ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            RouteNotFound { .. } | PermlinkNotFound { .. } => StatusCode::NOT_FOUND,
            MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            PlanNotConfigured { .. } | Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Other { status, .. } => *status,
        }
    }

    /// A stable, machine-readable name of the problem.
    pub fn code(&self) -> &'static str {
        use ApiError::*;
        match self {
            MissingField { .. } => "missing_field",
            InvalidField { .. } => "invalid_field",
            UnknownField { .. } => "unknown_field",
            BadJson(_) => "invalid_json",
            Resolve { source } => match source {
                ResolveError::Empty => "missing_field",
                ResolveError::UnknownLanguage { .. } => "unknown_language",
                ResolveError::UnknownCompiler { .. } => "unknown_compiler",
                ResolveError::LanguageMismatch { .. } => "language_mismatch",
                ResolveError::LanguageUnavailable { .. } => "language_unavailable",
                ResolveError::UnknownOptions { .. } => "unknown_option",
                ResolveError::ConflictingOptions { .. } => "conflicting_options",
                ResolveError::RawNotAllowed { .. } => "raw_options_not_allowed",
            },
            TooLarge { .. } | BodyTooLarge { .. } => "too_large",
            LimitAboveMax { .. } => "limit_above_max",
            LimitBelowMin { .. } => "limit_below_min",
            MissingKey => "missing_key",
            UnknownKey => "unknown_key",
            RevokedKey => "revoked_key",
            NotPermlinkOwner { .. } => "not_owner",
            RateLimited { .. } => "rate_limited",
            QuotaExceeded { .. } => "quota_exceeded",
            QueueFull { .. } => "queue_full",
            ShuttingDown => "shutting_down",
            RouteNotFound { .. } => "route_not_found",
            MethodNotAllowed { .. } => "method_not_allowed",
            PermlinkNotFound { .. } => "permlink_not_found",
            PlanNotConfigured { .. } | Internal(_) => "internal_error",
            Other { status, .. } => match status.as_u16() {
                413 => "too_large",
                415 => "unsupported_media_type",
                s if s >= 500 => "internal_error",
                _ => "bad_request",
            },
        }
    }

    /// The request field at fault, if one is.
    pub fn field(&self) -> Option<String> {
        use ApiError::*;
        match self {
            MissingField { field, .. }
            | TooLarge { field, .. }
            | LimitAboveMax { field, .. }
            | LimitBelowMin { field, .. } => Some((*field).to_owned()),
            InvalidField { field, .. } | UnknownField { field, .. } => Some(field.clone()),
            Resolve { source } => Some(resolve_field(source).to_owned()),
            _ => None,
        }
    }

    /// Extra facts for `data`: close matches, valid options, limits.
    fn details(&self) -> Map<String, Value> {
        let mut m = Map::new();
        match self {
            ApiError::Resolve { source } => match source {
                ResolveError::UnknownLanguage { suggestions, .. }
                | ResolveError::UnknownCompiler { suggestions, .. } => {
                    m.insert("suggestions".into(), json!(suggestions));
                }
                ResolveError::UnknownOptions { unknown, valid, .. } => {
                    m.insert("unknown".into(), json!(unknown));
                    m.insert("valid".into(), json!(valid));
                }
                _ => {}
            },
            ApiError::UnknownField { known, .. } => {
                m.insert("known".into(), json!(known));
            }
            ApiError::TooLarge { size, limit, .. } => {
                m.insert("size".into(), json!(size));
                m.insert("limit".into(), json!(limit));
            }
            ApiError::BodyTooLarge { limit } => {
                m.insert("limit".into(), json!(limit));
            }
            ApiError::LimitBelowMin { given, min, .. } => {
                m.insert("given".into(), json!(given));
                m.insert("min".into(), json!(min));
            }
            ApiError::LimitAboveMax { given, max, .. } => {
                m.insert("given".into(), json!(given));
                m.insert("max".into(), json!(max));
            }
            ApiError::RateLimited { limit, retry_after } => {
                m.insert("limit_per_second".into(), json!(limit));
                m.insert("retry_after".into(), json!(retry_after));
            }
            ApiError::QuotaExceeded {
                quota,
                resets_at,
                resets_in,
            } => {
                m.insert("monthly_quota".into(), json!(quota));
                m.insert("resets_at".into(), json!(resets_at));
                m.insert("retry_after".into(), json!(resets_in));
            }
            ApiError::QueueFull {
                waiting,
                retry_after,
            } => {
                m.insert("waiting".into(), json!(waiting));
                m.insert("retry_after".into(), json!(retry_after));
            }
            _ => {}
        }
        m
    }

    /// Headers this error's response carries.
    fn headers(&self) -> Vec<(HeaderName, String)> {
        match self {
            ApiError::RateLimited { limit, retry_after } => vec![
                (header("retry-after"), retry_after.to_string()),
                (header("x-ratelimit-limit"), limit.to_string()),
                (header("x-ratelimit-remaining"), "0".into()),
                (header("x-ratelimit-reset"), retry_after.to_string()),
            ],
            ApiError::QuotaExceeded {
                quota, resets_in, ..
            } => vec![
                (header("retry-after"), resets_in.to_string()),
                (header("x-ratelimit-limit"), quota.to_string()),
                (header("x-ratelimit-remaining"), "0".into()),
                (header("x-ratelimit-reset"), resets_in.to_string()),
            ],
            ApiError::QueueFull { retry_after, .. } => {
                vec![(header("retry-after"), retry_after.to_string())]
            }
            ApiError::ShuttingDown => vec![(header("retry-after"), "5".into())],
            ApiError::MissingKey | ApiError::UnknownKey => {
                vec![(header("www-authenticate"), "Bearer".into())]
            }
            _ => Vec::new(),
        }
    }

    /// The `data` of this error's envelope.
    pub fn data(&self) -> Value {
        let mut m = Map::new();
        m.insert("error".into(), json!(self.code()));
        m.insert("field".into(), json!(self.field()));
        m.extend(self.details());
        Value::Object(m)
    }
}

fn header(name: &'static str) -> HeaderName {
    HeaderName::from_static(name)
}

impl From<ResolveError> for ApiError {
    fn from(source: ResolveError) -> Self {
        ApiError::Resolve { source }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::QuotaExceeded(q) => {
                let now = crate::clock::unix_now();
                ApiError::QuotaExceeded {
                    quota: q.quota,
                    resets_at: crate::clock::rfc3339_secs(q.resets_at_unix),
                    resets_in: u64::try_from(q.resets_at_unix - now).unwrap_or(0).max(1),
                }
            }
            StoreError::NotPermlinkOwner(id) => ApiError::NotPermlinkOwner { id },
            other => ApiError::Internal(format!("storage: {other}")),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status().is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let mut response = Pending::failure(self.to_string(), self.data()).into_response();
        *response.status_mut() = self.status();
        for (name, value) in self.headers() {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_errors_name_this_apis_fields() {
        let e = ApiError::from(ResolveError::RawNotAllowed {
            compiler: "jq-1.6".into(),
            kind: RawKind::Runtime,
        });
        assert_eq!(e.field().as_deref(), Some("args"));
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert!(e.to_string().starts_with("args: "), "{e}");
        let e = ApiError::from(ResolveError::UnknownOptions {
            compiler: "gcc".into(),
            unknown: vec!["O9".into()],
            valid: vec!["warning".into()],
        });
        assert_eq!(e.data()["valid"], json!(["warning"]));
        assert_eq!(e.code(), "unknown_option");
    }
}
