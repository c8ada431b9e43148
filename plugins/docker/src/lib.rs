//! The docker manager: one image request per service. The host assembles
//! each image from the service's Nix closure (no base image, no daemon) into
//! `images/<service>.tar`, loadable with `docker load` or `podman load`.
//! Config files are baked into the image at the path the service expects.

use nix2dream_plugin_kit::{image, Artifact, Deployment, Diagnostic, Manager, PluginInfo, Rendered};

pub struct Docker;

const USAGE: &str = "\
docker load -i OUT/images/<service>.tar, then docker run the printed <deployment>-<service>:<tag> image.
Each image holds the service's Nix closure (one layer per store path), its config files at the path the service expects, \
/etc/passwd and /etc/group for a named user (uid 1000), its volumes and working directory owned by that user, and declares its ports (EXPOSE) and volumes (VOLUME). \
The archive is also an OCI layout: skopeo copy oci-archive:OUT/images/<service>.tar ...";

impl Manager for Docker {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "docker".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "One OCI image per service, assembled by the host from the service's Nix closure.".into(),
            supported_options: nix2dream_plugin_kit::supported_options(&[image::IMAGE_OPTIONS]),
            settings_schema: String::new(),
            usage: USAGE.into(),
        }
    }

    fn render(deployment: Deployment) -> Result<Rendered, Vec<Diagnostic>> {
        let found = image::service_images(&deployment);
        if !found.errors.is_empty() {
            return Err(found.errors);
        }
        let artifacts = found.images.into_iter().map(|(_, request)| Artifact::Image(request)).collect();
        Ok(Rendered { artifacts, diagnostics: found.warnings })
    }
}

nix2dream_plugin_kit::export_manager!(Docker);

#[cfg(test)]
mod tests;
