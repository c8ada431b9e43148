//! Whether a program is in a service's packages, from what the host found
//! in their `bin/` (`Deployment::bin_directories`, contract 0.3.0): a plugin
//! that relies on `sh` or `wget` checks, then warns — a warning printed on
//! every render teaches users to ignore warnings.

use crate::{Deployment, Service};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// In the `bin/` of `package` or a `path` entry.
    Found,
    /// In none of them, and every one was listed by the host.
    Missing,
    /// Not found, but some entry is not on the rendering machine (not built
    /// yet): it may be there.
    Unknown,
}

/// Looks `program` up in the `bin/` of the service's `package` and `path` entries.
pub fn lookup(deployment: &Deployment, service: &Service, program: &str) -> Lookup {
    let mut all_listed = true;
    for entry in service.package.iter().chain(&service.path) {
        // The host sends the listings sorted by entry, each sorted by name.
        match deployment.bin_directories.binary_search_by(|b| b.package.as_str().cmp(entry)) {
            Ok(i) if deployment.bin_directories[i].programs.binary_search_by(|p| p.as_str().cmp(program)).is_ok() => {
                return Lookup::Found
            }
            Ok(_) => {}
            Err(_) => all_listed = false,
        }
    }
    if all_listed {
        Lookup::Missing
    } else {
        Lookup::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{deployment, service, ServiceExt};
    use crate::BinDirectory;

    fn listing(package: &str, programs: &[&str]) -> BinDirectory {
        BinDirectory { package: package.into(), programs: programs.iter().map(|p| (*p).into()).collect() }
    }

    #[test]
    fn found_missing_or_unknown() {
        let web = service("web", &["app"])
            .with(|s| s.package = Some("/nix/store/b-app".into()))
            .path_entry("/nix/store/c-busybox");
        let mut d = deployment(vec![web.clone()]);
        d.bin_directories = vec![listing("/nix/store/b-app", &["app"]), listing("/nix/store/c-busybox", &["sh", "wget"])];
        assert_eq!(lookup(&d, &web, "wget"), Lookup::Found);
        assert_eq!(lookup(&d, &web, "app"), Lookup::Found);
        assert_eq!(lookup(&d, &web, "curl"), Lookup::Missing);
        d.bin_directories.remove(1);
        assert_eq!(lookup(&d, &web, "wget"), Lookup::Unknown);
        assert_eq!(lookup(&d, &web, "app"), Lookup::Found);
        let bare = service("bare", &["x"]);
        assert_eq!(lookup(&d, &bare, "sh"), Lookup::Missing);
    }
}
