//! The autoref-specialisation ladder the macros call: `(&Wrap(v)).__xray_response(r)` and
//! `(&&&&&Wrap(e)).__xray_error(r)` resolve, at the call site, to the most specific way the
//! value's type allows to record it.

use std::error::Error;
use std::fmt::{Debug, Display};

use serde::Serialize;

use super::Recorder;

/// The value a macro hands to the dispatch traits.
#[derive(Debug)]
pub struct Wrap<'a, T: ?Sized>(pub &'a T);

/// Response dispatch, first choice: the value is `Serialize`.
pub trait ResponseSerialize {
    /// Records the response.
    fn __xray_response(&self, r: &mut Recorder<'_>);
}

impl<T: Serialize + ?Sized> ResponseSerialize for Wrap<'_, T> {
    fn __xray_response(&self, r: &mut Recorder<'_>) {
        r.response(self.0);
    }
}

/// Response dispatch, fallback: the value cannot be serialised and is not recorded.
pub trait ResponseOther {
    /// Does nothing.
    fn __xray_response(&self, r: &mut Recorder<'_>);
}

impl<T: ?Sized> ResponseOther for &Wrap<'_, T> {
    fn __xray_response(&self, _: &mut Recorder<'_>) {}
}

/// Error dispatch, first choice: `std::error::Error`, with its `source()` chain.
pub trait ErrorStd {
    /// Records the error.
    fn __xray_error(&self, r: &mut Recorder<'_>);
}

impl<T: Error> ErrorStd for &&&&&Wrap<'_, T> {
    fn __xray_error(&self, r: &mut Recorder<'_>) {
        r.error(self.0, Some(std::any::type_name::<T>()));
    }
}

/// Error dispatch: boxed thread-safe errors (`lambda_runtime::Error`, `anyhow::Error`).
pub trait ErrorBoxedSync {
    /// Records the error.
    fn __xray_error(&self, r: &mut Recorder<'_>);
}

impl<T: AsRef<dyn Error + Send + Sync + 'static> + ?Sized> ErrorBoxedSync for &&&&Wrap<'_, T> {
    fn __xray_error(&self, r: &mut Recorder<'_>) {
        let e: &(dyn Error + Send + Sync + 'static) = self.0.as_ref();
        r.error(e, None);
    }
}

/// Error dispatch: boxed errors (`Box<dyn Error>`).
pub trait ErrorBoxed {
    /// Records the error.
    fn __xray_error(&self, r: &mut Recorder<'_>);
}

impl<T: AsRef<dyn Error + 'static> + ?Sized> ErrorBoxed for &&&Wrap<'_, T> {
    fn __xray_error(&self, r: &mut Recorder<'_>) {
        r.error(self.0.as_ref(), None);
    }
}

/// Error dispatch: errors that are only `Display`.
pub trait ErrorDisplay {
    /// Records the error.
    fn __xray_error(&self, r: &mut Recorder<'_>);
}

impl<T: Display> ErrorDisplay for &&Wrap<'_, T> {
    fn __xray_error(&self, r: &mut Recorder<'_>) {
        r.error_display(self.0, std::any::type_name::<T>());
    }
}

/// Error dispatch: errors that are only `Debug`.
pub trait ErrorDebug {
    /// Records the error.
    fn __xray_error(&self, r: &mut Recorder<'_>);
}

impl<T: Debug> ErrorDebug for &Wrap<'_, T> {
    fn __xray_error(&self, r: &mut Recorder<'_>) {
        r.error_debug(self.0, std::any::type_name::<T>());
    }
}

/// Error dispatch, last resort: only the type's name is known.
pub trait ErrorOpaque {
    /// Records the error.
    fn __xray_error(&self, r: &mut Recorder<'_>);
}

impl<T: ?Sized> ErrorOpaque for Wrap<'_, T> {
    fn __xray_error(&self, r: &mut Recorder<'_>) {
        r.error_opaque(std::any::type_name::<T>());
    }
}
