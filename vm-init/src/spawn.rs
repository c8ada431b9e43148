//! Starting one process of a service: its argv exactly, its environment and
//! nothing else, its user and group, its working directory, its own process
//! group (so SIGTERM reaches its children) and its cgroup.

use crate::log;
use nix2dream_vm_init::Service;
use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

/// The service's cgroup directory (`/sys/fs/cgroup/<name>`) when it has limits.
pub fn cgroup_dir(service: &Service) -> Option<String> {
    (service.memory_mib.is_some() || service.cpu_millis.is_some()).then(|| format!("/sys/fs/cgroup/{}", service.name))
}

/// Starts `argv` for `service`; its output reaches the console as `label: …`.
/// Returns the pid, which is also the process group.
pub fn spawn(service: &Service, argv: &[String], label: &str) -> std::io::Result<i32> {
    let (program, args) = argv.split_first().ok_or_else(|| std::io::Error::other("empty argv"))?;
    // Secrets given as variables, read from the secrets share now.
    let mut secret_env = Vec::new();
    for using in &service.secrets {
        if let Some(var) = &using.env {
            let value = std::fs::read_to_string(std::path::Path::new(crate::boot::SECRETS_MOUNT).join(&using.secret))
                .map_err(|e| std::io::Error::other(format!("secret {}: {e}", using.secret)))?;
            // As `$(cat file)` gives it under the other managers.
            secret_env.push((var.clone(), value.trim_end_matches('\n').to_owned()));
        }
    }
    let mut command = Command::new(program);
    command
        .args(args)
        .env_clear()
        .envs(service.env.iter().map(|(k, v)| (k, v)))
        .envs(secret_env)
        .current_dir(service.working_directory.as_deref().unwrap_or("/"))
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let procs = match cgroup_dir(service) {
        Some(dir) => Some(CString::new(format!("{dir}/cgroup.procs")).map_err(std::io::Error::other)?),
        None => None,
    };
    let (uid, gid) = (service.uid, service.gid);
    // SAFETY: between fork and exec only open/write/close/setgroups/setgid/
    // setuid, which are async-signal-safe; the path was allocated before.
    // Joining the cgroup needs root, so it comes before dropping to the
    // service's user (which is why Command::uid/gid are not used: std
    // switches user before running this).
    unsafe {
        command.pre_exec(move || {
            if let Some(procs) = &procs {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(fd);
            }
            let root = libc::getuid() == 0;
            if (root && libc::setgroups(0, std::ptr::null()) != 0)
                || (libc::getgid() != gid && libc::setgid(gid) != 0)
                || (libc::getuid() != uid && libc::setuid(uid) != 0)
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    };
    let mut child = command.spawn()?;
    if let Some(out) = child.stdout.take() {
        log::forward(label.to_owned(), out);
    }
    if let Some(err) = child.stderr.take() {
        log::forward(label.to_owned(), err);
    }
    // Reaped by the supervisor's waitpid(-1): PID 1 reaps every orphan too.
    Ok(child.id() as i32)
}
