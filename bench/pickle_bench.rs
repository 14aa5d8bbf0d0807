//! Throughput of the XCom -> pickle transcoder (src/pickle.rs) on a 10 MB
//! list of strings and integers, a 10,000-deep value, and big integers.
//!   cargo run --release --example pickle_bench
use std::time::Instant;

use task_runner::pickle::json_to_pickle;

fn bench(name: &str, json: &str) {
    let mut best = f64::MAX;
    let mut size = 0;
    for _ in 0..5 {
        let mut out = Vec::with_capacity(json.len());
        let started = Instant::now();
        json_to_pickle(json.as_bytes(), &mut out).expect("valid JSON");
        best = best.min(started.elapsed().as_secs_f64());
        size = out.len();
    }
    println!(
        "{name}: {:.1} MB JSON -> {:.1} MB pickle in {:.1} ms ({:.0} MB/s)",
        json.len() as f64 / 1e6,
        size as f64 / 1e6,
        best * 1e3,
        json.len() as f64 / 1e6 / best
    );
}

fn main() {
    let list: Vec<String> = (0..700_000)
        .map(|i| {
            if i % 3 == 0 {
                (i as u64 * 1_000_003).to_string()
            } else {
                format!("\"item-{i:07}\"")
            }
        })
        .collect();
    bench("10 MB list", &format!("[{}]", list.join(", ")));
    let deep = "[".repeat(10_000) + &"]".repeat(10_000);
    bench("10,000 levels deep", &deep);
    let big = format!("[{}]", vec!["1".repeat(1000); 1000].join(","));
    bench("1,000 integers of 1,000 digits", &big);
}
