//! Slots and the waiting queue. A job runs on one of `slots` blocking threads; up to
//! `queue_limit` more wait for a slot; beyond that the engine refuses at once, so
//! callers can answer 503 with Retry-After instead of piling up latency.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use codeexec_sandbox::{RunControl, Sandbox};
use tokio::sync::{mpsc, Semaphore};

use crate::cache::CompileCache;
use crate::job::{run_job_io, Event, Job, Step};
use crate::result::JobResult;
use codeexec_sandbox::Stream;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineConfig {
    /// Jobs running at once (default: the number of CPUs).
    pub slots: usize,
    /// Jobs allowed to wait for a slot.
    pub queue_limit: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        EngineConfig {
            slots: cpus,
            queue_limit: cpus * 16,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EngineError {
    #[error("the run queue is full ({waiting} jobs waiting); try again shortly")]
    QueueFull { waiting: usize },
    #[error("the engine is shutting down")]
    ShuttingDown,
}

/// Cancels a running job when the future waiting for it is dropped.
struct CancelOnDrop(Option<RunControl>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(token) = &self.0 {
            token.cancel();
        }
    }
}

/// A snapshot of the engine's load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueStats {
    pub running: usize,
    pub waiting: usize,
    pub slots: usize,
    pub queue_limit: usize,
}

/// Output of a streamed job, sent as it arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    Started(Step),
    Output(Step, Stream, Vec<u8>),
}

/// The job runner shared by every request handler (cheap to clone).
#[derive(Clone)]
pub struct Engine {
    sandbox: Sandbox,
    config: EngineConfig,
    slots: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    running: Arc<AtomicUsize>,
    compile_cache: Option<Arc<CompileCache>>,
}

/// Decrements a counter when dropped (also when the waiting future is cancelled).
struct Counted(Arc<AtomicUsize>);

impl Counted {
    fn new(counter: &Arc<AtomicUsize>) -> Counted {
        counter.fetch_add(1, Ordering::SeqCst);
        Counted(counter.clone())
    }

    /// Increments the counter unless it already reached `limit`; `Err(current)` then.
    fn below(counter: &Arc<AtomicUsize>, limit: usize) -> Result<Counted, usize> {
        let mut current = counter.load(Ordering::SeqCst);
        loop {
            if current >= limit {
                return Err(current);
            }
            match counter.compare_exchange(current, current + 1, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return Ok(Counted(counter.clone())),
                Err(now) => current = now,
            }
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Engine {
    pub fn new(sandbox: Sandbox, config: EngineConfig) -> Engine {
        Engine {
            sandbox,
            slots: Arc::new(Semaphore::new(config.slots.max(1))),
            config,
            waiting: Arc::new(AtomicUsize::new(0)),
            running: Arc::new(AtomicUsize::new(0)),
            compile_cache: None,
        }
    }

    /// Compiles through `cache` from now on (see [`CompileCache`]).
    pub fn with_compile_cache(mut self, cache: Arc<CompileCache>) -> Engine {
        self.compile_cache = Some(cache);
        self
    }

    pub fn compile_cache(&self) -> Option<&CompileCache> {
        self.compile_cache.as_deref()
    }

    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    pub fn stats(&self) -> QueueStats {
        QueueStats {
            running: self.running.load(Ordering::SeqCst),
            waiting: self.waiting.load(Ordering::SeqCst),
            slots: self.config.slots,
            queue_limit: self.config.queue_limit,
        }
    }

    /// Runs a job on a free slot, waiting for one if the queue has room. Dropping
    /// the returned future before a slot is free withdraws the job.
    pub async fn run(&self, job: Job) -> Result<JobResult, EngineError> {
        self.run_streamed(job, None).await
    }

    /// Like [`run`](Self::run), sending output events to `events` as they come.
    pub async fn run_streamed(
        &self,
        job: Job,
        events: Option<mpsc::UnboundedSender<StreamEvent>>,
    ) -> Result<JobResult, EngineError> {
        self.admit(job, events, None).await
    }

    /// An interactive run: `job.stdin` and then every chunk received on `stdin` are
    /// written to the program's stdin while it runs (a thread of its own writes, so a
    /// program that stops reading never stalls output collection). Dropping the
    /// sender closes the program's stdin (end of file). Signal numbers received on
    /// `signals` are delivered to the program.
    pub async fn run_interactive(
        &self,
        job: Job,
        events: mpsc::UnboundedSender<StreamEvent>,
        stdin: mpsc::UnboundedReceiver<Vec<u8>>,
        signals: mpsc::UnboundedReceiver<i32>,
    ) -> Result<JobResult, EngineError> {
        self.admit(job, Some(events), Some((stdin, signals))).await
    }

    async fn admit(
        &self,
        mut job: Job,
        events: Option<mpsc::UnboundedSender<StreamEvent>>,
        input: Option<(
            mpsc::UnboundedReceiver<Vec<u8>>,
            mpsc::UnboundedReceiver<i32>,
        )>,
    ) -> Result<JobResult, EngineError> {
        let permit = match self.slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                let _waiting = Counted::below(&self.waiting, self.config.queue_limit)
                    .map_err(|waiting| EngineError::QueueFull { waiting })?;
                self.slots
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| EngineError::ShuttingDown)?
            }
        };
        let running = Counted::new(&self.running);
        let sandbox = self.sandbox.clone();
        let cache = self.compile_cache.clone();
        let cancel = RunControl::new().ok();
        // If the caller stops waiting (a client that disconnected), the job stops too.
        let _cancel_on_drop = CancelOnDrop(cancel.clone());
        let (stdin, signals) = match input {
            Some((stdin, signals)) => (Some(stdin), Some(signals)),
            None => (None, None),
        };
        if let (Some(mut signals), Some(control)) = (signals, cancel.clone()) {
            tokio::spawn(async move {
                while let Some(signal) = signals.recv().await {
                    let _ = control.signal(signal);
                }
            });
        }
        let stdin_pipe = match stdin {
            Some(chunks) => match feed_stdin(std::mem::take(&mut job.stdin), chunks) {
                Ok(read_end) => Some(read_end),
                Err(e) => {
                    return Ok(JobResult::internal(
                        format!("making the stdin pipe: {e}"),
                        None,
                    ))
                }
            },
            None => None,
        };
        let handle = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let _running = running;
            run_job_io(
                &sandbox,
                &job,
                &mut |event| {
                    if let Some(tx) = &events {
                        let _ = tx.send(match event {
                            Event::Started(step) => StreamEvent::Started(step),
                            Event::Output {
                                step,
                                stream,
                                bytes,
                            } => StreamEvent::Output(step, stream, bytes.to_vec()),
                        });
                    }
                },
                cancel.as_ref(),
                stdin_pipe,
                cache.as_deref(),
            )
        });
        Ok(handle
            .await
            .unwrap_or_else(|e| JobResult::internal(format!("the job's thread failed: {e}"), None)))
    }
}

/// Starts a thread that writes `first`, then each received chunk, into a new pipe;
/// returns the pipe's read end for the program. The thread ends when the sender is
/// dropped (the program then reads end of file) or when nobody reads any more.
fn feed_stdin(
    first: Vec<u8>,
    mut chunks: mpsc::UnboundedReceiver<Vec<u8>>,
) -> std::io::Result<std::os::fd::OwnedFd> {
    use std::io::Write;
    let (reader, mut writer) = std::io::pipe()?;
    std::thread::Builder::new()
        .name("codeexec-stdin".into())
        .spawn(move || {
            if writer.write_all(&first).is_err() {
                return;
            }
            while let Some(chunk) = chunks.blocking_recv() {
                if writer.write_all(&chunk).is_err() {
                    return;
                }
            }
        })?;
    Ok(reader.into())
}
