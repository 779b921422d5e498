//! Sampling: which requests are traced.
//!
//! In Lambda the decision arrives in the trace header and no sampler runs. Services (and
//! functions that start their own segments) decide here:
//!
//! - [`LocalSampler`] applies a rules file ([`DEFAULT_RULES_JSON`] when none is given): the
//!   first rule whose patterns match wins; it samples its first `fixed_target` requests
//!   each second, then a `rate` fraction of the rest.
//! - `CentralizedSampler` (feature `service`) applies the rules configured in the X-Ray console, fetched
//!   through the daemon's TCP proxy by a background thread, and falls back to a
//!   [`LocalSampler`] until rules arrive or when they are more than an hour old.
//! - [`Sampler`] holds either, for code that should not care which.
//!
//! Patterns use [`wildcard_match`]: `*` any run of characters, `?` exactly one, case
//! ignored, whole text.
//!
//! # Example
//!
//! ```
//! use xray_core::sampling::{Reason, Sampler, SamplingRequest};
//!
//! let sampler = Sampler::default(); // one request a second, then 5 %
//! let request = SamplingRequest::http("api.example.com", "GET", "/orders/17");
//! let first = sampler.decide(&request);
//! assert!(first.sampled);
//! assert_eq!(first.reason, Reason::Reservoir);
//! ```
//!
//! # Cost
//!
//! [`Sampler::decide`] reads the clock, matches patterns, and updates one or two atomics; it
//! never allocates and takes no lock (the centralized sampler takes one once per thread after
//! each rules refresh). Figures are in `xray-core/benches/README.md`.

#[cfg(feature = "service")]
pub(crate) mod centralized;
mod local;
mod pattern;
mod random;
mod reservoir;
mod rules;

use std::fmt;

#[cfg(feature = "service")]
pub use centralized::{CentralizedOptions, CentralizedSampler, CentralizedStats};
pub use local::{DEFAULT_RULES_JSON, LocalSampler, RuleSummary};
pub use pattern::{wildcard_match, wildcard_match_case_sensitive};
pub use reservoir::Reservoir;
pub use rules::RulesError;

/// What a sampler looks at. A `None` or empty attribute matches every pattern.
///
/// ```
/// use xray_core::sampling::SamplingRequest;
/// let r = SamplingRequest {
///     service_name: Some("orders"),
///     service_type: Some("AWS::EC2::Instance"),
///     ..SamplingRequest::http("orders.internal", "POST", "/orders")
/// };
/// assert_eq!(r.method, Some("POST"));
/// ```
///
/// Not `#[non_exhaustive]` on purpose: callers build it with a struct literal and
/// `..Default::default()`, which that attribute forbids outside this crate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SamplingRequest<'a> {
    /// The `Host` header.
    pub host: Option<&'a str>,
    /// The HTTP method.
    pub method: Option<&'a str>,
    /// The URL path.
    pub url_path: Option<&'a str>,
    /// The segment name (centralized rules' `ServiceName`).
    pub service_name: Option<&'a str>,
    /// The segment origin, such as `AWS::EC2::Instance` (centralized rules' `ServiceType`).
    pub service_type: Option<&'a str>,
}

impl<'a> SamplingRequest<'a> {
    /// A request with host, method and path set.
    pub const fn http(host: &'a str, method: &'a str, url_path: &'a str) -> SamplingRequest<'a> {
        SamplingRequest {
            host: Some(host),
            method: Some(method),
            url_path: Some(url_path),
            service_name: None,
            service_type: None,
        }
    }
}

/// Why a request was or was not sampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Taken from the rule's per-second reservoir (or centralized quota).
    Reservoir,
    /// Chosen by the rule's rate.
    Rate,
    /// Borrowed (one a second) while a centralized rule waits for its first quota.
    Borrowed,
    /// Not sampled.
    NotSampled,
}

/// A sampling decision.
///
/// `Copy` and allocation-free: the rule name is held inline (see [`RuleName`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Outcome {
    /// Whether to record the request.
    pub sampled: bool,
    /// The centralized rule that matched, for the segment's `aws.xray.sampling_rule_name`;
    /// `None` for local rules.
    pub rule_name: Option<RuleName>,
    /// Why.
    pub reason: Reason,
}

impl Outcome {
    pub(crate) const fn new(reason: Reason, rule_name: Option<RuleName>) -> Outcome {
        Outcome {
            sampled: !matches!(reason, Reason::NotSampled),
            rule_name,
            reason,
        }
    }

    /// The decision as the trace header writes it (`Sampled=1` or `Sampled=0`).
    ///
    /// ```
    /// use xray_core::SamplingDecision;
    /// use xray_core::sampling::{Sampler, SamplingRequest};
    /// let d = Sampler::default().decide(&SamplingRequest::default()).header_decision();
    /// assert_eq!(d, SamplingDecision::Sampled);
    /// ```
    pub const fn header_decision(&self) -> crate::SamplingDecision {
        if self.sampled {
            crate::SamplingDecision::Sampled
        } else {
            crate::SamplingDecision::NotSampled
        }
    }
}

/// A sampling rule's name, stored inline so decisions can be copied without allocating or
/// touching a shared reference count.
///
/// X-Ray limits rule names to 32 characters; up to [`RuleName::CAPACITY`] bytes are kept
/// and a longer name (which the service never sends) is cut at a character boundary.
///
/// ```
/// use xray_core::sampling::RuleName;
/// let n = RuleName::new("checkout-rule");
/// assert_eq!(n.as_str(), "checkout-rule");
/// assert_eq!(n.to_string(), "checkout-rule");
/// assert_eq!(RuleName::new(&"é".repeat(40)).as_str().len(), 64);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RuleName {
    len: u8,
    bytes: [u8; RuleName::CAPACITY],
}

impl RuleName {
    /// The longest name kept, in bytes (32 four-byte characters would need 128; names are
    /// ASCII in practice).
    pub const CAPACITY: usize = 64;

    /// Copies `name`, cutting it at a character boundary if it is longer than
    /// [`RuleName::CAPACITY`] bytes.
    pub fn new(name: &str) -> RuleName {
        let mut end = name.len().min(RuleName::CAPACITY);
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        let mut bytes = [0u8; RuleName::CAPACITY];
        bytes[..end].copy_from_slice(&name.as_bytes()[..end]);
        RuleName {
            len: end as u8,
            bytes,
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        // Always valid: `new` copies whole characters only.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl AsRef<str> for RuleName {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for RuleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RuleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RuleName({:?})", self.as_str())
    }
}

impl PartialEq<&str> for RuleName {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Either sampler behind one `decide`.
///
/// An enum rather than a trait object: there are exactly two strategies, the recorder can
/// hold one without a type parameter or a `Box<dyn _>`, and the call stays a direct,
/// inlinable branch. Code that wants its own strategy can make the decision itself and pass
/// the result on.
///
/// ```
/// use xray_core::sampling::{LocalSampler, Sampler, SamplingRequest};
/// let s: Sampler = LocalSampler::default().into();
/// assert!(s.decide(&SamplingRequest::default()).sampled);
/// ```
///
/// Non-exhaustive: the `Centralized` variant exists with the `service` feature only.
#[derive(Debug)]
#[non_exhaustive]
pub enum Sampler {
    /// Rules from a file or the built-in default.
    Local(LocalSampler),
    /// Rules from the X-Ray service, through the daemon (feature `service`).
    #[cfg(feature = "service")]
    Centralized(CentralizedSampler),
}

impl Default for Sampler {
    /// The built-in local rules.
    fn default() -> Self {
        Sampler::Local(LocalSampler::default())
    }
}

impl Sampler {
    /// Decides whether to sample `request`.
    #[inline]
    pub fn decide(&self, request: &SamplingRequest<'_>) -> Outcome {
        match self {
            Sampler::Local(s) => s.decide(request),
            #[cfg(feature = "service")]
            Sampler::Centralized(s) => s.decide(request),
        }
    }
}

impl From<LocalSampler> for Sampler {
    fn from(s: LocalSampler) -> Self {
        Sampler::Local(s)
    }
}

#[cfg(feature = "service")]
impl From<CentralizedSampler> for Sampler {
    fn from(s: CentralizedSampler) -> Self {
        Sampler::Centralized(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_names_cut_on_character_boundaries() {
        assert_eq!(RuleName::new("").as_str(), "");
        let long = "a".repeat(63) + "é";
        assert_eq!(RuleName::new(&long).as_str(), "a".repeat(63));
        assert_eq!(RuleName::new("Default"), "Default");
        assert_eq!(format!("{:?}", RuleName::new("x")), "RuleName(\"x\")");
    }

    #[test]
    fn outcome_flags_follow_the_reason() {
        for (reason, sampled) in [
            (Reason::Reservoir, true),
            (Reason::Rate, true),
            (Reason::Borrowed, true),
            (Reason::NotSampled, false),
        ] {
            assert_eq!(Outcome::new(reason, None).sampled, sampled);
        }
        assert_eq!(
            Outcome::new(Reason::NotSampled, None).header_decision(),
            crate::SamplingDecision::NotSampled
        );
    }

    #[test]
    fn samplers_are_shareable() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Sampler>();
        shareable::<LocalSampler>();
        #[cfg(feature = "service")]
        shareable::<CentralizedSampler>();
        shareable::<Outcome>();
    }
}
