//! The wire, each group with its baseline: our writer vs serde_json on the same document, our
//! header parser vs a naive split into `String`s, and the emitter's send vs a raw
//! `UdpSocket::send` of the same bytes.

use std::hint::black_box;
use std::net::UdpSocket;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde::Serialize;
use xray_core::{
    Namespace, SegmentId, TraceHeader, TraceId,
    model::{EntityIndex, EntityTree, Timestamp},
    wire::{EmitBuffer, Emitter, write_document},
};

const HEADER: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1|68fd508a:5";

/// The same document for both writers: an independent subsegment with a remote child,
/// annotations and metadata (about 470 bytes).
fn tree() -> (EntityTree, EntityIndex) {
    let mut t = EntityTree::new(TraceId::parse("1-5759e988-bd862e3fe1be46a994272793").unwrap());
    t.use_sequential_ids(0x5399_5c3f_42cd_8ad8);
    let h = t.begin_detached_subsegment(
        "## process_order",
        SegmentId::from_u64(0x9a91_97af_755a_6419),
        Timestamp::from_micros(1_461_096_053_375_180),
    );
    let c = t.begin_subsegment(
        h,
        "api.example.com",
        Timestamp::from_micros(1_461_096_053_377_690),
    );
    t.entity_mut(c)
        .set_namespace(Namespace::Remote)
        .http_method("POST")
        .http_url("https://api.example.com/health")
        .http_traced(true)
        .apply_http_status(200)
        .http_content_length(861);
    t.end(c, Timestamp::from_micros(1_461_096_053_403_790));
    t.entity_mut(h)
        .put_annotation("order_id", "A-1")
        .unwrap()
        .put_annotation("ColdStart", false)
        .unwrap()
        .put_metadata("app", "items", &[1, 2, 3])
        .unwrap();
    t.end(h, Timestamp::from_micros(1_461_096_053_404_200));
    (t, h)
}

#[derive(Serialize)]
struct Doc<'a> {
    name: &'a str,
    id: &'a str,
    trace_id: &'a str,
    parent_id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    start_time: f64,
    end_time: f64,
    annotations: Annotations<'a>,
    metadata: Metadata,
    subsegments: [Child<'a>; 1],
}

#[derive(Serialize)]
#[allow(non_snake_case)]
struct Annotations<'a> {
    order_id: &'a str,
    ColdStart: bool,
}

#[derive(Serialize)]
struct Metadata {
    app: AppMeta,
}

#[derive(Serialize)]
struct AppMeta {
    items: [u32; 3],
}

#[derive(Serialize)]
struct Child<'a> {
    name: &'a str,
    id: &'a str,
    start_time: f64,
    end_time: f64,
    namespace: &'a str,
    http: Http<'a>,
}

#[derive(Serialize)]
struct Http<'a> {
    request: Req<'a>,
    response: Resp,
}

#[derive(Serialize)]
struct Req<'a> {
    method: &'a str,
    url: &'a str,
    traced: bool,
}

#[derive(Serialize)]
struct Resp {
    status: u16,
    content_length: u64,
}

fn serde_doc() -> Doc<'static> {
    Doc {
        name: "## process_order",
        id: "53995c3f42cd8ad8",
        trace_id: "1-5759e988-bd862e3fe1be46a994272793",
        parent_id: "9a9197af755a6419",
        kind: "subsegment",
        start_time: 1_461_096_053.375_18,
        end_time: 1_461_096_053.404_2,
        annotations: Annotations {
            order_id: "A-1",
            ColdStart: false,
        },
        metadata: Metadata {
            app: AppMeta { items: [1, 2, 3] },
        },
        subsegments: [Child {
            name: "api.example.com",
            id: "53995c3f42cd8ad9",
            start_time: 1_461_096_053.377_69,
            end_time: 1_461_096_053.403_79,
            namespace: "remote",
            http: Http {
                request: Req {
                    method: "POST",
                    url: "https://api.example.com/health",
                    traced: true,
                },
                response: Resp {
                    status: 200,
                    content_length: 861,
                },
            },
        }],
    }
}

fn json_writer(c: &mut Criterion) {
    let (t, h) = tree();
    let mut out = Vec::with_capacity(4096);
    write_document(&t, h, &mut out);
    let doc = serde_doc();
    let mut group = c.benchmark_group("json_writer");
    group.throughput(Throughput::Bytes(out.len() as u64));
    group.bench_function("serde_json_baseline", |b| {
        b.iter(|| {
            out.clear();
            serde_json::to_writer(&mut out, black_box(&doc)).unwrap();
        });
    });
    group.bench_function("xray_core_writer", |b| {
        b.iter(|| {
            out.clear();
            write_document(black_box(&t), h, &mut out);
        });
    });
    group.finish();
}

/// Root, Parent, Sampled and the extra fields, each copied into a `String`.
type Naive = (
    Option<String>,
    Option<String>,
    Option<String>,
    Vec<(String, String)>,
);

fn naive_parse(s: &str) -> Naive {
    let mut root = None;
    let mut parent = None;
    let mut sampled = None;
    let mut extra = Vec::new();
    for part in s.split(';') {
        if let Some((k, v)) = part.split_once('=') {
            match k.trim() {
                "Root" => root = Some(v.trim().to_owned()),
                "Parent" => parent = Some(v.trim().to_owned()),
                "Sampled" => sampled = Some(v.trim().to_owned()),
                "Self" => {}
                other => extra.push((other.to_owned(), v.trim().to_owned())),
            }
        }
    }
    (root, parent, sampled, extra)
}

fn trace_header(c: &mut Criterion) {
    let mut group = c.benchmark_group("trace_header_parse");
    group.bench_function("naive_split_to_strings_baseline", |b| {
        b.iter(|| naive_parse(black_box(HEADER)));
    });
    group.bench_function("xray_core_parse", |b| {
        b.iter(|| {
            let h = TraceHeader::parse(black_box(HEADER));
            (h.root(), h.parent(), h.sampled(), h.extra_fields().count())
        });
    });
    group.finish();

    let h = TraceHeader::parse(HEADER);
    let mut group = c.benchmark_group("trace_header_format");
    group.bench_function("display_to_string_baseline", |b| {
        b.iter(|| black_box(&h).to_string());
    });
    group.bench_function("xray_core_encode_on_stack", |b| {
        b.iter(|| black_box(&h).encode());
    });
    group.finish();
}

fn udp_send(c: &mut Criterion) {
    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = daemon.local_addr().unwrap();
    let (t, h) = tree();
    let mut doc = Vec::new();
    write_document(&t, h, &mut doc);
    let mut datagram = xray_core::wire::DATAGRAM_HEADER.to_vec();
    datagram.extend_from_slice(&doc);

    let raw = UdpSocket::bind("127.0.0.1:0").unwrap();
    raw.connect(addr).unwrap();
    raw.set_nonblocking(true).unwrap();
    let emitter = Emitter::udp(addr, xray_core::wire::DEFAULT_DATAGRAM_LIMIT);
    let mut buf = EmitBuffer::new();

    // Nobody reads the daemon socket: once its queue is full the kernel drops at the receiver,
    // which costs both variants the same.
    let mut group = c.benchmark_group("udp_send");
    group.throughput(Throughput::Bytes(datagram.len() as u64));
    group.bench_function("raw_udp_send_baseline", |b| {
        b.iter(|| {
            let _ = raw.send(black_box(&datagram));
        });
    });
    group.bench_function("emitter_send_document", |b| {
        b.iter(|| emitter.send_raw_document(black_box(&doc), &mut buf));
    });
    let (mut t2, h2) = tree();
    group.bench_function("emitter_write_and_send_tree", |b| {
        b.iter(|| {
            emitter.emit(&mut t2, h2, &mut buf);
        });
    });
    group.finish();
    drop(daemon);
}

criterion_group!(benches, json_writer, trace_header, udp_send);
criterion_main!(benches);
