//! Attribute extraction speed: decoding a frame, and the full attribute set
//! of a SYN (what `handshakes` computes for every SYN and answer).

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use std::path::Path;
use std::time::Duration;

use synlab::cli::output::Style;
use synlab::cli::sink::{self, Format};
use synlab::handshake::{Attempt, Tracker};
use synlab::model::craft::{build_packet, ethernet_frame, linux_example, Volatile};
use synlab::model::{decode_frame, Decoded, LinkType};

fn linux_syn() -> Vec<u8> {
    let a = linux_example();
    let v = Volatile {
        src: "198.18.0.2:40000".parse().expect("addr"),
        dst: "198.18.0.130:80".parse().expect("addr"),
        seq: 1,
        ack: 0,
        ip_id: 7,
        flow_label: 0,
        tsval: 1,
        tsecr: 0,
    };
    let ip = build_packet(&a, &v).expect("crafts");
    ethernet_frame(&ip, [2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
}

/// A whole handshake as the tracker hands it out: the Linux SYN answered by
/// a SYN-ACK (the same packet with SYN+ACK set), both with full attributes.
fn answered_attempt() -> Attempt {
    let a = linux_example();
    let syn = Volatile {
        src: "198.18.0.2:40000".parse().expect("addr"),
        dst: "198.18.0.130:80".parse().expect("addr"),
        seq: 1,
        ack: 0,
        ip_id: 7,
        flow_label: 0,
        tsval: 1,
        tsecr: 0,
    };
    let syn_ack = Volatile {
        src: syn.dst,
        dst: syn.src,
        seq: 500,
        ack: 2,
        ..syn
    };
    let mut answer = a.clone();
    answer.insert(synlab::model::Field::TcpFlagsAck, true);
    let mut t = Tracker::new();
    for (n, (attrs, v)) in [(&a, &syn), (&answer, &syn_ack)].into_iter().enumerate() {
        let ip = build_packet(attrs, v).expect("crafts");
        let frame = ethernet_frame(&ip, [2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
        let d = decode_frame(LinkType::Ethernet, &frame);
        t.feed(n as u64 + 1, Duration::from_millis(n as u64), &d);
    }
    t.finish().pop().expect("one attempt")
}

/// `handshakes --json`'s writing of one answered attempt (~120 attributes).
fn bench_sink(c: &mut Criterion) {
    let attempt = answered_attempt();
    let mut out = Vec::with_capacity(1 << 20);
    let mut g = c.benchmark_group("sink");
    g.throughput(Throughput::Elements(1));
    g.bench_function("jsonl: one answered attempt", |b| {
        b.iter(|| {
            out.clear();
            let mut s =
                sink::for_format(Format::Jsonl, Path::new("x"), Style::new(false), &mut out);
            s.attempt(0, black_box(&attempt)).expect("writes");
        })
    });
    g.finish();
}

fn bench(c: &mut Criterion) {
    let frame = linux_syn();
    let mut g = c.benchmark_group("extract");
    g.throughput(Throughput::Elements(1));
    g.bench_function("decode_frame (ethernet SYN)", |b| {
        b.iter(|| decode_frame(LinkType::Ethernet, black_box(&frame)))
    });
    g.bench_function("decode_frame + attributes", |b| {
        b.iter(
            || match decode_frame(LinkType::Ethernet, black_box(&frame)) {
                Decoded::Tcp(seg) => seg.attributes().len(),
                _ => 0,
            },
        )
    });
    g.bench_function("tracker feed (new attempt per SYN)", |b| {
        let mut t = Tracker::new();
        let mut n = 0u64;
        b.iter(|| {
            n += 1;
            let d = decode_frame(LinkType::Ethernet, black_box(&frame));
            t.feed(n, std::time::Duration::ZERO, &d);
        })
    });
    g.finish();
}

criterion_group!(benches, bench, bench_sink);
criterion_main!(benches);
