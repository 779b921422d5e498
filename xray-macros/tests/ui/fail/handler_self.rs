// A handler's first argument is the event, not `self`.
use lambda_runtime::{Error, LambdaEvent};
use xray_core::capture_lambda_handler;

struct App;

impl App {
    #[capture_lambda_handler]
    async fn handle(&self, event: LambdaEvent<u32>) -> Result<u32, Error> {
        Ok(event.payload)
    }
}

fn main() {
    let _ = App.handle(LambdaEvent::new(1, Default::default()));
}
