//! The `nix2dream/v1` deployment, as serde reads it (docs/deployment-json.md).
//! Unknown fields are errors, so a typo is named instead of ignored.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const SCHEMA: &str = "nix2dream/v1";

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Deployment {
    pub schema: String,
    pub name: String,
    #[serde(deserialize_with = "super::read::services")]
    pub services: BTreeMap<String, Service>,
    #[serde(default, deserialize_with = "super::read::unique_value_map")]
    pub settings: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub ignore_unsupported: Vec<String>,
    /// Deployment-wide environment, merged under each service's own `env`
    /// when loading (the Nix modules merge it themselves and leave it empty).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty", deserialize_with = "super::read::unique_map")]
    pub env: BTreeMap<String, String>,
    /// Volumes several services mount (`services.<name>.volumes.<v>.shared`).
    #[serde(default, deserialize_with = "super::read::unique_map")]
    pub volumes: BTreeMap<String, SharedVolume>,
    /// Where each secret's value comes from (never the value itself).
    #[serde(default, deserialize_with = "super::read::unique_map")]
    pub secrets: BTreeMap<String, Secret>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Secret {
    #[serde(default)]
    pub file: Option<String>,
    #[serde(default)]
    pub environment: Option<String>,
    #[serde(default)]
    pub kubernetes: Option<KubernetesSecretKey>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesSecretKey {
    pub name: String,
    pub key: String,
}

/// How a service gets a secret: exactly one of `path` and `env`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SecretUse {
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub env: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SharedVolume {
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Service {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub package: Option<String>,
    pub process: Process,
    #[serde(default, deserialize_with = "super::read::unique_map")]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub path: Vec<String>,
    #[serde(default)]
    pub working_directory: Option<String>,
    #[serde(default)]
    pub pre_start: Option<String>,
    #[serde(default, deserialize_with = "super::read::unique_map")]
    pub config_data: BTreeMap<String, ConfigData>,
    #[serde(default, deserialize_with = "super::read::unique_map")]
    pub volumes: BTreeMap<String, Volume>,
    #[serde(default, deserialize_with = "super::read::unique_map")]
    pub ports: BTreeMap<String, Port>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default, deserialize_with = "super::read::unique_map")]
    pub depends_on: BTreeMap<String, Dependency>,
    #[serde(default)]
    pub healthcheck: Option<Healthcheck>,
    #[serde(default)]
    pub restart: Restart,
    #[serde(default)]
    pub resources: Resources,
    #[serde(default = "one")]
    pub replicas: u32,
    #[serde(default)]
    pub one_shot: bool,
    #[serde(default)]
    pub stop_signal: Option<String>,
    #[serde(default)]
    pub stop_timeout: Option<u32>,
    #[serde(default, deserialize_with = "super::read::unique_map")]
    pub secrets: BTreeMap<String, SecretUse>,
    #[serde(default, deserialize_with = "super::read::unique_value_map")]
    pub managers: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub ignore_unsupported: Vec<String>,
    /// None when the input did not say; the loader then derives it.
    #[serde(default)]
    pub options_set: Option<Vec<String>>,
    #[serde(default)]
    pub closure_roots: Vec<String>,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Process {
    pub argv: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigData {
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    pub path: String,
    #[serde(default = "yes")]
    pub persistent: bool,
    /// The deployment's volume of this name, instead of the service's own.
    #[serde(default)]
    pub shared: Option<String>,
    /// A directory of the machine (a bind mount), instead of a volume.
    #[serde(default)]
    pub host_path: Option<String>,
    #[serde(default)]
    pub read_only: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[serde(rename_all = "camelCase")]
pub struct Port {
    pub port: u16,
    #[serde(default)]
    pub protocol: Protocol,
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub host_port: Option<u16>,
}

impl Port {
    /// The port on the host's side, where it is published.
    pub fn published_port(&self) -> u16 {
        self.host_port.unwrap_or(self.port)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Condition {
    #[default]
    Started,
    Healthy,
    Completed,
}

#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Dependency {
    #[serde(default)]
    pub condition: Condition,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Healthcheck {
    #[serde(default)]
    pub command: Option<Vec<String>>,
    #[serde(default)]
    pub http: Option<HttpProbe>,
    #[serde(default = "ten")]
    pub interval: u32,
    #[serde(default = "five")]
    pub timeout: u32,
    #[serde(default = "three")]
    pub retries: u32,
    #[serde(default)]
    pub start_period: u32,
}

fn ten() -> u32 {
    10
}
fn five() -> u32 {
    5
}
fn three() -> u32 {
    3
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpProbe {
    pub port: u16,
    #[serde(default = "root")]
    pub path: String,
}

fn root() -> String {
    "/".to_owned()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
pub enum Restart {
    #[serde(rename = "no")]
    Never,
    #[default]
    #[serde(rename = "on-failure")]
    OnFailure,
    #[serde(rename = "always")]
    Always,
}

#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Resources {
    #[serde(default)]
    pub cpus: Option<f64>,
    #[serde(default, rename = "memoryMiB")]
    pub memory_mib: Option<u64>,
}
