//! Putting it together: the layered router, the first-start key, and a server that
//! shuts down gracefully.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::Router;
use codeexec_catalog::Catalog;
use codeexec_engine::{sandbox_config_for, CacheError, CompileCache, Engine};
use codeexec_sandbox::{Sandbox, SandboxConfig, SandboxError};
use codeexec_store::{Store, StoreError};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::CorsLayer;

use crate::config::ServerConfig;
use crate::envelope::envelope;
use crate::metrics::observe;
use crate::routes;
use crate::state::AppState;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the server failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot make the first API key: {0}")]
    Bootstrap(#[from] StoreError),
}

/// How long to wait for connections to close after running jobs were cancelled.
const AFTER_HARD_STOP: Duration = Duration::from_secs(5);

/// The whole application: routes, access checks, envelope, CORS, body limit, panic
/// catcher, metrics and request logs.
pub fn router(state: AppState) -> Router {
    routes::api(&state)
        .layer(DefaultBodyLimit::max(state.config().max_body_bytes))
        // A panic becomes a bare 500, which `envelope` rewrites.
        .layer(CatchPanicLayer::new())
        // Browser IDEs call the API directly.
        .layer(CorsLayer::permissive())
        .layer(from_fn(envelope))
        .layer(from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Why the engine could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum EngineSetupError {
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error(
        "the compile cache in {dir} would be readable inside every box (boxes see {bound}); \
         choose a data directory outside it, or turn the cache off"
    )]
    CacheVisible {
        dir: std::path::PathBuf,
        bound: std::path::PathBuf,
    },
}

/// The engine `config` asks for, on a sandbox that binds the catalogue's toolchains,
/// with the compile cache if it is on.
pub fn build_engine(config: &ServerConfig, catalog: &Catalog) -> Result<Engine, EngineSetupError> {
    let sandbox = Sandbox::new(sandbox_config_for(catalog, SandboxConfig::default()))?;
    with_compile_cache(Engine::new(sandbox, config.engine), config)
}

/// `engine` compiling through the cache `config` asks for (unchanged when it is off).
/// The cache must be private to the host: a directory boxes can read is refused.
pub fn with_compile_cache(
    engine: Engine,
    config: &ServerConfig,
) -> Result<Engine, EngineSetupError> {
    let Some(cache_config) = config.compile_cache() else {
        return Ok(engine);
    };
    let cache = CompileCache::open(cache_config)?;
    let dir = std::fs::canonicalize(&cache.config().dir).map_err(|source| CacheError::Io {
        path: cache.config().dir.clone(),
        source,
    })?;
    if let Some(bound) = engine.sandbox().config().visible_in_boxes(&dir) {
        return Err(EngineSetupError::CacheVisible { dir, bound });
    }
    Ok(engine.with_compile_cache(Arc::new(cache)))
}

/// On a store with no keys at all (revoked ones count), makes one on `plan` and
/// returns its secret, to be shown once; otherwise `None`.
pub fn bootstrap_key(store: &dyn Store, plan: &str) -> Result<Option<String>, StoreError> {
    if store.key_count()? > 0 {
        return Ok(None);
    }
    let (_, secret) = store.create_key("first key (made at first start)", plan)?;
    Ok(Some(secret))
}

/// Listens on `config.listen` and serves until `shutdown` resolves (see [`serve_on`]).
pub async fn serve(
    config: ServerConfig,
    catalog: Catalog,
    engine: Engine,
    store: Arc<dyn Store>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let addr = config.listen;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    serve_on(listener, config, catalog, engine, store, shutdown).await
}

/// Serves on a bound listener until `shutdown` resolves; then stops accepting, lets
/// running jobs finish for up to `config.shutdown_grace`, cancels the rest, and
/// returns. With authentication on and no key in the store, first makes a key and
/// prints it on standard output.
pub async fn serve_on(
    listener: TcpListener,
    config: ServerConfig,
    catalog: Catalog,
    engine: Engine,
    store: Arc<dyn Store>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let local = listener.local_addr()?;
    if config.auth {
        let plan = config.bootstrap_plan().to_owned();
        let s = store.clone();
        let made = tokio::task::spawn_blocking(move || bootstrap_key(s.as_ref(), &plan))
            .await
            .map_err(|e| StoreError::Database(Box::new(e)))??;
        if let Some(secret) = made {
            println!(
                "codeexec: no API key existed, so this one was made (plan {}). It is shown only now:\n\n    {secret}\n\nTry: curl -H 'x-api-key: {secret}' 'http://{local}/v1/run?language=python&code=print(42)'\n",
                config.bootstrap_plan()
            );
        }
    } else if !local.ip().is_loopback() {
        tracing::warn!(%local, "authentication is off on a non-loopback address: anyone who can reach it can run code");
    }
    let grace = config.shutdown_grace;
    let state = AppState::new(config, catalog, engine, store);
    let app = router(state.clone());

    let (stop_tx, mut stop_rx) = watch::channel(false);
    let graceful = async move {
        let _ = stop_rx.wait_for(|stop| *stop).await;
    };
    let server = axum::serve(listener, app).with_graceful_shutdown(graceful);
    let server = std::future::IntoFuture::into_future(server);
    tokio::pin!(server);
    tracing::info!(%local, "codeexec listening");

    tokio::select! {
        result = &mut server => return result.map_err(ServeError::Io),
        () = shutdown => {}
    }
    let stats = state.engine().stats();
    tracing::info!(
        running = stats.running,
        waiting = stats.waiting,
        grace_s = grace.as_secs_f64(),
        "shutting down: no new connections; letting running jobs finish"
    );
    stop_tx.send_replace(true);
    if let Ok(result) = tokio::time::timeout(grace, &mut server).await {
        return result.map_err(ServeError::Io);
    }
    tracing::warn!("grace period over: cancelling the jobs still running");
    state.hard_stop();
    match tokio::time::timeout(AFTER_HARD_STOP, &mut server).await {
        Ok(result) => result.map_err(ServeError::Io),
        Err(_) => {
            tracing::warn!("connections still open after cancelling jobs; stopping anyway");
            Ok(())
        }
    }
}
