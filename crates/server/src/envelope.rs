//! The envelope every response is wrapped in:
//! `{data, meta: {timestamp, request_id}, status, message, success}`.
//!
//! Handlers and errors do not write bodies themselves: they leave a [`Pending`] in the
//! response's extensions, and [`envelope`] (a middleware around every route and the
//! fallbacks) renders it with this request's id and the time. A response that failed
//! without one (a layer's or an extractor's rejection, a panic) is rewritten into the
//! envelope too, so no client ever sees a bare error.

use std::time::SystemTime;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;
use uuid::Uuid;

use crate::clock::rfc3339_millis;
use crate::compat::Unenveloped;
use crate::error::ApiError;

/// The id of the request being served, in its extensions (and in `x-request-id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestId(pub Uuid);

/// An envelope still to be rendered; `data` is already JSON, so the order of its
/// fields is the order of the struct it came from.
#[derive(Debug, Clone)]
pub struct Pending {
    success: bool,
    message: String,
    data: Box<RawValue>,
}

/// `value` as JSON text (`null` if it cannot be encoded, which our types never fail).
fn raw<T: Serialize>(value: &T) -> Box<RawValue> {
    serde_json::value::to_raw_value(value).unwrap_or_else(|e| {
        tracing::error!(error = %e, "encoding a response");
        serde_json::value::to_raw_value(&Value::Null).expect("null encodes")
    })
}

impl Pending {
    /// The message of this answer.
    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn failure(message: String, data: Value) -> Pending {
        Pending {
            success: false,
            message,
            data: raw(&data),
        }
    }
}

impl IntoResponse for Pending {
    fn into_response(self) -> Response {
        let mut response = Response::new(Body::empty());
        response.extensions_mut().insert(self);
        response
    }
}

/// A successful answer: `data` with a message naming the operation.
#[derive(Debug)]
pub struct Reply(Pending);

impl Reply {
    pub fn new<T: Serialize>(message: &str, data: T) -> Reply {
        Reply(Pending {
            success: true,
            message: message.to_owned(),
            data: raw(&data),
        })
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        self.0.into_response()
    }
}

/// The envelope as written, fields in the spec's order.
#[derive(Serialize)]
struct Envelope<'a> {
    data: &'a RawValue,
    meta: Meta,
    status: &'static str,
    message: &'a str,
    success: bool,
}

#[derive(Serialize)]
struct Meta {
    timestamp: String,
    request_id: String,
}

/// Largest bare error body read to recover a message from.
const MAX_BARE_BODY: usize = 16 << 10;

/// Middleware: gives the request its id, renders the envelope, sets `x-request-id`.
pub async fn envelope(mut request: Request, next: Next) -> Response {
    let id = RequestId(Uuid::new_v4());
    request.extensions_mut().insert(id);
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let mut response = match response.extensions().get::<Pending>().cloned() {
        Some(pending) => render(response, pending, id),
        // The compatible APIs answer in their own formats.
        None if response.extensions().get::<Unenveloped>().is_some() => response,
        None if response.status().is_client_error() || response.status().is_server_error() => {
            let (parts, body) = response.into_parts();
            let text = axum::body::to_bytes(body, MAX_BARE_BODY)
                .await
                .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
                .unwrap_or_default();
            let error = bare_error(parts.status, text, method.as_str(), &path);
            let mut rewritten = error.into_response();
            // Keep the layer's own headers (Allow on a 405 …).
            for (name, value) in &parts.headers {
                if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                    rewritten.headers_mut().insert(name.clone(), value.clone());
                }
            }
            let pending = rewritten
                .extensions()
                .get::<Pending>()
                .cloned()
                .expect("an ApiError response carries its envelope");
            render(rewritten, pending, id)
        }
        None => response,
    };
    if let Ok(value) = HeaderValue::from_str(&id.0.to_string()) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// The error a bare (un-enveloped) failure stands for.
fn bare_error(status: StatusCode, text: String, method: &str, path: &str) -> ApiError {
    match status {
        StatusCode::NOT_FOUND => ApiError::RouteNotFound {
            method: method.to_owned(),
            path: path.to_owned(),
        },
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed {
            method: method.to_owned(),
            path: path.to_owned(),
        },
        StatusCode::INTERNAL_SERVER_ERROR => {
            ApiError::Internal("the request handler failed unexpectedly".into())
        }
        status => ApiError::Other {
            status,
            message: if text.is_empty() {
                status
                    .canonical_reason()
                    .unwrap_or("request failed")
                    .to_owned()
            } else {
                text
            },
        },
    }
}

/// Writes the envelope of `pending` as the body of `response`.
fn render(response: Response, pending: Pending, id: RequestId) -> Response {
    let (mut parts, _) = response.into_parts();
    parts.extensions.remove::<Pending>();
    let envelope = Envelope {
        data: &pending.data,
        meta: Meta {
            timestamp: rfc3339_millis(SystemTime::now()),
            request_id: id.0.to_string(),
        },
        status: if pending.success { "ok" } else { "error" },
        message: &pending.message,
        success: pending.success,
    };
    let bytes = serde_json::to_vec(&envelope).unwrap_or_else(|_| b"{}".to_vec());
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use axum::Router;
    use serde_json::json;
    use tower::ServiceExt;
    use tower_http::catch_panic::CatchPanicLayer;

    async fn call(app: Router, path: &str) -> (StatusCode, Value, Option<String>) {
        let response = app
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let id = response
            .headers()
            .get("x-request-id")
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap(), id)
    }

    fn app() -> Router {
        Router::new()
            .route("/ok", get(|| async { Reply::new("Fine", json!({"x": 1})) }))
            .route(
                "/boom",
                get(|| async {
                    panic!("a handler bug");
                    #[allow(unreachable_code)]
                    ()
                }),
            )
            .route(
                "/bare",
                get(|| async { (StatusCode::BAD_REQUEST, "plain text") }),
            )
            .layer(CatchPanicLayer::new())
            .layer(axum::middleware::from_fn(envelope))
    }

    #[tokio::test]
    async fn replies_are_enveloped_with_the_request_id() {
        let (status, body, id) = call(app(), "/ok").await;
        assert_eq!(status, 200);
        assert_eq!(body["data"]["x"], 1);
        assert_eq!(body["message"], "Fine");
        assert_eq!(body["success"], true);
        assert_eq!(body["status"], "ok");
        assert_eq!(body["meta"]["request_id"].as_str(), id.as_deref());
    }

    #[tokio::test]
    async fn a_panic_is_a_500_envelope() {
        let (status, body, id) = call(app(), "/boom").await;
        assert_eq!(status, 500);
        assert_eq!(body["success"], false);
        assert_eq!(body["data"]["error"], "internal_error");
        assert!(id.is_some());
    }

    #[tokio::test]
    async fn bare_errors_are_rewritten() {
        let (status, body, _) = call(app(), "/bare").await;
        assert_eq!(status, 400);
        assert_eq!(body["message"], "plain text");
        assert_eq!(body["status"], "error");
        let (status, body, _) = call(app(), "/nowhere").await;
        assert_eq!(status, 404);
        assert_eq!(body["data"]["error"], "route_not_found");
    }
}
