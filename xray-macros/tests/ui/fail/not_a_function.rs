// The attributes go on functions with a body.
use xray_core::{capture_lambda_handler, capture_method};

#[capture_method]
struct Orders {
    count: u32,
}

#[capture_method]
impl Orders {
    fn count(&self) -> u32 {
        self.count
    }
}

trait Store {
    #[capture_method]
    fn load(&self) -> u32;
}

#[capture_lambda_handler]
enum Event {
    Created,
}

#[capture_method]
mod orders {}

fn main() {
    let orders = Orders { count: 1 };
    let _ = orders.count();
    let _ = Event::Created;
}
