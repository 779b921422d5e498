//! `xray-fake-daemon`: listens where the X-Ray daemon would, validates every datagram, and
//! prints each trace as an indented tree once it has been quiet for a second, with running
//! accepted/rejected counts and every rejection.
//!
//! ```text
//! xray-fake-daemon [--addr HOST:PORT] [--duration SECS] [--quiet]
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bench_harness::daemon::{
    DEFAULT_DAEMON_ADDR, DaemonOptions, FakeDaemon, ReceivedDocument, RejectReason,
};
use bench_harness::flags::{self, Flags};

const USAGE: &str = "\
usage: xray-fake-daemon [--addr HOST:PORT] [--duration SECS] [--quiet]

Listens for X-Ray segment datagrams over UDP, validates them against the official schema and
the documented rules, and prints each trace as a tree once it has been quiet for a second.

  --addr HOST:PORT   where to listen (default 127.0.0.1:2000; port 0 picks a free one)
  --duration SECS    stop after this many seconds (default: run until killed)
  --quiet            print only the address and the final counts
  -h, --help         show this help";

/// How long a trace must go unchanged before it is printed.
const SETTLE: Duration = Duration::from_secs(1);
const POLL: Duration = Duration::from_millis(100);

#[derive(Debug, PartialEq)]
struct Args {
    addr: SocketAddr,
    duration: Option<Duration>,
    quiet: bool,
}

/// `Ok(None)` means help was asked for.
fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Args>, String> {
    let mut parsed = Args {
        addr: DEFAULT_DAEMON_ADDR,
        duration: None,
        quiet: false,
    };
    let mut flags = Flags::new(args);
    while let Some(flag) = flags.next_flag() {
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--quiet" if !flags.has_inline_value() => parsed.quiet = true,
            "--addr" => parsed.addr = flags::addr("--addr", &flags.value("--addr")?)?,
            "--duration" => {
                parsed.duration = Some(flags::seconds("--duration", &flags.value("--duration")?)?);
            }
            _ => return Err(format!("unknown argument `{}`", flags.current())),
        }
    }
    Ok(Some(parsed))
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("xray-fake-daemon: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let options = DaemonOptions {
        addr: args.addr,
        ..DaemonOptions::default()
    };
    let mut daemon = match FakeDaemon::start_with(options) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("xray-fake-daemon: cannot listen on {}: {e}", args.addr);
            return ExitCode::FAILURE;
        }
    };
    println!("xray-fake-daemon listening on {}", daemon.addr());
    watch(&daemon, &args);
    daemon.shutdown();
    report_rejections(&daemon.take_documents(), args.quiet);
    print_settled(&daemon, &mut HashMap::new(), None, args.quiet);
    println!("{}", daemon.stats());
    ExitCode::SUCCESS
}

/// Prints traces and rejections as they come, until the duration (if any) is up.
fn watch(daemon: &FakeDaemon, args: &Args) {
    let start = Instant::now();
    let mut seen: HashMap<String, (u64, Instant)> = HashMap::new();
    loop {
        let left = args.duration.map(|d| d.saturating_sub(start.elapsed()));
        if left == Some(Duration::ZERO) {
            return;
        }
        std::thread::sleep(left.map_or(POLL, |l| l.min(POLL)));
        report_rejections(&daemon.take_documents(), args.quiet);
        print_settled(daemon, &mut seen, Some(SETTLE), args.quiet);
    }
}

fn report_rejections(documents: &[ReceivedDocument], quiet: bool) {
    if quiet {
        return;
    }
    for d in documents.iter().filter(|d| !d.is_accepted()) {
        let why = d
            .error
            .clone()
            .or_else(|| d.report.as_ref().map(ToString::to_string))
            .unwrap_or_default();
        let reason = d.rejected.map(RejectReason::as_str).unwrap_or_default();
        println!(
            "rejected datagram #{} from {} ({} bytes, {reason}):",
            d.seq,
            d.from,
            d.datagram.len()
        );
        for line in why.lines() {
            println!("  {line}");
        }
    }
}

/// Prints (and forgets) every trace unchanged for `settle`; with `None`, every trace.
fn print_settled(
    daemon: &FakeDaemon,
    seen: &mut HashMap<String, (u64, Instant)>,
    settle: Option<Duration>,
    quiet: bool,
) {
    let now = Instant::now();
    let mut printed = false;
    for trace in daemon.traces() {
        let entry = seen
            .entry(trace.trace_id.clone())
            .or_insert((trace.revision, now));
        if entry.0 != trace.revision {
            *entry = (trace.revision, now);
        }
        if settle.is_some_and(|s| now.duration_since(entry.1) < s) {
            continue;
        }
        seen.remove(&trace.trace_id);
        if daemon.take_trace(&trace.trace_id).is_some() && !quiet {
            print!("{trace}");
            printed = true;
        }
    }
    if printed {
        let stats = daemon.stats();
        println!(
            "  (so far: accepted {}, rejected {})",
            stats.accepted, stats.rejected
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Args>, String> {
        parse_args(args.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn defaults_and_flags() {
        let args = parse(&[]).unwrap().unwrap();
        assert_eq!(args.addr, DEFAULT_DAEMON_ADDR);
        assert_eq!((args.duration, args.quiet), (None, false));
        let args = parse(&["--addr", "127.0.0.1:0", "--duration=1.5", "--quiet"])
            .unwrap()
            .unwrap();
        assert_eq!(args.addr.to_string(), "127.0.0.1:0");
        assert_eq!(args.duration, Some(Duration::from_millis(1500)));
        assert!(args.quiet);
        assert_eq!(parse(&["--quiet", "-h"]).unwrap(), None);
    }

    #[test]
    fn bad_flags_say_what_is_wrong() {
        for (args, needle) in [
            (&["--nope"][..], "unknown argument `--nope`"),
            (&["--addr"], "`--addr` needs a value"),
            (&["--addr", "2000"], "invalid `--addr` value `2000`"),
            (
                &["--duration", "-1"],
                "expected a positive number of seconds",
            ),
            (
                &["--duration", "NaN"],
                "expected a positive number of seconds",
            ),
            (
                &["--duration", "1e300"],
                "expected a positive number of seconds",
            ),
            (&["--duration=soon"], "invalid `--duration` value `soon`"),
            (&["--quiet=yes"], "unknown argument `--quiet=yes`"),
        ] {
            let err = parse(args).unwrap_err();
            assert!(err.contains(needle), "{args:?}: {err}");
        }
    }
}
