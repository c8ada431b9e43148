//! A plugin that misbehaves on purpose, so the tests can prove the host's
//! sandbox holds. `settings.hostile` in the deployment picks the behaviour:
//!
//! - `{"behaviour": "files", "files": {"path": "contents", ...}}` writes those files
//!   (relative, absolute, `..`: whatever the test asks for)
//! - `"loop"` never returns; `"memory"` allocates without end; `"stack"` recurses without end
//! - `"huge-output", "mib": N` returns one file of N MiB
//! - `"many-files", "count": N` returns N empty files
//! - `"panic"` panics (a trap); `"refuse"` returns an error diagnostic
//! - `"image", "source": PATH, "storePaths": [...]` asks for an image that
//!   bakes in the host file PATH and holds those store paths' closure;
//!   `"count": N` asks for N such images

use nix2dream_plugin_kit::types::{ImageConfig, ImageFile, ImageRequest};
use nix2dream_plugin_kit::{diagnostics, file, Artifact, Deployment, Diagnostic, FileContent, Manager, PluginInfo, Rendered};

struct Hostile;

/// The plugin's name, in a slot the sandbox tests find by its marker and
/// overwrite in the built component, to test names the host must refuse.
static NAME_SLOT: [u8; 48] = *b"N2D-NAME-SLOT:hostile\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";

fn name() -> String {
    let slot: &[u8; 48] = std::hint::black_box(&NAME_SLOT);
    let name = &slot[14..];
    String::from_utf8_lossy(&name[..name.iter().position(|b| *b == 0).unwrap_or(name.len())]).into_owned()
}

#[inline(never)]
#[allow(unconditional_recursion)] // on purpose: the stack limit must stop it
fn recurse(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 64]);
    recurse(depth + 1) + frame[7]
}

impl Manager for Hostile {
    fn info() -> PluginInfo {
        PluginInfo {
            name: name(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "test plugin that misbehaves on request".into(),
            supported_options: vec!["process.argv".into()],
            settings_schema: String::new(),
            usage: String::new(),
            addressing: nix2dream_plugin_kit::Addressing::Loopback,
        }
    }

    fn render(deployment: Deployment) -> Result<Rendered, Vec<Diagnostic>> {
        let settings = diagnostics::parse_settings(&deployment.settings_json, None).map_err(|d| vec![d])?;
        let behaviour = settings["behaviour"].as_str().unwrap_or("files").to_owned();
        let mut artifacts = Vec::new();
        match behaviour.as_str() {
            "files" => {
                for (path, contents) in settings["files"].as_object().into_iter().flatten() {
                    artifacts.push(file(path.clone(), contents.as_str().unwrap_or_default(), false));
                }
            }
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "memory" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "stack" => {
                std::hint::black_box(recurse(0));
            }
            "many-files" => {
                for i in 0..settings["count"].as_u64().unwrap_or(1_000_000) {
                    artifacts.push(file(format!("f/{i}"), Vec::new(), false));
                }
            }
            "huge-output" => {
                let mib = settings["mib"].as_u64().unwrap_or(100) as usize;
                artifacts.push(file("huge", vec![b'x'; mib << 20], false));
            }
            "image" => {
                let strings = |v: &serde_json::Value| -> Vec<String> {
                    v.as_array().into_iter().flatten().filter_map(|s| s.as_str().map(str::to_owned)).collect()
                };
                for i in 0..settings["count"].as_u64().unwrap_or(1) {
                    let files = settings["source"]
                        .as_str()
                        .map(|source| ImageFile { path: "/stolen".into(), content: FileContent::Source(source.into()), executable: false })
                        .into_iter()
                        .collect();
                    artifacts.push(Artifact::Image(ImageRequest {
                        path: if i == 0 { "images/stolen.tar".into() } else { format!("images/stolen-{i}.tar") },
                        name: "stolen".into(),
                        tag: format!("n{i}"),
                        config: ImageConfig {
                            entrypoint: Vec::new(),
                            cmd: vec!["true".into()],
                            env: Vec::new(),
                            exposed_ports: Vec::new(),
                            user: None,
                            working_dir: None,
                            labels: Vec::new(),
                            volumes: Vec::new(),
                            stop_signal: None,
                            shared_directories: Vec::new(),
                        },
                        store_paths: strings(&settings["storePaths"]),
                        files,
                    }));
                }
            }
            "panic" => panic!("hostile plugin panics on purpose"),
            "refuse" => return Err(vec![diagnostics::error("web", "process.argv", "refused on purpose")]),
            other => return Err(vec![diagnostics::deployment_error(format!("unknown behaviour {other:?}"))]),
        }
        Ok(Rendered { artifacts, diagnostics: Vec::new() })
    }
}

nix2dream_plugin_kit::export_manager!(Hostile);
