//! `GET /v1/permlinks/{id}` (anyone with the id) and `DELETE` (the key that made it).

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::Extension;
use codeexec_store::is_valid_permlink_id;
use serde_json::{json, Value};

use crate::auth::Caller;
use crate::clock::rfc3339_secs;
use crate::envelope::Reply;
use crate::error::ApiError;
use crate::state::AppState;

const PATH: &str = "/v1/permlinks/{id}";

/// The id from the path, or a 404 for one that cannot exist.
fn id_of(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let id = path.map(|Path(id)| id).unwrap_or_default();
    if !is_valid_permlink_id(&id) {
        return Err(ApiError::PermlinkNotFound { id });
    }
    Ok(id)
}

/// Stored JSON text back as JSON (as a string if it does not parse).
fn parsed(text: String) -> Value {
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

pub async fn read(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Reply, ApiError> {
    let id = id_of(path)?;
    let lookup = id.clone();
    let permlink = state
        .store(move |s| s.get_permlink(&lookup))
        .await?
        .ok_or(ApiError::PermlinkNotFound { id })?;
    Ok(Reply::new(
        super::summary("GET", PATH),
        json!({
            "id": permlink.id,
            "created_at": rfc3339_secs(permlink.created_at),
            "language": permlink.language,
            "compiler": permlink.compiler,
            "request": parsed(permlink.request_json),
            "result": parsed(permlink.result_json),
        }),
    ))
}

pub async fn remove(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Reply, ApiError> {
    let id = id_of(path)?;
    let key_id = caller.key.as_ref().map(|k| k.id);
    let target = id.clone();
    if !state
        .store(move |s| s.delete_permlink(&target, key_id))
        .await?
    {
        return Err(ApiError::PermlinkNotFound { id });
    }
    Ok(Reply::new(
        super::summary("DELETE", PATH),
        json!({ "id": id, "deleted": true }),
    ))
}
