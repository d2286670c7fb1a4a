//! The records the store keeps, and the plans it refers to by name.

use serde::{Deserialize, Serialize};

/// A plan: how much a key on it may call. Plans come from configuration; the store keeps
/// only the plan's *name* with each key, so changing a plan's numbers in the config applies
/// to every key on it at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub name: String,
    /// Calls per calendar month (UTC).
    pub monthly_quota: u64,
    /// Requests per second (enforced in memory by the server, not by the store).
    pub rate_per_second: u32,
}

impl Plan {
    /// The plan new keys get when none is named.
    pub const DEFAULT_NAME: &'static str = "free";

    /// The plans of the service this one is compatible with: free, starter, pro, mega.
    pub fn defaults() -> Vec<Plan> {
        [
            ("free", 2_100, 2),
            ("starter", 46_000, 8),
            ("pro", 235_000, 20),
            ("mega", 1_260_000, 50),
        ]
        .into_iter()
        .map(|(name, monthly_quota, rate_per_second)| Plan {
            name: name.to_owned(),
            monthly_quota,
            rate_per_second,
        })
        .collect()
    }

    /// The plan called `name` in `plans`.
    pub fn find<'a>(plans: &'a [Plan], name: &str) -> Option<&'a Plan> {
        plans.iter().find(|p| p.name == name)
    }
}

/// An API key as stored: everything but the secret, which is kept only as a hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub id: i64,
    /// A label chosen by whoever made the key ("ci", "alice's IDE" …).
    pub name: String,
    /// The first 8 characters after `cx_live_`: not secret, shown in listings so people
    /// can tell keys apart and name one to revoke. Unique among keys.
    pub prefix: String,
    /// The name of the key's plan (see [`Plan`]).
    pub plan: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; revoked keys are kept (their usage and permlinks refer to them).
    pub revoked_at: Option<i64>,
}

impl KeyRecord {
    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }
}

/// A saved run, readable by anyone who has its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permlink {
    /// Unguessable: see [`crate::new_permlink_id`].
    pub id: String,
    /// Unix seconds.
    pub created_at: i64,
    /// The key that made it; `None` when the server ran without authentication.
    pub key_id: Option<i64>,
    pub compiler: String,
    pub language: String,
    /// The request, as JSON text. The store does not parse it.
    pub request_json: String,
    /// The result, as JSON text. The store does not parse it.
    pub result_json: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_plans_are_the_specs() {
        let plans = Plan::defaults();
        let got: Vec<(&str, u64, u32)> = plans
            .iter()
            .map(|p| (p.name.as_str(), p.monthly_quota, p.rate_per_second))
            .collect();
        assert_eq!(
            got,
            [
                ("free", 2_100, 2),
                ("starter", 46_000, 8),
                ("pro", 235_000, 20),
                ("mega", 1_260_000, 50)
            ]
        );
        assert_eq!(Plan::find(&plans, "pro").unwrap().monthly_quota, 235_000);
        assert!(Plan::find(&plans, Plan::DEFAULT_NAME).is_some());
        assert!(Plan::find(&plans, "enterprise").is_none());
    }
}
