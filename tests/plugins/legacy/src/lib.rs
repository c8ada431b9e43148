//! A plugin for `nix2dream:manager@0.1.0`, written without the plugin kit
//! (which targets the newest contract): one file listing each service's argv.

wit_bindgen::generate!({ path: "../../../wit/v0.1.0", world: "manager" });

use exports::nix2dream::manager::plugin::{Artifact, Deployment, Diagnostic, File, Guest, PluginInfo, Rendered};

struct Legacy;

impl Guest for Legacy {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "legacy".into(),
            version: "0.1.0".into(),
            description: "built for nix2dream:manager@0.1.0".into(),
            supported_options: vec!["process.argv".into()],
            settings_schema: String::new(),
            usage: String::new(),
        }
    }

    fn render(deployment: Deployment) -> Result<Rendered, Vec<Diagnostic>> {
        let text: String = deployment.services.iter().map(|s| format!("{}: {}\n", s.name, s.argv.join(" "))).collect();
        Ok(Rendered {
            artifacts: vec![Artifact::File(File { path: "services.txt".into(), contents: text.into_bytes(), executable: false })],
            diagnostics: Vec::new(),
        })
    }
}

#[cfg(target_arch = "wasm32")]
export!(Legacy);
