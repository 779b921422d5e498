//! The harness: `cargo run --release -p bench-harness` runs the load tests against an embedded
//! fake X-Ray daemon and writes `target/xray-report/report.json` and `report.html`.
//!
//! See `--help` for the flags, and `bench-harness/README.md` for what each scenario measures.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bench_harness::alloc_count::CountingAllocator;
use bench_harness::cli::{self, Args};
use bench_harness::daemon::{DaemonOptions, FakeDaemon};
use bench_harness::driver;
use bench_harness::report::{Machine, Report, Scenarios, html, table, waterfall};
use bench_harness::runtime_api::RuntimeApi;
use bench_harness::scenarios::{
    self, Settings, cold_start, concurrency, emission, large_payloads, overhead, sampling,
};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Invocations in flight in the in-process runtime loop.
const IN_PROCESS_CONCURRENCY: u32 = 8;

fn main() -> ExitCode {
    let args = match cli::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bench-harness: {e}\n\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    if args.help {
        println!("{}", cli::USAGE);
        return ExitCode::SUCCESS;
    }
    if let Some(rules) = &args.sampling_rules
        && let Err(e) = xray_core::sampling::LocalSampler::from_file(rules)
    {
        eprintln!("bench-harness: --sampling-rules {}: {e}", rules.display());
        return ExitCode::from(2);
    }
    match run(&args) {
        Ok(report) if report.passed() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            eprintln!("bench-harness: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(args: &Args) -> Result<Report, String> {
    let started = Instant::now();
    // The in-process Lambda runtime reads its configuration from the environment: start its
    // Runtime API and set the variables before any other thread exists.
    let in_process_api = if args.runs("concurrency") {
        let api = RuntimeApi::start().map_err(|e| format!("cannot start the Runtime API: {e}"))?;
        // SAFETY: only the Runtime API's accept thread exists, blocked in `accept`; nothing
        // else reads or writes the environment concurrently.
        #[allow(unsafe_code)]
        unsafe {
            driver::set_lambda_env(&api, IN_PROCESS_CONCURRENCY);
        }
        Some(api)
    } else {
        None
    };
    let daemon = FakeDaemon::start_with(DaemonOptions {
        keep_documents: 1000,
        ..DaemonOptions::default()
    })
    .map_err(|e| format!("cannot start the fake daemon: {e}"))?;
    // Handlers written with the macros use the global tracer: point it at the daemon.
    let _ = xray_core::set_global(scenarios::daemon_tracer_with(&daemon, args.output.clone()));

    let settings = Settings {
        quick: args.quick,
        duration: args.duration.unwrap_or(if args.quick {
            Duration::from_secs(2)
        } else {
            Duration::from_secs(20)
        }),
        sampling_rules: args.sampling_rules.clone(),
        verbose: !args.quiet,
        output: args.output.clone(),
    };
    let mut out = Scenarios::default();
    let mut timings = std::collections::BTreeMap::new();
    let mut clock = Instant::now();
    let mut traced = Vec::new();
    let mut lap = |name: &str| {
        timings.insert(name.to_owned(), clock.elapsed().as_secs_f64());
        waterfall::record(name, &daemon, &mut traced);
        clock = Instant::now();
    };
    if args.runs("overhead") {
        banner(&settings, "overhead");
        out.overhead = Some(overhead::run(&settings).map_err(|e| format!("overhead: {e}"))?);
        lap("overhead");
    }
    if args.runs("emission") {
        banner(&settings, "emission");
        out.emission = Some(emission::run(&settings, &daemon));
        lap("emission");
    }
    if args.runs("sampling") {
        banner(&settings, "sampling");
        out.sampling = Some(sampling::run(&settings).map_err(|e| format!("sampling: {e}"))?);
        lap("sampling");
    }
    if args.runs("large-payloads") {
        banner(&settings, "large-payloads");
        out.large_payloads = Some(large_payloads::run(&settings, &daemon));
        lap("large-payloads");
    }
    if let Some(api) = &in_process_api {
        banner(&settings, "concurrency");
        let mut runs = Vec::new();
        driver::start_in_process(2).map_err(|e| format!("cannot start the runtime: {e}"))?;
        runs.push(concurrency::in_process(
            &settings,
            api,
            &daemon,
            IN_PROCESS_CONCURRENCY,
        ));
        runs.push(child_run(&settings, &daemon));
        out.concurrency = Some(concurrency::report(runs));
        lap("concurrency");
    }
    if args.runs("cold-start") {
        banner(&settings, "cold-start");
        out.cold_start = Some(cold_start::run(&settings, &daemon));
        lap("cold-start");
    }

    let daemon_stats = daemon.stats();
    let unaccounted = out.emission.as_ref().map_or(0, |e| e.unaccounted);
    let oversized = out.large_payloads.as_ref().map_or(0, |l| l.oversized);
    // The worse of the two outputs: both must stay at zero.
    let allocations = out.overhead.as_ref().and_then(|o| {
        match (
            o.allocations_per_invocation,
            o.allocations_per_invocation_otlp,
        ) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    });
    let mut report = Report {
        version: 1,
        generated_at: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        duration_s: started.elapsed().as_secs_f64(),
        suite: if args.quick { "quick" } else { "full" }.to_owned(),
        machine: Machine::detect(),
        scenario_seconds: timings,
        documents_received: daemon_stats.datagrams_received,
        documents_invalid: daemon_stats.rejected,
        datagrams_lost_unaccounted: unaccounted,
        oversized_datagrams_sent: oversized,
        allocations_per_invocation: allocations,
        daemon: daemon_stats,
        scenarios: out,
        failures: Vec::new(),
        traced,
    };
    report.conclude();
    write(args, &report)?;
    print!("{}", table::render(&report));
    Ok(report)
}

/// The `register-user` binary with several invocations in flight.
fn child_run(settings: &Settings, daemon: &FakeDaemon) -> concurrency::Run {
    let skipped = |why: String| concurrency::Run {
        function: "register-user (child process)".to_owned(),
        output: scenarios::output_name(&settings.output).to_owned(),
        concurrency: 4,
        invocations: 0,
        completed: 0,
        errors: 0,
        invocations_per_s: 0.0,
        traces_complete: 0,
        foreign_attachments: 0,
        orphans: 0,
        max_overlap: 0,
        cold_starts: 0,
        faults: 0,
        skipped: Some(why),
    };
    let binary = match driver::register_user_binary() {
        Ok(b) => b,
        Err(e) => return skipped(e),
    };
    let api = match RuntimeApi::start() {
        Ok(a) => a,
        Err(e) => return skipped(format!("cannot start a Runtime API: {e}")),
    };
    let _child =
        match driver::ChildFunction::start(&binary, &api, daemon.addr(), &settings.output, 4) {
            Ok(c) => c,
            Err(e) => return skipped(format!("cannot start {}: {e}", binary.display())),
        };
    let n = if settings.quick { 24 } else { 120 };
    concurrency::drive(
        settings,
        &api,
        daemon,
        "register-user (child process)",
        4,
        n,
        |i| {
            let body = format!(r#"{{"user_id":"u-{i}","delay_ms":{}}}"#, 1 + (i * 5) % 12);
            (body.into_bytes(), 3)
        },
    )
}

fn banner(settings: &Settings, name: &str) {
    if settings.verbose {
        eprintln!("[{name}]");
    }
}

fn write(args: &Args, report: &Report) -> Result<(), String> {
    let json_path = args.json.clone().unwrap_or_else(default_json_path);
    if let Some(dir) = json_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let json =
        serde_json::to_vec_pretty(report).map_err(|e| format!("cannot encode the report: {e}"))?;
    std::fs::write(&json_path, json)
        .map_err(|e| format!("cannot write {}: {e}", json_path.display()))?;
    let html_path = json_path.with_extension("html");
    std::fs::write(&html_path, html::render(report))
        .map_err(|e| format!("cannot write {}: {e}", html_path.display()))?;
    if !args.quiet {
        eprintln!("wrote {} and {}", json_path.display(), html_path.display());
    }
    Ok(())
}

/// `target/xray-report/report.json` under the workspace (or the current directory).
fn default_json_path() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .map_or_else(|| PathBuf::from("target"), |root| root.join("target"))
        },
        PathBuf::from,
    );
    target.join("xray-report").join("report.json")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_counting_allocator_is_installed_in_the_harness() {
        assert!(bench_harness::alloc_count::installed());
        let ((), n) = bench_harness::alloc_count::count(|| {
            drop(std::hint::black_box(vec![1u8; 64]));
        });
        assert_eq!(n, 1);
    }
}
