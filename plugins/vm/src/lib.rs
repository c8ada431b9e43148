//! The vm manager: the deployment booted in a QEMU virtual machine that
//! holds exactly its Nix closure. It renders `run-vm` (QEMU's command line,
//! ports forwarded to the host's loopback, persistent volumes on a host
//! directory shared over 9p) and asks the host for the VM's root file system
//! (an initramfs built from the closure, the kernel's modules, the files
//! below and the host's supervisor `nix2dream-vm-init` as PID 1). The
//! supervisor reads `/etc/nix2dream/vm.json`, which this plugin writes.

mod accounts;
mod config;
mod run_vm;
mod settings;
#[cfg(test)]
mod tests;

use nix2dream_plugin_kit::types::{ImageFile, VmRootRequest};
use nix2dream_plugin_kit::{file, Addressing, Artifact, Deployment, Diagnostic, FileContent, Manager, PluginInfo, Rendered};

pub struct Vm;

/// Every core option is honoured: a VM runs the processes itself.
const SUPPORTED: &[&str] = nix2dream_plugin_kit::CORE_OPTIONS;

const USAGE: &str = "\
OUT/run-vm boots the VM (QEMU: apt-get install qemu-system-x86); Ctrl-C or SIGTERM stops the services (dependents first, \
SIGTERM then SIGKILL after settings.vm.stopTimeoutSeconds) and powers the VM off. settings.vm.kernel (required) is a \
kernel package such as pkgs.linuxPackages.kernel: it needs virtio networking and, for persistent volumes, 9p. \
Published ports are forwarded to 127.0.0.1 on the host at their hostPort (default: the same number); internal ones are not. \
Persistent volumes live on the host in $NIX2DREAM_VM_STATE/volumes/<service>/<volume> (default OUT/state/), the \
deployment's shared volumes in <state>/volumes/_shared/<volume> (mode 1777), kept across runs; a hostPath is that host \
directory, shared into the VM over 9p; other volumes are tmpfs. Secrets are read by run-vm when it starts (their file, or its \
own environment), shared read-only for this run only and never written into OUT; a service gets each as a variable or as a \
file only its user reads. \
The console (kernel and services' output) is shown and kept in <state>/console.log. The VM's memory is settings.vm.memoryMiB, \
or 256 MiB + the services' limits + twice the root file system (the closure lives in RAM). KVM is used when /dev/kvm \
works, TCG otherwise (NIX2DREAM_VM_ACCEL=kvm|tcg|auto). Service names resolve to 127.0.0.1 inside the VM.";

/// Modules the VM's kernel must provide (built in or loadable).
fn needed_modules(volumes: bool) -> Vec<String> {
    let mut modules = vec!["virtio_pci", "virtio_net"];
    if volumes {
        modules.extend(["9pnet_virtio", "9p"]);
    }
    modules.into_iter().map(str::to_owned).collect()
}

impl Manager for Vm {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "vm".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "A QEMU virtual machine holding the deployment's Nix closure; its services supervised by nix2dream-vm-init.".into(),
            supported_options: nix2dream_plugin_kit::supported_options(&[SUPPORTED]),
            settings_schema: settings::schema(),
            usage: USAGE.into(),
            addressing: Addressing::Loopback,
        }
    }

    fn render(d: Deployment) -> Result<Rendered, Vec<Diagnostic>> {
        let settings = settings::Settings::parse(&d.settings_json).map_err(|e| vec![e])?;
        let errors: Vec<Diagnostic> = d.services.iter().filter_map(|s| settings::check_service(&s.name, &s.settings_json).err()).collect();
        if !errors.is_empty() {
            return Err(errors);
        }
        let accounts = accounts::Accounts::of(&d.services);
        let mut diagnostics = Vec::new();
        let config = config::build(&d, &settings, &accounts, &mut diagnostics)?;
        let volumes = config.volumes_tag.is_some();

        let text = |path: &str, text: String| ImageFile { path: path.into(), content: FileContent::Text(text), executable: false };
        let mut files = vec![
            text(nix2dream_vm_init::CONFIG_PATH, serde_json::to_string_pretty(&config).expect("the configuration serializes") + "\n"),
            text("/etc/passwd", accounts.passwd()),
            text("/etc/group", accounts.group()),
            // One network namespace: every service is reachable by its name on loopback.
            text("/etc/hosts", format!("127.0.0.1 localhost {} {}\n", d.name, d.services.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(" "))),
            // QEMU user networking's DNS forwarder.
            text("/etc/resolv.conf", "nameserver 10.0.2.3\n".into()),
        ];
        for s in &d.services {
            for f in &s.config_files {
                let path = nix2dream_plugin_kit::image::config_file_path(s, &f.path);
                files.push(ImageFile { path, content: f.content.clone(), executable: false });
            }
        }
        let mut store_paths: Vec<String> = d.services.iter().flat_map(|s| s.closure_roots.iter().chain(&s.package).chain(&s.path)).cloned().collect();
        store_paths.sort();
        store_paths.dedup();

        let limits = |f: fn(&nix2dream_vm_init::Service) -> u64| config.services.iter().map(|s| f(s) * u64::from(s.replicas)).sum::<u64>();
        let cpus = settings.cpus.unwrap_or_else(|| limits(|s| u64::from(s.cpu_millis.unwrap_or(0))).div_ceil(1000).clamp(1, 64) as u32);
        let script = run_vm::script(&run_vm::Vm {
            deployment: &d,
            kernel: &settings.kernel,
            memory_mib: settings.memory_mib,
            base_memory_mib: 256 + limits(|s| s.memory_mib.unwrap_or(0)),
            cpus,
            volumes,
            host_paths: &config.host_paths,
            // Only those a service uses: run-vm must be able to read each.
            secrets: &{
                let used: std::collections::HashSet<&str> = d.services.iter().flat_map(|s| &s.secrets).map(|u| u.secret.as_str()).collect();
                d.secrets.iter().filter(|x| used.contains(x.name.as_str())).cloned().collect::<Vec<_>>()
            },
            stop_timeout_seconds: settings.stop_timeout_seconds,
        });
        let artifacts = vec![
            file("run-vm", script, true),
            Artifact::VmRoot(VmRootRequest {
                path: run_vm::INITRAMFS.into(),
                kernel: settings.kernel.clone(),
                modules: needed_modules(volumes || config.secrets || !config.host_paths.is_empty()),
                store_paths,
                files,
            }),
        ];
        Ok(Rendered { artifacts, diagnostics })
    }
}

nix2dream_plugin_kit::export_manager!(Vm);
