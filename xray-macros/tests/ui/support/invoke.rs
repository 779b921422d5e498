// Included by the `ui/pass` programs: each is its own trybuild binary, so they share this file
// through `include!` rather than a module.

/// Installs a global tracer sending to a socket on 127.0.0.1, runs `handler` for one sampled
/// invocation carrying `payload` (current-thread runtime, timers on), and gives back what the
/// handler returned and the document the invocation sent.
fn invoke_sampled<P, F: std::future::Future>(
    handler: impl FnOnce(lambda_runtime::LambdaEvent<P>) -> F,
    payload: P,
) -> (F::Output, serde_json::Value) {
    let daemon = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let emitter = xray_core::wire::Emitter::udp(
        daemon.local_addr().unwrap(),
        xray_core::wire::DEFAULT_DATAGRAM_LIMIT,
    );
    let tracer = xray_core::Tracer::with_emitter(xray_core::Config::default(), emitter);
    assert!(xray_core::set_global(tracer).is_ok());

    let mut context = lambda_runtime::Context::default();
    context.xray_trace_id = Some(
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".to_owned(),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let out = rt.block_on(handler(lambda_runtime::LambdaEvent::new(payload, context)));

    let mut buf = vec![0u8; 65_536];
    let n = daemon.recv(&mut buf).unwrap();
    // After the 30-byte `{"format":"json","version":1}` line.
    (out, serde_json::from_slice(&buf[30..n]).unwrap())
}
