//! Bringing the VM up before any service starts (file systems, kernel
//! modules, network, the persistent volumes' share) and down after the last
//! one stopped.

use crate::{log, sys};
use nix2dream_vm_init::{Config, CONFIG_PATH, CONTROL_TTY, MODULES_PATH, POWEROFF};
use std::io::BufRead;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where the host directory of persistent volumes is mounted.
pub const VOLUMES_MOUNT: &str = "/run/nix2dream/volumes";

/// The kernel's file systems. Failures are reported, not fatal: a service
/// may not need the one that failed.
pub fn early_mounts() {
    let nosuid_nodev = libc::MS_NOSUID | libc::MS_NODEV;
    let mounts: [(&str, &str, &str, libc::c_ulong, &str); 7] = [
        ("proc", "/proc", "proc", nosuid_nodev | libc::MS_NOEXEC, ""),
        ("sysfs", "/sys", "sysfs", nosuid_nodev | libc::MS_NOEXEC, ""),
        ("devtmpfs", "/dev", "devtmpfs", libc::MS_NOSUID, "mode=0755"),
        ("tmpfs", "/dev/shm", "tmpfs", nosuid_nodev, "mode=1777"),
        ("tmpfs", "/run", "tmpfs", nosuid_nodev, "mode=0755"),
        ("tmpfs", "/tmp", "tmpfs", nosuid_nodev, "mode=1777"),
        ("cgroup2", "/sys/fs/cgroup", "cgroup2", nosuid_nodev | libc::MS_NOEXEC, ""),
    ];
    for (source, target, fstype, flags, data) in mounts {
        let _ = std::fs::create_dir_all(target);
        if let Err(e) = sys::mount(source, Path::new(target), fstype, flags, data) {
            log::info(format!("cannot mount {fstype} on {target}: {e}"));
        }
    }
    // What programs expect beside devtmpfs' nodes (bash's <(...), /dev/stdin).
    for (link, target) in [("/dev/fd", "/proc/self/fd"), ("/dev/stdin", "/proc/self/fd/0"), ("/dev/stdout", "/proc/self/fd/1"), ("/dev/stderr", "/proc/self/fd/2")] {
        let _ = std::os::unix::fs::symlink(target, link);
    }
}

pub fn boot(config: &Config) -> Result<(), String> {
    load_modules()?;
    network(config)?;
    if let Err(e) = sys::sethostname(&config.deployment) {
        log::info(format!("cannot set the hostname: {e}"));
    }
    // cgroup v2 controllers for the services' memory and CPU limits.
    if config.services.iter().any(|s| s.memory_mib.is_some() || s.cpu_millis.is_some()) {
        if let Err(e) = std::fs::write("/sys/fs/cgroup/cgroup.subtree_control", "+memory +cpu") {
            return Err(format!("cannot enable the memory and cpu cgroup controllers for the services' resources: {e}"));
        }
    }
    if let Some(tag) = &config.volumes_tag {
        let target = Path::new(VOLUMES_MOUNT);
        std::fs::create_dir_all(target).map_err(|e| format!("cannot create {VOLUMES_MOUNT}: {e}"))?;
        sys::mount(tag, target, "9p", libc::MS_NOSUID | libc::MS_NODEV, "trans=virtio,version=9p2000.L,msize=262144,cache=none")
            .map_err(|e| format!("cannot mount the persistent volumes (9p share {tag:?}): {e}: is run-vm's -virtfs option there, and the kernel's 9p and 9pnet_virtio modules?"))?;
    }
    if config.secrets {
        let target = Path::new(SECRETS_MOUNT);
        std::fs::create_dir_all(target).map_err(|e| format!("cannot create {SECRETS_MOUNT}: {e}"))?;
        let tag = nix2dream_vm_init::SECRETS_TAG;
        sys::mount(tag, target, "9p", libc::MS_NOSUID | libc::MS_NODEV | libc::MS_RDONLY, "trans=virtio,version=9p2000.L,msize=262144,cache=none")
            .map_err(|e| format!("cannot mount the secrets (9p share {tag:?}): {e}"))?;
    }
    for (i, host) in config.host_paths.iter().enumerate() {
        let tag = nix2dream_vm_init::host_path_tag(i);
        let target = host_path_mount(i);
        std::fs::create_dir_all(&target).map_err(|e| format!("cannot create {}: {e}", target.display()))?;
        sys::mount(&tag, &target, "9p", libc::MS_NOSUID | libc::MS_NODEV, "trans=virtio,version=9p2000.L,msize=262144,cache=none")
            .map_err(|e| format!("cannot mount the host's {host} (9p share {tag:?}): {e}"))?;
    }
    Ok(())
}

/// Where the host directory `Config::host_paths[index]` is mounted.
pub fn host_path_mount(index: usize) -> std::path::PathBuf {
    Path::new(BINDS_MOUNT).join(index.to_string())
}

/// Where the secrets `run-vm` shares are mounted (read-only, root's).
pub const SECRETS_MOUNT: &str = "/run/nix2dream/secrets";

/// Where the host directories of bind-mounted volumes are mounted.
pub const BINDS_MOUNT: &str = "/run/nix2dream/binds";

fn load_modules() -> Result<(), String> {
    let list = match std::fs::read_to_string(MODULES_PATH) {
        Ok(list) => list,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("cannot read {MODULES_PATH}: {e}")),
    };
    for module in list.lines().filter(|l| !l.is_empty()) {
        sys::load_module(Path::new(module)).map_err(|e| format!("cannot load kernel module {module}: {e} (is the kernel the one these modules were built for?)"))?;
    }
    Ok(())
}

fn network(config: &Config) -> Result<(), String> {
    sys::interface_up("lo", Some(([127, 0, 0, 1], [255, 0, 0, 0]))).map_err(|e| format!("cannot bring up the loopback interface: {e}"))?;
    let n = &config.network;
    let mask = u32::MAX.checked_shl(32 - u32::from(n.prefix_length)).unwrap_or(0).to_be_bytes();
    // The NIC's driver may still be probing right after its module loaded.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match sys::interface_up(&n.interface, Some((n.address, mask))) {
            Ok(()) => break,
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) && Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(format!("cannot configure network interface {}: {e} (does the kernel have virtio_net?)", n.interface)),
        }
    }
    sys::default_route(n.gateway).map_err(|e| format!("cannot add the default route: {e}"))
}

/// Set once the VM is asked to stop: by `poweroff` on the control port, or
/// by SIGTERM/SIGINT/SIGPWR.
pub fn stop_requests() -> Arc<AtomicBool> {
    static SIGNALLED: AtomicBool = AtomicBool::new(false);
    extern "C" fn on_signal(_: libc::c_int) {
        SIGNALLED.store(true, Ordering::SeqCst);
    }
    sys::on_stop_signals(on_signal);
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    std::thread::spawn(move || {
        while !SIGNALLED.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50));
        }
        flag.store(true, Ordering::SeqCst);
    });
    match std::fs::OpenOptions::new().read(true).write(true).open(CONTROL_TTY) {
        Ok(tty) => {
            use std::os::fd::AsRawFd;
            if let Err(e) = sys::raw_terminal(tty.as_raw_fd()) {
                log::info(format!("control port {CONTROL_TTY}: {e}"));
            }
            let flag = stop.clone();
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(tty).lines() {
                    match line {
                        Ok(line) if line.trim() == POWEROFF => flag.store(true, Ordering::SeqCst),
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
            });
        }
        Err(e) => log::info(format!("no control port {CONTROL_TTY} ({e}): run-vm cannot stop the VM cleanly, only signals can")),
    }
    stop
}

/// After the services stopped: flush the persistent volumes, then power off
/// (QEMU exits).
pub fn power_off() -> ! {
    let volumes = Path::new(VOLUMES_MOUNT);
    if volumes.exists() || Path::new(BINDS_MOUNT).exists() {
        // Bind mounts of volumes first, then the share itself.
        if let Ok(mounts) = std::fs::read_to_string("/proc/self/mounts") {
            for target in mounts.lines().rev().filter_map(|l| l.split(' ').nth(1)).filter(|t| *t != "/") {
                let _ = sys::umount(Path::new(target));
            }
        }
    }
    log::info("powering off");
    sys::power_off()
}

/// Boot cannot go on: say why on the console, and end the VM (run-vm then
/// reports that it stopped on its own).
pub fn fatal(message: &str) -> ! {
    log::info(format!("error: {message}"));
    log::info(format!("the VM cannot run its services; see the message above ({CONFIG_PATH} holds the configuration)"));
    sys::power_off()
}
