//! [`TracerBuilder`]: a tracer from the environment's configuration with chosen parts
//! replaced.

use crate::config::{Config, ContextMissing};
use crate::emit::Emitter;
use crate::time::Clock;

use super::Tracer;

/// Configures a [`Tracer`] (see [`Tracer::builder`]).
#[derive(Debug, Default)]
#[must_use = "call `build` to get the tracer"]
pub struct TracerBuilder {
    config: Option<Config>,
    service_name: Option<String>,
    capture_response: Option<bool>,
    capture_error: Option<bool>,
    context_missing: Option<ContextMissing>,
    emitter: Option<Emitter>,
    clock: Option<Clock>,
}

impl TracerBuilder {
    /// Starts from `config` instead of the environment's.
    pub fn config(mut self, config: Config) -> TracerBuilder {
        self.config = Some(config);
        self
    }

    /// The service name (metadata namespace, `Service` annotation).
    pub fn service_name(mut self, name: &str) -> TracerBuilder {
        self.service_name = Some(name.to_owned());
        self
    }

    /// Whether captured functions record their response by default.
    pub fn capture_response(mut self, on: bool) -> TracerBuilder {
        self.capture_response = Some(on);
        self
    }

    /// Whether captured functions record their error by default.
    pub fn capture_error(mut self, on: bool) -> TracerBuilder {
        self.capture_error = Some(on);
        self
    }

    /// What a recording call with no trace in scope does.
    pub fn context_missing(mut self, strategy: ContextMissing) -> TracerBuilder {
        self.context_missing = Some(strategy);
        self
    }

    /// Sends through `emitter` (`Emitter::memory` in tests).
    pub fn emitter(mut self, emitter: Emitter) -> TracerBuilder {
        self.emitter = Some(emitter);
        self
    }

    /// Reads time from `clock`.
    pub fn clock(mut self, clock: Clock) -> TracerBuilder {
        self.clock = Some(clock);
        self
    }

    /// The tracer. Configuration warnings from the environment are written to stderr.
    pub fn build(self) -> Tracer {
        let mut config = self.config.unwrap_or_else(|| {
            let (config, warnings) = Config::from_env();
            for w in &warnings {
                eprintln!("[xray] {w}");
            }
            config
        });
        if let Some(v) = self.service_name {
            config.service_name = v;
        }
        if let Some(v) = self.capture_response {
            config.capture_response = v;
        }
        if let Some(v) = self.capture_error {
            config.capture_error = v;
        }
        if let Some(v) = self.context_missing {
            config.context_missing = v;
        }
        let clock = self.clock.unwrap_or(Clock::System);
        match self.emitter {
            Some(e) => Tracer::with_parts(config, e, clock),
            None => {
                let t = Tracer::new(config);
                Tracer::with_parts(t.config().clone(), t.emitter().clone(), clock)
            }
        }
    }
}
