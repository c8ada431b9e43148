//! The @NAME@ nix2dream manager plugin: one shell script per service,
//! `<service>.sh`, that starts it. Replace the render with your manager's
//! files; the host gives the whole deployment (docs/writing-a-plugin.md).
//!
//! Build: `nix2dream plugins build` (prints where the component is);
//! test: `cargo test`.

use nix2dream_plugin_kit::{diagnostics, file, shell, Addressing, Deployment, Diagnostic, Manager, PluginInfo, Rendered};

pub struct @TYPE@;

impl Manager for @TYPE@ {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "@NAME@".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "@NAME@: one start script per service".into(),
            // Only what the render really honours: the host warns users
            // about every other option they set (the test below keeps this honest).
            supported_options: nix2dream_plugin_kit::supported_options(&[&["process.argv", "env"]]),
            // The JSON Schema of `settings.@NAME@` and `managers.@NAME@`, if the plugin takes
            // settings: derive it from settings types with nix2dream_plugin_kit::settings::schema
            // (docs/writing-a-plugin.md, "Settings").
            settings_schema: String::new(),
            // Shown after the first render; OUT is the output directory.
            usage: "run a service with: sh OUT/<service>.sh".into(),
            // The services share one machine's network: they meet on 127.0.0.1.
            addressing: Addressing::Loopback,
        }
    }

    fn render(d: Deployment) -> Result<Rendered, Vec<Diagnostic>> {
        let mut artifacts = Vec::new();
        for s in &d.services {
            if s.argv.is_empty() {
                return Err(vec![diagnostics::error(&s.name, "process.argv", "empty argv")]);
            }
            let mut script = String::from("#!/bin/sh\n");
            for var in &s.env {
                script += &format!("export {}={}\n", var.name, shell::quote(&var.value));
            }
            script += &format!("exec {}\n", shell::quote_words(&s.argv));
            artifacts.push(file(format!("{}.sh", s.name), script, true));
        }
        Ok(Rendered { artifacts, diagnostics: Vec::new() })
    }
}

nix2dream_plugin_kit::export_manager!(@TYPE@);

#[cfg(test)]
mod tests {
    use super::*;
    use nix2dream_plugin_kit::testing::{deployment, honoured_options, service};
    use nix2dream_plugin_kit::{Artifact, EnvVar};

    fn files(rendered: Result<Rendered, Vec<Diagnostic>>) -> Vec<(String, Vec<u8>)> {
        let artifacts = rendered.map(|r| r.artifacts).unwrap_or_default();
        artifacts
            .into_iter()
            .filter_map(|a| match a {
                Artifact::File(f) => Some((f.path, f.contents)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn one_script_per_service_with_quoted_values() {
        let mut web = service("web", &["httpd", "-h", "/srv/my site"]);
        web.env.push(EnvVar { name: "GREETING".into(), value: "it's $HOME".into() });
        let rendered = files(@TYPE@::render(deployment(vec![web])));
        let script = String::from_utf8(rendered[0].1.clone()).unwrap();
        assert_eq!(rendered[0].0, "web.sh");
        assert_eq!(script, "#!/bin/sh\nexport GREETING='it'\\''s $HOME'\nexec httpd -h '/srv/my site'\n");
    }

    #[test]
    fn declares_exactly_the_options_it_honours() {
        let honoured = honoured_options(|svc| files(@TYPE@::render(deployment(vec![svc]))));
        let mut declared = @TYPE@::info().supported_options;
        declared.sort();
        assert_eq!(honoured, declared);
    }
}
