//! The bundled plugins' own code run natively, outside any sandbox: what
//! rendering itself costs, beside what nix2dream spends on the sandbox and
//! the contract's copying. The deployment is the same generated one as
//! `big_json`'s, built as the kit's records (the bench checks the native
//! render writes the same bytes as the wasm one, so the two did the same work).

use nix2dream_plugin_kit::testing::{service, ServiceExt};
use nix2dream_plugin_kit::{Artifact, Dependency, DependencyCondition, Deployment, Manager};

/// `big_json(services)` as the kit's records: services in the host's order
/// (by name), each with its argv, its `ID` and a dependency on the next.
pub fn big_deployment(services: usize) -> Deployment {
    let mut numbered: Vec<(String, usize)> = (0..services).map(|i| (format!("s{i}"), i)).collect();
    numbered.sort();
    let records = numbered
        .iter()
        .map(|(name, i)| {
            let mut s = service(name, &["app", &i.to_string()]).env("ID", &i.to_string());
            s.options_set = vec!["dependsOn".into(), "env".into(), "process.argv".into()];
            s.settings_json = "{}".into();
            if i + 1 < services {
                s.depends_on.push(Dependency { service: format!("s{}", i + 1), condition: DependencyCondition::Started });
            } else {
                s.options_set.retain(|o| o != "dependsOn");
            }
            s
        })
        .collect();
    let mut deployment = nix2dream_plugin_kit::testing::deployment(records);
    deployment.name = "scale".into();
    deployment.settings_json = "{}".into();
    deployment
}

/// Renders `deployment` with the plugin `plugin`'s code, natively; returns
/// the files it wrote (path, bytes), images aside.
pub fn render(plugin: &str, deployment: Deployment) -> Vec<(String, Vec<u8>)> {
    let rendered = match plugin {
        "procfile" => nix2dream_procfile::Procfile::render(deployment),
        "systemd" => nix2dream_systemd::Systemd::render(deployment),
        "compose" => nix2dream_compose::Compose::render(deployment),
        "k8s" => nix2dream_k8s::K8s::render(deployment),
        other => panic!("no native build of {other} in the bench"),
    };
    let rendered = rendered.unwrap_or_else(|e| panic!("{plugin} refused the bench's deployment: {e:?}"));
    rendered
        .artifacts
        .into_iter()
        .filter_map(|a| match a {
            Artifact::File(f) => Some((f.path, f.contents)),
            _ => None,
        })
        .collect()
}
