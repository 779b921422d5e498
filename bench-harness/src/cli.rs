//! Command-line flags of the harness.

use std::path::PathBuf;
use std::time::Duration;

use xray_core::Output;

/// The scenarios, in the order they run.
pub const SCENARIOS: [&str; 6] = [
    "overhead",
    "emission",
    "sampling",
    "large-payloads",
    "concurrency",
    "cold-start",
];

/// What the command line asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// The short suite.
    pub quick: bool,
    /// Only this scenario.
    pub scenario: Option<String>,
    /// Time budget of each timed scenario.
    pub duration: Option<Duration>,
    /// Where to write the JSON report (default `target/xray-report/report.json`).
    pub json: Option<PathBuf>,
    /// A local sampling rules file.
    pub sampling_rules: Option<PathBuf>,
    /// The tracer's output in the concurrency scenario (`--output`).
    pub output: Output,
    /// Print only the summary.
    pub quiet: bool,
    /// `--help`.
    pub help: bool,
}

/// The usage text.
pub const USAGE: &str = "\
usage: bench-harness [--quick] [--scenario NAME] [--duration SECS] [--json PATH]
                     [--sampling-rules FILE] [--output xray-udp|otlp-udp] [--quiet]

Runs the load tests against an embedded fake X-Ray daemon on 127.0.0.1 and writes
target/xray-report/report.json and report.html.

  --quick               the short suite (about 10 s; what CI runs)
  --scenario NAME       only one of: overhead, emission, sampling, large-payloads, concurrency,
                        cold-start
  --duration SECS       time budget of each timed scenario (default 4 quick, 20 full)
  --json PATH           where to write the JSON report (the HTML goes next to it)
  --sampling-rules FILE a local sampling rules file (version 1 or 2) for the sampling scenario
  --output OUTPUT       what the concurrency scenario's functions send: xray-udp (X-Ray
                        documents, the default) or otlp-udp (T1S OTLP spans); the overhead
                        scenario always times both side by side
  --quiet               no progress lines, only the summary

Exits with status 1 when the report shows invalid documents, unaccounted losses, oversized
datagrams, allocations in the steady state, or foreign attachments; 2 on bad arguments.";

/// Parses the arguments (without the program name).
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
    let mut out = Args {
        quick: false,
        scenario: None,
        duration: None,
        json: None,
        sampling_rules: None,
        output: Output::XrayUdp,
        quiet: false,
        help: false,
    };
    let mut flags = crate::flags::Flags::new(args);
    while let Some(flag) = flags.next_flag() {
        let mut value = |name: &str| flags.value(name);
        match flag.as_str() {
            "--quick" => out.quick = true,
            "--quiet" => out.quiet = true,
            "-h" | "--help" => out.help = true,
            "--scenario" => {
                let v = value("--scenario")?;
                if !SCENARIOS.contains(&v.as_str()) {
                    return Err(format!(
                        "unknown scenario `{v}`, expected one of: {}",
                        SCENARIOS.join(", ")
                    ));
                }
                out.scenario = Some(v);
            }
            "--duration" => {
                let v = value("--duration")?;
                let secs: f64 = v
                    .parse()
                    .map_err(|_| format!("`--duration {v}`: expected a number of seconds"))?;
                if !(secs.is_finite() && secs > 0.0 && secs <= 3600.0) {
                    return Err(format!(
                        "`--duration {v}`: expected more than 0 and at most 3600 seconds"
                    ));
                }
                out.duration = Some(Duration::from_secs_f64(secs));
            }
            "--json" => out.json = Some(PathBuf::from(value("--json")?)),
            "--sampling-rules" => {
                let v = PathBuf::from(value("--sampling-rules")?);
                out.sampling_rules = Some(v);
            }
            "--output" => {
                out.output = match value("--output")?.to_ascii_lowercase().as_str() {
                    "xray-udp" => Output::XrayUdp,
                    "otlp-udp" => Output::OtlpUdp,
                    v => {
                        return Err(format!("`--output {v}`: expected xray-udp or otlp-udp"));
                    }
                };
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(out)
}

impl Args {
    /// True when `name` should run.
    pub fn runs(&self, name: &str) -> bool {
        self.scenario.as_deref().is_none_or(|s| s == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Args, String> {
        parse(args.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn flags() {
        let a = p(&[
            "--quick",
            "--scenario",
            "emission",
            "--duration=2.5",
            "--json",
            "r.json",
        ])
        .unwrap();
        assert!(a.quick);
        assert_eq!(a.scenario.as_deref(), Some("emission"));
        assert_eq!(a.duration, Some(Duration::from_millis(2500)));
        assert_eq!(a.json, Some(PathBuf::from("r.json")));
        assert!(a.runs("emission") && !a.runs("overhead"));
        assert!(p(&[]).unwrap().runs("overhead"));
        assert_eq!(p(&[]).unwrap().output, Output::XrayUdp);
        assert_eq!(p(&["--output=OTLP-UDP"]).unwrap().output, Output::OtlpUdp);
    }

    #[test]
    fn bad_flags_are_explained() {
        assert_eq!(p(&["--fast"]).unwrap_err(), "unknown argument `--fast`");
        assert!(
            p(&["--scenario", "speed"])
                .unwrap_err()
                .contains("expected one of")
        );
        assert!(
            p(&["--duration", "soon"])
                .unwrap_err()
                .contains("number of seconds")
        );
        assert!(
            p(&["--duration", "-1"])
                .unwrap_err()
                .contains("more than 0")
        );
        assert_eq!(p(&["--json"]).unwrap_err(), "`--json` needs a value");
        assert!(
            p(&["--output", "otlp-http"])
                .unwrap_err()
                .contains("expected xray-udp or otlp-udp")
        );
    }
}
