//! Piston's interactive WebSocket, `/api/v2/connect`.
//!
//! The client sends `{"type": "init", …the fields of /api/v2/execute…}` within a
//! second; the server answers `runtime {language, version}`, then `stage {stage}` as
//! each step starts, `data {stream, data}` as output arrives, `exit {stage, code,
//! signal}` after each step, and closes with 4999 "Job Completed". Errors in the
//! request are an `error {message}` and close 4002. Close codes as on Piston: 4000 a
//! second `init`, 4001 no `init` in time, 4002 after an `error`, 4003 `data` or
//! `signal` before `init`, 4004 `data` for a stream other than stdin, 4005 an unknown
//! signal, 4999 the job is done.
//!
//! The program's stdin is the `init` message's `stdin`, then every `data` message on
//! stdin as it comes (interactive programs answer while they run). A `signal` stops
//! the job (with SIGKILL, whatever signal was named).

use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use codeexec_engine::{JobResult, Step, StreamEvent};
use codeexec_sandbox::Stream;
use serde_json::{json, Value};

use super::piston::{prepare, stage_json};
use super::{RunningJob, Utf8Chunks};
use crate::error::ApiError;
use crate::state::AppState;

/// How long a client has to send `init` (Piston's).
const INIT_TIMEOUT: Duration = Duration::from_secs(1);

/// The signals a client may name (Piston's list).
/// The signal names Piston accepts, with their Linux numbers (`None`: the name exists
/// on other systems only).
const SIGNALS: [(&str, Option<i32>); 38] = [
    ("SIGABRT", Some(libc::SIGABRT)),
    ("SIGALRM", Some(libc::SIGALRM)),
    ("SIGBUS", Some(libc::SIGBUS)),
    ("SIGCHLD", Some(libc::SIGCHLD)),
    ("SIGCLD", Some(libc::SIGCHLD)),
    ("SIGCONT", Some(libc::SIGCONT)),
    ("SIGEMT", None),
    ("SIGFPE", Some(libc::SIGFPE)),
    ("SIGHUP", Some(libc::SIGHUP)),
    ("SIGILL", Some(libc::SIGILL)),
    ("SIGINFO", None),
    ("SIGINT", Some(libc::SIGINT)),
    ("SIGIO", Some(libc::SIGIO)),
    ("SIGIOT", Some(libc::SIGIOT)),
    ("SIGKILL", Some(libc::SIGKILL)),
    ("SIGLOST", None),
    ("SIGPIPE", Some(libc::SIGPIPE)),
    ("SIGPOLL", Some(libc::SIGPOLL)),
    ("SIGPROF", Some(libc::SIGPROF)),
    ("SIGPWR", Some(libc::SIGPWR)),
    ("SIGQUIT", Some(libc::SIGQUIT)),
    ("SIGSEGV", Some(libc::SIGSEGV)),
    ("SIGSTKFLT", Some(libc::SIGSTKFLT)),
    ("SIGSTOP", Some(libc::SIGSTOP)),
    ("SIGTSTP", Some(libc::SIGTSTP)),
    ("SIGSYS", Some(libc::SIGSYS)),
    ("SIGTERM", Some(libc::SIGTERM)),
    ("SIGTRAP", Some(libc::SIGTRAP)),
    ("SIGTTIN", Some(libc::SIGTTIN)),
    ("SIGTTOU", Some(libc::SIGTTOU)),
    ("SIGUNUSED", Some(libc::SIGSYS)),
    ("SIGURG", Some(libc::SIGURG)),
    ("SIGUSR1", Some(libc::SIGUSR1)),
    ("SIGUSR2", Some(libc::SIGUSR2)),
    ("SIGVTALRM", Some(libc::SIGVTALRM)),
    ("SIGXCPU", Some(libc::SIGXCPU)),
    ("SIGXFSZ", Some(libc::SIGXFSZ)),
    ("SIGWINCH", Some(libc::SIGWINCH)),
];

/// `GET /api/v2/connect`: upgrades to the WebSocket.
pub async fn connect(
    State(state): State<AppState>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let upgrade = upgrade.map_err(|e| ApiError::Other {
        status: e.status(),
        message: format!(
            "{} (this route is Piston's WebSocket: connect with a WebSocket client)",
            e.body_text()
        ),
    })?;
    Ok(upgrade
        .on_upgrade(move |socket| Session::new(socket).run(state))
        .into_response())
}

/// A message from the client.
enum Incoming {
    Init(Value),
    Data {
        stream: String,
        data: String,
    },
    Signal(String),
    /// Not a message we understand; the reason.
    Invalid(String),
    /// The client closed the connection or it broke.
    Gone,
}

struct Session {
    socket: WebSocket,
}

impl Session {
    fn new(socket: WebSocket) -> Session {
        Session { socket }
    }

    async fn receive(&mut self) -> Incoming {
        loop {
            let text = match self.socket.recv().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Incoming::Gone,
                Some(Ok(Message::Text(t))) => t.as_str().to_owned(),
                Some(Ok(Message::Binary(b))) => String::from_utf8_lossy(&b).into_owned(),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            };
            let value: Value = match serde_json::from_str(&text) {
                Ok(v) => v,
                Err(e) => return Incoming::Invalid(format!("not a JSON message: {e}")),
            };
            let field = |k: &str| {
                value
                    .get(k)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned()
            };
            return match value.get("type").and_then(Value::as_str) {
                Some("init") => Incoming::Init(value),
                Some("data") => Incoming::Data {
                    stream: field("stream"),
                    data: field("data"),
                },
                Some("signal") => Incoming::Signal(field("signal")),
                other => Incoming::Invalid(format!(
                    "unknown message type {other:?}; expected init, data or signal"
                )),
            };
        }
    }

    /// Sends a JSON message; false when the client is gone.
    async fn send(&mut self, message: Value) -> bool {
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await
            .is_ok()
    }

    async fn close(mut self, code: u16, reason: &str) {
        let _ = self
            .socket
            .send(Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            })))
            .await;
    }

    async fn error_and_close(mut self, message: &str) {
        self.send(json!({ "type": "error", "message": message }))
            .await;
        self.close(4002, "Notified Error").await;
    }

    async fn run(mut self, state: AppState) {
        let init = loop {
            match tokio::time::timeout(INIT_TIMEOUT, self.receive()).await {
                Err(_) => return self.close(4001, "Initialization Timeout").await,
                Ok(Incoming::Init(v)) => break v,
                Ok(Incoming::Data { .. } | Incoming::Signal(_)) => {
                    return self.close(4003, "Not yet Initialized").await
                }
                Ok(Incoming::Invalid(reason)) => {
                    if !self
                        .send(json!({ "type": "error", "message": reason }))
                        .await
                    {
                        return;
                    }
                }
                Ok(Incoming::Gone) => return,
            }
        };
        let prepared = match prepare(&state, &init) {
            Ok(p) => p,
            Err(e) => return self.error_and_close(&e.to_string()).await,
        };
        let compiled = !prepared.recipe.compile.is_empty();
        let hello = json!({
            "type": "runtime",
            "language": prepared.language,
            "version": prepared.version,
        });
        if !self.send(hello).await {
            return;
        }
        // The program's stdin: the init message's `stdin` first, then every `data`
        // on stdin while it runs; it ends with the job (Piston sends no end of input).
        let (stdin_tx, stdin_rx) = tokio::sync::mpsc::unbounded_channel();
        let (signal_tx, signal_rx) = tokio::sync::mpsc::unbounded_channel();
        let mut job = match RunningJob::start_with_stdin(
            &state,
            &prepared.recipe.language,
            prepared.job,
            Some((stdin_rx, signal_rx)),
        )
        .await
        {
            Ok(job) => job,
            Err(e) => return self.error_and_close(&e.to_string()).await,
        };
        let mut decoders: [Utf8Chunks; 2] = Default::default();
        loop {
            tokio::select! {
                event = job.next_event() => match event {
                    Some(StreamEvent::Started(step)) => {
                        if !self.flush(&mut decoders).await {
                            return;
                        }
                        if step == Step::Run && compiled {
                            let done = json!({ "type": "exit", "stage": "compile", "code": 0, "signal": null });
                            if !self.send(done).await {
                                return;
                            }
                        }
                        let stage = if step == Step::Run { "run" } else { "compile" };
                        if !self.send(json!({ "type": "stage", "stage": stage })).await {
                            return;
                        }
                    }
                    Some(StreamEvent::Output(_, stream, bytes)) => {
                        let (i, name) = match stream {
                            Stream::Stdout => (0, "stdout"),
                            Stream::Stderr => (1, "stderr"),
                        };
                        let data = decoders[i].push(&bytes);
                        if !data.is_empty()
                            && !self.send(json!({ "type": "data", "stream": name, "data": data })).await
                        {
                            return;
                        }
                    }
                    None => {
                        let result = job.finish().await;
                        if !self.flush(&mut decoders).await {
                            return;
                        }
                        return self.finish(compiled, result).await;
                    }
                },
                incoming = self.receive() => match incoming {
                    Incoming::Gone => return,
                    Incoming::Init(_) => return self.close(4000, "Already Initialized").await,
                    Incoming::Data { stream, data } if stream == "stdin" => {
                        // The job may already be past reading; a closed pipe is fine.
                        let _ = stdin_tx.send(data.into_bytes());
                    }
                    Incoming::Data { .. } => return self.close(4004, "Can only write to stdin").await,
                    Incoming::Signal(signal) if SIGNALS.iter().any(|(n, _)| *n == signal) => {
                        // The program gets the signal; its exit says what it did with it.
                        match SIGNALS.iter().find(|(n, _)| *n == signal).and_then(|(_, num)| *num) {
                            Some(number) => {
                                let _ = signal_tx.send(number);
                            }
                            None => {
                                let note = format!("{signal} does not exist on Linux");
                                if !self.send(json!({ "type": "error", "message": note })).await {
                                    return;
                                }
                            }
                        }
                    }
                    Incoming::Signal(_) => return self.close(4005, "Invalid signal").await,
                    Incoming::Invalid(reason) => {
                        if !self.send(json!({ "type": "error", "message": reason })).await {
                            return;
                        }
                    }
                },
            }
        }
    }

    /// Sends what the decoders still hold (the end of a step).
    async fn flush(&mut self, decoders: &mut [Utf8Chunks; 2]) -> bool {
        for (i, name) in [(0, "stdout"), (1, "stderr")] {
            let data = decoders[i].finish();
            if !data.is_empty()
                && !self
                    .send(json!({ "type": "data", "stream": name, "data": data }))
                    .await
            {
                return false;
            }
        }
        true
    }

    async fn finish(mut self, compiled: bool, result: Result<JobResult, ApiError>) {
        match result {
            Ok(r) => {
                let (stage, step) = match (&r.run, &r.compile) {
                    (Some(run), _) => ("run", run),
                    (None, Some(compile)) if compiled => ("compile", compile),
                    _ => return self.close(4999, "Job Completed").await,
                };
                let s = stage_json(step);
                let exit = json!({
                    "type": "exit",
                    "stage": stage,
                    "code": s["code"],
                    "signal": s["signal"],
                    "status": s["status"],
                    "message": s["message"],
                });
                if !self.send(exit).await {
                    return;
                }
            }
            Err(e) => {
                if !self
                    .send(json!({ "type": "error", "message": e.to_string() }))
                    .await
                {
                    return;
                }
            }
        }
        self.close(4999, "Job Completed").await;
    }
}
