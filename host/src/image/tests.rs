//! Tests of the image assembler. The first part needs no Nix: plain
//! directories stand in for store paths (`build_archive_from`). The second
//! part runs the real tools (nix-store, skopeo, umoci, runc, docker) on an
//! image of Debian's static busybox added to the Nix store; a missing tool
//! makes those tests FAIL with what to install.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::*;

// ---------------------------------------------------------------- helpers

/// One tar entry, as read back.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    path: String,
    kind: char, // 'f' file, 'd' dir, 'l' symlink
    mode: u32,
    link: Option<String>,
    data: Vec<u8>,
    /// (uid, gid): root but for the directories the service writes to.
    owner: (u64, u64),
}

/// Reads a tar (from bytes), checking the fixed metadata of every entry.
fn entries(bytes: &[u8]) -> Vec<Entry> {
    let mut archive = tar::Archive::new(bytes);
    let mut out = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let h = entry.header().clone();
        let path = String::from_utf8(entry.path_bytes().into_owned()).unwrap();
        assert_eq!(h.mtime().unwrap(), 1, "{path}: mtime");
        let owner = (h.uid().unwrap(), h.gid().unwrap());
        if h.entry_type() != tar::EntryType::Directory {
            assert_eq!(owner, (0, 0), "{path}: only directories may belong to the service's user");
        }
        assert_eq!(
            h.username_bytes().unwrap_or_default(),
            b"",
            "{path}: user name"
        );
        assert_eq!(
            h.groupname_bytes().unwrap_or_default(),
            b"",
            "{path}: group name"
        );
        let kind = match h.entry_type() {
            tar::EntryType::Regular => 'f',
            tar::EntryType::Directory => 'd',
            tar::EntryType::Symlink => 'l',
            other => panic!("{path}: unexpected entry type {other:?}"),
        };
        let link = entry
            .link_name_bytes()
            .map(|l| String::from_utf8(l.into_owned()).unwrap());
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        out.push(Entry {
            path,
            kind,
            mode: h.mode().unwrap(),
            link,
            data,
            owner,
        });
    }
    out
}

fn by_path(entries: &[Entry]) -> BTreeMap<String, Entry> {
    entries
        .iter()
        .map(|e| (e.path.trim_end_matches('/').to_owned(), e.clone()))
        .collect()
}

/// The archive read back: its entries by path, and the parsed documents.
struct Read_ {
    order: Vec<String>,
    files: BTreeMap<String, Entry>,
    index: Value,
    manifest: Value,
    config: Value,
    docker: Value,
    /// Layer entries, in manifest order.
    layers: Vec<Vec<Entry>>,
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

fn blob<'a>(files: &'a BTreeMap<String, Entry>, digest: &str) -> &'a [u8] {
    let hex = digest.strip_prefix("sha256:").unwrap();
    let data = &files
        .get(&format!("blobs/sha256/{hex}"))
        .unwrap_or_else(|| panic!("blob {digest} missing"))
        .data;
    assert_eq!(sha256(data), digest, "blob {digest} has another digest");
    data
}

fn read_archive(path: &Path) -> Read_ {
    let all = entries(&fs::read(path).unwrap());
    let order = all.iter().map(|e| e.path.clone()).collect();
    let files = by_path(&all);
    let json = |p: &str| -> Value { serde_json::from_slice(&files[p].data).unwrap() };
    let index = json("index.json");
    let manifest_digest = index["manifests"][0]["digest"].as_str().unwrap().to_owned();
    let manifest: Value = serde_json::from_slice(blob(&files, &manifest_digest)).unwrap();
    let config: Value =
        serde_json::from_slice(blob(&files, manifest["config"]["digest"].as_str().unwrap()))
            .unwrap();
    let layers = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let data = blob(&files, l["digest"].as_str().unwrap());
            assert_eq!(l["size"].as_u64().unwrap(), data.len() as u64);
            entries(data)
        })
        .collect();
    Read_ {
        order,
        docker: json("manifest.json"),
        files,
        index,
        manifest,
        config,
        layers,
    }
}

/// A directory of fake store paths: a package directory, a single-file path
/// and a symlink path.
fn fake_store(root: &Path, exec_mode: u32) -> Vec<PathBuf> {
    let pkg = root.join("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-hello-1.0");
    fs::create_dir_all(pkg.join("bin")).unwrap();
    fs::create_dir_all(pkg.join("share/doc/hello")).unwrap();
    fs::write(pkg.join("bin/hello"), b"#!/bin/sh\necho hello\n").unwrap();
    fs::set_permissions(pkg.join("bin/hello"), fs::Permissions::from_mode(exec_mode)).unwrap();
    fs::write(pkg.join("share/doc/hello/README"), b"read me\n").unwrap();
    symlink("hello", pkg.join("bin/hi")).unwrap();
    symlink(
        "/nix/store/cccccccccccccccccccccccccccccccc-target/lib",
        pkg.join("lib"),
    )
    .unwrap();
    // A long path and a long symlink target (beyond tar's 100 bytes).
    let long = "d".repeat(60);
    fs::create_dir_all(pkg.join(&long).join(&long)).unwrap();
    fs::write(pkg.join(&long).join(&long).join("deep.txt"), b"deep").unwrap();
    symlink(
        format!("/nix/store/{}", "t".repeat(120)),
        pkg.join("long-link"),
    )
    .unwrap();
    let file = root.join("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-config.json");
    fs::write(&file, b"{\"a\":1}\n").unwrap();
    let link = root.join("cccccccccccccccccccccccccccccccc-link");
    symlink(
        "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-hello-1.0/bin/hello",
        &link,
    )
    .unwrap();
    vec![pkg, file, link]
}

fn spec() -> ImageSpec {
    ImageSpec {
        name: "demo-web".into(),
        tag: "latest".into(),
        config: ImageConfig {
            entrypoint: vec![
                "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-hello-1.0/bin/hello".into(),
            ],
            cmd: vec!["--port".into(), "8080".into()],
            env: vec![
                ("PATH".into(), "/bin".into()),
                ("GREETING".into(), "a=b c".into()),
            ],
            exposed_ports: vec![(8080, "tcp".into()), (53, "udp".into())],
            user: Some("1000:1000".into()),
            working_dir: Some("/srv".into()),
            labels: BTreeMap::from([("org.example.service".into(), "web".into())]),
            volumes: vec!["/var/lib/web".into(), "/var/lib/shared".into()],
            stop_signal: Some("SIGINT".into()),
            shared_dirs: vec!["/var/lib/shared".into()],
        },
        store_paths: vec![],
        files: vec![
            ImageFile {
                path: "/srv/www/index.html".into(),
                contents: b"<h1>hi</h1>\n".to_vec(),
                mode: 0o644,
                private: false,
            },
            ImageFile {
                path: "/etc/web.conf".into(),
                contents: b"port=8080\n".to_vec(),
                mode: 0o444,
                private: false,
            },
            ImageFile {
                path: "/usr/bin/run".into(),
                contents: b"#!/bin/sh\n".to_vec(),
                mode: 0o755,
                private: false,
            },
        ],
        max_layers: 100,
    }
}

fn paths(entries: &[Entry]) -> Vec<&str> {
    entries
        .iter()
        .map(|e| e.path.trim_end_matches('/'))
        .collect()
}

// ---------------------------------------------------------------- unit tests

#[test]
fn two_builds_are_byte_identical() {
    // Two copies of the "store" made separately, with different source
    // modes (0o755 vs 0o700: both executable) and mtimes, in different
    // directories, archived to different destinations.
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let closure_a = fake_store(&a.path().join("store"), 0o755);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let closure_b = fake_store(&b.path().join("store"), 0o700);
    let first = build_archive_from(&spec(), &closure_a, &a.path().join("image.tar")).unwrap();
    let second = build_archive_from(&spec(), &closure_b, &b.path().join("image.tar")).unwrap();
    assert_eq!(first, second);
    let bytes = fs::read(a.path().join("image.tar")).unwrap();
    assert_eq!(
        bytes,
        fs::read(b.path().join("image.tar")).unwrap(),
        "archives differ"
    );
    assert_eq!(first.bytes, bytes.len() as u64);
    assert_eq!(first.layers, 4);
    // No temp files are left beside the archive.
    let left: Vec<_> = fs::read_dir(a.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 2, "{left:?}"); // store/ and image.tar
                                           // The closure's order does not matter either.
    let mut reversed = closure_a.clone();
    reversed.reverse();
    let third = build_archive_from(&spec(), &reversed, &a.path().join("again.tar")).unwrap();
    assert_eq!(third, first);
}

#[test]
fn a_layer_measured_before_is_written_to_the_same_bytes_and_checked() {
    // First build: every layer hashed as written (placeholder header filled
    // in afterwards). Second: the digests known, each header written first.
    let dir = tempfile::tempdir().unwrap();
    let closure = fake_store(&dir.path().join("store"), 0o755);
    let mut measured = MeasuredLayers::default();
    let first = build_archive_measured(&spec(), &closure, &dir.path().join("one.tar"), &mut measured).unwrap();
    let saved = measured.to_json();
    let mut known = MeasuredLayers::from_json(&saved);
    let second = build_archive_measured(&spec(), &closure, &dir.path().join("two.tar"), &mut known).unwrap();
    assert_eq!(first, second);
    assert_eq!(fs::read(dir.path().join("one.tar")).unwrap(), fs::read(dir.path().join("two.tar")).unwrap());
    // A store path that changed size since it was measured is refused, not
    // written under a digest it no longer has (tar pads to 512 bytes: a
    // change within a block is caught by `docker load`'s digest check).
    fs::write(closure[1].as_path(), "x".repeat(2000)).unwrap();
    let mut stale = MeasuredLayers::from_json(&saved);
    let e = format!("{:#}", build_archive_measured(&spec(), &closure, &dir.path().join("three.tar"), &mut stale).unwrap_err());
    assert!(e.contains("changed since it was measured"), "{e}");
    assert!(!dir.path().join("three.tar").exists(), "a failed build leaves no archive");
}

#[test]
fn the_shared_record_keeps_the_layers_used_last_first_and_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let closure = fake_store(&dir.path().join("store"), 0o755);
    // An earlier render measured the three store layers.
    let mut earlier = MeasuredLayers::default();
    build_archive_measured(&spec(), &closure, &dir.path().join("one.tar"), &mut earlier).unwrap();
    let previous = earlier.to_json();
    let recorded = |json: &[u8]| -> Vec<String> {
        let v: Value = serde_json::from_slice(json).unwrap();
        v.as_array().unwrap().iter().map(|l| l["paths"][0].as_str().unwrap().rsplit('/').next().unwrap().to_owned()).collect()
    };
    assert_eq!(recorded(&previous).len(), 3);
    // This render used only the last of them: it comes first, then the others.
    let mut now = MeasuredLayers::default();
    now.add_json(&previous);
    build_archive_measured(&spec(), &closure[2..], &dir.path().join("two.tar"), &mut now).unwrap();
    let record = now.to_json_with(&previous, 10);
    let names = recorded(&record);
    assert_eq!(names.len(), 3, "{names:?}");
    assert_eq!(names[0], "cccccccccccccccccccccccccccccccc-link");
    assert_eq!(recorded(&now.to_json_with(&previous, 2)).len(), 2, "bounded");
    // Unreadable records add nothing and break nothing.
    let mut damaged = MeasuredLayers::default();
    damaged.add_json(b"{ not json");
    assert_eq!(damaged.to_json_with(b"[]", 10), b"[]");
}

#[test]
fn images_sharing_an_archive_hold_each_shared_layer_once() {
    let dir = tempfile::tempdir().unwrap();
    let closure = fake_store(&dir.path().join("store"), 0o755);
    let web = spec();
    // Another service on the same package: other name, one store path
    // fewer, the same files (an identical files layer, written once).
    let worker = ImageSpec { name: "demo-worker".into(), config: ImageConfig { cmd: vec!["--work".into()], ..web.config.clone() }, ..web.clone() };
    let alone_web = build_archive_from(&web, &closure, &dir.path().join("web.tar")).unwrap();
    let alone_worker = build_archive_from(&worker, &closure[..2], &dir.path().join("worker.tar")).unwrap();
    let shared = build_shared_archive(&[(&web, &closure[..]), (&worker, &closure[..2])], &dir.path().join("all.tar"), &mut MeasuredLayers::default()).unwrap();
    // Each image is the one built alone (same manifest, hence same layers).
    assert_eq!(shared[0].manifest_digest, alone_web.manifest_digest);
    assert_eq!(shared[1].manifest_digest, alone_worker.manifest_digest);
    assert_eq!(shared[0].bytes, shared[1].bytes);
    let bytes = fs::read(dir.path().join("all.tar")).unwrap();
    assert_eq!(shared[0].bytes, bytes.len() as u64);
    // Every blob once; the archive about the size of the bigger image.
    let all = entries(&bytes);
    let names: Vec<&str> = all.iter().map(|e| e.path.as_str()).collect();
    let unique: std::collections::BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(names.len(), unique.len(), "an entry is written twice: {names:?}");
    let web_size = fs::metadata(dir.path().join("web.tar")).unwrap().len();
    assert!(bytes.len() as u64 <= web_size + 8192, "shared archive {} bytes, the web image alone {web_size}", bytes.len());
    // Both images listed, each naming blobs the archive holds, with their digests.
    let files = by_path(&all);
    let index: Value = serde_json::from_slice(&files["index.json"].data).unwrap();
    let docker: Value = serde_json::from_slice(&files["manifest.json"].data).unwrap();
    let names: Vec<&str> = index["manifests"].as_array().unwrap().iter().map(|m| m["annotations"]["io.containerd.image.name"].as_str().unwrap()).collect();
    assert_eq!(names, ["demo-web:latest", "demo-worker:latest"]);
    let tags: Vec<&str> = docker.as_array().unwrap().iter().map(|m| m["RepoTags"][0].as_str().unwrap()).collect();
    assert_eq!(tags, names);
    for (m, built) in index["manifests"].as_array().unwrap().iter().zip(&shared) {
        assert_eq!(m["digest"], built.manifest_digest.as_str());
        let manifest: Value = serde_json::from_slice(blob(&files, &built.manifest_digest)).unwrap();
        for layer in manifest["layers"].as_array().unwrap() {
            assert_eq!(blob(&files, layer["digest"].as_str().unwrap()).len() as u64, layer["size"].as_u64().unwrap());
        }
    }
}

#[test]
fn archive_is_an_oci_layout_and_a_docker_archive() {
    let dir = tempfile::tempdir().unwrap();
    let closure = fake_store(&dir.path().join("store"), 0o755);
    let dest = dir.path().join("image.tar");
    let built = build_archive_from(&spec(), &closure, &dest).unwrap();
    let r = read_archive(&dest);
    assert_eq!(
        fs::metadata(&dest).unwrap().permissions().mode() & 0o777,
        0o644
    );

    // Fixed entry order: the blob directories, the layers (each written
    // once, its digest known only at its end), then the config and manifest
    // that name them, then the documents that name those.
    let hex = |d: &str| d.trim_start_matches("sha256:").to_owned();
    let layer_digests: Vec<String> = r.manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_owned())
        .collect();
    let mut expected = vec!["blobs".to_owned(), "blobs/sha256".to_owned()];
    expected.extend(layer_digests.iter().map(|d| format!("blobs/sha256/{}", hex(d))));
    expected.push(format!("blobs/sha256/{}", hex(&built.config_digest)));
    expected.push(format!("blobs/sha256/{}", hex(&built.manifest_digest)));
    expected.extend(["oci-layout", "index.json", "manifest.json"].map(String::from));
    assert_eq!(r.order, expected);

    assert_eq!(
        r.files["oci-layout"].data,
        br#"{"imageLayoutVersion":"1.0.0"}"#
    );
    assert_eq!(
        r.index,
        serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": built.manifest_digest,
                "size": blob(&r.files, &built.manifest_digest).len(),
                "annotations": {
                    "io.containerd.image.name": "demo-web:latest",
                    "org.opencontainers.image.ref.name": "latest",
                },
            }],
        })
    );
    assert_eq!(r.manifest["schemaVersion"], 2);
    assert_eq!(
        r.manifest["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(
        r.manifest["config"]["mediaType"],
        "application/vnd.oci.image.config.v1+json"
    );
    assert_eq!(r.manifest["config"]["digest"], built.config_digest.as_str());
    for layer in r.manifest["layers"].as_array().unwrap() {
        assert_eq!(layer["mediaType"], "application/vnd.oci.image.layer.v1.tar");
    }
    // Uncompressed layers: diff_id = digest.
    assert_eq!(r.config["rootfs"]["type"], "layers");
    assert_eq!(
        r.config["rootfs"]["diff_ids"],
        serde_json::json!(layer_digests)
    );
    // Docker's manifest points at the same blobs.
    assert_eq!(
        r.docker,
        serde_json::json!([{
            "Config": format!("blobs/sha256/{}", hex(&built.config_digest)),
            "RepoTags": ["demo-web:latest"],
            "Layers": layer_digests.iter().map(|d| format!("blobs/sha256/{}", hex(d))).collect::<Vec<_>>(),
        }])
    );
}

#[test]
fn config_json_has_the_runtime_config_and_history() {
    let dir = tempfile::tempdir().unwrap();
    let closure = fake_store(&dir.path().join("store"), 0o755);
    let dest = dir.path().join("image.tar");
    build_archive_from(&spec(), &closure, &dest).unwrap();
    let r = read_archive(&dest);
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    assert_eq!(r.config["architecture"], arch);
    assert_eq!(r.config["os"], "linux");
    assert_eq!(r.config["created"], "1970-01-01T00:00:01Z");
    assert_eq!(
        r.config["config"],
        serde_json::json!({
            "User": "1000:1000",
            "ExposedPorts": {"53/udp": {}, "8080/tcp": {}},
            "Env": ["PATH=/bin", "GREETING=a=b c"],
            "Entrypoint": ["/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-hello-1.0/bin/hello"],
            "Cmd": ["--port", "8080"],
            "Volumes": {"/var/lib/shared": {}, "/var/lib/web": {}},
            "WorkingDir": "/srv",
            "Labels": {"org.example.service": "web"},
            "StopSignal": "SIGINT",
        })
    );
    let history = r.config["history"].as_array().unwrap();
    assert_eq!(history.len(), r.layers.len());
    for h in history {
        assert_eq!(
            h["created"], "1970-01-01T00:00:01Z",
            "umoci panics on a history entry without created"
        );
        assert!(h["created_by"].as_str().unwrap().starts_with("nix2dream: "));
    }
    // Key order is fixed (the config bytes start the same way every time).
    let raw = String::from_utf8(
        blob(&r.files, r.manifest["config"]["digest"].as_str().unwrap()).to_vec(),
    )
    .unwrap();
    assert!(
        raw.starts_with(r#"{"created":"1970-01-01T00:00:01Z","architecture":""#),
        "{raw}"
    );

    // An empty runtime config stays empty: no empty keys.
    let mut bare = spec();
    bare.config = ImageConfig::default();
    let dest = dir.path().join("bare.tar");
    build_archive_from(&bare, &[], &dest).unwrap();
    let r = read_archive(&dest);
    assert_eq!(r.config["config"], serde_json::json!({}));
    assert_eq!(r.layers.len(), 1);
}

#[test]
fn store_layers_keep_modes_symlinks_and_contents() {
    let dir = tempfile::tempdir().unwrap();
    let closure = fake_store(&dir.path().join("store"), 0o700);
    let dest = dir.path().join("image.tar");
    build_archive_from(&spec(), &closure, &dest).unwrap();
    let r = read_archive(&dest);
    assert_eq!(
        r.layers.len(),
        4,
        "one layer per store path plus the files layer"
    );
    let long = "d".repeat(60);
    let pkg = "nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-hello-1.0";
    // Sorted walk: every layer starts with nix/ and nix/store/.
    let want: Vec<String> = [
        "nix".to_owned(),
        "nix/store".to_owned(),
        pkg.to_owned(),
        format!("{pkg}/bin"),
        format!("{pkg}/bin/hello"),
        format!("{pkg}/bin/hi"),
        format!("{pkg}/{long}"),
        format!("{pkg}/{long}/{long}"),
        format!("{pkg}/{long}/{long}/deep.txt"),
        format!("{pkg}/lib"),
        format!("{pkg}/long-link"),
        format!("{pkg}/share"),
        format!("{pkg}/share/doc"),
        format!("{pkg}/share/doc/hello"),
        format!("{pkg}/share/doc/hello/README"),
    ]
    .into();
    assert_eq!(paths(&r.layers[0]), want);
    let l = by_path(&r.layers[0]);
    assert_eq!((l["nix"].kind, l["nix"].mode), ('d', 0o555));
    assert_eq!((l["nix/store"].kind, l["nix/store"].mode), ('d', 0o555));
    assert_eq!((l[pkg].kind, l[pkg].mode), ('d', 0o555));
    let hello = &l[&format!("{pkg}/bin/hello")];
    assert_eq!(
        (hello.kind, hello.mode, hello.data.as_slice()),
        ('f', 0o555, &b"#!/bin/sh\necho hello\n"[..])
    );
    let readme = &l[&format!("{pkg}/share/doc/hello/README")];
    assert_eq!((readme.kind, readme.mode), ('f', 0o444));
    let hi = &l[&format!("{pkg}/bin/hi")];
    assert_eq!((hi.kind, hi.link.as_deref()), ('l', Some("hello")));
    assert_eq!(
        l[&format!("{pkg}/lib")].link.as_deref(),
        Some("/nix/store/cccccccccccccccccccccccccccccccc-target/lib")
    );
    assert_eq!(
        l[&format!("{pkg}/long-link")].link.as_deref(),
        Some(format!("/nix/store/{}", "t".repeat(120)).as_str())
    );
    assert_eq!(l[&format!("{pkg}/{long}/{long}/deep.txt")].data, b"deep");

    // A store path that is a single file, and one that is a symlink.
    assert_eq!(
        paths(&r.layers[1]),
        [
            "nix",
            "nix/store",
            "nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-config.json"
        ]
    );
    assert_eq!(r.layers[1][2].mode, 0o444);
    assert_eq!(
        paths(&r.layers[2]),
        [
            "nix",
            "nix/store",
            "nix/store/cccccccccccccccccccccccccccccccc-link"
        ]
    );
    assert_eq!(
        r.layers[2][2].link.as_deref(),
        Some("/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-hello-1.0/bin/hello")
    );
}

#[test]
fn files_layer_has_files_parent_dirs_tmp_and_the_users_directories() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("image.tar");
    let built = build_archive_from(&spec(), &[], &dest).unwrap();
    assert_eq!(built.layers, 1);
    let r = read_archive(&dest);
    let files = &r.layers[0];
    let got: Vec<(&str, char, u32, (u64, u64))> = files
        .iter()
        .map(|e| (e.path.trim_end_matches('/'), e.kind, e.mode, e.owner))
        .collect();
    // The working directory (/srv) and the volume belong to the user
    // (1000:1000); a shared volume is everyone's, like /tmp.
    let (root, user) = ((0, 0), (1000, 1000));
    assert_eq!(
        got,
        [
            ("etc", 'd', 0o755, root),
            ("etc/web.conf", 'f', 0o444, root),
            ("srv", 'd', 0o755, user),
            ("srv/www", 'd', 0o755, root),
            ("srv/www/index.html", 'f', 0o644, root),
            ("tmp", 'd', 0o1777, root),
            ("usr", 'd', 0o755, root),
            ("usr/bin", 'd', 0o755, root),
            ("usr/bin/run", 'f', 0o755, root),
            ("var", 'd', 0o755, root),
            ("var/lib", 'd', 0o755, root),
            ("var/lib/shared", 'd', 0o1777, root),
            ("var/lib/web", 'd', 0o755, user),
        ]
    );
    assert_eq!(by_path(files)["srv/www/index.html"].data, b"<h1>hi</h1>\n");
}

#[test]
fn closure_beyond_max_layers_is_merged_into_the_last_store_layer() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    fs::create_dir(&store).unwrap();
    let mut closure = Vec::new();
    for (i, c) in ['e', 'a', 'd', 'b', 'c'].into_iter().enumerate() {
        let p = store.join(format!("{}-p{i}", c.to_string().repeat(32)));
        fs::write(&p, format!("{c}\n")).unwrap();
        closure.push(p);
    }
    let names = |layer: &[Entry]| -> Vec<String> {
        layer
            .iter()
            .filter(|e| e.kind == 'f')
            .map(|e| e.path[10..11].to_owned())
            .collect()
    };
    let layers_of = |max_layers: usize, file: &str| {
        let mut s = spec();
        s.max_layers = max_layers;
        let dest = dir.path().join(file);
        let built = build_archive_from(&s, &closure, &dest).unwrap();
        let r = read_archive(&dest);
        assert_eq!(built.layers, r.layers.len());
        assert!(built.layers <= max_layers);
        r.layers[..r.layers.len() - 1]
            .iter()
            .map(|l| names(l))
            .collect::<Vec<_>>()
    };
    // Sorted by path; with room, one layer each.
    assert_eq!(layers_of(100, "a.tar"), [["a"], ["b"], ["c"], ["d"], ["e"]]);
    assert_eq!(layers_of(6, "b.tar"), [["a"], ["b"], ["c"], ["d"], ["e"]]);
    // Beyond: the first max_layers - 2 alone, the rest merged.
    assert_eq!(
        layers_of(5, "c.tar"),
        vec![vec!["a"], vec!["b"], vec!["c"], vec!["d", "e"]]
    );
    assert_eq!(
        layers_of(3, "d.tar"),
        vec![vec!["a"], vec!["b", "c", "d", "e"]]
    );
    assert_eq!(layers_of(2, "e.tar"), vec![vec!["a", "b", "c", "d", "e"]]);
    // A merged layer has nix/ and nix/store/ once.
    let r = read_archive(&dir.path().join("e.tar"));
    assert_eq!(
        paths(&r.layers[0])[..3],
        [
            "nix",
            "nix/store",
            "nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-p1"
        ]
    );
    assert_eq!(r.layers[0].len(), 7);
}

#[test]
fn bad_specs_fail_clearly_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("image.tar");
    let err = |s: &ImageSpec, closure: &[PathBuf]| -> String {
        let e = build_archive_from(s, closure, &dest).unwrap_err();
        assert!(!dest.exists(), "nothing is written on error");
        format!("{e:#}")
    };
    let with = |f: &dyn Fn(&mut ImageSpec)| {
        let mut s = spec();
        f(&mut s);
        s
    };
    let e = err(&with(&|s| s.name = "Demo Web".into()), &[]);
    assert!(e.contains("invalid name \"Demo Web\""), "{e}");
    let e = err(&with(&|s| s.tag = "-x".into()), &[]);
    assert!(
        e.contains("demo-web:-x") && e.contains("invalid tag"),
        "{e}"
    );
    let e = err(&with(&|s| s.max_layers = 1), &[]);
    assert!(
        e.contains("demo-web:latest") && e.contains("max_layers is 1"),
        "{e}"
    );
    let e = err(&with(&|s| s.max_layers = 200), &[]);
    assert!(e.contains("max_layers is 200"), "{e}");
    let e = err(&with(&|s| s.files[0].path = "srv/index.html".into()), &[]);
    assert!(
        e.contains("srv/index.html") && e.contains("absolute"),
        "{e}"
    );
    let e = err(
        &with(&|s| s.files[0].path = "/srv/../etc/passwd".into()),
        &[],
    );
    assert!(e.contains("`..`"), "{e}");
    let e = err(
        &with(&|s| s.files[1].path = "/srv/www/index.html".into()),
        &[],
    );
    assert!(e.contains("/srv/www/index.html is given twice"), "{e}");
    let e = err(&with(&|s| s.files[1].path = "/srv/www".into()), &[]);
    assert!(e.contains("/srv/www") && e.contains("also"), "{e}");
    let e = err(
        &with(&|s| s.config.env.push(("A=B".into(), "c".into()))),
        &[],
    );
    assert!(e.contains("\"A=B\""), "{e}");
    let e = err(
        &with(&|s| s.config.exposed_ports.push((80, "http".into()))),
        &[],
    );
    assert!(e.contains("80/http"), "{e}");
    let missing = dir
        .path()
        .join("store/zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-gone");
    let e = err(&spec(), std::slice::from_ref(&missing));
    assert!(
        e.contains("demo-web:latest") && e.contains(&missing.display().to_string()),
        "{e}"
    );
    let e = format!(
        "{:#}",
        build_archive(
            &with(&|s| s.store_paths = vec!["nix/store/x".into()]),
            &dest
        )
        .unwrap_err()
    );
    assert!(e.contains("not absolute"), "{e}");

    // An existing destination is refused and kept.
    fs::write(&dest, b"keep").unwrap();
    let e = format!("{:#}", build_archive_from(&spec(), &[], &dest).unwrap_err());
    assert!(e.contains("already exists"), "{e}");
    assert_eq!(fs::read(&dest).unwrap(), b"keep");
    // No temp directories are left behind.
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn empty_closure_needs_no_nix() {
    // build_archive with no store paths does not run nix-store.
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("image.tar");
    let built = build_archive(&spec(), &dest).unwrap();
    assert_eq!(built.layers, 1);
    assert_eq!(closure(&[]).unwrap(), Vec::<PathBuf>::new());
}

// ---------------------------------------------------------------- real tools

/// Runs a tool; a tool that is not installed fails the test with `install`.
fn run(tool: &str, args: &[&str], install: &str) -> std::process::Output {
    let out = Command::new(tool)
        .args(args)
        .env("NIX_CONFIG", "build-users-group =")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool} ({e}): {install}"));
    assert!(
        out.status.success(),
        "{tool} {} failed ({}):\nstdout: {}\nstderr: {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

const INSTALL_NIX: &str = "install Nix: apt-get install nix-bin";
const INSTALL_SKOPEO: &str = "install skopeo: apt-get install skopeo";
const INSTALL_UMOCI: &str = "install umoci: apt-get install umoci";
const INSTALL_RUNC: &str = "install runc: apt-get install runc";
const INSTALL_DOCKER: &str = "install and start Docker: apt-get install docker.io";

/// `busybox-pkg/bin/{busybox, sh -> busybox, cat -> busybox}` added to the
/// Nix store (once per test run; the path is content-addressed).
fn busybox_store_path() -> String {
    static PATH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let busybox = Path::new("/bin/busybox");
        assert!(
            busybox.is_file(),
            "/bin/busybox is missing: apt-get install busybox-static"
        );
        let dir = tempfile::tempdir().unwrap();
        let pkg = dir.path().join("busybox-pkg");
        fs::create_dir_all(pkg.join("bin")).unwrap();
        fs::copy(busybox, pkg.join("bin/busybox")).unwrap();
        fs::set_permissions(pkg.join("bin/busybox"), fs::Permissions::from_mode(0o755)).unwrap();
        for applet in ["sh", "cat"] {
            symlink("busybox", pkg.join("bin").join(applet)).unwrap();
        }
        let out = run("nix-store", &["--add", pkg.to_str().unwrap()], INSTALL_NIX);
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    })
    .clone()
}

/// A second store path: a text file, so the closure has two roots.
fn greeting_store_path() -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nix2dream-greeting.txt");
    fs::write(&file, "greetings from the store\n").unwrap();
    let out = run("nix-store", &["--add", file.to_str().unwrap()], INSTALL_NIX);
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// An image that prints an env var, a baked file and a store file.
fn busybox_spec(tag: &str) -> ImageSpec {
    let bb = busybox_store_path();
    let greeting = greeting_store_path();
    ImageSpec {
        name: "nix2dream-image-test".into(),
        tag: tag.into(),
        config: ImageConfig {
            entrypoint: vec![format!("{bb}/bin/sh"), "-c".into()],
            cmd: vec![format!(
                "echo \"$GREETING\"; cat /srv/index.html {greeting}"
            )],
            env: vec![
                ("PATH".into(), format!("{bb}/bin")),
                ("GREETING".into(), "hello from nix2dream".into()),
            ],
            exposed_ports: vec![(8080, "tcp".into())],
            working_dir: Some("/srv".into()),
            labels: BTreeMap::from([("org.nix2dream.test".into(), "yes".into())]),
            ..Default::default()
        },
        store_paths: vec![bb, greeting],
        files: vec![ImageFile {
            path: "/srv/index.html".into(),
            contents: b"<h1>baked</h1>\n".to_vec(),
            mode: 0o444,
            private: false,
        }],
        max_layers: 100,
    }
}

const EXPECTED_OUTPUT: &str = "hello from nix2dream\n<h1>baked</h1>\ngreetings from the store\n";

#[test]
fn real_closure_of_store_paths_and_its_errors() {
    let bb = busybox_store_path();
    assert_eq!(
        closure(&[bb.clone(), bb.clone()]).unwrap(),
        vec![PathBuf::from(&bb)]
    );
    let gone = "/nix/store/00000000000000000000000000000000-nix2dream-gone";
    let e = format!("{:#}", closure(&[gone.into()]).unwrap_err());
    assert!(e.contains(gone) && e.contains("realise"), "{e}");
    // Exists, but is not in the store.
    let e = format!("{:#}", closure(&["/tmp".into()]).unwrap_err());
    assert!(
        e.contains("/tmp") && e.contains("not in the Nix store"),
        "{e}"
    );
}

#[test]
fn real_store_paths_build_reproducibly() {
    let dir = tempfile::tempdir().unwrap();
    let one = build_archive(&busybox_spec("repro"), &dir.path().join("one.tar")).unwrap();
    let two = build_archive(&busybox_spec("repro"), &dir.path().join("two.tar")).unwrap();
    assert_eq!(one, two);
    assert_eq!(
        fs::read(dir.path().join("one.tar")).unwrap(),
        fs::read(dir.path().join("two.tar")).unwrap()
    );
    assert_eq!(one.layers, 3);
    eprintln!(
        "two builds: manifest {} config {} ({} bytes)",
        one.manifest_digest, one.config_digest, one.bytes
    );
}

#[test]
fn skopeo_copies_the_oci_archive() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("image.tar");
    let built = build_archive(&busybox_spec("skopeo"), &archive).unwrap();
    let out = dir.path().join("out");
    // `copy` reads every blob and verifies its digest (`inspect` does not).
    for (source, dest) in [
        (
            format!("oci-archive:{}", archive.display()),
            format!("dir:{}", out.display()),
        ),
        (
            format!("oci-archive:{}:skopeo", archive.display()),
            format!("dir:{}-tagged", out.display()),
        ),
    ] {
        let o = run(
            "skopeo",
            &["--insecure-policy", "copy", &source, &dest],
            INSTALL_SKOPEO,
        );
        eprintln!(
            "skopeo copy {source} {dest}: {}",
            String::from_utf8_lossy(&o.stdout)
        );
    }
    // Copied as is: same manifest, same blobs.
    assert_eq!(
        sha256(&fs::read(out.join("manifest.json")).unwrap()),
        built.manifest_digest
    );
    assert!(out
        .join(built.config_digest.trim_start_matches("sha256:"))
        .is_file());
    let o = run(
        "skopeo",
        &[
            "inspect",
            "--config",
            &format!("oci-archive:{}", archive.display()),
        ],
        INSTALL_SKOPEO,
    );
    let config: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(config["config"]["Env"][1], "GREETING=hello from nix2dream");
}

#[test]
fn umoci_unpacks_and_runc_runs_the_oci_layout() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("image.tar");
    build_archive(&busybox_spec("umoci"), &archive).unwrap();
    let layout = dir.path().join("layout");
    tar::Archive::new(fs::File::open(&archive).unwrap())
        .unpack(&layout)
        .unwrap();
    let bundle = dir.path().join("bundle");
    let mut args = vec!["unpack", "--image"];
    let image = format!("{}:umoci", layout.display());
    args.push(&image);
    let rootless = String::from_utf8(run("id", &["-u"], "coreutils").stdout)
        .unwrap()
        .trim()
        != "0";
    if rootless {
        args.push("--rootless");
    }
    args.push(bundle.to_str().unwrap());
    let o = run("umoci", &args, INSTALL_UMOCI);
    eprintln!(
        "umoci unpack: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let rootfs = bundle.join("rootfs");
    assert_eq!(
        fs::read(rootfs.join("srv/index.html")).unwrap(),
        b"<h1>baked</h1>\n"
    );
    let bb = busybox_store_path();
    let busybox = rootfs.join(bb.trim_start_matches('/')).join("bin/busybox");
    assert_eq!(
        fs::metadata(&busybox).unwrap().permissions().mode() & 0o777,
        0o555
    );
    assert_eq!(
        fs::read_link(rootfs.join(bb.trim_start_matches('/')).join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    assert_eq!(
        fs::metadata(rootfs.join("tmp"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777,
        0o1777
    );
    let config: Value =
        serde_json::from_slice(&fs::read(bundle.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["process"]["args"][0], format!("{bb}/bin/sh"));
    assert_eq!(config["process"]["cwd"], "/srv");

    // runc really runs it (no terminal: the test has none).
    let mut config = config;
    config["process"]["terminal"] = Value::Bool(false);
    fs::write(
        bundle.join("config.json"),
        serde_json::to_vec(&config).unwrap(),
    )
    .unwrap();
    let name = format!("nix2dream-image-test-{}", std::process::id());
    let o = Command::new("runc")
        .args(["run", "--bundle", bundle.to_str().unwrap(), &name])
        .output()
        .unwrap_or_else(|e| panic!("cannot run runc ({e}): {INSTALL_RUNC}"));
    Command::new("runc")
        .args(["delete", "--force", &name])
        .output()
        .ok();
    assert!(
        o.status.success(),
        "runc run failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), EXPECTED_OUTPUT);
}

/// Removes a docker image when dropped.
struct DockerImage(String);

impl Drop for DockerImage {
    fn drop(&mut self) {
        Command::new("docker")
            .args(["rmi", "--force", &self.0])
            .output()
            .ok();
    }
}

#[test]
fn docker_loads_and_runs_the_archive() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("image.tar");
    let tag = format!("docker-{}", std::process::id());
    let built = build_archive(&busybox_spec(&tag), &archive).unwrap();
    let reference = format!("nix2dream-image-test:{tag}");
    let _cleanup = DockerImage(reference.clone());
    let o = run(
        "docker",
        &["load", "-i", archive.to_str().unwrap()],
        INSTALL_DOCKER,
    );
    let loaded = String::from_utf8_lossy(&o.stdout);
    eprintln!("docker load: {loaded}");
    assert!(
        loaded.contains(&format!("Loaded image: {reference}")),
        "{loaded}"
    );
    // Docker's image ID is the config digest.
    let o = run(
        "docker",
        &["image", "inspect", "--format", "{{.Id}}", &reference],
        INSTALL_DOCKER,
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        built.config_digest
    );
    let o = run(
        "docker",
        &["run", "--rm", "--network", "none", &reference],
        INSTALL_DOCKER,
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), EXPECTED_OUTPUT);
}

#[test]
fn a_root_working_directory_needs_no_directory_entry() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = spec();
    s.config.working_dir = Some("/".into());
    s.config.volumes.clear();
    let dest = dir.path().join("image.tar");
    build_archive_from(&s, &[], &dest).expect("a service may run in /");
    let r = read_archive(&dest);
    assert!(r.layers[0].iter().all(|e| e.owner == (0, 0)), "nothing is the user's when it only runs in /");
}
