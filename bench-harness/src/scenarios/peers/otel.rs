//! The OpenTelemetry SDK with `opentelemetry-aws`'s X-Ray exporter, the simple processor
//! (each span translated and sent as its own datagram when it ends, as in a Lambda function
//! that must not lose spans when frozen), sending to a socket the harness bound.

use std::io;
use std::net::SocketAddr;

use opentelemetry::trace::{SpanKind, Tracer as _, TracerProvider as _, mark_span_as_active};
use opentelemetry_aws::trace::XrayIdGenerator;
use opentelemetry_aws::xray_exporter::XrayExporter;
use opentelemetry_aws::xray_exporter::daemon_client::XrayDaemonClient;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{Sampler, SdkTracer, SdkTracerProvider};
use workloads::synthetic::Work;

/// The SDK, an X-Ray id generator, every span sampled, the X-Ray exporter behind the simple
/// processor.
pub struct OtelXray {
    /// Kept so the tracer's processor stays alive; shut down on drop.
    provider: SdkTracerProvider,
    tracer: SdkTracer,
}

impl OtelXray {
    /// Exports to the daemon at `to`.
    pub fn new(to: SocketAddr) -> io::Result<OtelXray> {
        let exporter = XrayExporter::new(XrayDaemonClient::new(to)?);
        let provider = SdkTracerProvider::builder()
            .with_id_generator(XrayIdGenerator::default())
            .with_sampler(Sampler::AlwaysOn)
            // The exporter names the segment after the service, as X-Ray names it after the
            // function.
            .with_resource(Resource::builder().with_service_name("synthetic").build())
            .with_simple_exporter(exporter)
            .build();
        let tracer = provider.tracer("bench-harness");
        Ok(OtelXray { provider, tracer })
    }

    /// One invocation: a span for the handler and one per captured call.
    pub fn invoke(&self, work: Work) -> u64 {
        // A server span: the exporter makes it the segment (an internal root span would be a
        // subsegment without a parent, which it refuses).
        let handler = self
            .tracer
            .span_builder("handler")
            .with_kind(SpanKind::Server)
            .start(&self.tracer);
        let _active = mark_span_as_active(handler);
        let mut checksum = 1u64;
        for i in 0..work.calls {
            checksum = checksum.wrapping_add(
                self.tracer
                    .in_span("step", |_| super::work_step(u64::from(i))),
            );
        }
        if work.depth > 0 {
            checksum ^= self.nest(work.depth - 1, checksum);
        }
        checksum
    }

    fn nest(&self, depth: u32, x: u64) -> u64 {
        self.tracer.in_span("nest", |_| {
            if depth == 0 {
                self.tracer.in_span("step", |_| super::work_step(x))
            } else {
                self.nest(depth - 1, x ^ u64::from(depth))
            }
        })
    }
}

impl Drop for OtelXray {
    fn drop(&mut self) {
        // Flushes nothing (the simple processor has exported every ended span already); a
        // failure here only means it was already shut down.
        let _ = self.provider.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use std::net::UdpSocket;
    use std::time::Duration;

    use workloads::synthetic;

    use super::*;

    #[test]
    fn a_datagram_per_span_reaches_the_daemon() {
        let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
        daemon
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let peer = OtelXray::new(daemon.local_addr().unwrap()).unwrap();
        let work = Work {
            calls: 3,
            ..Work::default()
        };
        assert_eq!(peer.invoke(work), synthetic::bare::run(work).checksum);
        let mut buf = vec![0u8; 65_536];
        let mut names = Vec::new();
        for _ in 0..4 {
            let n = daemon.recv(&mut buf).unwrap();
            let text = std::str::from_utf8(&buf[..n]).unwrap();
            let (header, body) = text.split_once('\n').unwrap();
            assert!(header.contains("\"format\""), "{header}");
            let doc: serde_json::Value = serde_json::from_str(body).unwrap();
            names.push(doc["name"].as_str().unwrap().to_owned());
        }
        names.sort();
        assert_eq!(names, ["step", "step", "step", "synthetic"]);
    }
}
