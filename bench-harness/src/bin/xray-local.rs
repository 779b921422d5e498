//! `xray-local`: a local X-Ray. Receives segments where the X-Ray daemon would, answers the
//! daemon's sampling proxy with the default rule, and serves a page listing the traces, their
//! waterfalls, a service map and the rejected datagrams.
//!
//! ```text
//! xray-local [--addr HOST:PORT] [--web HOST:PORT] [--max-traces N] [--max-entities N]
//!            [--duration SECS]
//! ```

use std::process::ExitCode;
use std::time::Duration;

use bench_harness::flags::{self, Flags};
use bench_harness::local_xray::{LocalXray, LocalXrayOptions};

const USAGE: &str = "\
usage: xray-local [--addr HOST:PORT] [--web HOST:PORT] [--max-traces N] [--max-entities N]
                  [--duration SECS]

A local X-Ray: receives segment datagrams and OTLP spans (T1S / T1U) over UDP, answers the sampling proxy over TCP on
the same address, validates and reassembles every trace, and serves a page to read them.
Point AWS_XRAY_DAEMON_ADDRESS at it (the default, 127.0.0.1:2000, needs nothing).

  --addr HOST:PORT     UDP and TCP address of the daemon (default 127.0.0.1:2000)
  --web HOST:PORT      address of the page (default 127.0.0.1:2080; port 0 picks one)
  --max-traces N       traces kept; older ones are dropped and counted (default 1000)
  --max-entities N     segments, subsegments and spans kept per trace; later ones are dropped
                       and counted (default 1000)
  --duration SECS      stop after this many seconds (default: run until killed)
  -h, --help           show this help

Addresses other than loopback expose every trace to the network; they are allowed, with a
warning.";

#[derive(Debug, PartialEq)]
struct Args {
    options: LocalXrayOptions,
    duration: Option<Duration>,
}

/// `Ok(None)` means help was asked for.
fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Args>, String> {
    let mut options = LocalXrayOptions::default();
    let mut duration = None;
    let mut flags = Flags::new(args);
    while let Some(flag) = flags.next_flag() {
        let mut value = || flags.value(&flag);
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--addr" => options.udp_addr = flags::addr(&flag, &value()?)?,
            "--web" => options.web_addr = flags::addr(&flag, &value()?)?,
            "--max-traces" => options.max_traces = flags::positive(&flag, &value()?)?,
            "--max-entities" => {
                options.max_entities_per_trace = flags::positive(&flag, &value()?)?;
            }
            "--duration" => duration = Some(flags::seconds(&flag, &value()?)?),
            _ => return Err(format!("unknown argument `{}`", flags.current())),
        }
    }
    Ok(Some(Args { options, duration }))
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("xray-local: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    for (flag, addr) in [
        ("--addr", args.options.udp_addr),
        ("--web", args.options.web_addr),
    ] {
        if !addr.ip().is_loopback() {
            eprintln!(
                "xray-local: warning: `{flag} {addr}` is not loopback: anyone who can reach it can read (or send) traces"
            );
        }
    }
    let mut xray = match LocalXray::start(args.options) {
        Ok(x) => x,
        Err(e) => {
            eprintln!(
                "xray-local: cannot listen ({e}); is an X-Ray daemon (or another xray-local) already running? Use --addr / --web for other ports"
            );
            return ExitCode::FAILURE;
        }
    };
    println!(
        "xray-local: segments to udp://{} (sampling proxy on tcp://{})",
        xray.udp_addr(),
        xray.sampling_addr()
    );
    println!("xray-local: open {}", xray.url());
    // The daemon and the page run on their own threads: this one only waits.
    match args.duration {
        Some(d) => std::thread::sleep(d),
        None => loop {
            std::thread::park();
        },
    }
    xray.shutdown();
    println!("xray-local: {}", xray.daemon().stats());
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Args>, String> {
        parse_args(args.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn defaults_are_loopback_and_flags_apply() {
        let args = parse(&[]).unwrap().unwrap();
        assert!(
            args.options.udp_addr.ip().is_loopback() && args.options.web_addr.ip().is_loopback()
        );
        assert_eq!(args.options.udp_addr.port(), 2000);
        let args = parse(&[
            "--addr",
            "127.0.0.1:0",
            "--web=127.0.0.1:0",
            "--max-traces",
            "5",
            "--max-entities=7",
            "--duration",
            "2",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            (
                args.options.max_traces,
                args.options.max_entities_per_trace,
                args.duration
            ),
            (5, 7, Some(Duration::from_secs(2)))
        );
        assert_eq!(args.options.web_addr.port(), 0);
        assert_eq!(parse(&["-h"]).unwrap(), None);
    }

    #[test]
    fn bad_flags_say_what_is_wrong() {
        for (args, needle) in [
            (&["--nope"][..], "unknown argument `--nope`"),
            (&["--web"], "`--web` needs a value"),
            (&["--addr", "2000"], "invalid `--addr` value `2000`"),
            (&["--max-traces", "0"], "expected a positive whole number"),
            (
                &["--max-entities", "x"],
                "invalid `--max-entities` value `x`",
            ),
            (
                &["--duration", "-1"],
                "expected a positive number of seconds",
            ),
        ] {
            let err = parse(args).unwrap_err();
            assert!(err.contains(needle), "{args:?}: {err}");
        }
    }
}
