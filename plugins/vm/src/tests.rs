use crate::Vm;
use nix2dream_plugin_kit::testing::{deployment, honoured_options, service, ServiceExt};
use nix2dream_plugin_kit::types::VmRootRequest;
use nix2dream_plugin_kit::{Artifact, Deployment, Diagnostic, FileContent, Manager, Rendered, Service};
use nix2dream_vm_init as init;

const KERNEL: &str = "/nix/store/abc-linux";

fn with_kernel(mut d: Deployment) -> Deployment {
    d.settings_json = format!(r#"{{"kernel": "{KERNEL}"}}"#);
    d
}

fn render(services: Vec<Service>) -> Result<Rendered, Vec<Diagnostic>> {
    Vm::render(with_kernel(deployment(services)))
}

fn parts(r: &Rendered) -> (String, &VmRootRequest) {
    let script = r.artifacts.iter().find_map(|a| match a {
        Artifact::File(f) if f.path == "run-vm" => Some(String::from_utf8(f.contents.clone()).unwrap()),
        _ => None,
    });
    let root = r.artifacts.iter().find_map(|a| match a {
        Artifact::VmRoot(v) => Some(v),
        _ => None,
    });
    (script.expect("run-vm"), root.expect("a vm-root request"))
}

fn text<'a>(root: &'a VmRootRequest, path: &str) -> &'a str {
    match &root.files.iter().find(|f| f.path == path).unwrap_or_else(|| panic!("no {path}")).content {
        FileContent::Text(t) => t,
        FileContent::Source(s) => panic!("{path} is a source {s}"),
    }
}

fn config(r: &Rendered) -> init::Config {
    serde_json::from_str(text(parts(r).1, init::CONFIG_PATH)).unwrap()
}

#[test]
fn declares_exactly_what_it_honours() {
    let honoured = honoured_options(|s| {
        let mut services = vec![s];
        if services[0].depends_on.iter().any(|d| d.service == "db") {
            services.insert(0, service("db", &["db"]));
        }
        format!("{:?}", render(services))
    });
    let mut declared = Vm::info().supported_options;
    declared.sort();
    assert_eq!(honoured, declared);
    // Every core option is honoured by a VM.
    assert_eq!(declared.len(), nix2dream_plugin_kit::CORE_OPTIONS.len());
}

#[test]
fn the_kernel_is_required_with_a_hint() {
    let e = Vm::render(deployment(vec![service("web", &["app"])])).unwrap_err();
    assert!(e[0].message.contains("kernel is not set") && e[0].message.contains("pkgs.linuxPackages.kernel"), "{:?}", e);
    // A relative path is the schema's to refuse (the host's check, tests/tests/settings.rs).
    let schema: serde_json::Value = serde_json::from_str(&Vm::info().settings_schema).unwrap();
    assert_eq!(schema["$defs"]["DeploymentSettings"]["required"], serde_json::json!(["kernel"]), "{schema:#}");
    assert!(schema["$defs"]["DeploymentSettings"]["properties"]["kernel"]["pattern"].as_str().unwrap().starts_with("^/"), "{schema:#}");
}

#[test]
fn services_start_after_their_dependencies_with_exact_argv_and_ids() {
    let web = service("web", &["httpd", "-p", "80"]).with(|s| {
        s.user = Some("www".into());
        s.package = Some("/nix/store/abc-busybox".into());
        s.depends_on.push(nix2dream_plugin_kit::Dependency { service: "db".into(), condition: nix2dream_plugin_kit::DependencyCondition::Started });
    });
    let db = service("db", &["db", "with space", "$HOME", "line\nbreak"]).with(|s| {
        s.user = Some("db".into());
        s.group = Some("data".into());
    });
    let r = render(vec![web, db]).unwrap();
    let c = config(&r);
    let names: Vec<&str> = c.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["db", "web"], "dependencies first");
    assert_eq!(c.services[0].argv, ["db", "with space", "$HOME", "line\nbreak"]);
    assert_eq!((c.services[0].uid, c.services[0].gid), (1000, 1000), "db: first user, group data");
    assert_eq!((c.services[1].uid, c.services[1].gid), (1001, 1001), "www and its own group");
    assert_eq!(c.services[1].env, [("PATH".to_owned(), "/nix/store/abc-busybox/bin".to_owned())]);
    let root = parts(&r).1;
    assert_eq!(text(root, "/etc/passwd"), "root:x:0:0:root:/root:/bin/sh\ndb:x:1000:0:db:/var/empty:/bin/sh\nwww:x:1001:1001:www:/var/empty:/bin/sh\n");
    assert_eq!(text(root, "/etc/group"), "root:x:0:\ndata:x:1000:\nwww:x:1001:\n");
    assert_eq!(root.kernel, KERNEL);
    assert_eq!(root.modules, ["virtio_pci", "virtio_net"], "no 9p without persistent volumes");
    assert!(root.store_paths.contains(&"/nix/store/abc-busybox".to_owned()));
}

#[test]
fn a_dependency_cycle_is_an_error() {
    let dep = |on: &str| nix2dream_plugin_kit::Dependency { service: on.into(), condition: nix2dream_plugin_kit::DependencyCondition::Started };
    let a = service("a", &["a"]).with(|s| s.depends_on.push(dep("b")));
    let b = service("b", &["b"]).with(|s| s.depends_on.push(dep("a")));
    let e = render(vec![a, b]).unwrap_err();
    assert!(e[0].message.contains("cycle among a, b"), "{e:?}");
}

#[test]
fn ports_are_forwarded_and_persistent_volumes_shared() {
    let web = service("web", &["httpd"]).port("http", 8080).volume("data", "/var/lib/web");
    let r = render(vec![web]).unwrap();
    let (script, root) = parts(&r);
    assert!(script.contains(",hostfwd=tcp:127.0.0.1:8080-:8080"), "{script}");
    assert!(script.contains("port_free 8080 web"), "{script}");
    assert!(script.contains("mount_tag=volumes"), "{script}");
    assert!(script.contains("kernel=/nix/store/abc-linux/bzImage"), "{script}");
    assert_eq!(root.modules, ["virtio_pci", "virtio_net", "9pnet_virtio", "9p"]);
    assert_eq!(config(&r).volumes_tag.as_deref(), Some("volumes"));
}

#[test]
fn the_vm_is_sized_from_the_services_or_the_settings() {
    let a = service("a", &["a"]).with(|s| {
        s.resources.memory_mib = Some(100);
        s.resources.cpus = Some("1.5".into());
        s.replicas = 2;
    });
    let rendered = render(vec![a.clone()]).unwrap();
    let (script, _) = parts(&rendered);
    assert!(script.contains("memory=$(( 456 + 2 *"), "256 + 2 x 100: {script}");
    assert!(script.contains("-smp 3 "), "2 x 1.5 CPUs: {script}");
    let mut d = deployment(vec![a]);
    d.settings_json = format!(r#"{{"kernel": "{KERNEL}", "memoryMiB": 2048, "cpus": 2}}"#);
    let rendered = Vm::render(d).unwrap();
    let (script, _) = parts(&rendered);
    assert!(script.contains("memory=2048") && script.contains("-smp 2 "), "{script}");
    assert_eq!(crate::config::cpu_millis("0.25"), Some(250));
    assert_eq!(crate::config::cpu_millis("2"), Some(2000));
    assert_eq!(crate::config::cpu_millis("x"), None);
    assert_eq!(crate::config::cpu_millis("0"), None);
}

#[test]
fn pre_start_runs_before_argv_through_sh() {
    let r = render(vec![service("web", &["app", "a b"]).pre_start("mkdir -p /x")]).unwrap();
    let c = config(&r);
    assert_eq!(c.services[0].argv, ["sh", "-ec", "mkdir -p /x\nexec \"$@\"", "web preStart", "app", "a b"]);
    assert!(r.diagnostics.iter().any(|d| d.option_name.as_deref() == Some("preStart")));
}

/// The start order as it was computed before (the first service, in the
/// deployment's order, whose known dependencies have all started; cubic),
/// kept as the reference the linear one must agree with.
fn start_order_by_search(d: &Deployment) -> Result<Vec<String>, String> {
    let mut order: Vec<&Service> = Vec::new();
    while order.len() < d.services.len() {
        let next = d.services.iter().find(|s| {
            !order.iter().any(|o| o.name == s.name)
                && s.depends_on.iter().all(|dep| order.iter().any(|o| o.name == dep.service) || !d.services.iter().any(|x| x.name == dep.service))
        });
        match next {
            Some(s) => order.push(s),
            None => {
                let left: Vec<&str> = d.services.iter().filter(|s| !order.iter().any(|o| o.name == s.name)).map(|s| s.name.as_str()).collect();
                return Err(left.join(", "));
            }
        }
    }
    Ok(order.into_iter().map(|s| s.name.clone()).collect())
}

#[test]
fn the_start_order_is_the_one_a_search_at_each_step_finds() {
    let dep = |on: String| nix2dream_plugin_kit::Dependency { service: on, condition: nix2dream_plugin_kit::DependencyCondition::Started };
    // Pseudo-random graphs (a fixed LCG): dependencies forwards and
    // backwards, repeated ones, unknown ones, self-dependencies and cycles.
    let mut seed: u64 = 12;
    let mut next = |bound: u64| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) % bound
    };
    for round in 0..300 {
        let n = 1 + next(12) as usize;
        let acyclic = round % 3 != 0;
        let services: Vec<Service> = (0..n)
            .map(|i| {
                let mut s = service(&format!("s{i:02}"), &["x"]);
                for _ in 0..next(4) {
                    let j = next(n as u64 + 1) as usize;
                    if j == n {
                        s.depends_on.push(dep("missing".into()));
                    } else if !acyclic || j > i {
                        s.depends_on.push(dep(format!("s{j:02}")));
                    }
                }
                s
            })
            .collect();
        let d = deployment(services);
        let linear = crate::config::start_order(&d)
            .map(|o| o.into_iter().map(|s| s.name.clone()).collect::<Vec<_>>())
            .map_err(|e| e.message.split("cycle among ").nth(1).unwrap().split(':').next().unwrap().to_owned());
        assert_eq!(linear, start_order_by_search(&d), "round {round}");
    }
}

#[test]
fn ten_thousand_services_in_a_chain_are_ordered_in_linear_time() {
    // Each service depends on the next: the last starts first. The search at
    // each step took minutes here (cubic); the heap takes milliseconds.
    let n = 10_000;
    let dep = |on: String| nix2dream_plugin_kit::Dependency { service: on, condition: nix2dream_plugin_kit::DependencyCondition::Started };
    let services: Vec<Service> = (0..n)
        .map(|i| {
            let s = service(&format!("s{i:05}"), &["x"]);
            if i + 1 < n { s.with(|s| s.depends_on.push(dep(format!("s{:05}", i + 1)))) } else { s }
        })
        .collect();
    let d = deployment(services);
    let start = std::time::Instant::now();
    let order = crate::config::start_order(&d).unwrap();
    assert!(start.elapsed() < std::time::Duration::from_secs(2), "{:?}", start.elapsed());
    assert_eq!(order[0].name, "s09999");
    assert_eq!(order[n - 1].name, "s00000");
}
