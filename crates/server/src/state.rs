//! What every handler shares: configuration, catalogue, engine, store, rate limiter,
//! metrics, and the hard-stop signal of a shutdown whose grace period ran out.

use std::sync::Arc;

use codeexec_catalog::Catalog;
use codeexec_engine::Engine;
use codeexec_store::{Store, StoreError};
use tokio::sync::watch;

use crate::config::ServerConfig;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;

/// The state behind every route (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: ServerConfig,
    catalog: Catalog,
    engine: Engine,
    store: Arc<dyn Store>,
    rate: RateLimiter,
    metrics: Metrics,
    hard_stop: watch::Sender<bool>,
}

impl AppState {
    pub fn new(
        config: ServerConfig,
        catalog: Catalog,
        engine: Engine,
        store: Arc<dyn Store>,
    ) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                config,
                catalog,
                engine,
                store,
                rate: RateLimiter::new(),
                metrics: Metrics::default(),
                hard_stop: watch::channel(false).0,
            }),
        }
    }

    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    pub fn catalog(&self) -> &Catalog {
        &self.inner.catalog
    }

    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    pub fn rate_limiter(&self) -> &RateLimiter {
        &self.inner.rate
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Runs a store operation on the blocking pool (the store's calls may wait on disk).
    pub async fn store<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        F: FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let store = self.inner.store.clone();
        match tokio::task::spawn_blocking(move || op(store.as_ref())).await {
            Ok(result) => result,
            Err(e) => Err(StoreError::Database(Box::new(e))),
        }
    }

    /// Cancels every job still running or waiting: the grace period is over.
    pub fn hard_stop(&self) {
        self.inner.hard_stop.send_replace(true);
    }

    /// Resolves once [`hard_stop`](Self::hard_stop) was called.
    pub async fn hard_stopped(&self) {
        let mut rx = self.inner.hard_stop.subscribe();
        let _ = rx.wait_for(|stopped| *stopped).await;
    }
}
