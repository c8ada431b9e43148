//! A plugin for `nix2dream:manager@0.2.0`, written without the plugin kit
//! (which targets the newest contract): a file listing each service's argv,
//! and an image of each service that has a package.

wit_bindgen::generate!({ path: "../../../wit/v0.2.0", world: "manager" });

use exports::nix2dream::manager::plugin::{
    Artifact, Deployment, Diagnostic, File, Guest, ImageConfig, ImageRequest, PluginInfo, Rendered, Severity,
};

struct LegacyV02;

impl Guest for LegacyV02 {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "legacy-v0-2".into(),
            version: "0.2.0".into(),
            description: "built for nix2dream:manager@0.2.0".into(),
            supported_options: vec!["process.argv".into(), "package".into()],
            settings_schema: String::new(),
            usage: String::new(),
        }
    }

    fn render(deployment: Deployment) -> Result<Rendered, Vec<Diagnostic>> {
        let text: String = deployment.services.iter().map(|s| format!("{}: {}\n", s.name, s.argv.join(" "))).collect();
        let mut artifacts =
            vec![Artifact::File(File { path: "services.txt".into(), contents: text.into_bytes(), executable: false })];
        for s in deployment.services.iter().filter(|s| s.package.is_some()) {
            artifacts.push(Artifact::Image(ImageRequest {
                path: format!("images/{}.tar", s.name),
                name: s.name.clone(),
                tag: "legacy".into(),
                config: ImageConfig {
                    entrypoint: Vec::new(),
                    cmd: s.argv.clone(),
                    env: Vec::new(),
                    exposed_ports: Vec::new(),
                    user: None,
                    working_dir: None,
                    labels: vec![("built-by".into(), "legacy-v0-2".into())],
                    volumes: Vec::new(),
                },
                store_paths: s.package.iter().cloned().collect(),
                files: Vec::new(),
            }));
        }
        let diagnostics = vec![Diagnostic {
            severity: Severity::Info,
            service: None,
            option_name: None,
            message: "rendered by a 0.2.0 plugin".into(),
        }];
        Ok(Rendered { artifacts, diagnostics })
    }
}

#[cfg(target_arch = "wasm32")]
export!(LegacyV02);
