//! How long computing a plan takes: once per recorded treatment, and again on every reprint of a
//! treatment whose plan is recomputed.

use std::hint::black_box;

use aftercare::care::{compute_plan, sample_input, Protocol, TreatedArea, TreatmentInput};
use criterion::{criterion_group, criterion_main, Criterion};

fn body_treatment() -> TreatmentInput {
    let area = |id: &str, depth_mm: f64| TreatedArea {
        area_id: id.to_string(),
        depth_mm,
    };
    TreatmentInput {
        tailoring: Default::default(),
        areas: vec![
            area("abdomen", 2.0),
            area("thighs", 2.5),
            area("arms", 1.5),
            area("back", 2.0),
        ],
        time_zone: "America/New_York".to_string(),
        ..sample_input()
    }
}

fn bench_compute_plan(c: &mut Criterion) {
    let protocol = Protocol::default_protocol();
    let face = sample_input();
    let body = body_treatment();
    c.bench_function("compute_plan/standard face", |b| {
        b.iter(|| compute_plan(black_box(&protocol), black_box(&face)))
    });
    c.bench_function("compute_plan/four body areas", |b| {
        b.iter(|| compute_plan(black_box(&protocol), black_box(&body)))
    });
    c.bench_function("protocol/parse default", |b| {
        b.iter(|| {
            Protocol::parse(
                "protocol/default.toml",
                black_box(aftercare::care::DEFAULT_PROTOCOL_TOML),
            )
        })
    });
}

criterion_group!(benches, bench_compute_plan);
criterion_main!(benches);
