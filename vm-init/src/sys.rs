//! The few system calls std does not wrap, each returning `io::Result`.

use std::ffi::CString;
use std::io::{Error, Result};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn cstr(s: impl AsRef<[u8]>) -> Result<CString> {
    CString::new(s.as_ref()).map_err(|_| Error::new(std::io::ErrorKind::InvalidInput, "NUL byte in a path or option"))
}

fn check(ret: libc::c_int) -> Result<()> {
    if ret < 0 {
        Err(Error::last_os_error())
    } else {
        Ok(())
    }
}

pub fn mount(source: &str, target: &Path, fstype: &str, flags: libc::c_ulong, data: &str) -> Result<()> {
    let (source, target, fstype, data) = (cstr(source)?, cstr(target.as_os_str().as_bytes())?, cstr(fstype)?, cstr(data)?);
    // SAFETY: all pointers are NUL-terminated strings alive for the call.
    check(unsafe { libc::mount(source.as_ptr(), target.as_ptr(), fstype.as_ptr(), flags, data.as_ptr().cast()) })
}

pub fn bind_mount(source: &Path, target: &Path) -> Result<()> {
    let (source, target) = (cstr(source.as_os_str().as_bytes())?, cstr(target.as_os_str().as_bytes())?);
    // SAFETY: as above; fstype and data may be NULL for a bind mount.
    check(unsafe { libc::mount(source.as_ptr(), target.as_ptr(), std::ptr::null(), libc::MS_BIND, std::ptr::null()) })
}

/// Makes the bind mount at `target` read-only (a bind mount takes the flag
/// only when remounted).
pub fn remount_read_only(target: &Path) -> Result<()> {
    let target = cstr(target.as_os_str().as_bytes())?;
    let flags = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY;
    // SAFETY: a NUL-terminated path; source, fstype and data may be NULL for a remount.
    check(unsafe { libc::mount(std::ptr::null(), target.as_ptr(), std::ptr::null(), flags, std::ptr::null()) })
}

pub fn umount(target: &Path) -> Result<()> {
    let target = cstr(target.as_os_str().as_bytes())?;
    // SAFETY: a NUL-terminated path.
    check(unsafe { libc::umount2(target.as_ptr(), 0) })
}

pub fn chown(path: &Path, uid: u32, gid: u32) -> Result<()> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
}

/// Loads a kernel module from a file; compressed ones (`.ko.xz`, `.ko.zst`)
/// are decompressed by the kernel when it can (CONFIG_MODULE_DECOMPRESS).
pub fn load_module(path: &Path) -> Result<()> {
    const MODULE_INIT_COMPRESSED_FILE: libc::c_int = 4;
    let file = std::fs::File::open(path)?;
    let compressed = path.extension().is_none_or(|e| e != "ko");
    let flags = if compressed { MODULE_INIT_COMPRESSED_FILE } else { 0 };
    let params = cstr("")?;
    use std::os::fd::AsRawFd;
    // SAFETY: a valid descriptor and a NUL-terminated (empty) parameter string.
    let ret = unsafe { libc::syscall(libc::SYS_finit_module, file.as_raw_fd(), params.as_ptr(), flags) };
    if ret < 0 {
        let e = Error::last_os_error();
        // Already loaded (or built in) is what we wanted.
        if e.raw_os_error() == Some(libc::EEXIST) {
            return Ok(());
        }
        return Err(e);
    }
    Ok(())
}

pub fn sethostname(name: &str) -> Result<()> {
    // SAFETY: pointer and length of a live byte slice.
    check(unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) })
}

/// Sends `signal` to the process group `pgid` (each service leads its own).
pub fn kill_group(pgid: i32, signal: libc::c_int) {
    // SAFETY: plain system call; a gone group only gives ESRCH.
    unsafe { libc::kill(-pgid, signal) };
}

/// Every process but PID 1.
pub fn kill_all(signal: libc::c_int) {
    // SAFETY: plain system call.
    unsafe { libc::kill(-1, signal) };
}

/// One exited child, if any (never blocks): its pid and whether it exited 0.
pub fn reap() -> Option<(i32, i32)> {
    let mut status = 0;
    // SAFETY: a valid pointer to an int.
    let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
    (pid > 0).then_some((pid, status))
}

/// `waitpid` status → text ("exit status 3", "signal 15").
pub fn describe_status(status: i32) -> String {
    if libc::WIFEXITED(status) {
        format!("exit status {}", libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        format!("signal {}", libc::WTERMSIG(status))
    } else {
        format!("status {status}")
    }
}

pub fn exited_ok(status: i32) -> bool {
    libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
}

pub fn power_off() -> ! {
    // SAFETY: plain system calls; PID 1 may reboot.
    unsafe {
        libc::sync();
        libc::reboot(libc::RB_POWER_OFF);
    }
    // Only reached when the kernel refused: exiting PID 1 panics the kernel,
    // and `panic=-1` with QEMU's `-no-reboot` still ends the VM.
    std::process::exit(1)
}

/// Calls `handler` on SIGTERM, SIGINT and SIGPWR (PID 1 ignores signals
/// without a handler).
pub fn on_stop_signals(handler: extern "C" fn(libc::c_int)) {
    for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGPWR] {
        // SAFETY: the handler only stores to an atomic.
        unsafe { libc::signal(signal, handler as usize) };
    }
}

/// Puts a terminal in raw mode (no echo, no line editing, no signals).
pub fn raw_terminal(fd: i32) -> Result<()> {
    // SAFETY: termios is plain data filled by tcgetattr.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        check(libc::tcgetattr(fd, &mut t))?;
        libc::cfmakeraw(&mut t);
        check(libc::tcsetattr(fd, libc::TCSANOW, &t))
    }
}

fn sockaddr(address: [u8; 4]) -> libc::sockaddr {
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes(address) },
        sin_zero: [0; 8],
    };
    // SAFETY: sockaddr_in and sockaddr have the same size (16 bytes).
    unsafe { std::mem::transmute::<libc::sockaddr_in, libc::sockaddr>(sin) }
}

struct Socket(i32);

impl Socket {
    fn inet() -> Result<Socket> {
        // SAFETY: plain system call.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        check(fd).map(|_| Socket(fd))
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        // SAFETY: our own descriptor.
        unsafe { libc::close(self.0) };
    }
}

fn ifreq(name: &str) -> Result<libc::ifreq> {
    // SAFETY: ifreq is plain data; all zeroes is a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    if name.len() >= ifr.ifr_name.len() {
        return Err(Error::new(std::io::ErrorKind::InvalidInput, format!("interface name {name:?} too long")));
    }
    for (dst, src) in ifr.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    Ok(ifr)
}

/// Gives `interface` an IPv4 address (when given) and brings it up.
pub fn interface_up(interface: &str, address: Option<([u8; 4], [u8; 4])>) -> Result<()> {
    let socket = Socket::inet()?;
    let mut ifr = ifreq(interface)?;
    // SAFETY: ioctls on a live socket with a properly initialised ifreq.
    unsafe {
        if let Some((address, netmask)) = address {
            ifr.ifr_ifru.ifru_addr = sockaddr(address);
            check(libc::ioctl(socket.0, libc::SIOCSIFADDR, &ifr))?;
            ifr.ifr_ifru.ifru_netmask = sockaddr(netmask);
            check(libc::ioctl(socket.0, libc::SIOCSIFNETMASK, &ifr))?;
        }
        check(libc::ioctl(socket.0, libc::SIOCGIFFLAGS, &mut ifr))?;
        ifr.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        check(libc::ioctl(socket.0, libc::SIOCSIFFLAGS, &ifr))
    }
}

/// Adds the default route via `gateway`.
pub fn default_route(gateway: [u8; 4]) -> Result<()> {
    let socket = Socket::inet()?;
    // SAFETY: rtentry is plain data; zeroes are valid; the ioctl reads it.
    unsafe {
        let mut route: libc::rtentry = std::mem::zeroed();
        route.rt_dst = sockaddr([0; 4]);
        route.rt_genmask = sockaddr([0; 4]);
        route.rt_gateway = sockaddr(gateway);
        route.rt_flags = libc::RTF_UP | libc::RTF_GATEWAY;
        check(libc::ioctl(socket.0, libc::SIOCADDRT, &route))
    }
}
