//! Attribute macros for `xray-core` (placeholder until the Lambda issue lands).
