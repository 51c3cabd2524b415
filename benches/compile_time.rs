//! Compile-time benchmark: a generated crate with 200 annotated fns, built with
//! `#[redis_traced]`, with `#[tracing::instrument]`, and with no attribute. Dependencies are
//! built once (shared target directory); each crate's own build is then timed after a touch,
//! repeated, medians, reported as ratios.
//!
//! `cargo bench --bench compile_time` (`COMPILE_ROUNDS`, default 3).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const FNS: usize = 200;

fn manifest(name: &str, repo: &Path) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
redis = {{ version = "1.8", default-features = false, features = ["tokio-comp"] }}
redis-trace = {{ path = "{repo}" }}
tracing = "0.1"

[workspace]
"#,
        repo = repo.display()
    )
}

fn source(attribute: Option<&str>) -> String {
    let mut out = String::from("#![allow(dead_code)]\nuse redis::AsyncCommands;\n\n");
    for i in 0..FNS {
        if let Some(attribute) = attribute {
            out.push_str(attribute);
            out.push('\n');
        }
        out.push_str(&format!(
            "pub async fn get_{i}(conn: &mut redis::aio::MultiplexedConnection, key: &str) -> redis::RedisResult<Option<String>> {{\n    conn.get(format!(\"user:{i}:{{key}}\")).await\n}}\n\n"
        ));
    }
    out
}

fn build(dir: &Path, target: &Path) -> f64 {
    let started = Instant::now();
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", target)
        .status()
        .expect("cargo build");
    assert!(status.success(), "building {} failed", dir.display());
    started.elapsed().as_secs_f64()
}

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        return;
    }
    let rounds: usize = std::env::var("COMPILE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = repo.join("target/compile-bench");
    let target = root.join("target");
    let variants = [
        ("plain", None),
        (
            "redis_traced",
            Some("#[redis_trace::redis_traced(op = \"GET\", key = key)]"),
        ),
        (
            "tracing_instrument",
            Some("#[tracing::instrument(skip(conn))]"),
        ),
    ];
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    for (name, attribute) in variants {
        let dir = root.join(name);
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::write(
            dir.join("Cargo.toml"),
            manifest(&format!("bench_{name}"), &repo),
        )
        .unwrap();
        std::fs::write(dir.join("src/lib.rs"), source(attribute)).unwrap();
        build(&dir, &target); // dependencies, once
    }
    for _ in 0..rounds {
        for (index, (name, attribute)) in variants.iter().enumerate() {
            let dir = root.join(name);
            // Rewrite the source so cargo rebuilds the crate itself (and only it).
            std::fs::write(
                dir.join("src/lib.rs"),
                source(*attribute) + &format!("// {}\n", Instant::now().elapsed().as_nanos()),
            )
            .unwrap();
            times[index].push(build(&dir, &target));
        }
    }
    let medians: Vec<f64> = times
        .iter_mut()
        .map(|samples| {
            samples.sort_by(f64::total_cmp);
            samples[samples.len() / 2]
        })
        .collect();
    println!("{FNS} async fns, debug build of the crate alone, {rounds} rounds, medians");
    println!("{:<22} {:>10} {:>16}", "attribute", "seconds", "× tracing");
    for (index, (name, _)) in variants.iter().enumerate() {
        println!(
            "{:<22} {:>10.2} {:>16.2}",
            name,
            medians[index],
            medians[index] / medians[2]
        );
    }
}
