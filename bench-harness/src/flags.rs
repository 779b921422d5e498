//! Command-line flags of the harness's commands (`bench-harness`, `xray-fake-daemon`,
//! `xray-local`): `--name value` or `--name=value`, and the values they share. Every error names
//! the flag and the text it got.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// The arguments, read flag by flag.
///
/// ```
/// use bench_harness::flags::Flags;
/// let mut f = Flags::new(["--addr=127.0.0.1:0", "--quiet", "--web", "x"].map(String::from));
/// assert_eq!(f.next_flag().as_deref(), Some("--addr"));
/// assert_eq!(f.value("--addr").unwrap(), "127.0.0.1:0");
/// assert_eq!(f.next_flag().as_deref(), Some("--quiet"));
/// assert!(!f.has_inline_value());
/// assert_eq!(f.next_flag().as_deref(), Some("--web"));
/// assert_eq!(f.value("--web").unwrap(), "x");
/// assert_eq!(f.next_flag(), None);
/// ```
#[derive(Debug)]
pub struct Flags<I> {
    args: I,
    /// The argument as given, for error messages.
    current: String,
    /// The text after `=` of the current `--name=value`.
    inline: Option<String>,
}

impl<I: Iterator<Item = String>> Flags<I> {
    /// Reads `args` (without the program name).
    pub fn new(args: impl IntoIterator<IntoIter = I>) -> Flags<I> {
        Flags {
            args: args.into_iter(),
            current: String::new(),
            inline: None,
        }
    }

    /// The next flag: the `--name` of `--name=value`, or the argument as given.
    pub fn next_flag(&mut self) -> Option<String> {
        let arg = self.args.next()?;
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg.clone(), None),
        };
        self.current = arg;
        self.inline = inline;
        Some(flag)
    }

    /// The whole argument the last flag came from (`--name=value` included).
    pub fn current(&self) -> &str {
        &self.current
    }

    /// True when the last flag was written `--name=value` (a switch must not be).
    pub fn has_inline_value(&self) -> bool {
        self.inline.is_some()
    }

    /// The value of `flag`: after its `=`, else the next argument.
    pub fn value(&mut self, flag: &str) -> Result<String, String> {
        self.inline
            .take()
            .or_else(|| self.args.next())
            .ok_or_else(|| format!("`{flag}` needs a value"))
    }
}

/// `HOST:PORT`, resolved to its first address.
pub fn addr(flag: &str, text: &str) -> Result<SocketAddr, String> {
    let invalid = |why: String| {
        format!("invalid `{flag}` value `{text}`: {why}; expected HOST:PORT, e.g. 127.0.0.1:2000")
    };
    text.to_socket_addrs()
        .map_err(|e| invalid(e.to_string()))?
        .next()
        .ok_or_else(|| invalid("it resolves to no address".to_owned()))
}

/// A positive number of seconds, fractions allowed.
pub fn seconds(flag: &str, text: &str) -> Result<Duration, String> {
    let invalid =
        || format!("invalid `{flag}` value `{text}`: expected a positive number of seconds");
    let secs: f64 = text.parse().map_err(|_| invalid())?;
    if secs.is_nan() || secs <= 0.0 {
        return Err(invalid());
    }
    Duration::try_from_secs_f64(secs).map_err(|_| invalid())
}

/// A positive whole number.
pub fn positive(flag: &str, text: &str) -> Result<usize, String> {
    text.parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("invalid `{flag}` value `{text}`: expected a positive whole number"))
}
