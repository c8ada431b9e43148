//! Image requests for container managers (docker, compose, later k8s): one
//! image per service, built by the host from the service's Nix closure. Kept
//! here so every container plugin names and configures images identically.

use crate::types::{ImageConfig, ImageFile, ImageRequest};
use crate::{Deployment, Diagnostic, FileContent, Port, Service, VolumeSource};
#[cfg(test)]
use crate::Volume;

/// The core options an image request carries (argv, env, PATH, working
/// directory, user, ports, volumes, config files baked in). Ordering,
/// health, restarts, limits and replicas belong to whoever runs the image.
pub const IMAGE_OPTIONS: &[&str] = &[
    "description",
    "package",
    "process.argv",
    "env",
    "path",
    "workingDirectory",
    "preStart",
    "configData",
    "volumes",
    "volumes.shared",
    "ports",
    "user",
    "group",
    "stopSignal",
];

/// `<deployment>-<service>`: names are validated as `[a-z0-9][a-z0-9-]*`
/// upstream, which is also a valid image name.
pub fn image_name(deployment: &Deployment, service: &Service) -> String {
    format!("{}-{}", deployment.name, service.name)
}

/// Where the image archive of `service` is written, relative to the output.
pub fn archive_path(service: &Service) -> String {
    format!("images/{}.tar", service.name)
}

/// How a container manager's images are split into archives (the
/// `imageArchives` setting of compose and k8s): one per service, each
/// loading alone, or all in one, [`SHARED_ARCHIVE`], holding each layer once.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Deserialize, crate::settings::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ImageArchives {
    #[default]
    PerService,
    Shared,
}

/// Where every image goes with [`ImageArchives::Shared`]: image requests
/// that share a path are one archive (the host's contract).
pub const SHARED_ARCHIVE: &str = "images/all.tar";

impl ImageArchives {
    /// `request`, in the archive this puts it in.
    pub fn place(self, mut request: ImageRequest) -> ImageRequest {
        if self == ImageArchives::Shared {
            request.path = SHARED_ARCHIVE.into();
        }
        request
    }
}

/// PATH inside the image: the package's and the `path` entries' `bin/`.
fn image_path(service: &Service) -> Option<String> {
    let dirs: Vec<String> = service
        .package
        .iter()
        .chain(&service.path)
        .map(|p| format!("{}/bin", p.trim_end_matches('/')))
        .collect();
    (!dirs.is_empty()).then(|| dirs.join(":"))
}

/// Where a config file lands in the image: absolute paths as they are,
/// relative ones under the working directory (or `/`).
pub fn config_file_path(service: &Service, path: &str) -> String {
    if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("{}/{}", service.working_directory.as_deref().unwrap_or("").trim_end_matches('/'), path)
    }
}

/// The `user[:group]` the container runs as.
pub fn user_spec(service: &Service) -> Option<String> {
    match (&service.user, &service.group) {
        (Some(u), Some(g)) => Some(format!("{u}:{g}")),
        (Some(u), None) => Some(u.clone()),
        (None, Some(g)) => Some(format!("0:{g}")),
        (None, None) => None,
    }
}

/// The uid given to a named (non-numeric) user in the image's /etc/passwd.
pub const NAMED_USER_UID: u32 = 1000;

fn is_numeric(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// /etc/passwd and /etc/group: root and nobody in every image (programs
/// look users up: nginx's workers run as nobody, as with nixpkgs'
/// dockerTools.fakeNss), and the service's named user and group.
fn account_files(service: &Service) -> Vec<ImageFile> {
    let user = service.user.as_deref().filter(|u| !is_numeric(u) && !matches!(*u, "root" | "nobody"));
    let group = service.group.as_deref().filter(|g| !is_numeric(g) && !matches!(*g, "root" | "nogroup"));
    let gid = NAMED_USER_UID;
    let mut passwd = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/var/empty:/bin/sh\n".to_owned();
    let mut groups = "root:x:0:\nnogroup:x:65534:\n".to_owned();
    if let Some(u) = user {
        passwd += &format!("{u}:x:{NAMED_USER_UID}:{gid}:{u}:/var/empty:/bin/sh\n");
        if group.is_none() {
            groups += &format!("{u}:x:{gid}:\n");
        }
    }
    if let Some(g) = group {
        groups += &format!("{g}:x:{gid}:{}\n", user.unwrap_or(""));
    }
    let file = |path: &str, text: String| ImageFile { path: path.into(), content: FileContent::Text(text), executable: false };
    vec![file("/etc/passwd", passwd), file("/etc/group", groups)]
}

/// FNV-1a, 64 bits: a stable tag from the request's contents (store paths
/// already carry content hashes), so a changed service gets a new tag. Each
/// part is its bytes then 0xff; a part may be given in pieces
/// ([`Fnv::piece`], then [`Fnv::end`]), hashed as their concatenation
/// without building it.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf29ce484222325)
    }

    fn piece(&mut self, text: &str) {
        for byte in text.bytes() {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(0x100000001b3);
        }
    }

    fn end(&mut self) {
        self.0 ^= 0xff;
        self.0 = self.0.wrapping_mul(0x100000001b3);
    }

    fn part(&mut self, text: &str) {
        self.piece(text);
        self.end();
    }

    fn tag(&self) -> String {
        format!("{:016x}", self.0)
    }
}

#[cfg(test)]
fn fnv64(parts: &[&str]) -> String {
    let mut hash = Fnv::new();
    for part in parts {
        hash.part(part);
    }
    hash.tag()
}

/// What the image's layers come from: the closure roots, plus the package
/// and `path` entries (a hand-written deployment may not list them as roots).
fn store_paths(service: &Service) -> Vec<String> {
    let mut paths: Vec<String> = service.closure_roots.iter().chain(&service.package).chain(&service.path).cloned().collect();
    paths.sort();
    paths.dedup();
    paths
}

/// What every container manager starts from: each service with its image
/// request, and errors (a service without argv cannot be an image). Whether
/// the programs an image runs are in it is checked by the host, which knows
/// the image's contents.
pub struct ServiceImages<'a> {
    pub images: Vec<(&'a Service, ImageRequest)>,
    pub errors: Vec<Diagnostic>,
}

pub fn service_images(deployment: &Deployment) -> ServiceImages<'_> {
    let mut out = ServiceImages { images: Vec::new(), errors: Vec::new() };
    for service in &deployment.services {
        if service.argv.is_empty() {
            out.errors.push(crate::diagnostics::error(&service.name, "process.argv", "an image needs a command: process.argv is empty"));
            continue;
        }
        out.images.push((service, image_request(deployment, service)));
    }
    out
}

/// The image request of `service`.
pub fn image_request(deployment: &Deployment, service: &Service) -> ImageRequest {
    let mut env = service.env.clone();
    if let Some(path) = image_path(service) {
        if !env.iter().any(|e| e.name == "PATH") {
            env.push(crate::EnvVar { name: "PATH".into(), value: path });
        }
    }
    // argv is the image's Cmd (what `docker run IMAGE ARGS` and compose's
    // `command` replace); preStart needs a shell in the image: the entrypoint
    // runs it, then execs the Cmd. (The host warns when `sh` is not in the
    // image: it knows the closure, a plugin does not.)
    let (entrypoint, cmd) = match &service.pre_start {
        Some(script) => (
            vec!["sh".into(), "-ec".into(), format!("{script}\nexec \"$@\""), format!("{} preStart", service.name)],
            service.argv.clone(),
        ),
        None => (Vec::new(), service.argv.clone()),
    };
    let mut labels = vec![
        ("dev.nix2dream.deployment".to_owned(), deployment.name.clone()),
        ("dev.nix2dream.service".to_owned(), service.name.clone()),
        ("org.opencontainers.image.title".to_owned(), service.name.clone()),
    ];
    if let Some(description) = &service.description {
        labels.push(("org.opencontainers.image.description".to_owned(), description.clone()));
    }
    let mut files: Vec<ImageFile> = service
        .config_files
        .iter()
        .map(|f| ImageFile { path: config_file_path(service, &f.path), content: f.content.clone(), executable: false })
        .collect();
    files.extend(account_files(service));
    let config = ImageConfig {
        entrypoint,
        cmd,
        env,
        // EXPOSE says port and protocol only: publishing is the runtime's business.
        exposed_ports: service.ports.iter().map(|p| Port { internal: false, host_port: None, ..p.clone() }).collect(),
        user: user_spec(service),
        working_dir: service.working_directory.clone(),
        labels,
        volumes: service.volumes.iter().map(|v| v.path.clone()).collect(),
        stop_signal: service.stop_signal.clone(),
        // Services with other users write a shared volume too.
        shared_directories: service
            .volumes
            .iter()
            .filter(|v| matches!(v.source, VolumeSource::Shared(_)))
            .map(|v| v.path.clone())
            .collect(),
    };
    // The tag hashes these parts, in this order (as they were once listed
    // in a Vec<String>: the same tags as before).
    let mut hash = Fnv::new();
    for part in service.closure_roots.iter().chain(&config.entrypoint).chain(&config.cmd) {
        hash.part(part);
    }
    for e in &config.env {
        hash.piece(&e.name);
        hash.piece("=");
        hash.part(&e.value);
    }
    for p in &config.exposed_ports {
        hash.part(&format!("{}{:?}", p.port, p.protocol));
    }
    for part in config.user.iter().chain(&config.working_dir).chain(&config.stop_signal) {
        hash.part(part);
    }
    for (k, v) in &config.labels {
        hash.piece(k);
        hash.piece("=");
        hash.part(v);
    }
    for part in &config.volumes {
        hash.part(part);
    }
    for d in &config.shared_directories {
        hash.piece("shared ");
        hash.part(d);
    }
    for f in &files {
        hash.part(&f.path);
        match &f.content {
            FileContent::Text(t) => {
                hash.piece("text:");
                hash.part(t);
            }
            FileContent::Source(s) => {
                hash.piece("source:");
                hash.part(s);
            }
        }
    }
    let tag = hash.tag();
    ImageRequest {
        path: archive_path(service),
        name: image_name(deployment, service),
        tag,
        config,
        store_paths: store_paths(service),
        files,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{deployment, service, ServiceExt};

    /// The tag as it was computed before it was hashed in pieces: every part
    /// built as a string, then hashed.
    fn tag_from_strings(service: &Service, request: &ImageRequest) -> String {
        let config = &request.config;
        let mut fingerprint: Vec<String> = service.closure_roots.clone();
        fingerprint.extend(config.entrypoint.iter().chain(&config.cmd).cloned());
        fingerprint.extend(config.env.iter().map(|e| format!("{}={}", e.name, e.value)));
        fingerprint.extend(config.exposed_ports.iter().map(|p| format!("{}{:?}", p.port, p.protocol)));
        fingerprint.extend(config.user.iter().chain(&config.working_dir).chain(&config.stop_signal).cloned());
        fingerprint.extend(config.labels.iter().map(|(k, v)| format!("{k}={v}")));
        fingerprint.extend(config.volumes.iter().cloned());
        fingerprint.extend(config.shared_directories.iter().map(|d| format!("shared {d}")));
        for f in &request.files {
            fingerprint.push(f.path.clone());
            fingerprint.push(match &f.content {
                FileContent::Text(t) => format!("text:{t}"),
                FileContent::Source(s) => format!("source:{s}"),
            });
        }
        fnv64(&fingerprint.iter().map(String::as_str).collect::<Vec<_>>())
    }

    #[test]
    fn the_tag_is_the_hash_of_the_parts_it_always_hashed() {
        let full = service("web", &["httpd", "-f", "x y"])
            .env("A", "1")
            .env("PATH", "/bin")
            .port("http", 8080)
            .working_directory("/srv")
            .pre_start("mkdir -p /srv")
            .text_file("conf", "app.ini", "[a]\nb = 1\n")
            .source_file("key", "/etc/key", "/nix/store/abc-key")
            .volume("data", "/var/lib/web")
            .description("the web server")
            .with(|s| {
                s.closure_roots = vec!["/nix/store/abc-httpd".into(), "/nix/store/def-lib".into()];
                s.package = Some("/nix/store/abc-httpd".into());
                s.user = Some("www".into());
                s.stop_signal = Some("SIGINT".into());
                s.volumes.push(Volume { name: "shared".into(), path: "/shared".into(), persistent: true, source: VolumeSource::Shared("common".into()), read_only: false });
            });
        let d = deployment(vec![full, service("bare", &["x"])]);
        for s in &d.services {
            let request = image_request(&d, s);
            assert_eq!(request.tag, tag_from_strings(s, &request), "{}", s.name);
        }
    }
}
