//! The docker manager: one image request per service. The host assembles
//! each image from the service's Nix closure (no base image, no daemon) into
//! `images/<service>.tar`, loadable with `docker load` or `podman load`.
//! Config files are baked into the image at the path the service expects.

use nix2dream_plugin_kit::settings::{self, NoSettings};
use nix2dream_plugin_kit::{image, Addressing, Artifact, Deployment, Diagnostic, Manager, PluginInfo, Rendered};

pub struct Docker;

const USAGE: &str = "\
docker load -i OUT/images/<service>.tar, then docker run the printed <deployment>-<service>:<tag> image.
Each image holds the service's Nix closure (one layer per store path), its config files at the path the service expects, \
/etc/passwd and /etc/group with root, nobody and a named user (uid 1000), its volumes and working directory owned by that user, and declares its ports (EXPOSE) and volumes (VOLUME). \
The archive is also an OCI layout: skopeo copy oci-archive:OUT/images/<service>.tar ... \
Service addresses are the services' names: run the containers on one network, each named after its service \
(docker network create <deployment>; docker run --network <deployment> --name <service> --init ...). \
The plugin takes no settings: settings.docker and managers.docker must be empty (the image follows the core options).";

/// No key is accepted in either place (the host refuses any, naming it): an
/// image is what the core options say, and a key the plugin would ignore must
/// not look honoured.
fn schema() -> String {
    settings::schema::<NoSettings, NoSettings>("docker")
}

impl Manager for Docker {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "docker".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "One OCI image per service, assembled by the host from the service's Nix closure.".into(),
            supported_options: nix2dream_plugin_kit::supported_options(&[image::IMAGE_OPTIONS]),
            settings_schema: schema(),
            usage: USAGE.into(),
            addressing: Addressing::ServiceName,
        }
    }

    fn render(deployment: Deployment) -> Result<Rendered, Vec<Diagnostic>> {
        let mut errors: Vec<Diagnostic> = settings::deployment::<NoSettings>("docker", &deployment.settings_json).err().into_iter().collect();
        errors.extend(deployment.services.iter().filter_map(|s| settings::service::<NoSettings>("docker", &s.name, &s.settings_json).err()));
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
