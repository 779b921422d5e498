//! A local stand-in for the Lambda Runtime API, so the real `lambda_runtime` loop (in-process
//! or in a function binary) can be driven on 127.0.0.1 without AWS.
//!
//! Invocations are queued with [`RuntimeApi::invoke`]; each `GET …/invocation/next` long-polls
//! for the next one and receives it with the `Lambda-Runtime-*` headers, including
//! `Lambda-Runtime-Trace-Id` when the invocation has one. Responses and errors posted back are
//! kept per request id with their timing.
//!
//! ```no_run
//! use bench_harness::runtime_api::RuntimeApi;
//! let api = RuntimeApi::start().unwrap();
//! // Run a function with AWS_LAMBDA_RUNTIME_API set to `api.env_value()`, then:
//! let id = api.invoke(br#"{"user_id":"u-1"}"#, Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"));
//! let outcome = api.wait_outcome(&id, std::time::Duration::from_secs(5));
//! ```

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::serve::{HttpServer, Reply, Request};

/// One invocation waiting to be handed to the function.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// `Lambda-Runtime-Aws-Request-Id`.
    pub request_id: String,
    /// `Lambda-Runtime-Trace-Id`, if any.
    pub trace_header: Option<String>,
    /// The event, as JSON bytes.
    pub payload: Vec<u8>,
    /// The function's time limit for this invocation (`Lambda-Runtime-Deadline-Ms` is set that
    /// far after the event is handed out); [`DEFAULT_TIMEOUT`] when `None`.
    pub timeout: Option<Duration>,
}

/// The time limit of an invocation that names none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// What the function answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `POST …/response`.
    Response(Vec<u8>),
    /// `POST …/error`, with `Lambda-Runtime-Function-Error-Type`.
    Error {
        /// The error type header.
        error_type: String,
        /// The diagnostic body.
        body: Vec<u8>,
    },
}

/// An outcome with its timing.
#[derive(Debug, Clone)]
pub struct Completed {
    /// What came back.
    pub outcome: Outcome,
    /// From handing the event out to receiving the outcome.
    pub latency: Duration,
}

/// Counters of the Runtime API.
#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct RuntimeApiStats {
    /// Invocations queued.
    pub invoked: u64,
    /// Invocations handed to the function.
    pub dispatched: u64,
    /// Responses received.
    pub responses: u64,
    /// Errors received.
    pub errors: u64,
    /// `init/error` calls (the function failed to start).
    pub init_errors: u64,
    /// Requests that were not part of the API, or malformed.
    pub bad_requests: u64,
}

#[derive(Default)]
struct Counters {
    invoked: AtomicU64,
    dispatched: AtomicU64,
    responses: AtomicU64,
    errors: AtomicU64,
    init_errors: AtomicU64,
    bad_requests: AtomicU64,
}

#[derive(Default)]
struct Shared {
    queue: Mutex<VecDeque<Invocation>>,
    queued: Condvar,
    dispatched_at: Mutex<HashMap<String, Instant>>,
    done: Mutex<HashMap<String, Completed>>,
    completed: Condvar,
    stop: AtomicBool,
    next_id: AtomicU64,
    counters: Counters,
}

/// The Runtime API server (see the module docs).
pub struct RuntimeApi {
    shared: Arc<Shared>,
    server: HttpServer,
}

impl std::fmt::Debug for RuntimeApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeApi")
            .field("addr", &self.server.addr())
            .finish_non_exhaustive()
    }
}

/// How long a `/next` request waits before re-checking for shutdown.
const POLL_SLICE: Duration = Duration::from_millis(50);

impl RuntimeApi {
    /// Serves on 127.0.0.1 on a free port.
    pub fn start() -> io::Result<RuntimeApi> {
        let shared = Arc::new(Shared::default());
        let s = Arc::clone(&shared);
        let server = HttpServer::start(
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 0),
            "runtime-api",
            move |req| handle(&req, &s),
        )?;
        Ok(RuntimeApi { shared, server })
    }

    /// The server address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API`.
    pub fn env_value(&self) -> String {
        self.server.addr().to_string()
    }

    /// Queues an invocation and returns its request id.
    pub fn invoke(&self, payload: &[u8], trace_header: Option<&str>) -> String {
        self.invoke_with_timeout(payload, trace_header, DEFAULT_TIMEOUT)
    }

    /// Queues an invocation whose deadline is `timeout` after it is handed out, as Lambda sets
    /// it from the function's configured timeout; the function is not stopped at the deadline.
    pub fn invoke_with_timeout(
        &self,
        payload: &[u8],
        trace_header: Option<&str>,
        timeout: Duration,
    ) -> String {
        let n = self.shared.next_id.fetch_add(1, Relaxed);
        let request_id = format!("req-{n:08}");
        self.enqueue(Invocation {
            request_id: request_id.clone(),
            trace_header: trace_header.map(str::to_owned),
            payload: payload.to_vec(),
            timeout: Some(timeout),
        });
        request_id
    }

    /// Queues a prepared invocation.
    pub fn enqueue(&self, invocation: Invocation) {
        self.shared.counters.invoked.fetch_add(1, Relaxed);
        lock(&self.shared.queue).push_back(invocation);
        self.shared.queued.notify_one();
    }

    /// Waits for the outcome of `request_id`.
    pub fn wait_outcome(&self, request_id: &str, timeout: Duration) -> Option<Completed> {
        self.wait_until(timeout, |done| done.get(request_id).cloned())
    }

    /// Waits until `n` outcomes in all have arrived; returns whether they did.
    pub fn wait_completed(&self, n: usize, timeout: Duration) -> bool {
        self.wait_until(timeout, |done| (done.len() >= n).then_some(()))
            .is_some()
    }

    /// Waits until `ready` finds what it looks for in the outcomes, or `timeout` passes.
    fn wait_until<T>(
        &self,
        timeout: Duration,
        mut ready: impl FnMut(&HashMap<String, Completed>) -> Option<T>,
    ) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let mut done = lock(&self.shared.done);
        loop {
            if let Some(found) = ready(&done) {
                return Some(found);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            done = self
                .shared
                .completed
                .wait_timeout(done, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Every outcome so far, by request id.
    pub fn outcomes(&self) -> HashMap<String, Completed> {
        lock(&self.shared.done).clone()
    }

    /// The counters now.
    pub fn stats(&self) -> RuntimeApiStats {
        let c = &self.shared.counters;
        RuntimeApiStats {
            invoked: c.invoked.load(Relaxed),
            dispatched: c.dispatched.load(Relaxed),
            responses: c.responses.load(Relaxed),
            errors: c.errors.load(Relaxed),
            init_errors: c.init_errors.load(Relaxed),
            bad_requests: c.bad_requests.load(Relaxed),
        }
    }

    /// Stops serving: pending `/next` calls are answered by closing their connection.
    pub fn shutdown(&mut self) {
        self.shared.stop.store(true, Relaxed);
        self.shared.queued.notify_all();
        self.server.shutdown();
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

const PREFIX: &str = "/2018-06-01/runtime/";

fn handle(req: &Request, shared: &Shared) -> Reply {
    let path = req.path.strip_prefix(PREFIX).unwrap_or("");
    match (req.method.as_str(), path) {
        ("GET", "invocation/next") => next(shared),
        ("POST", "init/error") => {
            shared.counters.init_errors.fetch_add(1, Relaxed);
            Reply::json(202, "{}")
        }
        ("POST", p) if p.starts_with("invocation/") => {
            let rest = &p["invocation/".len()..];
            let (id, kind) = rest.rsplit_once('/').unwrap_or((rest, ""));
            let outcome = match kind {
                "response" => {
                    shared.counters.responses.fetch_add(1, Relaxed);
                    Outcome::Response(req.body.to_vec())
                }
                "error" => {
                    shared.counters.errors.fetch_add(1, Relaxed);
                    Outcome::Error {
                        error_type: req
                            .header("lambda-runtime-function-error-type")
                            .unwrap_or_default()
                            .to_owned(),
                        body: req.body.to_vec(),
                    }
                }
                _ => return bad_request(shared),
            };
            let started = lock(&shared.dispatched_at).remove(id);
            let latency = started.map_or(Duration::ZERO, |t| t.elapsed());
            lock(&shared.done).insert(id.to_owned(), Completed { outcome, latency });
            shared.completed.notify_all();
            Reply::json(202, "{}")
        }
        _ => bad_request(shared),
    }
}

fn bad_request(shared: &Shared) -> Reply {
    shared.counters.bad_requests.fetch_add(1, Relaxed);
    Reply::json(404, "{\"errorMessage\":\"unknown path\"}")
}

/// Long-polls for the next invocation; a server stopping closes the connection instead.
fn next(shared: &Shared) -> Reply {
    let mut queue = lock(&shared.queue);
    let invocation = loop {
        if shared.stop.load(Relaxed) {
            return Reply::Close;
        }
        if let Some(inv) = queue.pop_front() {
            break inv;
        }
        queue = shared
            .queued
            .wait_timeout(queue, POLL_SLICE)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    };
    drop(queue);
    shared.counters.dispatched.fetch_add(1, Relaxed);
    lock(&shared.dispatched_at).insert(invocation.request_id.clone(), Instant::now());
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
        + invocation.timeout.unwrap_or(DEFAULT_TIMEOUT).as_millis() as u64;
    let mut reply = Reply::json(200, invocation.payload)
        .header("lambda-runtime-aws-request-id", invocation.request_id)
        .header("lambda-runtime-deadline-ms", deadline.to_string())
        .header(
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:local",
        );
    if let Some(h) = invocation.trace_header {
        reply = reply.header("lambda-runtime-trace-id", h);
    }
    reply
}
