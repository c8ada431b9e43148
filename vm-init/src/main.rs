//! `nix2dream-vm-init`: PID 1 of a VM rendered by the vm plugin.
//!
//! It mounts the kernel's file systems, loads the kernel modules the host
//! copied into the VM, brings up QEMU's user network, then supervises the
//! deployment's services as its configuration ([`CONFIG_PATH`]) says:
//! dependency order with health-gated start, restart policy, user and group,
//! environment, working directory, volumes (tmpfs, or a host directory shared
//! over 9p for persistent ones), replicas and cgroup limits. On `poweroff`
//! from `run-vm` (or SIGTERM/SIGINT) it stops the services, dependents
//! first, and powers the VM off.
//!
//! Built statically (`./x build`), so it needs nothing from the VM's root.

mod boot;
mod health;
mod log;
mod prepare;
mod spawn;
mod supervisor;
mod sys;

use nix2dream_vm_init::{Config, CONFIG_PATH};

fn main() {
    if std::process::id() != 1 {
        eprintln!("nix2dream-vm-init is the init of a nix2dream VM (PID 1), started by the kernel; it does nothing elsewhere");
        std::process::exit(2);
    }
    boot::early_mounts();
    let config = match std::fs::read(CONFIG_PATH).map_err(|e| e.to_string()).and_then(|b| serde_json::from_slice::<Config>(&b).map_err(|e| e.to_string())) {
        Ok(config) => config,
        Err(e) => boot::fatal(&format!("cannot read the configuration {CONFIG_PATH}: {e}")),
    };
    if let Err(e) = boot::boot(&config) {
        boot::fatal(&e);
    }
    let stop = boot::stop_requests();
    let mut supervisor = supervisor::Supervisor::new(&config);
    supervisor.run(&stop);
    // Probes, orphans: nothing may outlive the services.
    sys_kill_rest();
    boot::power_off();
}

fn sys_kill_rest() {
    sys::kill_all(libc::SIGKILL);
}
