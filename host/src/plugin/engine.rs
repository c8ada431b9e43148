//! The wasmtime engine and the on-disk cache of compiled components.
//!
//! `Component::deserialize` loads native code without checking it, so a
//! cache entry is only ever given to it after it was authenticated: each
//! entry ends with a MAC over its name and contents (BLAKE3 in its keyed
//! mode: a MAC at three to four times SHA-256's speed here, and a load from
//! the cache hashes megabytes, the plugin and its entry), keyed with a
//! per-user secret kept outside the cache directory (`cache.key`, 0600, in
//! `$XDG_STATE_HOME/nix2dream` or `~/.local/state/nix2dream`). The entry is
//! read through one open file and checked, then wasmtime maps that same
//! open file; it is used only when it is a file of the user's that group
//! and others cannot write, so whoever could change it between check and
//! use can read the key too. An entry checked once is not hashed again
//! while its file is unchanged (`checked_entries`). What someone who can
//! write the cache directory (but not the key) can do: delete or corrupt
//! entries (the plugin is then compiled again) and fill the disk; not run
//! code. The cache directory must belong to the user and not be writable by
//! group or others, or it is not used. Entries are only stored for plugins
//! that loaded successfully; the least recently used (to the hour) are
//! evicted past `NIX2DREAM_CACHE_LIMIT_MIB`. Small records are sealed the
//! same way (`<name>.record`: the digests of the image layers earlier
//! renders measured, see `image::MeasuredLayers`; the entries checked).

use super::checked_entries::{CheckedEntries, Witness};
use anyhow::{bail, Context, Result};
use std::hash::{Hash, Hasher};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use wasmtime::component::Component;
use wasmtime::{Config, Engine};

/// A trap this many calls deep (or deeper) is taken for a stack overflow.
pub const DEEP_RECURSION: usize = 1000;

pub fn new_engine() -> Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.consume_fuel(true);
    // Deep enough to tell an unbounded recursion from an ordinary fault.
    config.wasm_backtrace_max_frames(std::num::NonZeroUsize::new(DEEP_RECURSION));
    Engine::new(&config).map_err(|e| anyhow::anyhow!("{e}")).context("starting the wasmtime engine")
}

/// Feeds `Hash` output into BLAKE3, so the engine's compatibility hash is
/// stable across runs (std's `DefaultHasher` is seeded per build).
struct StableHasher(blake3::Hasher);

impl Hasher for StableHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    fn finish(&self) -> u64 {
        unreachable!("only finalized as a digest")
    }
}

/// The entry's name: the plugin's bytes and the engine that compiled them.
pub fn cache_key(engine: &Engine, bytes: &[u8]) -> String {
    let mut hasher = StableHasher(blake3::Hasher::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher.0.update(env!("CARGO_PKG_VERSION").as_bytes());
    let engine_hash = hasher.0.finalize();
    format!("{}-{}", blake3::hash(bytes).to_hex(), &engine_hash.to_hex()[..16])
}

fn env_path(key: &str) -> Option<PathBuf> {
    std::env::var_os(key).filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// Where compiled components are kept: `NIX2DREAM_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/nix2dream`, else `~/.cache/nix2dream`; None disables it.
pub fn default_cache_dir() -> Option<PathBuf> {
    env_path("NIX2DREAM_CACHE_DIR")
        .or_else(|| env_path("XDG_CACHE_HOME").map(|d| d.join("nix2dream")))
        .or_else(|| env_path("HOME").map(|d| d.join(".cache/nix2dream")))
}

/// Where the cache's secret key is kept: never inside the cache directory.
pub fn default_key_file() -> Option<PathBuf> {
    env_path("XDG_STATE_HOME")
        .map(|d| d.join("nix2dream"))
        .or_else(|| env_path("HOME").map(|d| d.join(".local/state/nix2dream")))
        .map(|d| d.join("cache.key"))
}

/// Whether the last `compile` call came from the cache (for benchmarks and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Compiled,
    Cached,
}

const MAC_LEN: usize = 32;
const ENTRY_SUFFIX: &str = ".cwasm";
const RECORD_SUFFIX: &str = ".record";
const DEFAULT_LIMIT_MIB: u64 = 512;
/// The record of the entries whose MAC was checked (`checked_entries`).
const CHECKED_RECORD: &str = "checked-entries";
/// A witness is kept only of a file whose ctime is older than this: a file
/// changed within the clock tick of its ctime (a few milliseconds; seconds
/// on some file systems) would keep the same ctime.
const SETTLED_AFTER: std::time::Duration = std::time::Duration::from_secs(2);
/// An entry's mtime is set when it is used, unless set within this long.
const TOUCH_AFTER: std::time::Duration = std::time::Duration::from_secs(3600);

/// The compiled-component cache, checked and keyed (see the module comment).
pub struct Cache {
    dir: PathBuf,
    key: [u8; 32],
    limit_bytes: u64,
    /// How old a file's ctime must be before its witness is kept.
    settled_after: std::time::Duration,
    /// How many entries' MACs were computed (what the witnesses save).
    macs_checked: std::sync::atomic::AtomicUsize,
}

fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// A directory of ours: owned by this user, not writable by group or others.
fn check_private_dir(dir: &Path, what: &str) -> Result<()> {
    let meta = std::fs::metadata(dir).with_context(|| format!("{what} {}", dir.display()))?;
    if !meta.is_dir() {
        bail!("{what} {} is not a directory", dir.display());
    }
    if meta.uid() != euid() {
        bail!("{what} {} belongs to user id {}, not to you ({}): another user could put code in it", dir.display(), meta.uid(), euid());
    }
    if meta.mode() & 0o022 != 0 {
        bail!("{what} {} is writable by group or others (mode {:o}): fix it with `chmod go-w {}`", dir.display(), meta.mode() & 0o777, dir.display());
    }
    Ok(())
}

fn create_private_dir(dir: &Path) -> Result<()> {
    if !dir.exists() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// The user's cache key, created (32 random bytes, 0600) when missing.
fn read_or_create_key(file: &Path) -> Result<[u8; 32]> {
    let dir = file.parent().context("the key file has a folder")?;
    create_private_dir(dir)?;
    check_private_dir(dir, "the cache key's folder")?;
    if !file.exists() {
        let mut key = [0u8; 32];
        std::fs::File::open("/dev/urandom").and_then(|mut r| r.read_exact(&mut key)).context("reading random bytes for the cache key")?;
        let tmp = dir.join(format!(".cache.key.{}", std::process::id()));
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        f.write_all(&key)?;
        f.sync_all()?;
        // A link never replaces: when two runs race, both use the first key.
        let linked = std::fs::hard_link(&tmp, file);
        let _ = std::fs::remove_file(&tmp);
        if let Err(e) = linked {
            if e.kind() != std::io::ErrorKind::AlreadyExists {
                return Err(e).with_context(|| format!("creating the cache key {}", file.display()));
            }
        }
    }
    let meta = std::fs::symlink_metadata(file).with_context(|| format!("the cache key {}", file.display()))?;
    if !meta.is_file() || meta.uid() != euid() || meta.mode() & 0o077 != 0 || meta.len() != 32 {
        bail!(
            "the cache key {} must be a 32-byte file of yours that only you can read (mode 600); delete it to get a new one",
            file.display()
        );
    }
    let mut key = [0u8; 32];
    std::fs::File::open(file)?.read_exact(&mut key)?;
    Ok(key)
}

impl Cache {
    /// The default cache; None when there is no place for it, an error saying
    /// why when it is there but cannot be trusted.
    pub fn open_default() -> Result<Option<Cache>> {
        let (Some(dir), Some(key)) = (default_cache_dir(), default_key_file()) else { return Ok(None) };
        let limit_mib = std::env::var("NIX2DREAM_CACHE_LIMIT_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_LIMIT_MIB);
        Cache::open(&dir, &key, limit_mib << 20).map(Some)
    }

    pub fn open(dir: &Path, key_file: &Path, limit_bytes: u64) -> Result<Cache> {
        let canonical = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_owned());
        create_private_dir(dir)?;
        if canonical(key_file).starts_with(canonical(dir)) {
            bail!("the cache key {} must not be inside the cache directory {}", key_file.display(), dir.display());
        }
        check_private_dir(dir, "the compiled-plugin cache")?;
        let key = read_or_create_key(key_file)?;
        Ok(Cache { dir: dir.to_owned(), key, limit_bytes, settled_after: SETTLED_AFTER, macs_checked: Default::default() })
    }

    fn mac_start(&self, name: &str) -> blake3::Hasher {
        let mut mac = blake3::Hasher::new_keyed(&self.key);
        mac.update(b"nix2dream-cache-v2\0");
        mac.update(name.as_bytes());
        mac.update(b"\0");
        mac
    }

    fn mac(&self, name: &str, body: &[u8]) -> blake3::Hash {
        self.mac_start(name).update(body).finalize()
    }

    fn entry(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}{ENTRY_SUFFIX}"))
    }

    /// The compiled component for `bytes`, when a valid entry is cached.
    pub fn load(&self, engine: &Engine, bytes: &[u8]) -> Option<Component> {
        let name = cache_key(engine, bytes);
        let file = std::fs::File::open(self.entry(&name)).ok()?;
        let meta = file.metadata().ok()?;
        if !is_private_file(&meta) {
            return None;
        }
        let mut checked = CheckedEntries::from_json(self.read_record(CHECKED_RECORD).as_deref());
        let known = checked.knows(&name, &Witness::of(&meta));
        if !known && !self.is_sealed(&name, &file, &meta) {
            return None;
        }
        // SAFETY: the file just read through `file` was authenticated with
        // the user's key (now, or earlier and unchanged since: see
        // `checked_entries`): it is what `store` wrote for this very
        // component and engine. wasmtime maps that same open file (not the
        // path, which could be another file by now); only this user or root
        // can write it (checked above), and they can read the key too.
        let mapped = unsafe { Component::deserialize_file(engine, open_file_path(&file)) };
        // Where the open file has no path (no /proc), the entry is read into
        // memory, checked there and deserialized from that copy instead.
        // SAFETY: as above; the copy is what was checked.
        let component = mapped.ok().or_else(|| unsafe { Component::deserialize(engine, self.read_sealed(&name, &self.entry(&name))?) }.ok())?;
        // Recently used entries are evicted last; the mtime says when, to
        // the hour (setting it changes the file's witness).
        let used_lately = meta.modified().ok().and_then(|m| m.elapsed().ok()).is_some_and(|age| age < TOUCH_AFTER);
        if !used_lately {
            let _ = file.set_modified(std::time::SystemTime::now());
        }
        if !known || !used_lately {
            self.note_checked(&name, &file, &mut checked);
        }
        Some(component)
    }

    /// Keeps the witness of `file`, the entry `name` just checked, when its
    /// ctime is settled (else the next load checks it again).
    fn note_checked(&self, name: &str, file: &std::fs::File, checked: &mut CheckedEntries) {
        let Ok(meta) = file.metadata() else { return };
        let ctime = std::time::UNIX_EPOCH + std::time::Duration::new(meta.ctime().max(0) as u64, meta.ctime_nsec().clamp(0, 999_999_999) as u32);
        // A ctime in the future (a clock set back) is never settled.
        if ctime.elapsed().is_ok_and(|age| age >= self.settled_after) {
            checked.note(name, Witness::of(&meta));
            self.write_record(CHECKED_RECORD, &checked.to_json());
        }
    }

    /// Stores `component` (compiled from `bytes`); failures only cost time later.
    pub fn store(&self, engine: &Engine, bytes: &[u8], component: &Component) {
        let _ = self.try_store(engine, bytes, component);
    }

    fn try_store(&self, engine: &Engine, bytes: &[u8], component: &Component) -> Result<()> {
        let name = cache_key(engine, bytes);
        let body = component.serialize().map_err(|e| anyhow::anyhow!("{e}"))?;
        if body.len() as u64 > self.limit_bytes {
            return Ok(());
        }
        self.write_sealed(&name, &self.entry(&name), &body)?;
        self.evict(&name)
    }

    /// A small record kept beside the compiled plugins under `name` (e.g.
    /// the digests of image layers), when it is there and authentic.
    pub fn read_record(&self, name: &str) -> Option<Vec<u8>> {
        self.read_sealed(name, &self.record(name))
    }

    /// Replaces the record `name`; failures only cost time later.
    pub fn write_record(&self, name: &str, body: &[u8]) {
        if (body.len() as u64) <= self.limit_bytes {
            let _ = self.write_sealed(name, &self.record(name), body);
        }
    }

    fn record(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}{RECORD_SUFFIX}"))
    }

    /// `file`'s body when its tag is `name`'s under the user's key; bounded:
    /// nothing bigger than the whole cache is read.
    fn read_sealed(&self, name: &str, file: &Path) -> Option<Vec<u8>> {
        let f = std::fs::File::open(file).ok()?;
        let bound = self.limit_bytes + MAC_LEN as u64;
        // Sized once: growing by doubling copies and faults in megabytes.
        let mut data = Vec::with_capacity(f.metadata().ok()?.len().min(bound) as usize + 1);
        Read::take(f, bound).read_to_end(&mut data).ok()?;
        let body_len = data.len().checked_sub(MAC_LEN)?;
        let tag: [u8; MAC_LEN] = data[body_len..].try_into().ok()?;
        // `Hash`'s equality is constant-time.
        if self.mac(name, &data[..body_len]) != blake3::Hash::from_bytes(tag) {
            return None;
        }
        data.truncate(body_len);
        Some(data)
    }

    /// Whether `file` (an entry: the body, then its tag; `meta` its
    /// metadata) is `name`'s under the user's key. Read in chunks: an entry
    /// is megabytes, and wasmtime maps the file itself.
    fn is_sealed(&self, name: &str, mut file: &std::fs::File, meta: &std::fs::Metadata) -> bool {
        self.macs_checked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let Some(body_len) = meta.len().checked_sub(MAC_LEN as u64).filter(|len| *len <= self.limit_bytes) else { return false };
        let mut mac = self.mac_start(name);
        // Big reads: BLAKE3 hashes a long input many chunks at a time.
        let mut buffer = vec![0u8; 256 << 10];
        let mut left = body_len;
        while left > 0 {
            let chunk = &mut buffer[..left.min(256 << 10) as usize];
            if file.read_exact(chunk).is_err() {
                return false;
            }
            mac.update(chunk);
            left -= chunk.len() as u64;
        }
        let (mut tag, mut beyond) = ([0u8; MAC_LEN], [0u8; 1]);
        // Exactly the length seen: a file that grew meanwhile is refused.
        file.read_exact(&mut tag).is_ok() && matches!(file.read(&mut beyond), Ok(0)) && mac.finalize() == blake3::Hash::from_bytes(tag)
    }

    /// Writes `body` and its tag to `file`, through a temp file renamed over it.
    fn write_sealed(&self, name: &str, file: &Path, body: &[u8]) -> Result<()> {
        let tag = *self.mac(name, body).as_bytes();
        let tmp = self.dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let _cleanup = crate::interrupt::register(crate::interrupt::Cleanup::Remove(tmp.clone()));
        let written = (|| {
            let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
            f.write_all(body)?;
            f.write_all(&tag)?;
            f.sync_all()?;
            std::fs::rename(&tmp, file)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        Ok(written?)
    }

    /// Removes the least recently used entries until the cache fits its limit.
    fn evict(&self, keep: &str) -> Result<()> {
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(&self.dir)?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(meta) = entry.metadata() else { continue };
            if name.ends_with(ENTRY_SUFFIX) && meta.is_file() && name != format!("{keep}{ENTRY_SUFFIX}") {
                entries.push((meta.modified().unwrap_or(std::time::UNIX_EPOCH), meta.len(), entry.path()));
            }
        }
        let kept = std::fs::metadata(self.entry(keep)).map(|m| m.len()).unwrap_or(0);
        let mut total = kept + entries.iter().map(|e| e.1).sum::<u64>();
        entries.sort();
        for (_, len, path) in entries {
            if total <= self.limit_bytes {
                break;
            }
            if std::fs::remove_file(&path).is_ok() {
                total -= len;
            }
        }
        Ok(())
    }
}

/// A regular file of this user's that group and others cannot write.
fn is_private_file(meta: &std::fs::Metadata) -> bool {
    meta.is_file() && meta.uid() == euid() && meta.mode() & 0o022 == 0
}

/// A path that opens `file` itself, whatever its name now points to.
fn open_file_path(file: &std::fs::File) -> PathBuf {
    use std::os::fd::AsRawFd;
    let dir = if cfg!(target_os = "linux") { "/proc/self/fd" } else { "/dev/fd" };
    Path::new(dir).join(file.as_raw_fd().to_string())
}

/// Empties the cache directory `dir` of nix2dream's entries (and temporary
/// files); returns how many files and bytes were removed.
pub fn clean(dir: &Path) -> Result<(usize, u64)> {
    let mut removed = (0, 0);
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let meta = entry.metadata()?;
        if meta.is_file() && (name.ends_with(ENTRY_SUFFIX) || name.ends_with(RECORD_SUFFIX) || (name.starts_with('.') && name.ends_with(".tmp"))) {
            std::fs::remove_file(entry.path()).with_context(|| format!("removing {}", entry.path().display()))?;
            removed.0 += 1;
            removed.1 += meta.len();
        }
    }
    Ok(removed)
}

/// Compiles `bytes` (checked as a component with no imports). Storing it in
/// the cache is the caller's business, once the plugin is accepted.
pub fn compile(engine: &Engine, bytes: &[u8]) -> Result<Component> {
    let _step = crate::progress::step(format!("compiling a plugin of {} KiB (the first time only: it is cached)", bytes.len() >> 10));
    Component::new(engine, bytes).map_err(|e| anyhow::anyhow!("{e:#}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn component(engine: &Engine, n: u32) -> (Vec<u8>, Component) {
        let wat = format!("(component (core module (func (export \"f{n}\"))))");
        let bytes = wat::parse_str(wat).unwrap();
        let c = Component::new(engine, &bytes).unwrap();
        (bytes, c)
    }

    #[test]
    fn a_record_is_read_back_only_as_written_under_its_name() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::open(&tmp.path().join("cache"), &tmp.path().join("state/cache.key"), 64 << 20).unwrap();
        assert_eq!(cache.read_record("image-layers"), None);
        cache.write_record("image-layers", b"[1,2,3]");
        cache.write_record("other", b"[4]");
        assert_eq!(cache.read_record("image-layers").as_deref(), Some(&b"[1,2,3]"[..]));
        let file = cache.record("image-layers");
        let good = std::fs::read(&file).unwrap();
        for at in [0, good.len() - 1] {
            let mut bad = good.clone();
            bad[at] ^= 0x40;
            std::fs::write(&file, &bad).unwrap();
            assert_eq!(cache.read_record("image-layers"), None, "a flipped byte at {at} was accepted");
        }
        // Another record's (authentic) file under this name is refused too.
        std::fs::copy(cache.record("other"), &file).unwrap();
        assert_eq!(cache.read_record("image-layers"), None);
        // Cleaning the cache removes records.
        assert_eq!(clean(&tmp.path().join("cache")).unwrap().0, 2);
    }

    #[test]
    fn a_tampered_entry_is_never_deserialized() {
        let tmp = tempfile::tempdir().unwrap();
        let engine = new_engine().unwrap();
        let cache = Cache::open(&tmp.path().join("cache"), &tmp.path().join("state/cache.key"), 64 << 20).unwrap();
        let (bytes, c) = component(&engine, 0);
        cache.store(&engine, &bytes, &c);
        assert!(cache.load(&engine, &bytes).is_some(), "a valid entry loads");
        let file = cache.entry(&cache_key(&engine, &bytes));
        let good = std::fs::read(&file).unwrap();
        for at in [0, good.len() / 2, good.len() - 1] {
            let mut bad = good.clone();
            bad[at] ^= 0x40;
            std::fs::write(&file, &bad).unwrap();
            assert!(cache.load(&engine, &bytes).is_none(), "a flipped byte at {at} was accepted");
        }
        std::fs::write(&file, &good[..good.len() - 1]).unwrap();
        assert!(cache.load(&engine, &bytes).is_none(), "a truncated entry was accepted");
        // wasmtime maps the file itself: one that others may write (and so
        // change after the check) is not used, however authentic.
        std::fs::write(&file, &good).unwrap();
        assert!(cache.load(&engine, &bytes).is_some(), "the entry written back loads");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(cache.load(&engine, &bytes).is_none(), "an entry writable by others was used");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        // Another component's valid entry under this name (a replay) is refused too.
        let (other_bytes, other) = component(&engine, 1);
        cache.store(&engine, &other_bytes, &other);
        std::fs::copy(cache.entry(&cache_key(&engine, &other_bytes)), &file).unwrap();
        assert!(cache.load(&engine, &bytes).is_none(), "an entry moved to another name was accepted");
        // A key of another user (or a new key) invalidates everything.
        std::fs::write(&file, &good).unwrap();
        std::fs::remove_file(tmp.path().join("state/cache.key")).unwrap();
        let rekeyed = Cache::open(&tmp.path().join("cache"), &tmp.path().join("state/cache.key"), 64 << 20).unwrap();
        assert!(rekeyed.load(&engine, &bytes).is_none(), "an entry made with another key was accepted");
    }

    #[test]
    fn an_entry_checked_once_and_unchanged_since_is_not_hashed_again() {
        let tmp = tempfile::tempdir().unwrap();
        let engine = new_engine().unwrap();
        let mut cache = Cache::open(&tmp.path().join("cache"), &tmp.path().join("state/cache.key"), 64 << 20).unwrap();
        cache.settled_after = std::time::Duration::from_millis(50);
        let checks = |cache: &Cache| cache.macs_checked.load(std::sync::atomic::Ordering::Relaxed);
        let (bytes, c) = component(&engine, 0);
        cache.store(&engine, &bytes, &c);
        assert!(cache.load(&engine, &bytes).is_some());
        assert_eq!(checks(&cache), 1, "checked");
        assert!(cache.load(&engine, &bytes).is_some());
        assert_eq!(checks(&cache), 2, "a file changed within the last moments is checked again");
        std::thread::sleep(std::time::Duration::from_millis(60));
        assert!(cache.load(&engine, &bytes).is_some());
        assert!(cache.load(&engine, &bytes).is_some());
        assert!(cache.load(&engine, &bytes).is_some());
        assert_eq!(checks(&cache), 3, "unchanged since its check: not hashed again");
        // Changed in place, same size: checked, and refused.
        let file = cache.entry(&cache_key(&engine, &bytes));
        let mut bad = std::fs::read(&file).unwrap();
        let middle = bad.len() / 2;
        bad[middle] ^= 0x40;
        std::fs::write(&file, &bad).unwrap();
        assert!(cache.load(&engine, &bytes).is_none(), "a changed entry was used");
        assert_eq!(checks(&cache), 4);
        // The list of checked entries is sealed like the entries.
        let record = cache.record(CHECKED_RECORD);
        let mut forged = std::fs::read(&record).unwrap();
        forged[0] ^= 1;
        std::fs::write(&record, &forged).unwrap();
        assert!(CheckedEntries::from_json(cache.read_record(CHECKED_RECORD).as_deref()).to_json() == b"[]", "a forged list was read");
    }

    #[test]
    fn an_unsafe_cache_directory_or_key_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("cache");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = Cache::open(&dir, &tmp.path().join("state/cache.key"), 1 << 20).err().expect("a world-writable cache was used");
        assert!(format!("{e:#}").contains("writable by group or others") && format!("{e:#}").contains("chmod go-w"), "{e:#}");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let e = Cache::open(&dir, &dir.join("cache.key"), 1 << 20).err().expect("a key inside the cache was used");
        assert!(format!("{e:#}").contains("must not be inside the cache directory"), "{e:#}");
        let key = tmp.path().join("state/cache.key");
        Cache::open(&dir, &key, 1 << 20).unwrap();
        assert_eq!(std::fs::metadata(&key).unwrap().mode() & 0o777, 0o600);
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = Cache::open(&dir, &key, 1 << 20).err().expect("a readable key was used");
        assert!(format!("{e:#}").contains("mode 600"), "{e:#}");
    }

    #[test]
    fn the_cache_is_bounded_and_evicts_the_least_recently_used() {
        let tmp = tempfile::tempdir().unwrap();
        let engine = new_engine().unwrap();
        let dir = tmp.path().join("cache");
        let key = tmp.path().join("state/cache.key");
        let (b0, c0) = component(&engine, 0);
        let size = {
            let probe = Cache::open(&dir, &key, 64 << 20).unwrap();
            probe.store(&engine, &b0, &c0);
            let size = std::fs::metadata(probe.entry(&cache_key(&engine, &b0))).unwrap().len();
            assert_eq!(clean(&dir).unwrap(), (1, size));
            size
        };
        // Room for two entries of about this size.
        let cache = Cache::open(&dir, &key, size * 2 + size / 2).unwrap();
        let (b1, c1) = component(&engine, 1);
        let (b2, c2) = component(&engine, 2);
        cache.store(&engine, &b0, &c0);
        cache.store(&engine, &b1, &c1);
        // Hours later (a use within the hour is not noted again).
        let hours_ago = |h: u64| std::time::SystemTime::now() - std::time::Duration::from_secs(h * 3600);
        let set_mtime = |b: &[u8], h| std::fs::File::open(cache.entry(&cache_key(&engine, b))).unwrap().set_modified(hours_ago(h)).unwrap();
        set_mtime(&b0, 3);
        set_mtime(&b1, 2);
        assert!(cache.load(&engine, &b0).is_some(), "entry 0 is now the most recently used");
        cache.store(&engine, &b2, &c2);
        assert!(cache.load(&engine, &b1).is_none(), "the least recently used entry stayed");
        assert!(cache.load(&engine, &b0).is_some() && cache.load(&engine, &b2).is_some());
    }
}
