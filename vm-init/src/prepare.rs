//! What a service needs before its first process starts: its volumes
//! (persistent ones bound from the host's share, others a fresh tmpfs), its
//! working directory, and its cgroup limits.

use crate::boot::{host_path_mount, SECRETS_MOUNT, VOLUMES_MOUNT};
use crate::{spawn, sys};
use nix2dream_vm_init::{Service, VolumeSource};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

pub fn prepare(service: &Service) -> Result<(), String> {
    for volume in &service.volumes {
        let target = Path::new(&volume.path);
        std::fs::create_dir_all(target).map_err(|e| format!("volume {}: cannot create {}: {e}", volume.name, volume.path))?;
        let bound = match &volume.source {
            // The host's own directory, as it is.
            VolumeSource::Host(index) => Some(host_path_mount(*index)),
            // One directory for every service that mounts it, writable by all.
            VolumeSource::Shared(name) => {
                let source = Path::new(VOLUMES_MOUNT).join("_shared").join(name);
                std::fs::create_dir_all(&source).map_err(|e| format!("volume {}: cannot create it on the host's share: {e}", volume.name))?;
                std::fs::set_permissions(&source, std::fs::Permissions::from_mode(0o1777)).map_err(|e| format!("volume {}: cannot make it writable by every service: {e}", volume.name))?;
                Some(source)
            }
            // <share>/<service>/<volume> on the host, kept across VM restarts.
            VolumeSource::Own if volume.persistent => {
                let source = Path::new(VOLUMES_MOUNT).join(&service.name).join(&volume.name);
                std::fs::create_dir_all(&source).map_err(|e| format!("volume {}: cannot create it on the host's share: {e}", volume.name))?;
                sys::chown(&source, service.uid, service.gid).map_err(|e| format!("volume {}: cannot give it to uid {}: {e}", volume.name, service.uid))?;
                Some(source)
            }
            VolumeSource::Own => None,
        };
        if let Some(source) = bound {
            sys::bind_mount(&source, target).map_err(|e| format!("volume {}: cannot mount it on {}: {e}", volume.name, volume.path))?;
            if volume.read_only {
                sys::remount_read_only(target).map_err(|e| format!("volume {}: cannot make {} read-only: {e}", volume.name, volume.path))?;
            }
        } else {
            let options = format!("mode=0755,uid={},gid={}", service.uid, service.gid);
            sys::mount("tmpfs", target, "tmpfs", libc::MS_NOSUID | libc::MS_NODEV, &options)
                .map_err(|e| format!("volume {}: cannot mount a tmpfs on {}: {e}", volume.name, volume.path))?;
        }
    }
    // Secrets given as files: a copy the service's user alone reads, on
    // /run (a tmpfs), bound where the service expects it.
    for using in service.secrets.iter().filter(|u| u.path.is_some()) {
        let path = Path::new(using.path.as_deref().unwrap_or_default());
        let what = |e: std::io::Error| format!("secret {}: {e}", using.secret);
        let value = std::fs::read(Path::new(SECRETS_MOUNT).join(&using.secret)).map_err(what)?;
        let own = Path::new("/run/nix2dream/service-secrets").join(&service.name);
        std::fs::create_dir_all(&own).map_err(what)?;
        let copy = own.join(&using.secret);
        std::fs::write(&copy, value).map_err(what)?;
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o400)).map_err(what)?;
        sys::chown(&copy, service.uid, service.gid).map_err(what)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(what)?;
        }
        if !path.exists() {
            std::fs::write(path, b"").map_err(what)?;
        }
        sys::bind_mount(&copy, path).map_err(|e| format!("secret {}: cannot mount it on {}: {e}", using.secret, path.display()))?;
    }
    if let Some(dir) = &service.working_directory {
        let dir = Path::new(dir);
        if !dir.exists() {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create the working directory {}: {e}", dir.display()))?;
            sys::chown(dir, service.uid, service.gid).map_err(|e| format!("cannot give the working directory to uid {}: {e}", service.uid))?;
        }
    }
    if let Some(dir) = spawn::cgroup_dir(service) {
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create cgroup {dir}: {e}"))?;
        if let Some(mib) = service.memory_mib {
            std::fs::write(format!("{dir}/memory.max"), (mib << 20).to_string()).map_err(|e| format!("cannot set memory.max of {dir}: {e}"))?;
        }
        if let Some(millis) = service.cpu_millis {
            // cpu.max: quota and period in µs; 1000 millis = one CPU.
            std::fs::write(format!("{dir}/cpu.max"), format!("{} 100000", u64::from(millis) * 100)).map_err(|e| format!("cannot set cpu.max of {dir}: {e}"))?;
        }
    }
    Ok(())
}
