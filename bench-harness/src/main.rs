//! The load-test and measurement harness (the main job); see the harness issue.

fn main() {}
