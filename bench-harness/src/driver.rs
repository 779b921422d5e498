//! Runs Lambda functions against the harness's Runtime API: the synthetic function on the
//! real `lambda_runtime` loop inside this process, and the `register-user` binary as a child
//! process.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::runtime_api::RuntimeApi;

/// The environment `lambda_runtime` requires, pointing at `api`.
pub fn lambda_env(api: &RuntimeApi, concurrency: u32) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_LAMBDA_RUNTIME_API", api.env_value()),
        ("AWS_LAMBDA_FUNCTION_NAME", "xray-harness".to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024".to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_LAMBDA_MAX_CONCURRENCY", concurrency.to_string()),
    ]
}

/// Sets the Lambda environment for the in-process runtime.
///
/// # Safety
/// Must run while no other thread of the process reads or writes the environment (the
/// harness calls it first thing, when the only other thread is the Runtime API's, blocked in
/// `accept`).
#[allow(unsafe_code)]
pub unsafe fn set_lambda_env(api: &RuntimeApi, concurrency: u32) {
    for (k, v) in lambda_env(api, concurrency) {
        // SAFETY: the caller guarantees no concurrent access to the environment.
        unsafe { std::env::set_var(k, v) };
    }
}

/// Starts the synthetic function's `lambda_runtime` loop (`run_concurrent`) on its own thread
/// and Tokio runtime. It stops when the Runtime API shuts down.
pub fn start_in_process(workers: usize) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("lambda-runtime".into())
        .spawn(move || {
            let handler = lambda_runtime::service_fn(workloads::synthetic::handler);
            // Ends with an error when the Runtime API goes away; nothing to report then.
            let _ = rt.block_on(lambda_runtime::run_concurrent(handler));
        })?;
    Ok(())
}

/// The `register-user` binary next to the harness's own executable, built first if needed.
pub fn register_user_binary() -> Result<PathBuf, String> {
    workload_binary("register-user")
}

/// A binary of the `workloads` crate next to the harness's own executable, built first if
/// needed (when the harness runs through cargo).
pub fn workload_binary(name: &str) -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot locate the harness: {e}"))?;
    let dir = exe
        .parent()
        .ok_or_else(|| "the harness executable has no directory".to_owned())?;
    let candidate = dir.join(name);
    let profile_release = dir.file_name().is_some_and(|n| n == "release");
    if let Some(cargo) = std::env::var_os("CARGO") {
        // Built through cargo (`cargo run`): make sure the binary is up to date.
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-q", "-p", "workloads", "--bin", name]);
        if profile_release {
            cmd.arg("--release");
        }
        if let Some(root) = workspace_root() {
            cmd.current_dir(root);
        }
        let status = cmd
            .stdout(Stdio::null())
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !status.success() {
            return Err(format!("`cargo build -p workloads --bin {name}` failed"));
        }
    }
    if candidate.exists() {
        Ok(candidate)
    } else {
        Err(format!(
            "{} not found (build it with `cargo build --release -p workloads --bin {name}`)",
            candidate.display()
        ))
    }
}

fn workspace_root() -> Option<&'static Path> {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent()
}

/// A function binary running as a child process; killed on drop.
#[derive(Debug)]
pub struct ChildFunction {
    child: Child,
}

impl ChildFunction {
    /// Starts `binary` against `api`, sending segments (or OTLP spans, as `output` says) to
    /// `daemon`.
    pub fn start(
        binary: &Path,
        api: &RuntimeApi,
        daemon: std::net::SocketAddr,
        output: &xray_core::Output,
        concurrency: u32,
    ) -> std::io::Result<ChildFunction> {
        let mut cmd = Command::new(binary);
        for (k, v) in lambda_env(api, concurrency) {
            cmd.env(k, v);
        }
        let child = cmd
            .env("AWS_XRAY_DAEMON_ADDRESS", daemon.to_string())
            .env("XRAY_RS_OUTPUT", crate::scenarios::output_name(output))
            .env("POWERTOOLS_SERVICE_NAME", "register-user")
            .env("LAMBDA_TASK_ROOT", "/var/task")
            .env_remove("_X_AMZN_TRACE_ID")
            .env_remove("AWS_XRAY_SDK_DISABLED")
            .env_remove("POWERTOOLS_TRACE_DISABLED")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        Ok(ChildFunction { child })
    }
}

impl Drop for ChildFunction {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
