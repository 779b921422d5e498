//! The benchmark harness's main job (placeholder: the load scenarios and the report come
//! later). The fake X-Ray daemon lives in this crate's library and in `xray-fake-daemon`.

fn main() {}
