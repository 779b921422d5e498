//! Emits one Lambda-style trace to a UDP listener on 127.0.0.1 and prints what arrived.
//!
//! `cargo run --release -p xray-core --example emit_to_listener`

use std::net::UdpSocket;
use std::time::Duration;

use xray_core::{
    Namespace, TraceHeader,
    model::{EntityTree, Timestamp},
    wire::{DATAGRAM_HEADER, DEFAULT_DATAGRAM_LIMIT, EmitBuffer, Emitter},
};

fn main() -> std::io::Result<()> {
    let daemon = UdpSocket::bind("127.0.0.1:0")?;
    daemon.set_read_timeout(Some(Duration::from_secs(2)))?;
    let emitter = Emitter::try_udp(daemon.local_addr()?, DEFAULT_DATAGRAM_LIMIT)?;

    // What Lambda hands the runtime for a sampled invocation.
    let header = TraceHeader::parse(
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    );
    let (Some(root), Some(parent)) = (header.root(), header.parent()) else {
        unreachable!("the header above is well formed");
    };
    let mut tree = EntityTree::new(root);
    let handler = tree.begin_detached_subsegment("## handler", parent, Timestamp::now());
    tree.entity_mut(handler)
        .put_annotation("ColdStart", true)
        .and_then(|e| e.put_annotation("Service", "register-user"))
        .expect("valid annotation keys");
    let db = tree.begin_subsegment(handler, "## submit_user", Timestamp::now());
    tree.entity_mut(db)
        .set_namespace(Namespace::Remote)
        .put_annotation("user_id", "u-42")
        .expect("valid annotation key");
    tree.end(db, Timestamp::now());
    tree.end(handler, Timestamp::now());
    emitter.emit(&mut tree, handler, &mut EmitBuffer::new());

    let mut buf = vec![0u8; 65_536];
    let n = daemon.recv(&mut buf)?;
    let datagram = &buf[..n];
    println!("{} bytes received by the listener:", datagram.len());
    println!(
        "{}",
        String::from_utf8_lossy(&datagram[..DATAGRAM_HEADER.len() - 1])
    );
    let doc: serde_json::Value = serde_json::from_slice(&datagram[DATAGRAM_HEADER.len()..])
        .map_err(std::io::Error::other)?;
    println!(
        "{}",
        serde_json::to_string_pretty(&doc).map_err(std::io::Error::other)?
    );
    println!("emitter counters: {:?}", emitter.stats());
    Ok(())
}
