//! `GET /v1/usage`: the caller's plan, limits and calls this month (not itself counted).

use axum::extract::State;
use axum::Extension;
use codeexec_store::Month;
use serde_json::json;

use crate::auth::Caller;
use crate::clock::{rfc3339_secs, unix_now};
use crate::envelope::Reply;
use crate::error::ApiError;
use crate::state::AppState;

pub async fn usage(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Reply, ApiError> {
    let now = unix_now();
    let month = Month::from_unix(now);
    let resets = month.next_start_unix();
    let mut data = json!({
        "auth": state.config().auth,
        "key": null,
        "plan": null,
        "month": month.to_string(),
        "calls_used": null,
        "calls_remaining": null,
        "resets_at": rfc3339_secs(resets),
        "resets_in_seconds": resets - now,
    });
    if let (Some(key), Some(plan)) = (caller.key, caller.plan) {
        let key_id = key.id;
        let used = state.store(move |s| s.usage(key_id, month)).await?;
        let fields = [
            (
                "key",
                json!({
                    "id": key.id,
                    "prefix": key.prefix,
                    "name": key.name,
                    "created_at": rfc3339_secs(key.created_at),
                }),
            ),
            (
                "plan",
                json!({
                    "name": plan.name,
                    "monthly_quota": plan.monthly_quota,
                    "rate_per_second": plan.rate_per_second,
                }),
            ),
            ("calls_used", json!(used)),
            (
                "calls_remaining",
                json!(plan.monthly_quota.saturating_sub(used)),
            ),
        ];
        for (name, value) in fields {
            data[name] = value;
        }
    }
    Ok(Reply::new(super::summary("GET", "/v1/usage"), data))
}
