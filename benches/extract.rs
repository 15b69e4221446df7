//! Attribute extraction speed: decoding a frame, and the full attribute set
//! of a SYN (what `handshakes` computes for every SYN and answer).

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use synlab::handshake::Tracker;
use synlab::model::craft::{build_packet, ethernet_frame, linux_example, Volatile};
use synlab::model::{decode_frame, Decoded};

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

fn bench(c: &mut Criterion) {
    let frame = linux_syn();
    let mut g = c.benchmark_group("extract");
    g.throughput(Throughput::Elements(1));
    g.bench_function("decode_frame (ethernet SYN)", |b| {
        b.iter(|| decode_frame(1, black_box(&frame)))
    });
    g.bench_function("decode_frame + attributes", |b| {
        b.iter(|| match decode_frame(1, black_box(&frame)) {
            Ok(Decoded::Tcp(seg)) => seg.attributes().len(),
            _ => 0,
        })
    });
    g.bench_function("tracker feed (new attempt per SYN)", |b| {
        let mut t = Tracker::new();
        let mut n = 0u64;
        b.iter(|| {
            n += 1;
            if let Ok(d) = decode_frame(1, black_box(&frame)) {
                t.feed(n, std::time::Duration::ZERO, &d);
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
