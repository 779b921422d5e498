//! Synthetic Lambda-like functions.
