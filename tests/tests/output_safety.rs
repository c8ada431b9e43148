//! What `--out` goes through and survives: kill -9 at every step of a render
//! (and of the recovery after it), a failure at every step, concurrent
//! renders, links and FIFOs where output goes, file/directory clashes, long
//! names, and SIGINT while image archives are being built.
//!
//! Crashes are injected in-process (`NIX2DREAM_FAULT=kill:N` sends SIGKILL
//! at the N-th step that changes the disk; `error:N` fails that step), and
//! each sweep runs N over every step until the render completes.

use nix2dream_e2e::*;
use serde_json::json;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn hostile_render(input: &Path, out: &Path) -> Command {
    let mut cmd = nix2dream();
    cmd.arg("render").arg("--plugin").arg(test_plugin("hostile")).arg(input).arg("--out").arg(out);
    cmd
}

/// A deployment asking the hostile plugin for these settings.
fn hostile_input(dir: &Path, name: &str, settings: serde_json::Value) -> PathBuf {
    std::fs::create_dir_all(dir.join(name)).unwrap();
    write_deployment(&dir.join(name), json!({"web": {"process": {"argv": ["web"]}}}), json!({"settings": {"hostile": settings}}))
}

/// The bookkeeping a finished run may leave: only the lock, the manifest
/// and the records of what the next render may reuse (kept archives,
/// measured layers, known closures).
fn assert_no_leftovers(out: &Path, context: &str) {
    let state = out.join(".nix2dream");
    let mut found: Vec<String> =
        std::fs::read_dir(&state).map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect()).unwrap_or_default();
    found.sort();
    found.retain(|n| !["lock", "manifest.json", "kept.json", "layers.json", "closures.json"].contains(&n.as_str()));
    assert!(found.is_empty(), "{context}: leftovers in {}: {found:?}", state.display());
}

/// Sweeps a kill over every step of rendering `b` over `a`, and over every
/// step of the recovery run after each kill. After each crash, the next run
/// (here `render --check`, which writes nothing of its own) must leave
/// exactly the complete old or the complete new output, and no leftovers.
fn kill_sweep(root: &Path, a: &Path, b: &Path) -> u64 {
    let reference = |input: &Path, name: &str| {
        let out = root.join(name);
        let r = run(&mut hostile_render(input, &out));
        assert!(r.ok, "{}", r.stderr);
        snapshot(&out)
    };
    let (old, new) = (reference(a, "ref-a"), reference(b, "ref-b"));
    assert_ne!(old, new);
    let out = root.join("out");
    let mut n = 1;
    loop {
        let _ = std::fs::remove_dir_all(&out);
        assert!(run(&mut hostile_render(a, &out)).ok);
        let killed = hostile_render(b, &out).env("NIX2DREAM_FAULT", format!("kill:{n}")).output().unwrap();
        if killed.status.success() {
            assert_eq!(snapshot(&out), new, "the render that was not killed");
            assert_no_leftovers(&out, "a complete render");
            return n - 1;
        }
        assert_eq!(killed.status.signal(), Some(9), "step {n}: {}", String::from_utf8_lossy(&killed.stderr));
        // The recovery itself killed at each of its steps, then run in full.
        let mut m = 1;
        loop {
            let check = hostile_render(a, &out).arg("--check").env("NIX2DREAM_FAULT", format!("kill:{m}")).output().unwrap();
            if check.status.signal() != Some(9) {
                assert!(check.status.code().is_some_and(|c| c <= 1), "step {n}/{m}: {}", String::from_utf8_lossy(&check.stderr));
                break;
            }
            m += 1;
        }
        let now = snapshot(&out);
        assert!(now == old || now == new, "kill at step {n} (recovery killed {} times): neither the old nor the new output:\n{:#?}", m - 1, now.iter().map(|f| &f.0).collect::<Vec<_>>());
        assert_no_leftovers(&out, &format!("kill at step {n}"));
        n += 1;
    }
}

/// A has files, a stale file, and `x` as a file; B changes one, adds one in
/// new directories, drops one and turns `x` into a directory.
fn files_a_b(root: &Path) -> (PathBuf, PathBuf) {
    let a = hostile_input(root, "a", json!({"behaviour": "files", "files": {"same.txt": "same\n", "changed.txt": "old\n", "gone.txt": "stale\n", "x": "file\n", "dir/inner.txt": "old inner\n"}}));
    let b = hostile_input(root, "b", json!({"behaviour": "files", "files": {"same.txt": "same\n", "changed.txt": "new\n", "new/deep/added.txt": "added\n", "x/now-a-dir.txt": "dir\n", "dir/inner.txt": "new inner\n"}}));
    (a, b)
}

#[test]
fn a_kill_at_any_step_leaves_the_old_or_the_new_output() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = files_a_b(tmp.path());
    let steps = kill_sweep(tmp.path(), &a, &b);
    // Staging 6 files, the journal, 9 renames and links, the commit: the
    // sweep must have gone through all of them.
    assert!(steps >= 15, "only {steps} steps were swept");
}

#[test]
fn a_kill_while_image_archives_are_built_or_moved_leaves_the_old_or_the_new_output() {
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("blob");
    std::fs::write(&source, vec![3u8; 1 << 20]).unwrap();
    let input = |name: &str, count: u32| {
        std::fs::create_dir_all(tmp.path().join(name)).unwrap();
        write_deployment(
            &tmp.path().join(name),
            json!({"web": {"process": {"argv": ["web"]}, "configData": {"blob": {"source": source}}}}),
            json!({"settings": {"hostile": {"behaviour": "image", "source": source, "count": count}}}),
        )
    };
    let steps = kill_sweep(tmp.path(), &input("a", 1), &input("b", 3));
    assert!(steps >= 8, "only {steps} steps were swept");
}

#[test]
fn a_failure_at_any_step_leaves_the_previous_output_byte_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = files_a_b(tmp.path());
    let out = tmp.path().join("out");
    let mut n = 1;
    loop {
        let _ = std::fs::remove_dir_all(&out);
        assert!(run(&mut hostile_render(&a, &out)).ok);
        let before = snapshot(&out);
        let r = run(hostile_render(&b, &out).env("NIX2DREAM_FAULT", format!("error:{n}")));
        if r.ok {
            break;
        }
        // Building an artifact (4) or writing the output directory (5).
        assert!(matches!(r.code, Some(4 | 5)), "step {n}: exit code {:?}", r.code);
        assert!(r.stderr.contains("injected fault") && r.stderr.contains("nothing was written"), "step {n}: {}", r.stderr);
        assert_eq!(snapshot(&out), before, "step {n} failed and changed the output:\n{}", r.stderr);
        assert_no_leftovers(&out, &format!("failure at step {n}"));
        n += 1;
    }
    assert!(n > 15, "only {} steps were swept", n - 1);
}

#[test]
fn a_failed_switch_names_the_path_and_the_plugin() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = files_a_b(tmp.path());
    let out = tmp.path().join("out");
    assert!(run(&mut hostile_render(&a, &out)).ok);
    // The last steps move files into place; find one that names its file.
    let named = (1..40).find_map(|n| {
        let r = run(hostile_render(&b, &out).env("NIX2DREAM_FAULT", format!("error:{n}")));
        (r.stderr.contains("writing changed.txt (rendered by plugin hostile@0.1.0)")).then_some(r.stderr)
    });
    assert!(named.is_some(), "no failure named the file and the plugin");
}

#[test]
fn a_file_and_a_directory_of_one_path_are_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, _) = files_a_b(tmp.path());
    let out = tmp.path().join("out");
    assert!(run(&mut hostile_render(&a, &out)).ok);
    let before = snapshot(&out);
    let clash = hostile_input(tmp.path(), "clash", json!({"behaviour": "files", "files": {"changed.txt": "x", "b": "file", "b/c": "in a dir"}}));
    let r = run(&mut hostile_render(&clash, &out));
    assert!(!r.ok);
    assert!(r.stderr.contains(r#""b" is rendered as a file and as the directory holding "b/c" (plugin hostile@0.1.0)"#), "{}", r.stderr);
    assert_eq!(snapshot(&out), before);
    assert_no_leftovers(&out, "a refused render");
}

#[test]
fn file_names_up_to_the_system_limit_are_written() {
    // Staged files have short names of their own, so a 250-byte name fits.
    let tmp = tempfile::tempdir().unwrap();
    let name = "n".repeat(250);
    let input = hostile_input(tmp.path(), "long", json!({"behaviour": "files", "files": {format!("d/{name}"): "long\n"}}));
    let out = tmp.path().join("out");
    let r = run(&mut hostile_render(&input, &out));
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(out.join("d").join(&name)).unwrap(), "long\n");
}

/// Procfile deployments of `n` services, the second one different.
fn procfile_pair(root: &Path, n: usize) -> (PathBuf, PathBuf) {
    let deployment = |name: &str, argv: &str| {
        let services: serde_json::Map<String, serde_json::Value> =
            (0..n).map(|i| (format!("s{i}"), json!({"process": {"argv": [argv, i.to_string()]}}))).collect();
        std::fs::create_dir_all(root.join(name)).unwrap();
        write_deployment(&root.join(name), serde_json::Value::Object(services), json!({}))
    };
    (deployment("a", "sleep"), deployment("b", "echo"))
}

fn procfile_render(input: &Path, out: &Path) -> Command {
    let mut cmd = nix2dream();
    cmd.args(["render", "--plugin", "procfile"]).arg(input).arg("--out").arg(out);
    cmd
}

#[test]
fn concurrent_renders_into_one_directory_never_mix() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = procfile_pair(tmp.path(), 300);
    let reference = |input: &Path, name: &str| {
        let out = tmp.path().join(name);
        assert!(run(&mut procfile_render(input, &out)).ok);
        snapshot(&out)
    };
    let (snap_a, snap_b) = (reference(&a, "ref-a"), reference(&b, "ref-b"));
    let out = tmp.path().join("out");
    for round in 0..3 {
        let children: Vec<_> = (0..6)
            .map(|i| procfile_render(if i % 2 == 0 { &a } else { &b }, &out).stderr(std::process::Stdio::piped()).spawn().unwrap())
            .collect();
        for child in children {
            let o = child.wait_with_output().unwrap();
            assert!(o.status.success(), "round {round}: {}", String::from_utf8_lossy(&o.stderr));
        }
        let now = snapshot(&out);
        assert!(now == snap_a || now == snap_b, "round {round}: concurrent renders mixed their output");
        assert_no_leftovers(&out, "concurrent renders");
    }
}

#[test]
fn a_second_run_waits_for_the_lock_or_fails_with_no_wait() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = procfile_pair(tmp.path(), 3);
    let out = tmp.path().join("out");
    assert!(run(&mut procfile_render(&a, &out)).ok);
    // util-linux flock(1) takes the same kind of lock as nix2dream.
    let mut holder = Command::new("flock")
        .arg("--exclusive")
        .arg(out.join(".nix2dream/lock"))
        .args(["sleep", "3"])
        .spawn()
        .expect("flock(1) (util-linux) is needed");
    std::thread::sleep(Duration::from_millis(300));
    let r = run(procfile_render(&b, &out).arg("--no-wait"));
    assert!(!r.ok && r.stderr.contains("another nix2dream run is writing to") && r.stderr.contains("--no-wait"), "{}", r.stderr);
    let started = std::time::Instant::now();
    let r = run(&mut procfile_render(&b, &out));
    assert!(r.ok && r.stderr.contains("waiting for another nix2dream run"), "{}", r.stderr);
    assert!(started.elapsed() > Duration::from_secs(1), "the second run did not wait for the lock");
    holder.wait().unwrap();
    assert!(std::fs::read_to_string(out.join("bin/s0")).unwrap().contains("echo"), "the waiting run's output is not there");
}

#[test]
fn stale_files_are_never_removed_through_a_link_the_host_did_not_make() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, _) = procfile_pair(tmp.path(), 2);
    let out = tmp.path().join("out");
    assert!(run(&mut procfile_render(&a, &out)).ok);
    // The user replaces bin/ by a link to a folder of their own tools.
    std::fs::create_dir(out.join("mytools")).unwrap();
    std::fs::write(out.join("mytools/s0"), "the user's own s0").unwrap();
    std::fs::remove_dir_all(out.join("bin")).unwrap();
    std::os::unix::fs::symlink("mytools", out.join("bin")).unwrap();
    let elsewhere = write_deployment(
        &tmp.path().join("a"),
        json!({"s0": {"process": {"argv": ["sleep", "0"]}}, "s1": {"process": {"argv": ["sleep", "1"]}}}),
        json!({"settings": {"procfile": {"binDir": "launchers"}}}),
    );
    let r = run(&mut procfile_render(&elsewhere, &out));
    assert!(r.ok, "{}", r.stderr);
    assert!(!r.stderr.contains("removed"), "something was removed through the link: {}", r.stderr);
    assert_eq!(std::fs::read_to_string(out.join("mytools/s0")).unwrap(), "the user's own s0");
    assert!(out.join("launchers/s0").is_file());
}

/// Runs `cmd` for at most 20 s: a hang is a failure, not a stuck test.
fn run_bounded(cmd: &mut Command) -> Run {
    let mut child = cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let done = wait_for(20, || child.try_wait().unwrap());
    if done.is_none() {
        let _ = child.kill();
        panic!("{cmd:?} hung");
    }
    child.wait_with_output().unwrap().into()
}

#[test]
fn a_fifo_or_a_link_at_an_output_path_is_refused_without_hanging() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = procfile_pair(tmp.path(), 2);
    let out = tmp.path().join("out");
    assert!(run(&mut procfile_render(&a, &out)).ok);
    std::fs::remove_file(out.join("Procfile")).unwrap();
    let fifo = out.join("Procfile");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let r = run_bounded(procfile_render(&b, &out).arg("--check"));
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stderr.contains("Procfile: is a FIFO (named pipe), not a regular file"), "{}", r.stderr);
    let r = run_bounded(&mut procfile_render(&b, &out));
    assert!(!r.ok && r.stderr.contains("Procfile is a FIFO (named pipe); nix2dream only writes regular files"), "{}", r.stderr);
    // Even --force does not write through a link at an output path.
    std::fs::remove_file(&fifo).unwrap();
    let target = tmp.path().join("elsewhere");
    std::fs::write(&target, "not yours").unwrap();
    std::os::unix::fs::symlink(&target, &fifo).unwrap();
    let r = run_bounded(procfile_render(&b, &out).arg("--force"));
    assert!(!r.ok && r.stderr.contains("Procfile is a symbolic link"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "not yours");
}

#[test]
fn a_long_dependency_chain_renders() {
    // 40,000 services, each depending on the next: the cycle check once
    // recursed per link and overflowed the stack.
    let tmp = tempfile::tempdir().unwrap();
    let services: serde_json::Map<String, serde_json::Value> = (0..40_000)
        .map(|i| {
            let mut s = json!({"process": {"argv": ["sleep", "1"]}});
            if i + 1 < 40_000 {
                s["dependsOn"] = json!({ format!("s{}", i + 1): {} });
            }
            (format!("s{i}"), s)
        })
        .collect();
    let input = write_deployment(tmp.path(), serde_json::Value::Object(services), json!({}));
    let out = tmp.path().join("out");
    let r = run(procfile_render(&input, &out).args(["--allow-unsupported", "dependsOn"]));
    assert!(r.ok, "{}", &r.stderr[..r.stderr.len().min(2000)]);
    assert!(out.join("bin/s39999").is_file());
}

#[test]
fn deployment_text_reaches_the_terminal_escaped() {
    let tmp = tempfile::tempdir().unwrap();
    let input = write_deployment(
        tmp.path(),
        json!({"web\u{1b}]0;owned\u{7}": {"process": {"argv": ["x"]}, "dependsOn": {"db\u{1b}[2K\r": {}}}}),
        json!({}),
    );
    let r = run(&mut procfile_render(&input, &tmp.path().join("out")));
    assert!(!r.ok);
    assert!(!r.stderr.contains('\u{1b}') && !r.stderr.contains('\r') && !r.stderr.contains('\u{7}'), "raw control characters: {:?}", r.stderr);
    assert!(r.stderr.contains("\\u{1b}"), "{}", r.stderr);
}

#[test]
fn a_key_given_twice_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("d.json");
    std::fs::write(&input, r#"{"schema":"nix2dream/v1","name":"t","services":{"web":{"process":{"argv":["a"]}},"web":{"process":{"argv":["b"]}}}}"#).unwrap();
    let r = run(&mut procfile_render(&input, &tmp.path().join("out")));
    assert!(!r.ok && r.stderr.contains("services.web: given twice"), "{}", r.stderr);
}

#[test]
fn sigint_while_an_image_is_built_leaves_no_spool() {
    // A package of 256 MiB in the Nix store: its layer takes long enough to
    // write that the interrupt lands while the archive is being built.
    let tmp = tempfile::tempdir().unwrap();
    let pkg = tmp.path().join("big-pkg");
    std::fs::create_dir_all(pkg.join("share")).unwrap();
    let mut data = vec![0u8; 256 << 20];
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for chunk in data.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    std::fs::write(pkg.join("share/blob"), &data).unwrap();
    drop(data);
    let added = run(Command::new("nix-store").arg("--add").arg(&pkg).env("NIX_CONFIG", "build-users-group ="));
    assert!(added.ok, "nix-store --add failed (is Nix installed? scripts/install-deps.sh installs it): {}", added.stderr);
    let store_path = added.stdout.trim().to_owned();
    let input = write_deployment(tmp.path(), json!({"web": {"package": store_path, "process": {"argv": ["/bin/true"]}}}), json!({}));
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("mine.txt"), "the user's").unwrap();
    let before = snapshot(&out);
    let private_tmp = tmp.path().join("tmpdir");
    std::fs::create_dir(&private_tmp).unwrap();
    let mut child = nix2dream()
        .args(["render", "--plugin", "docker"])
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .env("TMPDIR", &private_tmp)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stage = out.join(".nix2dream/stage");
    let building = wait_for(60, || std::fs::read_dir(&stage).ok().and_then(|mut d| d.next()).map(|_| ()));
    assert!(building.is_some(), "the image archive never appeared in {}", stage.display());
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let status = wait_for(30, || child.try_wait().unwrap()).expect("nix2dream did not stop on SIGINT");
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.signal(), Some(2), "not ended by SIGINT: {status:?} {stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(!out.join(".nix2dream").exists(), "the interrupted run left its bookkeeping");
    assert_eq!(snapshot(&out), before, "the interrupted run changed the output");
    assert_eq!(std::fs::read_dir(&private_tmp).unwrap().count(), 0, "a spool was left in TMPDIR");
}
