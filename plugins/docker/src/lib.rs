//! The docker manager: one image request per service. The host assembles
//! each image from the service's Nix closure (no base image, no daemon) into
//! `images/<service>.tar`, loadable with `docker load` or `podman load`.
//! Config files are baked into the image at the path the service expects.

use nix2dream_plugin_kit::{diagnostics, image, Addressing, Artifact, Deployment, Diagnostic, Manager, PluginInfo, Rendered};

pub struct Docker;

const USAGE: &str = "\
docker load -i OUT/images/<service>.tar, then docker run the printed <deployment>-<service>:<tag> image.
Each image holds the service's Nix closure (one layer per store path), its config files at the path the service expects, \
/etc/passwd and /etc/group with root, nobody and a named user (uid 1000), its volumes and working directory owned by that user, and declares its ports (EXPOSE) and volumes (VOLUME). \
The archive is also an OCI layout: skopeo copy oci-archive:OUT/images/<service>.tar ... \
Service addresses are the services' names: run the containers on one network, each named after its service \
(docker network create <deployment>; docker run --network <deployment> --name <service> --init ...). \
The plugin takes no settings: settings.docker and managers.docker must be empty (the image follows the core options).";

/// No key is accepted: an image is what the core options say.
const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "docker manager settings",
  "description": "The docker plugin takes no settings: settings.docker and managers.docker must be empty. The image follows the core options (package, argv, env, path, workingDirectory, preStart, configData, volumes, ports, user, group, description).",
  "type": "object",
  "additionalProperties": false
}"#;

/// Refuses any key of `settings.docker` (no service) or `managers.docker`
/// (one service): a key the plugin would ignore must not look honoured.
fn no_settings(json: &str, service: Option<&str>) -> Result<(), Diagnostic> {
    let value = diagnostics::parse_settings(json, service)?;
    let keys: Vec<String> = match value.as_object() {
        Some(object) if object.is_empty() => return Ok(()),
        Some(object) => object.keys().map(|k| format!("{k:?}")).collect(),
        None => vec![value.to_string()],
    };
    let message = |what: &str| format!("{what}: unknown setting(s) {}: the docker plugin takes no settings (the image follows the core options)", keys.join(", "));
    Err(match service {
        Some(s) => diagnostics::error(s, "managers", message("managers.docker")),
        None => diagnostics::deployment_error(message("settings.docker")),
    })
}

impl Manager for Docker {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "docker".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "One OCI image per service, assembled by the host from the service's Nix closure.".into(),
            supported_options: nix2dream_plugin_kit::supported_options(&[image::IMAGE_OPTIONS]),
            settings_schema: SCHEMA.into(),
            usage: USAGE.into(),
            addressing: Addressing::ServiceName,
        }
    }

    fn render(deployment: Deployment) -> Result<Rendered, Vec<Diagnostic>> {
        let mut errors: Vec<Diagnostic> = no_settings(&deployment.settings_json, None).err().into_iter().collect();
        errors.extend(deployment.services.iter().filter_map(|s| no_settings(&s.settings_json, Some(&s.name)).err()));
        let found = image::service_images(&deployment);
        errors.extend(found.errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        let artifacts = found.images.into_iter().map(|(_, request)| Artifact::Image(request)).collect();
        Ok(Rendered { artifacts, diagnostics: Vec::new() })
    }
}

nix2dream_plugin_kit::export_manager!(Docker);

#[cfg(test)]
mod tests;
