// Literal names are checked against X-Ray's rules at compile time.
use xray_core::capture_method;

#[capture_method(name = "## {id}")]
fn braces() {}

#[capture_method(name = "")]
fn empty() {}

#[capture_method(
    name = "## a name that is far too long: \
     aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\
     aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\
     aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
)]
fn too_long() {}

fn main() {
    braces();
    empty();
    too_long();
}
