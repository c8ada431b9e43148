//! What the host puts in an image, checked by running it under Docker: the
//! program an image starts must be in it (a warning, an error with
//! `--strict`, when it is not), and a config file read from a `source` is
//! readable by the service only.

use nix2dream_e2e::*;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

fn render(input: &Path, out: &Path, extra: &[&str]) -> Run {
    run(nix2dream().args(["render", "--plugin", "docker"]).args(extra).arg(input).arg("--out").arg(out))
}

/// Loads `archive` into Docker, runs it (`docker run --rm RUN_ARGS IMAGE CMD`), removes it.
fn docker_run(archive: &Path, run_args: &[&str], cmd: &[&str]) -> Run {
    let load = run(Command::new("docker").args(["load", "-i"]).arg(archive));
    assert!(load.ok, "docker load: {}", load.stderr);
    let image = load.stdout.trim().rsplit("Loaded image: ").next().unwrap().trim().to_owned();
    let ran = run(Command::new("docker").args(["run", "--rm"]).args(run_args).arg(&image).args(cmd));
    let _ = run(Command::new("docker").args(["rmi", "-f", &image]));
    ran
}

fn service(busybox: Option<&str>, argv: &[&str]) -> Value {
    let mut s = json!({"process": {"argv": argv}});
    if let Some(b) = busybox {
        s["package"] = json!(b);
    }
    s
}

#[test]
fn a_program_missing_from_the_image_is_named_before_docker_run_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let busybox = busybox_package(tmp.path());
    let out = tmp.path().join("out");
    // The case: /bin/sh, while the image holds only the store.
    let input = write_deployment(tmp.path(), json!({"web": service(Some(&busybox), &["/bin/sh", "-c", "echo hi"])}), json!({}));
    let r = render(&input, &out, &[]);
    assert!(r.ok, "{}", r.stderr);
    assert!(
        r.stderr.contains("warning: plugin docker@0.1.0: service \"web\": image test-web: the Cmd program \"/bin/sh\" is not in the image"),
        "{}",
        r.stderr
    );
    // The warning is right: Docker cannot start it.
    let ran = docker_run(&out.join("images/web.tar"), &[], &[]);
    assert!(!ran.ok && ran.stderr.contains("/bin/sh"), "docker ran an image whose program is missing: {}{}", ran.stdout, ran.stderr);

    // --strict: an error, and the previous output stays as it was.
    let before = snapshot(&out);
    let r = render(&input, &out, &["--strict"]);
    assert!(!r.ok && r.stderr.contains("\"/bin/sh\" is not in the image") && r.stderr.contains("[--strict]"), "{}", r.stderr);
    assert_eq!(snapshot(&out), before);

    // A name on the image's PATH (the package's bin/), and preStart's `sh`: no warning, and it runs.
    let mut ok = service(Some(&busybox), &["echo", "hi"]);
    ok["preStart"] = json!("test -d /tmp");
    let input = write_deployment(tmp.path(), json!({"web": ok}), json!({}));
    let r = render(&input, &out, &["--strict"]);
    assert!(r.ok && !r.stderr.contains("is not"), "{}", r.stderr);
    let ran = docker_run(&out.join("images/web.tar"), &[], &[]);
    assert!(ran.ok && ran.stdout == "hi\n", "{}{}", ran.stdout, ran.stderr);

    // Without any package, preStart's shell and a bare name are both missing.
    let mut bare = service(None, &["server"]);
    bare["preStart"] = json!("true");
    let input = write_deployment(tmp.path(), json!({"web": bare}), json!({}));
    let r = render(&input, &out, &[]);
    assert!(r.ok, "{}", r.stderr);
    assert!(r.stderr.contains("the Entrypoint program \"sh\" is not on the image's PATH"), "{}", r.stderr);
    assert!(r.stderr.contains("the Cmd program \"server\" is not on the image's PATH"), "{}", r.stderr);
}

#[test]
fn a_source_config_file_is_readable_by_the_service_only() {
    let tmp = tempfile::tempdir().unwrap();
    let busybox = busybox_package(tmp.path());
    let secret = tmp.path().join("db-password");
    std::fs::write(&secret, "hunter2\n").unwrap();
    let mut svc = service(Some(&busybox), &["sh", "-c", "busybox stat -c '%a %U %G' /etc/db-password /etc/motd; cat /etc/db-password"]);
    svc["user"] = json!("app");
    svc["configData"] = json!({
        "password": {"path": "/etc/db-password", "source": secret},
        "motd": {"path": "/etc/motd", "text": "hello\n"},
    });
    let input = write_deployment(tmp.path(), json!({"db": svc}), json!({}));
    let out = tmp.path().join("out");
    let r = render(&input, &out, &["--strict"]);
    assert!(r.ok, "{}", r.stderr);
    let archive = out.join("images/db.tar");
    let ran = docker_run(&archive, &[], &[]);
    assert!(ran.ok, "{}{}", ran.stdout, ran.stderr);
    assert_eq!(ran.stdout, "440 root app\n444 root root\nhunter2\n", "modes and owners, then the service reads its secret");
    // Another user of the container cannot.
    let other = docker_run(&archive, &["--user", "4242:4242"], &["cat", "/etc/db-password"]);
    assert!(!other.ok && other.stderr.contains("Permission denied"), "another user read the secret: {}{}", other.stdout, other.stderr);
}

/// `--plugin docker --plugin compose --plugin k8s`: the same image for the
/// same service is assembled once; the other plugins' archives are hard
/// links to it (one inode on disk), and each still loads into Docker.
#[test]
fn an_image_several_plugins_ask_for_is_built_once_per_render() {
    use std::os::unix::fs::MetadataExt;
    let tmp = tempfile::tempdir().unwrap();
    let busybox = busybox_package(tmp.path());
    let out = tmp.path().join("out");
    let input = write_deployment(tmp.path(), json!({"web": service(Some(&busybox), &["echo", "hi"])}), json!({}));
    let r = run(nix2dream().args(["render", "--plugin", "docker", "--plugin", "compose", "--plugin", "k8s"]).arg(&input).arg("--out").arg(&out));
    assert!(r.ok, "{}", r.stderr);
    let archives: Vec<std::fs::Metadata> =
        ["docker", "compose", "k8s"].iter().map(|p| std::fs::metadata(out.join(p).join("images/web.tar")).unwrap()).collect();
    assert!(archives.iter().all(|m| m.ino() == archives[0].ino() && m.nlink() == 3), "not one archive linked three times");
    let ran = docker_run(&out.join("compose/images/web.tar"), &[], &[]);
    assert!(ran.ok && ran.stdout == "hi\n", "{}{}", ran.stdout, ran.stderr);
    // A second render, with nothing changed, keeps them linked and up to date.
    let r = run(nix2dream().args(["render", "--check", "--plugin", "docker", "--plugin", "compose", "--plugin", "k8s"]).arg(&input).arg("--out").arg(&out));
    assert!(r.ok, "{}", r.stderr);
}

/// A second render with nothing changed keeps the image archive in place
/// (the same file, not rewritten); an archive someone altered, or a service
/// that changed, is built again.
#[test]
fn an_unchanged_image_is_kept_and_an_altered_one_rebuilt() {
    use std::os::unix::fs::MetadataExt;
    let tmp = tempfile::tempdir().unwrap();
    let busybox = busybox_package(tmp.path());
    let out = tmp.path().join("out");
    let archive = out.join("images/web.tar");
    let input = write_deployment(tmp.path(), json!({"web": service(Some(&busybox), &["echo", "hi"])}), json!({}));
    assert!(render(&input, &out, &[]).ok);
    let first = std::fs::read(&archive).unwrap();
    let identity = |m: std::fs::Metadata| (m.ino(), m.ctime(), m.ctime_nsec());
    let before = identity(std::fs::metadata(&archive).unwrap());
    // Nor is Nix asked for the closure again: no nix-store on the PATH.
    let empty = tempfile::tempdir().unwrap();
    let r = run(nix2dream().env("PATH", empty.path()).args(["render", "--plugin", "docker"]).arg(&input).arg("--out").arg(&out));
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(identity(std::fs::metadata(&archive).unwrap()), before, "the unchanged archive was written again");

    // Altered in place (its modification time restored): built again, whole.
    let mtime = std::fs::metadata(&archive).unwrap().modified().unwrap();
    let mut altered = first.clone();
    altered[first.len() / 2] ^= 1;
    std::fs::write(&archive, &altered).unwrap();
    std::fs::File::options().write(true).open(&archive).unwrap().set_modified(mtime).unwrap();
    let r = render(&input, &out, &["--check"]);
    assert_eq!(r.code, Some(1), "--check compares bytes, never trusts the record: {}", r.stderr);
    assert!(render(&input, &out, &[]).ok);
    assert!(std::fs::read(&archive).unwrap() == first, "the altered archive was kept");

    // The service changed: a new image.
    let mut changed = service(Some(&busybox), &["echo", "hi"]);
    changed["env"] = json!({"MODE": "new"});
    let input = write_deployment(tmp.path(), json!({"web": changed}), json!({}));
    assert!(render(&input, &out, &[]).ok);
    assert!(std::fs::read(&archive).unwrap() != first);
    let ran = docker_run(&archive, &[], &["sh", "-c", "echo $MODE"]);
    assert!(ran.ok && ran.stdout == "new\n", "{}{}", ran.stdout, ran.stderr);
}

/// A render into a directory that holds the layers' digests from an
/// earlier render (`.nix2dream/layers.json`: the store layers are not hashed
/// again) writes the same bytes as a render from scratch; a damaged record
/// is ignored.
#[test]
fn layers_measured_by_an_earlier_render_give_the_same_archive() {
    let tmp = tempfile::tempdir().unwrap();
    let busybox = busybox_package(tmp.path());
    let out = tmp.path().join("out");
    let first = write_deployment(tmp.path(), json!({"web": service(Some(&busybox), &["echo", "one"])}), json!({}));
    assert!(render(&first, &out, &[]).ok);
    let layers = out.join(".nix2dream/layers.json");
    assert!(std::fs::read_to_string(&layers).unwrap().contains(busybox.as_str()), "the package's layer is recorded");
    let second = write_deployment(tmp.path(), json!({"web": service(Some(&busybox), &["echo", "two"])}), json!({}));
    assert!(render(&second, &out, &[]).ok);
    let scratch = tmp.path().join("scratch");
    assert!(render(&second, &scratch, &[]).ok);
    let archive = |dir: &Path| std::fs::read(dir.join("images/web.tar")).unwrap();
    assert!(archive(&out) == archive(&scratch), "the recorded digests changed the archive");
    std::fs::write(&layers, "{ not json").unwrap();
    let third = write_deployment(tmp.path(), json!({"web": service(Some(&busybox), &["echo", "three"])}), json!({}));
    assert!(render(&third, &out, &[]).ok);
    let ran = docker_run(&out.join("images/web.tar"), &[], &[]);
    assert!(ran.ok && ran.stdout == "three\n", "{}{}", ran.stdout, ran.stderr);
}

/// compose with `imageArchives = "shared"`: the services on one package are
/// one archive (images/all.tar) holding its layer once, which Docker loads
/// and runs; an unchanged render keeps it, a changed service rebuilds it.
#[test]
fn services_on_one_package_share_one_archive_with_its_layer_once() {
    use std::os::unix::fs::MetadataExt;
    let tmp = tempfile::tempdir().unwrap();
    let busybox = busybox_package(tmp.path());
    let compose = |input: &Path, out: &Path| run(nix2dream().args(["render", "--plugin", "compose"]).arg(input).arg("--out").arg(out));
    let services = |word: &str| json!({"web": service(Some(&busybox), &["echo", word]), "worker": service(Some(&busybox), &["echo", "worker"])});
    let shared = json!({"settings": {"compose": {"imageArchives": "shared"}}});
    let input = write_deployment(tmp.path(), services("one"), shared.clone());
    let out = tmp.path().join("out");
    let r = compose(&input, &out);
    assert!(r.ok, "{}", r.stderr);
    let archive = out.join("images/all.tar");
    let names: Vec<String> = std::fs::read_dir(out.join("images")).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(names, ["all.tar"]);
    // Beside one archive per service: about the size of one of them.
    let apart = tmp.path().join("apart");
    let apart_input = tmp.path().join("apart-input");
    std::fs::create_dir(&apart_input).unwrap();
    let r = compose(&write_deployment(&apart_input, services("one"), json!({})), &apart);
    assert!(r.ok, "{}", r.stderr);
    let size = |p: &Path| std::fs::metadata(p).unwrap().len();
    let (web, worker) = (size(&apart.join("images/web.tar")), size(&apart.join("images/worker.tar")));
    assert!(size(&archive) < web.max(worker) + 16 * 1024, "shared {} bytes; apart {web} + {worker}", size(&archive));

    let load = run(Command::new("docker").args(["load", "-i"]).arg(&archive));
    assert!(load.ok, "docker load: {}", load.stderr);
    let images: Vec<&str> = load.stdout.lines().filter_map(|l| l.trim().strip_prefix("Loaded image: ")).collect();
    assert_eq!(images.len(), 2, "{}", load.stdout);
    for (image, word) in images.iter().zip(["one", "worker"]) {
        let ran = run(Command::new("docker").args(["run", "--rm", image]));
        let _ = run(Command::new("docker").args(["rmi", "-f", image]));
        assert!(ran.ok && ran.stdout == format!("{word}\n"), "{image}: {}{}", ran.stdout, ran.stderr);
    }

    // Nothing changed: the archive is kept. One service changed: rebuilt.
    let identity = |m: std::fs::Metadata| (m.ino(), m.ctime(), m.ctime_nsec());
    let before = identity(std::fs::metadata(&archive).unwrap());
    assert!(compose(&input, &out).ok);
    assert_eq!(identity(std::fs::metadata(&archive).unwrap()), before, "the unchanged archive was written again");
    let changed = write_deployment(tmp.path(), services("two"), shared);
    assert!(compose(&changed, &out).ok);
    assert_ne!(identity(std::fs::metadata(&archive).unwrap()), before);
    let load = run(Command::new("docker").args(["load", "-i"]).arg(&archive));
    let web = load.stdout.lines().filter_map(|l| l.trim().strip_prefix("Loaded image: ")).find(|i| i.starts_with("test-web:")).unwrap().to_owned();
    let ran = run(Command::new("docker").args(["run", "--rm", &web]));
    let _ = run(Command::new("docker").args(["rmi", "-f", &web]));
    assert!(ran.ok && ran.stdout == "two\n", "{}{}", ran.stdout, ran.stderr);
}

/// The digests of the store layers a render measured are also kept in the
/// user's cache (a record sealed with its key), so that a render into
/// another directory does not hash them again: it writes the same archive
/// as a render that measures everything (`--no-cache`).
#[test]
fn layers_measured_in_one_directory_serve_renders_into_others() {
    let tmp = tempfile::tempdir().unwrap();
    let busybox = busybox_package(tmp.path());
    let first = write_deployment(tmp.path(), json!({"web": service(Some(&busybox), &["echo", "one"])}), json!({}));
    assert!(render(&first, &tmp.path().join("a"), &[]).ok);
    let record = std::fs::read(repo_root().join("target/test-cache/image-layers.record")).unwrap();
    assert!(String::from_utf8_lossy(&record).contains(busybox.as_str()), "the package's layer is in the cache's record");
    let second = write_deployment(tmp.path(), json!({"web": service(Some(&busybox), &["echo", "two"])}), json!({}));
    assert!(render(&second, &tmp.path().join("b"), &[]).ok);
    assert!(render(&second, &tmp.path().join("c"), &["--no-cache"]).ok);
    let archive = |dir: &str| std::fs::read(tmp.path().join(dir).join("images/web.tar")).unwrap();
    assert!(archive("b") == archive("c"), "the recorded digests changed the archive");
    let ran = docker_run(&tmp.path().join("b/images/web.tar"), &[], &[]);
    assert!(ran.ok && ran.stdout == "two\n", "{}{}", ran.stdout, ran.stderr);
}
