//! `./x bench` (or `cargo bench -p nix2dream --bench images`): what an image
//! archive costs beside `tar -cf` + `sync` of the same tree.
//!
//! A generated package (files of pseudo-random bytes, ~200 MB by default,
//! `--mib N` to change) stands for a store path. Each row is timed with a
//! `sync` before it and inside it (the floor's `sync`, the archive's own
//! fsync); the page cache is warm for both:
//!
//! - floor: `tar -cf` of the package, then `sync`;
//! - first image: the package's layer read, hashed and written once;
//! - image, layer measured: the same layer again (its digest known from an
//!   earlier image or render), written and counted only;
//! - 4 images, one archive each / all in one archive: four services on the
//!   package (per-service archives, and compose's `imageArchives = "shared"`);
//! - second render, nothing changed: `nix2dream render --plugin compose`
//!   twice into one directory (the archive kept), with a cache of its own
//!   (plugin compiled before, no layer digest known: the first is cold);
//!   needs `nix-store`, to add the package to the store, and NIX2DREAM_DIST.
//!
//! Not a timed test: it prints numbers (docs/benchmarks.md keeps the latest).

use nix2dream::image::{self, ImageConfig, ImageSpec, MeasuredLayers};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A tree of `mib` MiB in files of 4 to 124 KiB, 100 per directory.
fn package(root: &Path, mib: u64) -> PathBuf {
    let pkg = root.join("00000000000000000000000000000000-bench-package");
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (mut written, mut n) = (0u64, 0u64);
    while written < mib << 20 {
        let dir = pkg.join(format!("d{}", n / 100));
        std::fs::create_dir_all(&dir).unwrap();
        let len = ((next() % 31 + 1) * 4096) as usize;
        let bytes: Vec<u8> = (0..len / 8).flat_map(|_| next().to_le_bytes()).collect();
        std::fs::write(dir.join(format!("f{n}")), bytes).unwrap();
        written += len as u64;
        n += 1;
    }
    pkg
}

fn sync() {
    assert!(Command::new("sync").status().unwrap().success());
}

/// `f`'s time, after a `sync`, with a `sync` at its end.
fn timed(f: impl FnOnce()) -> Duration {
    sync();
    let start = Instant::now();
    f();
    sync();
    start.elapsed()
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn spec(name: &str) -> ImageSpec {
    ImageSpec {
        name: name.into(),
        tag: "bench".into(),
        config: ImageConfig { cmd: vec!["/bin/true".into()], ..Default::default() },
        max_layers: 100,
        ..Default::default()
    }
}

fn row(what: &str, time: Duration, floor: Duration) {
    println!("| {what} | {:.0} | {:.2}× |", time.as_secs_f64() * 1000.0, time.as_secs_f64() / floor.as_secs_f64());
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mib = args.iter().position(|a| a == "--mib").map(|p| args[p + 1].parse().unwrap()).unwrap_or(200);
    let tmp = tempfile::tempdir().unwrap();
    let pkg = package(tmp.path(), mib);
    let closure = [pkg.clone()];
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let fresh = |name: &str| {
        let path = out.join(name);
        let _ = std::fs::remove_file(&path);
        path
    };

    // Interleaved, median of 3: the floor, and the first image of the package.
    let (mut floors, mut firsts) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let dest = fresh("floor.tar");
        floors.push(timed(|| {
            let status = Command::new("tar").arg("-cf").arg(&dest).arg("-C").arg(tmp.path()).arg(pkg.file_name().unwrap()).status().unwrap();
            assert!(status.success(), "tar -cf failed");
        }));
        let dest = fresh("first.tar");
        firsts.push(timed(|| {
            image::build_archive_measured(&spec("first"), &closure, &dest, &mut MeasuredLayers::default()).unwrap();
        }));
    }
    let floor = median(floors);
    let bytes = std::fs::metadata(out.join("floor.tar")).unwrap().len();
    println!("package: {} MiB in files of 4-124 KiB (tar: {} MiB)", mib, bytes >> 20);
    println!();
    println!("| what | ms | × tar -cf + sync |");
    println!("|---|---|---|");
    row("tar -cf + sync (floor)", floor, floor);
    row("first image (read, hash, write once)", median(firsts), floor);

    let mut measured = MeasuredLayers::default();
    image::build_archive_measured(&spec("measure"), &closure, &fresh("measure.tar"), &mut measured).unwrap();
    let dest = fresh("again.tar");
    row("image, layer measured before", timed(|| drop(image::build_archive_measured(&spec("again"), &closure, &dest, &mut measured).unwrap())), floor);

    // Interleaved, median of 3: four services on the package.
    let names = ["web", "worker", "cron", "admin"];
    let specs: Vec<ImageSpec> = names.iter().map(|n| spec(n)).collect();
    let (mut per_service, mut shared) = (Vec::new(), Vec::new());
    let dest = out.join("all.tar");
    for _ in 0..3 {
        for n in names {
            fresh(&format!("{n}.tar"));
        }
        per_service.push(timed(|| {
            let mut measured = MeasuredLayers::default();
            for s in &specs {
                image::build_archive_measured(s, &closure, &out.join(format!("{}.tar", s.name)), &mut measured).unwrap();
            }
        }));
        fresh("all.tar");
        shared.push(timed(|| {
            let images: Vec<(&ImageSpec, &[PathBuf])> = specs.iter().map(|s| (s, &closure[..])).collect();
            image::build_shared_archive(&images, &dest, &mut MeasuredLayers::default()).unwrap();
        }));
    }
    row("4 images on the package, one archive each", median(per_service), floor);
    row("4 images on the package, one shared archive", median(shared), floor);
    println!(
        "\nshared archive: {} MiB; the four archives: {} MiB",
        std::fs::metadata(&dest).unwrap().len() >> 20,
        names.iter().map(|n| std::fs::metadata(out.join(format!("{n}.tar"))).unwrap().len()).sum::<u64>() >> 20
    );

    // Streamed: the process never holds a layer, whatever its size.
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).map(|v| v.trim().to_owned()).unwrap_or_default();
    println!("peak RSS of this process (package generation included): {peak}");

    second_render(tmp.path(), &pkg);
}

/// `nix2dream render --plugin compose` of one service on the package (added
/// to the Nix store), twice into one directory: the second keeps the archive.
fn second_render(tmp: &Path, pkg: &Path) {
    let Some(dist) = std::env::var_os("NIX2DREAM_DIST").map(PathBuf::from) else {
        println!("\nsecond render: skipped (NIX2DREAM_DIST not set; `./x bench` sets it)");
        return;
    };
    let added = Command::new("nix-store").arg("--add").arg(pkg).output();
    let store_path = match added {
        Ok(o) if o.status.success() => String::from_utf8(o.stdout).unwrap().trim().to_owned(),
        _ => {
            println!("\nsecond render: skipped (nix-store --add failed: is Nix installed?)");
            return;
        }
    };
    let write = |name: &str, service: serde_json::Value| {
        let file = tmp.join(name);
        std::fs::write(&file, serde_json::json!({"schema": "nix2dream/v1", "name": "bench", "services": {"web": service}}).to_string()).unwrap();
        file
    };
    let deployment = write("deployment.json", serde_json::json!({"process": {"argv": ["/bin/true"]}, "package": store_path, "closureRoots": [store_path]}));
    let warm_up = write("warm-up.json", serde_json::json!({"process": {"argv": ["/bin/true"]}}));
    // A cache of its own: the plugin compiled by the warm-up render, no
    // layer digest recorded by an earlier run, so the first render is cold.
    let cache = tmp.join("cache");
    let render = |input: &Path, out: &str| {
        timed(|| {
            let o = Command::new(dist.join("bin/nix2dream"))
                .env("NIX2DREAM_CACHE_DIR", &cache)
                .args(["render", "--plugin", "compose", "--out"])
                .arg(tmp.join(out))
                .arg(input)
                .output()
                .unwrap();
            assert!(o.status.success(), "render failed: {}", String::from_utf8_lossy(&o.stderr));
        })
    };
    render(&warm_up, "warm-up");
    let first = render(&deployment, "render");
    let second = render(&deployment, "render");
    println!(
        "\nnix2dream render --plugin compose, one service on the package: first {:.0} ms, second (nothing changed) {:.0} ms: {:.0}× faster",
        first.as_secs_f64() * 1000.0,
        second.as_secs_f64() * 1000.0,
        first.as_secs_f64() / second.as_secs_f64()
    );
}
