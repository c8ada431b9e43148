use super::*;
use nix2dream_plugin_kit::testing::*;
use nix2dream_plugin_kit::{Dependency, DependencyCondition, Healthcheck, HttpProbe, Probe, Service, VolumeSource};

fn compose_yaml(d: nix2dream_plugin_kit::Deployment) -> (serde_yaml_ng::Value, Rendered) {
    let rendered = Compose::render(d).expect("renders");
    let Some(Artifact::File(f)) = rendered.artifacts.first() else { panic!("compose.yaml first") };
    assert_eq!(f.path, "compose.yaml");
    (serde_yaml_ng::from_slice(&f.contents).unwrap(), rendered)
}

fn check(interval: u32) -> Healthcheck {
    Healthcheck { probe: Probe::Command(vec!["true".into()]), interval_seconds: interval, timeout_seconds: 2, retries: 3, start_period_seconds: 0 }
}

fn with_deps(s: Service, deps: &[(&str, DependencyCondition)]) -> Service {
    s.with(|s| s.depends_on = deps.iter().map(|(n, c)| Dependency { service: (*n).into(), condition: *c }).collect())
}

#[test]
fn image_references_match_the_image_requests() {
    let (y, rendered) = compose_yaml(deployment(vec![service("web", &["x"]), service("db", &["y"])]));
    for a in &rendered.artifacts[1..] {
        let Artifact::Image(r) = a else { panic!() };
        let service = r.name.strip_prefix("demo-").unwrap();
        assert_eq!(y["services"][service]["image"].as_str().unwrap(), format!("{}:{}", r.name, r.tag));
    }
    assert_eq!(rendered.artifacts.len(), 3);
}

#[test]
fn dollar_signs_are_escaped_for_compose_interpolation() {
    let (y, _) = compose_yaml(deployment(vec![service("web", &["echo", "$HOME"]).env("A", "cost: $5")]));
    assert_eq!(y["services"]["web"]["command"][1], "$$HOME");
    assert_eq!(y["services"]["web"]["environment"]["A"], "cost: $$5");
}

#[test]
fn depends_on_waits_for_health_only_when_the_dependency_has_a_healthcheck() {
    let db = service("db", &["db"]).with(|s| s.healthcheck = Some(check(1)));
    let cache = service("cache", &["c"]);
    let web = with_deps(service("web", &["w"]), &[("db", DependencyCondition::Healthy), ("cache", DependencyCondition::Healthy)]);
    let (y, rendered) = compose_yaml(deployment(vec![db, cache, web]));
    assert_eq!(y["services"]["web"]["depends_on"]["db"]["condition"], "service_healthy");
    assert_eq!(y["services"]["web"]["depends_on"]["cache"]["condition"], "service_started");
    assert!(rendered.diagnostics.iter().any(|d| d.option_name.as_deref() == Some("dependsOn") && d.message.contains("cache")));
    assert_eq!(y["services"]["db"]["healthcheck"]["test"][0], "CMD");
    assert_eq!(y["services"]["db"]["healthcheck"]["interval"], "1s");
}

#[test]
fn http_healthchecks_use_wget_on_the_declared_port() {
    let web = service("web", &["w"]).with(|s| {
        s.healthcheck = Some(Healthcheck { probe: Probe::Http(HttpProbe { port: 8080, path: "/health".into() }), ..check(5) })
    });
    let (y, _) = compose_yaml(deployment(vec![web]));
    let test: Vec<&str> = y["services"]["web"]["healthcheck"]["test"].as_sequence().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(test, ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/health"]);
}

/// The wget warning is given only when wget is known to be in none of the
/// service's packages (the image holds nothing else).
#[test]
fn the_wget_warning_only_when_no_package_holds_wget() {
    let web = service("web", &["w"]).path_entry("/nix/store/a-busybox").with(|s| {
        s.healthcheck = Some(Healthcheck { probe: Probe::Http(HttpProbe { port: 8080, path: "/".into() }), ..check(5) })
    });
    let with_listing = |programs: &[&str]| {
        let mut d = deployment(vec![web.clone()]);
        d.bin_directories = vec![nix2dream_plugin_kit::BinDirectory {
            package: "/nix/store/a-busybox".into(),
            programs: programs.iter().map(|p| (*p).to_owned()).collect(),
        }];
        let rendered = <crate::Compose as nix2dream_plugin_kit::Manager>::render(d).unwrap();
        rendered.diagnostics.iter().filter(|d| d.message.contains("wget")).count()
    };
    assert_eq!(with_listing(&["sh", "wget"]), 0);
    assert_eq!(with_listing(&["sh"]), 1);
}

#[test]
fn volumes_ports_restart_resources_and_replicas() {
    let web = service("web", &["w"])
        .volume("data", "/var/lib/web")
        .with(|s| {
            s.volumes.push(nix2dream_plugin_kit::Volume {
                name: "scratch".into(),
                path: "/scratch".into(),
                persistent: false,
                source: VolumeSource::Own,
                read_only: false,
            });
            s.volumes.push(nix2dream_plugin_kit::Volume {
                name: "uploads".into(),
                path: "/srv/uploads".into(),
                persistent: true,
                source: VolumeSource::Shared("uploads".into()),
                read_only: false,
            });
            s.volumes.push(nix2dream_plugin_kit::Volume {
                name: "media".into(),
                path: "/srv/media".into(),
                persistent: true,
                source: VolumeSource::HostPath("/home/me/my: media".into()),
                read_only: true,
            });
            s.restart = nix2dream_plugin_kit::RestartPolicy::Always;
            s.resources = nix2dream_plugin_kit::Resources { cpus: Some("0.5".into()), memory_mib: Some(64) };
            s.replicas = 3;
        });
    let (y, _) = compose_yaml(deployment(vec![web]));
    let w = &y["services"]["web"];
    let mount = |i: usize| (w["volumes"][i]["type"].clone(), w["volumes"][i]["source"].clone(), w["volumes"][i]["target"].clone());
    assert_eq!(mount(0), ("volume".into(), "web-data".into(), "/var/lib/web".into()));
    assert_eq!(w["tmpfs"][0], "/scratch");
    assert!(y["volumes"]["web-data"].is_mapping());
    // A volume of the deployment keeps its own name; a host path is bound as it is, read-only.
    assert_eq!(mount(1), ("volume".into(), "uploads".into(), "/srv/uploads".into()));
    assert!(y["volumes"]["uploads"].is_mapping());
    assert_eq!(mount(2), ("bind".into(), "/home/me/my: media".into(), "/srv/media".into()));
    assert_eq!(w["volumes"][2]["read_only"], true);
    assert_eq!(w["restart"], "always");
    assert_eq!(w["cpus"].as_f64(), Some(0.5));
    assert_eq!(w["mem_limit"], "64m");
    assert_eq!(w["scale"], 3);
}

#[test]
fn settings_are_merged_and_checked() {
    let web = service("web", &["w"]).port("http", 80).settings(r#"{"restart": "unless-stopped", "labels": {"team": "a"}}"#);
    let mut d = deployment(vec![web]);
    d.settings_json = r#"{"publishAddress": "127.0.0.1", "file": {"networks": {"default": {"name": "shared"}}}}"#.into();
    let (y, _) = compose_yaml(d.clone());
    let w = &y["services"]["web"];
    assert_eq!(w["ports"][0], "127.0.0.1:80:80/tcp");
    assert_eq!(w["restart"], "unless-stopped", "managers.compose wins");
    assert_eq!(w["labels"]["team"], "a");
    assert_eq!(w["labels"]["dev.nix2dream.service"], "web", "merging keeps the generated labels");
    assert_eq!(y["networks"]["default"]["name"], "shared");
    d.settings_json = r#"{"publishAdress": "x"}"#.into();
    let errors = Compose::render(d).unwrap_err();
    assert!(errors[0].message.starts_with("settings.compose.publishAdress: unknown field `publishAdress`"), "{:?}", errors[0]);
}

#[test]
fn key_order_is_stable() {
    let make = || compose_yaml(deployment(vec![service("web", &["w"]).env("B", "2").env("A", "1").port("p", 1)])).1;
    let (a, b) = (make(), make());
    let bytes = |r: &Rendered| match &r.artifacts[0] { Artifact::File(f) => f.contents.clone(), _ => unreachable!() };
    assert_eq!(bytes(&a), bytes(&b));
    let text = String::from_utf8(bytes(&a)).unwrap();
    let order: Vec<usize> = ["image:", "command:", "environment:", "ports:", "restart:", "labels:"].iter().map(|k| text.find(k).unwrap()).collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
}

#[test]
fn supported_options_are_exactly_those_that_change_the_output() {
    let honoured = honoured_options(|svc| format!("{:?}", Compose::render(deployment(vec![svc, service("db", &["db"])]))));
    let mut declared = Compose::info().supported_options;
    declared.sort();
    assert_eq!(declared, honoured);
}

/// The typed entries write what their YAML values (as every entry was built
/// before, and a merged one still is) write, with their keys in the order
/// that value's mapping was built in. One rich service, and every core
/// option alone.
#[test]
fn typed_entries_write_what_their_yaml_values_write() {
    use nix2dream_plugin_kit::{Port, Protocol};
    const ORDER: &[&str] = &[
        "image", "entrypoint", "command", "environment", "secrets", "working_dir", "user", "expose", "ports", "volumes", "tmpfs",
        "depends_on", "healthcheck", "restart", "init", "stop_signal", "stop_grace_period", "cpus", "mem_limit", "scale", "labels",
    ];
    let rich = |probe: Probe| {
        let web = nix2dream_plugin_kit::testing::rich_service("web", &["web", "$HOME", "no"], probe);
        with_deps(web, &[("db", DependencyCondition::Healthy), ("job", DependencyCondition::Completed), ("db", DependencyCondition::Started)])
            .port("http", 8080)
            .env("A", "cost: $5")
            .env("B", "it's")
            .with(|s| {
                s.ports.push(Port { protocol: Protocol::Udp, internal: true, ..s.ports[0].clone() });
                s.ports.push(Port { host_port: Some(18080), ..s.ports[0].clone() });
                s.group = Some("no$group".into());
                s.working_directory = Some("/srv/$work".into());
                s.stop_signal = Some("SIGINT".into());
                s.one_shot = true;
            })
    };
    let http = || Probe::Http(HttpProbe { port: 8080, path: "healthz".into() });
    let mut services = vec![rich(http()), rich(check(0).probe), rich(check(0).probe).with(|s| s.resources.cpus = None)];
    services.extend(nix2dream_plugin_kit::CORE_OPTIONS.iter().map(|o| with_option(o)));
    for svc in services {
        let d = deployment(vec![svc, service("db", &["db"]).with(|s| s.healthcheck = Some(check(1))), service("job", &["job"])]);
        let settings = crate::settings::DeploymentSettings::default();
        let healthchecked: std::collections::HashSet<&str> = d.services.iter().filter(|s| s.healthcheck.is_some()).map(|s| s.name.as_str()).collect();
        let requests = image::service_images(&d).images;
        for (svc, request) in &requests {
            let entry = service::compose_service(&d, svc, request, &settings, &healthchecked).unwrap();
            let service::Written::Typed(typed) = &entry.written else { panic!("no managers.compose: typed") };
            let text = nix2dream_plugin_kit::yaml::to_string(typed).unwrap();
            let value = serde_yaml_ng::to_value(typed).unwrap();
            assert_eq!(text, nix2dream_plugin_kit::yaml::to_string(&value).unwrap());
            let keys: Vec<&str> = value.as_mapping().unwrap().keys().map(|k| k.as_str().unwrap()).collect();
            let positions: Vec<usize> = keys.iter().map(|k| ORDER.iter().position(|o| o == k).unwrap()).collect();
            assert!(positions.windows(2).all(|w| w[0] < w[1]), "{keys:?}");
        }
    }
}

#[test]
fn shared_image_archives_put_every_image_into_one_archive() {
    assert_eq!(image_archive_paths::<Compose>("{}"), ["images/web.tar", "images/db.tar"]);
    assert_eq!(image_archive_paths::<Compose>(r#"{"imageArchives":"shared"}"#), ["images/all.tar", "images/all.tar"]);
}
