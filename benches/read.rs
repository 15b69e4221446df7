//! The read path of `handshakes` before the tracker: frames out of a
//! capture (mapped file and in-memory reader), each decoded, and the HTTP
//! heads read at the start of flows (issue 13).

use std::io::Cursor;
use std::path::{Path, PathBuf};

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use synlab::http::{parse_head, HeadReader};
use synlab::io::capture_file::CaptureReader;
use synlab::model::{decode_frame, Decoded, LinkType};

/// A capture of long downloads (data segments with HTTP heads).
fn capture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/stall-by-ttl.pcap")
}

/// Read and decode every frame; the TCP segments found.
fn read_all<R: std::io::Read>(mut r: CaptureReader<R>) -> usize {
    let mut tcp = 0;
    while let Some(Ok(frame)) = r.next_frame() {
        let Ok(link) = LinkType::try_from(frame.linktype) else {
            continue;
        };
        if let Decoded::Tcp(_) = decode_frame(link, black_box(frame.data)) {
            tcp += 1;
        }
    }
    tcp
}

fn bench(c: &mut Criterion) {
    let path = capture();
    let bytes = std::fs::read(&path).expect("capture");
    let mut g = c.benchmark_group("read");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("mapped file: read + decode", |b| {
        b.iter(|| read_all(CaptureReader::open(&path).expect("opens")))
    });
    g.bench_function("buffered file: read + decode", |b| {
        b.iter(|| read_all(CaptureReader::open_buffered(&path).expect("opens")))
    });
    g.bench_function("in memory: read + decode", |b| {
        b.iter(|| read_all(CaptureReader::new(&path, Cursor::new(&bytes[..])).expect("reads")))
    });
    g.finish();

    let response =
        b"HTTP/1.1 206 Partial Content\r\nServer: nginx\r\nDate: Thu, 26 Nov 2026 15:00:00 GMT\r\n\
        Content-Type: application/octet-stream\r\nContent-Length: 138192\r\n\
        Content-Range: bytes 123952-262143/262144\r\nConnection: keep-alive\r\n\r\n";
    let mut segment = response.to_vec();
    segment.resize(1448, 0x5a);
    let mut g = c.benchmark_group("http");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse_head (206 response)", |b| {
        b.iter(|| parse_head(black_box(response)))
    });
    g.bench_function("HeadReader::push (first 1448-byte segment)", |b| {
        b.iter(|| HeadReader::default().push(black_box(&segment)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
