//! The smallest useful manager plugin, as docs/writing-a-plugin.md shows it:
//! one runit service directory per service. Built with the workspace (so
//! the documentation cannot drift from the kit's API) and tested below.

use nix2dream_plugin_kit::{diagnostics, file, shell, Addressing, Deployment, Diagnostic, Manager, PluginInfo, Rendered};

pub struct Runit;

impl Manager for Runit {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "runit".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "runit service directories".into(),
            // Only what the render really honours: the host warns about the rest.
            supported_options: nix2dream_plugin_kit::supported_options(&[&["process.argv", "env"]]),
            settings_schema: String::new(),
            usage: "ln -s OUT/<service> /etc/service/".into(),
            // runit runs every service on this machine: they meet on 127.0.0.1.
            addressing: Addressing::Loopback,
        }
    }

    fn render(d: Deployment) -> Result<Rendered, Vec<Diagnostic>> {
        let mut artifacts = Vec::new();
        for s in &d.services {
            if s.argv.is_empty() {
                return Err(vec![diagnostics::error(&s.name, "process.argv", "empty argv")]);
            }
            let mut run = String::from("#!/bin/sh\n");
            for var in &s.env {
                run += &format!("export {}={}\n", var.name, shell::quote(&var.value));
            }
            run += &format!("exec {}\n", shell::quote_words(&s.argv));
            artifacts.push(file(format!("{}/run", s.name), run, true));
        }
        Ok(Rendered { artifacts, diagnostics: Vec::new() })
    }
}

nix2dream_plugin_kit::export_manager!(Runit);

#[cfg(test)]
mod tests {
    use super::*;
    use nix2dream_plugin_kit::testing::{deployment, service};
    use nix2dream_plugin_kit::{Artifact, EnvVar};

    #[test]
    fn one_run_script_per_service_with_quoted_argv() {
        let mut web = service("web", &["httpd", "-h", "/srv/my site"]);
        web.env.push(EnvVar { name: "GREETING".into(), value: "it's $HOME".into() });
        let rendered = Runit::render(deployment(vec![web])).unwrap();
        let Artifact::File(run) = &rendered.artifacts[0] else { panic!("not a file") };
        assert_eq!(run.path, "web/run");
        assert!(run.executable);
        let text = String::from_utf8(run.contents.clone()).unwrap();
        assert_eq!(text, "#!/bin/sh\nexport GREETING='it'\\''s $HOME'\nexec httpd -h '/srv/my site'\n");
    }
}
