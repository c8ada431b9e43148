//! Plugins built against `nix2dream:manager@0.2.0` (adds image requests):
//! their bindings, the deployment in their types, and their results
//! upgraded to the latest types (the same records, other Rust types).

use super::latest;
use crate::deployment as d;

wasmtime::component::bindgen!({
    path: "../wit/v0.2.0",
    world: "manager",
});

pub use exports::nix2dream::manager::plugin as api;

super::convert::service_conversion!();

super::convert::before_v0_3!();

fn upgrade_content(c: api::FileContent) -> latest::FileContent {
    match c {
        api::FileContent::Text(t) => latest::FileContent::Text(t),
        api::FileContent::Source(s) => latest::FileContent::Source(s),
    }
}

fn upgrade_image(i: api::ImageRequest) -> latest::ImageRequest {
    let c = i.config;
    latest::ImageRequest {
        path: i.path,
        name: i.name,
        tag: i.tag,
        config: latest::ImageConfig {
            entrypoint: c.entrypoint,
            cmd: c.cmd,
            env: c.env.into_iter().map(|e| latest::EnvVar { name: e.name, value: e.value }).collect(),
            exposed_ports: c
                .exposed_ports
                .into_iter()
                .map(|p| latest::Port {
                    name: p.name,
                    port: p.port,
                    protocol: match p.protocol {
                        api::Protocol::Tcp => latest::Protocol::Tcp,
                        api::Protocol::Udp => latest::Protocol::Udp,
                    },
                })
                .collect(),
            user: c.user,
            working_dir: c.working_dir,
            labels: c.labels,
            volumes: c.volumes,
        },
        store_paths: i.store_paths,
        files: i
            .files
            .into_iter()
            .map(|f| latest::ImageFile { path: f.path, content: upgrade_content(f.content), executable: f.executable })
            .collect(),
    }
}

pub fn upgrade_rendered(r: api::Rendered) -> latest::Rendered {
    latest::Rendered {
        artifacts: r
            .artifacts
            .into_iter()
            .map(|a| match a {
                api::Artifact::File(f) => {
                    latest::Artifact::File(latest::File { path: f.path, contents: f.contents, executable: f.executable })
                }
                api::Artifact::Image(i) => latest::Artifact::Image(upgrade_image(i)),
            })
            .collect(),
        diagnostics: r.diagnostics.into_iter().map(upgrade_diagnostic).collect(),
    }
}
