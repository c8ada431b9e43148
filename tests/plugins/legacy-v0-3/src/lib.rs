//! A plugin for `nix2dream:manager@0.3.0`, written without the plugin kit
//! (which targets the newest contract): a file listing the programs the host
//! found in the services' packages (`bin-directories`, new in 0.3.0).

wit_bindgen::generate!({ path: "../../../wit/v0.3.0", world: "manager" });

use exports::nix2dream::manager::plugin::{Artifact, Deployment, Diagnostic, File, Guest, PluginInfo, Rendered, Severity};

struct LegacyV03;

impl Guest for LegacyV03 {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "legacy-v0-3".into(),
            version: "0.3.0".into(),
            description: "built for nix2dream:manager@0.3.0".into(),
            supported_options: vec!["process.argv".into(), "package".into()],
            settings_schema: String::new(),
            usage: String::new(),
        }
    }

    fn render(deployment: Deployment) -> Result<Rendered, Vec<Diagnostic>> {
        let text: String = deployment
            .bin_directories
            .iter()
            .map(|b| format!("{}: {}\n", b.package, b.programs.join(" ")))
            .collect();
        let artifacts =
            vec![Artifact::File(File { path: "programs.txt".into(), contents: text.into_bytes(), executable: false })];
        let diagnostics = vec![Diagnostic {
            severity: Severity::Info,
            service: None,
            option_name: None,
            message: "rendered by a 0.3.0 plugin".into(),
        }];
        Ok(Rendered { artifacts, diagnostics })
    }
}

#[cfg(target_arch = "wasm32")]
export!(LegacyV03);
