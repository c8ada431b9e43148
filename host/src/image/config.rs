//! The JSON documents of the image: OCI config, manifest, index, layout
//! marker, and Docker's `manifest.json`. Serialised from structs (fixed key
//! order) with `BTreeMap`s for maps, so the bytes are reproducible.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use serde::Serialize;

use super::ImageSpec;

/// `created` of the config and of every history entry: the Nix store's mtime.
pub(super) const CREATED: &str = "1970-01-01T00:00:01Z";

pub(super) const MEDIA_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub(super) const MEDIA_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub(super) const MEDIA_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub(super) const MEDIA_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";

/// `{}` (the value of `ExposedPorts` and `Volumes` entries).
#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct RuntimeConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    exposed_ports: BTreeMap<String, Empty>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    env: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    entrypoint: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cmd: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    volumes: BTreeMap<String, Empty>,
    #[serde(skip_serializing_if = "Option::is_none")]
    working_dir: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_signal: Option<String>,
}

#[derive(Serialize)]
struct RootFs<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    diff_ids: Vec<&'a str>,
}

#[derive(Serialize)]
struct History<'a> {
    created: &'static str,
    created_by: &'a str,
}

#[derive(Serialize)]
struct OciConfig<'a> {
    created: &'static str,
    architecture: &'static str,
    os: &'static str,
    config: RuntimeConfig,
    rootfs: RootFs<'a>,
    history: Vec<History<'a>>,
}

/// A content descriptor.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Descriptor<'a> {
    pub media_type: &'static str,
    pub digest: &'a str,
    pub size: u64,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<&'static str, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Manifest<'a> {
    schema_version: u32,
    media_type: &'static str,
    config: Descriptor<'a>,
    layers: Vec<Descriptor<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Index<'a> {
    schema_version: u32,
    media_type: &'static str,
    manifests: Vec<Descriptor<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifestEntry {
    config: String,
    repo_tags: Vec<String>,
    layers: Vec<String>,
}

/// The OCI architecture name of the host.
pub(super) fn host_architecture() -> Result<&'static str> {
    Ok(match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        "riscv64" => "riscv64",
        "s390x" => "s390x",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "loongarch64" => "loong64",
        other => bail!("no OCI architecture name is known for this host's architecture {other}"),
    })
}

/// The image config; `layers` are `(diff_id, history created_by)`.
pub(super) fn image_config(spec: &ImageSpec, layers: &[(&str, String)]) -> Result<Vec<u8>> {
    let c = &spec.config;
    let config = OciConfig {
        created: CREATED,
        architecture: host_architecture()?,
        os: "linux",
        config: RuntimeConfig {
            user: c.user.clone(),
            exposed_ports: c
                .exposed_ports
                .iter()
                .map(|(port, proto)| (format!("{port}/{proto}"), Empty {}))
                .collect(),
            env: c.env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            entrypoint: c.entrypoint.clone(),
            cmd: c.cmd.clone(),
            volumes: c.volumes.iter().map(|v| (v.clone(), Empty {})).collect(),
            working_dir: c.working_dir.clone(),
            labels: c.labels.clone(),
            stop_signal: c.stop_signal.clone(),
        },
        rootfs: RootFs {
            kind: "layers",
            diff_ids: layers.iter().map(|(d, _)| *d).collect(),
        },
        history: layers
            .iter()
            .map(|(_, by)| History {
                created: CREATED,
                created_by: by,
            })
            .collect(),
    };
    Ok(serde_json::to_vec(&config)?)
}

pub(super) fn manifest(config: Descriptor, layers: Vec<Descriptor>) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec(&Manifest {
        schema_version: 2,
        media_type: MEDIA_MANIFEST,
        config,
        layers,
    })?)
}

/// `index.json`, naming each image's manifest (`(spec, digest, size)`) by
/// tag (OCI, umoci, skopeo) and by `name:tag` (containerd).
pub(super) fn index(images: &[(&ImageSpec, &str, u64)]) -> Result<Vec<u8>> {
    let manifests = images
        .iter()
        .map(|(spec, digest, size)| Descriptor {
            media_type: MEDIA_MANIFEST,
            digest,
            size: *size,
            annotations: BTreeMap::from([
                ("io.containerd.image.name", spec.reference()),
                ("org.opencontainers.image.ref.name", spec.tag.clone()),
            ]),
        })
        .collect();
    Ok(serde_json::to_vec(&Index {
        schema_version: 2,
        media_type: MEDIA_INDEX,
        manifests,
    })?)
}

pub(super) fn oci_layout() -> &'static [u8] {
    br#"{"imageLayoutVersion":"1.0.0"}"#
}

/// Docker's `manifest.json` (what `docker load` reads): for each image
/// (`(spec, config hex, layer hexes)`), the same blobs as its OCI manifest.
pub(super) fn docker_manifest(images: &[(&ImageSpec, &str, &[String])]) -> Result<Vec<u8>> {
    let entries: Vec<DockerManifestEntry> = images
        .iter()
        .map(|(spec, config_hex, layer_hexes)| DockerManifestEntry {
            config: format!("blobs/sha256/{config_hex}"),
            repo_tags: vec![spec.reference()],
            layers: layer_hexes.iter().map(|h| format!("blobs/sha256/{h}")).collect(),
        })
        .collect();
    Ok(serde_json::to_vec(&entries)?)
}
