//! The compose manager: `compose.yaml` for Docker Compose, plus the image of
//! every service (the same image requests as the docker plugin, so image
//! references match). Config files are baked into the images.

mod service;
mod settings;
mod yaml;

use nix2dream_plugin_kit::{
    diagnostics, file, image, Addressing, Artifact, Deployment, Diagnostic, Manager, PluginInfo, Rendered, VolumeSource,
};
use std::borrow::Cow;
use std::collections::HashSet;
use yaml::Entries;

pub struct Compose;

/// What compose.yaml adds to what the images carry.
const ORCHESTRATION_OPTIONS: &[&str] =
    &["dependsOn", "healthcheck", "restart", "resources", "replicas", "oneShot", "stopTimeout", "ports.internal", "ports.hostPort", "volumes.hostPath", "volumes.readOnly", "secrets"];

const USAGE: &str = "\
for i in OUT/images/*.tar; do docker load -i \"$i\"; done; docker-compose -f OUT/compose.yaml up -d
Images hold each service's Nix closure and its config files. Ports are published on settings.compose.publishAddress \
(default: all addresses), at their hostPort where one is set; internal ports are not published (only the other services reach them). \
Services reach each other by name (the addresses in their env and argv say so); every container runs with an init (init: true) that reaps and forwards signals. \
Secrets: a file is mounted as a compose secret; a variable is taken from docker-compose's own environment \
(secrets.<name>.environment), which must then be set for every docker-compose command (it reads the whole file). An http healthcheck runs `wget` inside the container: put busybox or wget in the service's \
package/path, or use a command healthcheck. managers.compose (per service) and settings.compose.file (top level) are \
merged into the generated YAML. settings.compose.imageArchives = \"shared\" puts every image into one archive, images/all.tar, \
holding each layer once (services on the same package write and load it once).";

impl Manager for Compose {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "compose".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "compose.yaml for Docker Compose, with one image per service built from its Nix closure.".into(),
            supported_options: nix2dream_plugin_kit::supported_options(&[image::IMAGE_OPTIONS, ORCHESTRATION_OPTIONS]),
            settings_schema: settings::schema(),
            usage: USAGE.into(),
            addressing: Addressing::ServiceName,
        }
    }

    fn render(deployment: Deployment) -> Result<Rendered, Vec<Diagnostic>> {
        let deployment_settings = settings::DeploymentSettings::parse(&deployment.settings_json).map_err(|d| vec![d])?;
        let image::ServiceImages { images, mut errors } = image::service_images(&deployment);
        let mut warnings = Vec::new();
        // compose.yaml is written from typed entries borrowing from the
        // deployment and the image requests (service.rs), with no YAML tree
        // but for services with managers.compose (or a whole file with
        // settings.compose.file) to merge.
        let mut services = Entries::default();
        let mut volumes: Vec<Cow<str>> = Vec::new();
        let mut seen_volumes: HashSet<Cow<str>> = HashSet::new();
        let healthchecked: HashSet<&str> = deployment.services.iter().filter(|s| s.healthcheck.is_some()).map(|s| s.name.as_str()).collect();
        for (svc, request) in &images {
            match service::compose_service(&deployment, svc, request, &deployment_settings, &healthchecked) {
                Ok(entry) => {
                    warnings.extend(entry.warnings);
                    for name in entry.named_volumes {
                        if !seen_volumes.contains(&name) {
                            seen_volumes.insert(name.clone());
                            volumes.push(name);
                        }
                    }
                    services.push(svc.name.as_str(), entry.written);
                }
                Err(mut e) => errors.append(&mut e),
            }
        }
        // A service's own volume is named `<service>-<volume>`: a deployment
        // volume of that name would be the same Docker volume.
        let shared = nix2dream_plugin_kit::shared_volume_names(&deployment);
        for svc in &deployment.services {
            for v in svc.volumes.iter().filter(|v| matches!(v.source, VolumeSource::Own) && v.persistent) {
                let own = service::volume_name(svc, &v.name);
                if shared.binary_search(&own.as_str()).is_ok() {
                    errors.push(diagnostics::error(
                        &svc.name,
                        "volumes.shared",
                        format!("volumes.{}: compose names it {own:?}, like the deployment's volume {own:?}: rename one of them", v.name),
                    ));
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        // The secret files the services mount, where they lie on the machine.
        let mut secrets = Entries::default();
        for secret in &deployment.secrets {
            let mounted = deployment.services.iter().flat_map(|s| &s.secrets).any(|u| u.secret == secret.name && u.path.is_some());
            if let (true, Some(file)) = (mounted, &secret.file) {
                secrets.insert(secret.name.as_str(), SecretFile { file: yaml::escape(file) });
            }
        }
        let top = ComposeFile { services, secrets, volumes: volumes.into_iter().map(|v| (v, yaml::Empty)).collect::<Vec<_>>().into() };
        let mut text = format!("# Generated by nix2dream (compose plugin) from deployment {:?}. Do not edit: re-render.\n", deployment.name);
        // Every string quoted: docker-compose reads YAML 1.1, where `no` is false and `12:30` is 750.
        let written = match deployment_settings.file {
            None => nix2dream_plugin_kit::yaml::append(&mut text, &top),
            Some(file) => {
                let mut value = serde_yaml_ng::to_value(&top).map_err(|e| vec![diagnostics::deployment_error(format!("cannot write compose.yaml: {e}"))])?;
                yaml::merge(&mut value, yaml::from_json(&serde_json::Value::Object(file)));
                let written = nix2dream_plugin_kit::yaml::append(&mut text, &value);
                // Not freed: the plugin's instance (and all its memory) is
                // dropped after this one call, and freeing the tree node by
                // node took a quarter of the render.
                std::mem::forget(value);
                written
            }
        };
        written.map_err(|e| vec![diagnostics::deployment_error(format!("cannot write compose.yaml: {e}"))])?;
        // Not freed either, for the same reason (the merged services' trees).
        std::mem::forget(top);
        let mut artifacts = vec![file("compose.yaml", text, false)];
        let archives = deployment_settings.image_archives;
        artifacts.extend(images.into_iter().map(|(_, request)| Artifact::Image(archives.place(request))));
        Ok(Rendered { artifacts, diagnostics: warnings })
    }
}

/// compose.yaml's top level, in the order it was written in before.
#[derive(serde::Serialize)]
struct ComposeFile<'a> {
    services: Entries<&'a str, service::Written<'a>>,
    #[serde(skip_serializing_if = "Entries::is_empty")]
    secrets: Entries<&'a str, SecretFile<'a>>,
    #[serde(skip_serializing_if = "Entries::is_empty")]
    volumes: Entries<Cow<'a, str>, yaml::Empty>,
}

#[derive(serde::Serialize)]
struct SecretFile<'a> {
    file: Cow<'a, str>,
}

nix2dream_plugin_kit::export_manager!(Compose);

#[cfg(test)]
mod tests;
