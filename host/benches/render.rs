//! `./x bench`: what a render costs, for 10 and 1000 services, per bundled plugin.
//!
//! - cold: load (validate + compile, empty cache) and render
//! - warm: load from the compiled-plugin cache and render
//! - call: one fresh instantiation plus a trivial render (median of 20)
//! - peak: the process's peak resident memory (VmHWM) for that case alone;
//!   each case runs in a child process so peaks do not accumulate.
//!
//! Not a timed test: it prints numbers (docs/benchmarks.md keeps the latest).

use nix2dream::deployment::{self, Deployment};
use nix2dream::plugin::{limits::Limits, Plugin};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn deployment_with(services: usize) -> Deployment {
    let mut map = serde_json::Map::new();
    for i in 0..services {
        map.insert(
            format!("svc-{i}"),
            serde_json::json!({
                "process": {"argv": ["/nix/store/abc-app/bin/app", "--id", i.to_string(), "with space"]},
                "env": {"ID": i.to_string(), "MODE": "production"},
                "workingDirectory": format!("/var/lib/svc-{i}"),
                "configData": {"conf": {"path": "app.ini", "text": format!("[app]\nid = {i}\n")}},
                "volumes": {"data": {"path": format!("/var/lib/svc-{i}/data")}},
                "ports": {"http": {"port": 10000 + i}},
                "healthcheck": {"command": ["true"]},
                "restart": "always",
            }),
        );
    }
    deployment::from_value(serde_json::json!({"schema": "nix2dream/v1", "name": "bench", "services": map})).unwrap()
}

fn plugin_file(name: &str) -> PathBuf {
    let dist = std::env::var_os("NIX2DREAM_DIST").map(PathBuf::from).expect("run through `./x bench` (NIX2DREAM_DIST)");
    dist.join(format!("lib/nix2dream/plugins/{name}.wasm"))
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// One case, in this (child) process.
fn case(plugin: &str, services: usize) {
    let cache = tempfile::tempdir().unwrap();
    let file = plugin_file(plugin);
    let big = deployment_with(services);
    let tiny = deployment_with(1);
    let limits = Limits::default();

    let start = Instant::now();
    let p = Plugin::load(&file, limits, Some(cache.path())).unwrap();
    let out = p.render(&big, &Default::default()).unwrap().expect("renders");
    let cold = start.elapsed();
    assert!(!out.artifacts.is_empty());

    let start = Instant::now();
    let p = Plugin::load(&file, limits, Some(cache.path())).unwrap();
    p.render(&big, &Default::default()).unwrap().expect("renders");
    let warm = start.elapsed();

    let mut calls: Vec<Duration> = (0..20)
        .map(|_| {
            let start = Instant::now();
            p.render(&tiny, &Default::default()).unwrap().expect("renders");
            start.elapsed()
        })
        .collect();
    calls.sort();
    println!(
        "| {plugin} | {services} | {} | {} | {} | {} |",
        ms(cold),
        ms(warm),
        calls[calls.len() / 2].as_micros(),
        peak_rss_kib() / 1024
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(pos) = args.iter().position(|a| a == "--case") {
        case(&args[pos + 1], args[pos + 2].parse().unwrap());
        return;
    }
    println!("| plugin | services | cold load+render (ms) | warm load+render (ms) | instantiate + trivial call (µs) | peak RSS (MiB) |");
    println!("|---|---|---|---|---|---|");
    for plugin in ["procfile", "compose", "systemd"] {
        for services in [10, 1000] {
            let status = std::process::Command::new(&args[0])
                .args(["--case", plugin, &services.to_string()])
                .status()
                .unwrap();
            assert!(status.success(), "case {plugin}/{services} failed");
        }
    }
}
