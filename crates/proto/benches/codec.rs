//! Codec micro-benchmarks: masking, UTF-8 validation, frame encode/decode,
//! permessage-deflate, and framing one publication for many subscribers.
//!
//! `cargo bench -p pushwire-proto --bench codec` runs them all (about two
//! minutes); add a filter such as `-- mask` for one group, or `-- --test`
//! to run each benchmark once as a smoke test.

use std::hint::black_box;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use pushwire_proto::ws::deflate::{Deflater, Inflater};
use pushwire_proto::ws::mask::{apply_mask, apply_mask_bytewise};
use pushwire_proto::ws::utf8::Utf8Validator;
use pushwire_proto::{Limits, Message, Receiver, Role, Sender};

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Payload sizes: a small chat message, 1 KiB, 16 KiB, 1 MiB.
const FRAME_SIZES: [(usize, &str); 4] = [
    (20, "20B"),
    (1 << 10, "1KiB"),
    (16 << 10, "16KiB"),
    (1 << 20, "1MiB"),
];

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + 7) as u8).collect()
}

fn mask(c: &mut Criterion) {
    let mut group = c.benchmark_group("mask");
    for (size, label) in FRAME_SIZES {
        let source = payload(size);
        let mut buf = source.clone();
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(BenchmarkId::new("apply_mask", label), |b| {
            b.iter(|| apply_mask(black_box(&mut buf), black_box(KEY), 0))
        });
        group.bench_function(BenchmarkId::new("bytewise", label), |b| {
            b.iter(|| apply_mask_bytewise(black_box(&mut buf), black_box(KEY), 0))
        });
        group.bench_function(BenchmarkId::new("memcpy", label), |b| {
            b.iter(|| black_box(&mut buf).copy_from_slice(black_box(&source)))
        });
    }
    group.finish();
}

/// About `len` bytes of text mixing 1- to 4-byte characters, cut at a
/// character boundary.
fn mixed_text(len: usize) -> String {
    let words = "Grüße, κόσμε! 日本語のテキスト and plain ASCII 🎉🚀 ";
    let mut text = String::with_capacity(len + words.len());
    while text.len() < len {
        text.push_str(words);
    }
    let mut end = len;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text
}

fn utf8(c: &mut Criterion) {
    let mut group = c.benchmark_group("utf8");
    for (size, label) in [(1usize << 10, "1KiB"), (64 << 10, "64KiB")] {
        let ascii = "The quick brown fox jumps over the lazy dog. "
            .repeat(size / 45 + 1)
            .into_bytes()[..size]
            .to_vec();
        let mixed = mixed_text(size).into_bytes();
        for (kind, text) in [("ascii", &ascii), ("mixed", &mixed)] {
            group.throughput(Throughput::Bytes(text.len() as u64));
            let id = format!("{kind}/{label}");
            group.bench_function(BenchmarkId::new("validator", &id), |b| {
                b.iter(|| {
                    let mut v = Utf8Validator::default();
                    v.feed(black_box(text)).unwrap();
                    v.finish().unwrap();
                })
            });
            group.bench_function(BenchmarkId::new("std_from_utf8", &id), |b| {
                b.iter(|| std::str::from_utf8(black_box(text)).unwrap().len())
            });
        }
    }
    group.finish();
}

fn frame(c: &mut Criterion) {
    let mut group = c.benchmark_group("frame");
    for (size, label) in FRAME_SIZES {
        let message = Message::binary(Bytes::from(payload(size)));
        group.throughput(Throughput::Bytes(size as u64));

        let mut server = Sender::new(Role::Server, None, 0);
        group.bench_function(BenchmarkId::new("encode_server", label), |b| {
            b.iter(|| server.encode(black_box(&message), KEY))
        });
        let mut client = Sender::new(Role::Client, None, 0);
        group.bench_function(BenchmarkId::new("encode_client", label), |b| {
            b.iter(|| client.encode(black_box(&message), KEY))
        });

        // A masked frame as a server receives it; each iteration decodes a
        // fresh copy, since decoding unmasks in place and consumes it.
        let frame = client.encode(&message, KEY);
        let mut wire = Vec::with_capacity(frame.len());
        wire.extend_from_slice(frame.header());
        wire.extend_from_slice(&frame.payload);
        let mut rx = Receiver::new(Role::Server, Limits::default(), None);
        let batch = if size >= 16 << 10 {
            BatchSize::LargeInput
        } else {
            BatchSize::SmallInput
        };
        group.bench_function(BenchmarkId::new("decode_server", label), |b| {
            b.iter_batched(
                || BytesMut::from(&wire[..]),
                |mut buf| {
                    let message = rx.decode(&mut buf).unwrap();
                    debug_assert!(message.as_ref().is_some_and(|m| m.len() == size));
                    (buf, message)
                },
                batch,
            )
        });
    }
    group.finish();
}

/// About 1 KiB of JSON, as a chat or telemetry message might be.
fn json_message() -> Vec<u8> {
    let mut out = String::from(r#"{"type":"update","seq":1042,"items":["#);
    let mut i = 0;
    while out.len() < 1000 {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!(
            r#"{{"id":{i},"user":"user-{}","text":"message number {i}","ok":{}}}"#,
            i * 7 % 13,
            i % 2 == 0
        ));
        i += 1;
    }
    out.push_str("]}");
    out.into_bytes()
}

fn deflate(c: &mut Criterion) {
    let mut group = c.benchmark_group("deflate");
    let message = json_message();
    group.throughput(Throughput::Bytes(message.len() as u64));
    for (takeover, name) in [(true, "context_takeover"), (false, "no_context_takeover")] {
        let mut deflater = Deflater::new(1, 15, !takeover);
        let mut inflater = Inflater::new(!takeover);
        let limit = 1 << 20;
        group.bench_function(BenchmarkId::new("compress_inflate", name), |b| {
            b.iter(|| {
                let packed = deflater.compress(black_box(&message));
                let mut out = Vec::with_capacity(message.len());
                inflater.inflate(&packed, &mut out, limit).unwrap();
                inflater.finish_message(&mut out, limit).unwrap();
                debug_assert_eq!(out.len(), message.len());
                out
            })
        });
    }
    group.finish();
}

/// One publication framed for 1,000 subscribers, each with its own
/// `Sender` (as each connection has): with the payload shared by
/// reference, as the broadcast endpoint does, and with a copy per
/// subscriber, as a server that builds each subscriber's message does.
fn fanout(c: &mut Criterion) {
    const SUBSCRIBERS: usize = 1000;
    let mut group = c.benchmark_group("fanout");
    group.throughput(Throughput::Elements(SUBSCRIBERS as u64));
    let mut senders: Vec<Sender> = (0..SUBSCRIBERS)
        .map(|_| Sender::new(Role::Server, None, 0))
        .collect();
    for (size, label) in [(100, "100B"), (1 << 10, "1KiB")] {
        let publication = Message::binary(Bytes::from(payload(size)));
        group.bench_function(BenchmarkId::new("shared_payload", label), |b| {
            b.iter(|| {
                let mut queued = 0;
                for sender in &mut senders {
                    queued += sender.encode(black_box(&publication), KEY).len();
                }
                queued
            })
        });
        let bytes = payload(size);
        group.bench_function(BenchmarkId::new("copied_payload", label), |b| {
            b.iter(|| {
                let mut queued = 0;
                for sender in &mut senders {
                    let own = Message::binary(black_box(&bytes[..]).to_vec());
                    queued += sender.encode(&own, KEY).len();
                }
                queued
            })
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

criterion_group! {
    name = benches;
    config = config();
    targets = mask, utf8, frame, deflate, fanout
}
criterion_main!(benches);
