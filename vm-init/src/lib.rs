//! What the vm plugin and the VM's PID 1 (`nix2dream-vm-init`) agree on: the
//! supervisor's configuration and the paths inside the VM. The plugin
//! serializes a [`Config`] into the VM's root filesystem at [`CONFIG_PATH`];
//! the supervisor reads it at boot.

use serde::{Deserialize, Serialize};

/// Where the supervisor's configuration lies in the VM.
pub const CONFIG_PATH: &str = "/etc/nix2dream/vm.json";
/// Kernel modules to load, one absolute path a line, in load order (the host
/// writes it when it copies the modules from the kernel package).
pub const MODULES_PATH: &str = "/etc/nix2dream/modules";
/// Where the host puts the supervisor itself (the kernel runs `/init`).
pub const INIT_PATH: &str = "/init";
/// The serial port that carries `poweroff` from `run-vm` to the supervisor.
pub const CONTROL_TTY: &str = "/dev/ttyS1";
/// The line on the control port that stops the services and the VM.
pub const POWEROFF: &str = "poweroff";

/// The supervisor's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// The deployment's name, also the VM's hostname.
    pub deployment: String,
    pub network: Network,
    /// 9p mount tag of the host directory holding persistent volumes, as
    /// `<service>/<volume>/`; `None` when no service has one.
    pub volumes_tag: Option<String>,
    /// Host directories shared into the VM (bind mounts of services'
    /// volumes): the 9p tag of `host_paths[i]` is `bind<i>`.
    #[serde(default)]
    pub host_paths: Vec<String>,
    /// Whether `run-vm` shares the secrets' values (as 9p tag [`SECRETS_TAG`],
    /// one file per secret, copied when it starts; never in the initramfs).
    #[serde(default)]
    pub secrets: bool,
    /// How long a service gets between SIGTERM and SIGKILL at shutdown.
    pub stop_timeout_seconds: u32,
    /// In a start order (dependencies first).
    pub services: Vec<Service>,
}

/// The guest side of QEMU's user networking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Network {
    pub interface: String,
    pub address: [u8; 4],
    pub prefix_length: u8,
    pub gateway: [u8; 4],
}

impl Default for Network {
    /// QEMU's `-netdev user` defaults (slirp): 10.0.2.15/24 via 10.0.2.2.
    fn default() -> Network {
        Network { interface: "eth0".into(), address: [10, 0, 2, 15], prefix_length: 24, gateway: [10, 0, 2, 2] }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Service {
    pub name: String,
    /// Shown when it starts.
    pub description: Option<String>,
    /// Executed as it is: `argv[0]` looked up on the `PATH` of `env`.
    pub argv: Vec<String>,
    /// The whole environment, in order.
    pub env: Vec<(String, String)>,
    pub uid: u32,
    pub gid: u32,
    /// Created (owned by the service) when missing; `/` when unset.
    pub working_directory: Option<String>,
    pub volumes: Vec<Volume>,
    pub depends_on: Vec<Dependency>,
    pub healthcheck: Option<Healthcheck>,
    pub restart: Restart,
    pub replicas: u32,
    /// Runs to completion: once every replica exited 0 it is `completed`,
    /// and not restarted.
    #[serde(default)]
    pub one_shot: bool,
    /// The signal that stops it (one of [`STOP_SIGNALS`]); SIGTERM when unset.
    #[serde(default)]
    pub stop_signal: Option<String>,
    /// Its own stop timeout, instead of the VM's.
    #[serde(default)]
    pub stop_timeout_seconds: Option<u32>,
    /// The deployment's secrets it gets.
    #[serde(default)]
    pub secrets: Vec<SecretUse>,
    /// cgroup `memory.max` for all of the service's processes.
    #[serde(rename = "memoryMiB")]
    pub memory_mib: Option<u64>,
    /// cgroup `cpu.max`, in thousandths of a CPU.
    pub cpu_millis: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Volume {
    pub name: String,
    pub path: String,
    /// On the host's shared directory (kept across VM restarts) or a tmpfs.
    pub persistent: bool,
    #[serde(default)]
    pub source: VolumeSource,
    #[serde(default)]
    pub read_only: bool,
}

/// Where a volume's data lives.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum VolumeSource {
    /// `<service>/<volume>` on the volumes share.
    #[default]
    Own,
    /// `_shared/<name>` on the volumes share (service names cannot start
    /// with `_`), mode 1777: every service that mounts it writes it.
    Shared(String),
    /// The host directory `host_paths[i]`, shared as 9p tag `bind<i>`.
    Host(usize),
}

/// The 9p tag of the secrets `run-vm` copies in when it starts.
pub const SECRETS_TAG: &str = "secrets";

/// A secret a service gets: the file `<secret>` of the secrets share, as a
/// file only the service reads at `path`, or as the variable `env`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretUse {
    pub secret: String,
    pub path: Option<String>,
    pub env: Option<String>,
}

/// The 9p tag of `Config::host_paths[index]`.
pub fn host_path_tag(index: usize) -> String {
    format!("bind{index}")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Dependency {
    pub service: String,
    pub condition: Condition,
}

/// When a dependency counts as ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Condition {
    Started,
    /// Its healthcheck passes (started, when it has none).
    Healthy,
    /// A one-shot service whose every replica exited 0.
    Completed,
}

/// The signals a service may be stopped with (the core options'
/// `STOP_SIGNALS`, which a host test compares), by name and number (Linux).
pub const STOP_SIGNALS: &[(&str, i32)] =
    &[("SIGTERM", 15), ("SIGINT", 2), ("SIGQUIT", 3), ("SIGHUP", 1), ("SIGUSR1", 10), ("SIGUSR2", 12), ("SIGWINCH", 28)];

/// The number of a signal in [`STOP_SIGNALS`].
pub fn stop_signal_number(name: &str) -> Option<i32> {
    STOP_SIGNALS.iter().find(|(n, _)| *n == name).map(|(_, number)| *number)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Probe {
    /// Run in the service's environment, as its user; exit 0 is healthy.
    Command(Vec<String>),
    /// GET `http://127.0.0.1:<port><path>`; a 2xx or 3xx status is healthy.
    Http { port: u16, path: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Healthcheck {
    pub probe: Probe,
    pub interval_seconds: u32,
    pub timeout_seconds: u32,
    /// Consecutive failures (after the start period) before it is unhealthy.
    pub retries: u32,
    pub start_period_seconds: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Restart {
    Never,
    OnFailure,
    Always,
}

impl Restart {
    /// Whether a process that exited (`success`: with status 0) starts again.
    pub fn restarts(self, success: bool) -> bool {
        match self {
            Restart::Never => false,
            Restart::OnFailure => !success,
            Restart::Always => true,
        }
    }
}
