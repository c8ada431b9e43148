//! `./x bench`: what a render costs, for 10 and 1000 services, per bundled plugin.
//!
//! - cold: load (validate + compile, empty cache) and render
//! - warm: load from the compiled-plugin cache and render
//! - call: one fresh instantiation plus a trivial render (median of 20)
//! - peak: the process's peak resident memory (VmHWM) for that case alone;
//!   each case runs in a child process so peaks do not accumulate.
//!
//! - scale: 10,000 to 100,000 services of a JSON deployment through the whole
//!   pipeline with procfile (parse + validate, render, write to disk), to
//!   show time and memory grow linearly.
//!
//! - chain: the render alone of 1,000 and 10,000 services, each depending
//!   on the next, with the plugins that look dependencies up (systemd,
//!   nixos, vm), to show it grows linearly.
//!
//! - floor: each plugin's whole pipeline (parse, render, write) beside a
//!   floor that parses the same JSON and writes the same files the same way
//!   (interleaved; medians of 15 at 10 services, 7 at 1,000, 3 at 10,000; the ratio is the
//!   median of the runs' ratios), and the median of each of nix2dream's
//!   steps: parse + validate, load the plugin, render, write; and the
//!   plugin's own code's render run natively (no sandbox, no contract),
//!   checked to write the same bytes.
//!
//! - `--render-loop PLUGIN N RUNS` / `--native-loop PLUGIN N RUNS`: the
//!   render step alone of N services, RUNS times in one process, through
//!   the sandbox / with the plugin's code run natively (medians).
//!
//! - `--load-loop PLUGIN N`: loads the plugin N times from a warm cache and
//!   does nothing else, to profile the fixed cost of a render (`perf record`).
//!
//! - nix: `nix2dream`'s Nix layer (nix-instantiate of nix/eval-file.nix) on
//!   generated services.nix files (flat, a chain, a ladder of dependencies)
//!   side by side with its floor, a bare `lib.evalModules` of a similar
//!   submodule with the same services; needs NIX2DREAM_NIXPKGS.
//!
//! Not a timed test: it prints numbers (docs/benchmarks.md keeps the latest).

use nix2dream::deployment::{self, Deployment};
use nix2dream::plugin::{engine::Cache, limits::Limits, Plugin};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[path = "support/native.rs"]
mod native;

// The executable's allocator (host/src/main.rs), for nix2dream and its
// floor alike.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    deployment::from_value(&serde_json::json!({"schema": "nix2dream/v1", "name": "bench", "services": map})).unwrap()
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

/// A plugin cache of its own under `dir` (a temporary directory).
fn cache_in(dir: &std::path::Path) -> Cache {
    Cache::open(&dir.join("cache"), &dir.join("state/cache.key"), 512 << 20).unwrap()
}

/// Room for the biggest generated deployments (up to 100,000 services):
/// the bench measures speed, not the default bounds on memory and output.
fn roomy_limits() -> Limits {
    Limits { memory_bytes: 2 << 30, output_bytes: 1 << 30, ..Limits::default() }
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// One case, in this (child) process.
fn case(plugin: &str, services: usize) {
    let tmp = tempfile::tempdir().unwrap();
    let cache = cache_in(tmp.path());
    let file = plugin_file(plugin);
    let big = deployment_with(services);
    let tiny = deployment_with(1);
    let limits = Limits::default();

    let start = Instant::now();
    let p = Plugin::load(&file, limits, Some(&cache)).unwrap();
    let out = p.render(&big, &Default::default()).unwrap().expect("renders");
    let cold = start.elapsed();
    assert!(!out.artifacts.is_empty());

    let start = Instant::now();
    let p = Plugin::load(&file, limits, Some(&cache)).unwrap();
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

/// A JSON deployment of `services` small services, each depending on the next.
fn big_json(services: usize) -> String {
    let mut map = serde_json::Map::new();
    for i in 0..services {
        let mut s = serde_json::json!({"process": {"argv": ["app", i.to_string()]}, "env": {"ID": i.to_string()}});
        if i + 1 < services {
            s["dependsOn"] = serde_json::json!({ format!("s{}", i + 1): {} });
        }
        map.insert(format!("s{i}"), s);
    }
    serde_json::json!({"schema": "nix2dream/v1", "name": "scale", "services": map, "ignoreUnsupported": ["dependsOn"]}).to_string()
}

/// The whole pipeline for one big deployment, in this (child) process.
fn scale(services: usize) {
    use nix2dream::{output, render};
    let tmp = tempfile::tempdir().unwrap();
    let text = big_json(services);
    let start = Instant::now();
    let d = deployment::from_json(&text).unwrap();
    let load = start.elapsed();
    let limits = roomy_limits();
    let cache = cache_in(tmp.path());
    let plugins = [Plugin::load(&plugin_file("procfile"), limits, Some(&cache)).unwrap()];
    let start = Instant::now();
    let options = render::Options { strict: false, allow_unsupported: Vec::new() };
    let outcome = render::render(&d, &plugins, &options).unwrap();
    let rendered = start.elapsed();
    let start = Instant::now();
    let mut out = output::OutputDir::open_for_writing(&tmp.path().join("out"), output::Wait::Yes).unwrap();
    let written = out.write_all(&outcome.files, false).unwrap();
    let write = start.elapsed();
    println!(
        "| {services} | {} | {} | {} | {} | {} |",
        written.written.len(),
        ms(load),
        ms(rendered),
        ms(write),
        peak_rss_kib() / 1024
    );
}

/// One plugin's whole pipeline (parse + validate, load from a warm cache,
/// render, write) beside its floor: parsing the same JSON (serde_json) and
/// writing the same files with the same staging, fsync and rename steps
/// (the host's own writer). In this (child) process; prints one row.
fn floor_case(plugin: &str, services: usize) {
    use nix2dream::{output, render};
    let tmp = tempfile::tempdir().unwrap();
    let text = big_json(services);
    let limits = roomy_limits();
    let cache = cache_in(tmp.path());
    drop(Plugin::load(&plugin_file(plugin), limits, Some(&cache)).unwrap()); // warm the cache
    // As in every render but the first seconds after a plugin is compiled:
    // its entry's check is remembered once its file has settled.
    std::thread::sleep(Duration::from_millis(2100));
    drop(Plugin::load(&plugin_file(plugin), limits, Some(&cache)).unwrap());
    let options = render::Options { strict: false, allow_unsupported: Vec::new() };
    // Interleaved, medians: one run's writes move by tens of percent.
    let runs = match services {
        0..=10 => 15,
        11..=1000 => 7,
        _ => 3,
    };
    let (mut n2ds, mut floors, mut ratios, mut steps) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut files = Vec::new();
    let records = native::big_deployment(services);
    let mut natives = Vec::new();
    for run in 0..runs {
        // The plugin's own code, natively (no sandbox, no contract).
        let deployment = records.clone();
        let start = Instant::now();
        let natively = native::render(plugin, deployment);
        natives.push(start.elapsed());
        let start = Instant::now();
        let d = deployment::from_json(&text).unwrap();
        let parsed = start.elapsed();
        let plugins = [Plugin::load(&plugin_file(plugin), limits, Some(&cache)).unwrap()];
        let loaded = start.elapsed();
        let outcome = render::render(&d, &plugins, &options).unwrap();
        let rendered = start.elapsed();
        let mut out = output::OutputDir::open_for_writing(&tmp.path().join(format!("n2d{run}")), output::Wait::Yes).unwrap();
        out.write_all(&outcome.files, false).unwrap();
        let n2d = start.elapsed();
        steps.push([parsed, loaded - parsed, rendered - loaded, n2d - rendered]);
        drop(out);
        let start = Instant::now();
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(parsed["services"].is_object());
        let mut out = output::OutputDir::open_for_writing(&tmp.path().join(format!("floor{run}")), output::Wait::Yes).unwrap();
        out.write_all(&outcome.files, false).unwrap();
        let floor = start.elapsed();
        n2ds.push(n2d);
        floors.push(floor);
        ratios.push(n2d.as_secs_f64() / floor.as_secs_f64());
        if run == 0 {
            let sandboxed: Vec<(String, Vec<u8>)> = outcome
                .files
                .iter()
                .map(|f| match &f.contents {
                    output::Contents::Bytes(b) => (f.path.clone(), b.clone()),
                    _ => panic!("{plugin} wrote {} other than in memory", f.path),
                })
                .collect();
            assert!(sandboxed == natively, "{plugin}: the native render did not write what the plugin wrote");
        }
        files = outcome.files;
    }
    n2ds.sort();
    natives.sort();
    floors.sort();
    ratios.sort_by(f64::total_cmp);
    let bytes: usize = files.iter().map(|f| match &f.contents { output::Contents::Bytes(b) => b.len(), _ => 0 }).sum();
    // Each step's median on its own: where nix2dream's time goes.
    let step = |i: usize| {
        let mut times: Vec<Duration> = steps.iter().map(|s: &[Duration; 4]| s[i]).collect();
        times.sort();
        ms(times[runs / 2])
    };
    println!(
        "| {plugin} | {services} | {} | {} KiB | {} | {} | {:.2}× | {} | {} | {} | {} | {} |",
        files.len(),
        bytes >> 10,
        ms(n2ds[runs / 2]),
        ms(floors[runs / 2]),
        ratios[runs / 2],
        step(0),
        step(1),
        step(2),
        step(3),
        ms(natives[runs / 2])
    );
}

/// The render alone (parse, plugin call; nothing written) of `services`
/// services, each depending on the next, with a plugin that looks
/// dependencies up (systemd, nixos, vm): a lookup by search inside the loop
/// over the services is quadratic, and shows here. In this (child) process.
fn chain_case(plugin: &str, services: usize) {
    use nix2dream::render;
    let tmp = tempfile::tempdir().unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&big_json(services)).unwrap();
    json["settings"] = serde_json::json!({"vm": {"kernel": "/nix/store/abc-linux"}});
    let d = deployment::from_value(&json).unwrap();
    let limits = roomy_limits();
    let cache = cache_in(tmp.path());
    let plugins = [Plugin::load(&plugin_file(plugin), limits, Some(&cache)).unwrap()];
    let options = render::Options { strict: false, allow_unsupported: Vec::new() };
    let start = Instant::now();
    match render::render(&d, &plugins, &options) {
        Ok(outcome) => {
            let took = start.elapsed();
            assert!(!outcome.files.is_empty());
            println!("| {plugin} | {services} | {} |", ms(took));
        }
        // A plugin slower than quadratic runs out of fuel (the default 1e11 units).
        Err(e) => println!("| {plugin} | {services} | failed after {}: {} |", ms(start.elapsed()), e.to_string().lines().next().unwrap_or("")),
    }
}

/// The dependency lookups of the plugins that order services (systemd,
/// nixos, vm) at 1,000 and 10,000 services: linear if 10× the services
/// take about 10× the time.
fn chains(program: &str) {
    println!("| plugin | services (each depending on the next) | render (ms) |");
    println!("|---|---|---|");
    for plugin in ["systemd", "nixos", "vm"] {
        for services in [1000, 10_000] {
            let status = std::process::Command::new(program).args(["--chain", plugin, &services.to_string()]).status().unwrap();
            assert!(status.success(), "chain case {plugin}/{services} failed");
        }
    }
}

/// A generated services.nix: `shape` is "flat" (no dependencies), "chain"
/// (each service depends on the next) or "ladder" (layers of two, each
/// depending on both of the next layer's).
fn services_nix(shape: &str, services: usize) -> String {
    let mut text = String::from("{\n  name = \"bench\";\n");
    for i in 0..services {
        let deps: Vec<usize> = match shape {
            "chain" if i + 1 < services => vec![i + 1],
            "ladder" if i / 2 + 1 < services / 2 => vec![(i / 2 + 1) * 2, (i / 2 + 1) * 2 + 1],
            _ => vec![],
        };
        let deps: String = deps.iter().map(|d| format!(" dependsOn.s{d} = {{ }};")).collect();
        text += &format!("  services.s{i} = {{ process.argv = [ \"app\" \"{i}\" ];{deps} }};\n");
    }
    text + "}\n"
}

/// The floors: a bare lib.evalModules, strict to JSON like eval-file.nix,
/// of the services with nix2dream's own service module ("own": what the
/// module system costs for these options, without nix2dream's checks and
/// normalization) or with a two-option submodule ("tiny": argv, dependsOn).
fn bare_floor_nix(services_file: &std::path::Path, service_module: Option<&std::path::Path>) -> String {
    let service = match service_module {
        Some(module) => format!(r#"types.submoduleWith {{ class = "service"; modules = [ {} ]; }}"#, module.display()),
        None => r#"types.submodule {
    options.process.argv = mkOption { type = types.listOf types.str; };
    options.dependsOn = mkOption { type = types.attrsOf (types.submodule { options.condition = mkOption { type = types.str; default = "started"; }; }); default = { }; };
  }"#
        .to_owned(),
    };
    format!(
        r#"let
  lib = import <nixpkgs/lib>;
  inherit (lib) mkOption types;
  service = {service};
in
(lib.evalModules {{
  modules = [
    {{ options.name = mkOption {{ type = types.str; }}; options.services = mkOption {{ type = types.attrsOf service; }}; }}
    {}
  ];
}}).config
"#,
        services_file.display()
    )
}

/// Runs one nix-instantiate --eval --strict --json, in this (child)
/// process, and prints its seconds and peak RSS (its own: the only child).
fn nix_case(what: &str, shape: &str, services: usize) {
    let nixpkgs = std::env::var("NIX2DREAM_NIXPKGS").expect("NIX2DREAM_NIXPKGS");
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("services.nix");
    std::fs::write(&file, services_nix(shape, services)).unwrap();
    let mut cmd = std::process::Command::new("nix-instantiate");
    cmd.args(["--eval", "--strict", "--json", "-I"]).arg(format!("nixpkgs={nixpkgs}"));
    let nix_dir = PathBuf::from(std::env::var("NIX2DREAM_DIST").unwrap()).join("share/nix2dream/nix");
    let service_module = nix_dir.join("modules/service.nix");
    if what == "n2d" {
        cmd.arg(nix_dir.join("eval-file.nix")).arg("--argstr").arg("file").arg(&file);
    } else {
        let floor = tmp.path().join("floor.nix");
        std::fs::write(&floor, bare_floor_nix(&file, (what == "own").then_some(service_module.as_path()))).unwrap();
        cmd.arg(&floor);
    }
    let start = Instant::now();
    let out = cmd.stdout(std::process::Stdio::null()).output().expect("running nix-instantiate");
    let took = start.elapsed();
    assert!(out.status.success(), "{what} {shape} {services}: {}", String::from_utf8_lossy(&out.stderr));
    // SAFETY: getrusage only writes into the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    println!("{} {}", took.as_secs_f64(), usage.ru_maxrss / 1024);
}

fn nix_layer(program: &str) {
    if std::env::var_os("NIX2DREAM_NIXPKGS").is_none() {
        println!("(the Nix layer is not measured: set NIX2DREAM_NIXPKGS to nixpkgs or its lib/)");
        return;
    }
    let measure = |what: &str, shape: &str, services: usize| -> (f64, u64) {
        let out = std::process::Command::new(program).args(["--nix", what, shape, &services.to_string()]).output().unwrap();
        assert!(out.status.success(), "nix case {what} {shape} {services} failed: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout);
        let mut parts = text.split_whitespace();
        (parts.next().unwrap().parse().unwrap(), parts.next().unwrap().parse().unwrap())
    };
    println!("| deployment | services | nix2dream eval (s) | peak (MiB) | MiB per 1,000 services | bare, own service module (s) | ratio | bare peak (MiB) | bare MiB per 1,000 services | bare, 2-option submodule (s) |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (shape, services) in [("flat", 10), ("flat", 100), ("flat", 1000), ("flat", 3000), ("chain", 1000), ("chain", 3000), ("ladder", 80)] {
        // Runs of a tenth of a second move with the machine's load: the
        // small cases are the median of 5, nix2dream and its floors interleaved.
        let runs = if services <= 100 { 5 } else { 1 };
        let mut samples: Vec<[(f64, u64); 3]> = (0..runs).map(|_| [measure("n2d", shape, services), measure("own", shape, services), measure("tiny", shape, services)]).collect();
        let mut median = |i: usize| {
            samples.sort_by(|a, b| a[i].0.total_cmp(&b[i].0));
            samples[runs / 2][i]
        };
        let ((n2d, mib), (own, own_mib), (tiny, _)) = (median(0), median(1), median(2));
        println!(
            "| {shape} | {services} | {n2d:.2} | {mib} | {:.0} | {own:.2} | {:.2}× | {own_mib} | {:.0} | {tiny:.2} |",
            mib as f64 * 1000.0 / services as f64,
            n2d / own,
            own_mib as f64 * 1000.0 / services as f64
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(pos) = args.iter().position(|a| a == "--nix") {
        nix_case(&args[pos + 1], &args[pos + 2], args[pos + 3].parse().unwrap());
        return;
    }
    if let Some(pos) = args.iter().position(|a| a == "--case") {
        case(&args[pos + 1], args[pos + 2].parse().unwrap());
        return;
    }
    if args.iter().any(|a| a == "--nix-only") {
        nix_layer(&args[0]);
        return;
    }
    if let Some(pos) = args.iter().position(|a| a == "--floor") {
        floor_case(&args[pos + 1], args[pos + 2].parse().unwrap());
        return;
    }
    if let Some(pos) = args.iter().position(|a| a == "--chain") {
        chain_case(&args[pos + 1], args[pos + 2].parse().unwrap());
        return;
    }
    if let Some(pos) = args.iter().position(|a| a == "--load-loop") {
        let tmp = tempfile::tempdir().unwrap();
        let cache = cache_in(tmp.path());
        let limits = Limits::default();
        for _ in 0..args[pos + 2].parse::<usize>().unwrap() {
            drop(Plugin::load(&plugin_file(&args[pos + 1]), limits, Some(&cache)).unwrap());
        }
        return;
    }
    if let Some(pos) = args.iter().position(|a| a == "--render-loop") {
        render_loop(&args[pos + 1], args[pos + 2].parse().unwrap(), args[pos + 3].parse().unwrap());
        return;
    }
    if let Some(pos) = args.iter().position(|a| a == "--native-loop") {
        native_loop(&args[pos + 1], args[pos + 2].parse().unwrap(), args[pos + 3].parse().unwrap());
        return;
    }
    if args.iter().any(|a| a == "--chain-only") {
        chains(&args[0]);
        return;
    }
    if args.iter().any(|a| a == "--floor-only") {
        floors(&args[0]);
        return;
    }
    if let Some(pos) = args.iter().position(|a| a == "--scale") {
        scale(args[pos + 1].parse().unwrap());
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
    println!();
    println!("| services (procfile) | files written | parse + validate (ms) | render (ms) | write (ms) | peak RSS (MiB) |");
    println!("|---|---|---|---|---|---|");
    for services in [10_000, 30_000, 100_000] {
        let status = std::process::Command::new(&args[0]).args(["--scale", &services.to_string()]).status().unwrap();
        assert!(status.success(), "scale case {services} failed");
    }
    println!();
    chains(&args[0]);
    println!();
    floors(&args[0]);
    println!();
    nix_layer(&args[0]);
}

/// The render step alone, `runs` times (for profiling and for comparing
/// two builds of a plugin: its spread is far smaller than a whole run's,
/// which includes fsyncs). Prints the fastest and the median.
fn render_loop(plugin: &str, services: usize, runs: usize) {
    let tmp = tempfile::tempdir().unwrap();
    let d = deployment::from_json(&big_json(services)).unwrap();
    let limits = roomy_limits();
    let cache = cache_in(tmp.path());
    let plugins = [Plugin::load(&plugin_file(plugin), limits, Some(&cache)).unwrap()];
    let options = nix2dream::render::Options { strict: false, allow_unsupported: Vec::new() };
    print_render_times(&format!("{plugin} {services}"), runs, || {
        let start = Instant::now();
        drop(nix2dream::render::render(&d, &plugins, &options).unwrap());
        start.elapsed()
    });
}

/// `--render-loop`'s twin for the plugin's own code run natively.
fn native_loop(plugin: &str, services: usize, runs: usize) {
    let records = native::big_deployment(services);
    print_render_times(&format!("{plugin} {services}, natively"), runs, || {
        let deployment = records.clone();
        let start = Instant::now();
        drop(native::render(plugin, deployment));
        start.elapsed()
    });
}

/// Runs `once` (which times what it measures) `runs` times and prints the
/// fastest and the median.
fn print_render_times(what: &str, runs: usize, mut once: impl FnMut() -> Duration) {
    let mut times: Vec<Duration> = (0..runs).map(|_| once()).collect();
    times.sort();
    println!("{what}: render fastest {} ms, median {} ms ({runs} runs)", ms(times[0]), ms(times[runs / 2]));
}

/// Every file-writing plugin beside its floor (no images: they are assembled
/// after the render, and measured apart in docs/benchmarks.md).
fn floors(program: &str) {
    println!("| plugin | services | files | bytes | nix2dream (ms) | floor (ms) | ratio | parse + validate | load plugin | render | write | native render |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for plugin in ["procfile", "systemd", "compose", "k8s"] {
        for services in [10, 1000, 10_000] {
            let status = std::process::Command::new(program).args(["--floor", plugin, &services.to_string()]).status().unwrap();
            assert!(status.success(), "floor case {plugin}/{services} failed");
        }
    }
}
