use super::K8s;
use nix2dream_plugin_kit::testing::{deployment, honoured_options, image_archive_paths, service, ServiceExt};
use nix2dream_plugin_kit::{Artifact, Deployment, Diagnostic, Healthcheck, Manager, Probe};
use serde_yaml_ng::Value;

/// The documents of manifests.yaml, read back.
fn manifests(d: Deployment) -> Vec<Value> {
    let rendered = K8s::render(d).expect("renders");
    let Some(Artifact::File(f)) = rendered.artifacts.first() else { panic!("manifests.yaml first") };
    let text = std::str::from_utf8(&f.contents).unwrap();
    text.split("\n---\n").skip(1).map(|doc| serde_yaml_ng::from_str(doc).unwrap()).collect()
}

fn object<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter().find(|o| o["kind"] == kind && o["metadata"]["name"] == name).unwrap_or_else(|| panic!("no {kind} {name} in {docs:?}"))
}

fn errors(d: Deployment) -> Vec<Diagnostic> {
    K8s::render(d).expect_err("refused")
}

fn checked(start_period: u32) -> Healthcheck {
    Healthcheck { probe: Probe::Command(vec!["test".into(), "-f".into(), "/ready".into()]), interval_seconds: 5, timeout_seconds: 2, retries: 3, start_period_seconds: start_period }
}

#[test]
fn supported_options_are_exactly_those_that_change_the_output() {
    let honoured = honoured_options(|svc| format!("{:?}", K8s::render(deployment(vec![svc, service("db", &["db"])]))));
    let mut declared = K8s::info().supported_options;
    declared.sort();
    // Holds without a change: every Service is ClusterIP (cluster-internal).
    let mut expected = honoured;
    expected.push("ports.internal".to_owned());
    expected.sort();
    assert_eq!(declared, expected);
}

#[test]
fn bad_settings_name_the_setting() {
    // Values the schema refuses (a size, an object's name) are the host's to
    // refuse (tests/tests/settings.rs); without the host, serde still refuses
    // keys and types, naming the field.
    let mut d = deployment(vec![service("web", &["web"])]);
    d.settings_json = r#"{"extraObject": []}"#.into();
    assert!(errors(d.clone())[0].message.starts_with("settings.k8s.extraObject: unknown field `extraObject`"), "{:?}", errors(d.clone()));
    d.settings_json = r#"{"imagePullPolicy": "Sometimes"}"#.into();
    assert!(errors(d.clone())[0].message.starts_with("settings.k8s.imagePullPolicy: unknown variant `Sometimes`"), "{:?}", errors(d.clone()));
    let web = service("web", &["web"]).settings(r#"{"patch": {"Pod": {}}}"#);
    let e = errors(deployment(vec![web]));
    assert!(e[0].message.starts_with("services.web.managers.k8s.patch.Pod: unknown field `Pod`"), "{e:?}");
    let schema: serde_json::Value = serde_json::from_str(&crate::settings::schema()).unwrap();
    assert_eq!(schema["$defs"]["ExtraObject"]["required"], serde_json::json!(["apiVersion", "kind", "metadata"]), "{schema:#}");
    assert_eq!(schema["$defs"]["Patch"]["properties"]["kind"], false, "{schema:#}");
    assert_eq!(schema["$defs"]["Patches"]["properties"]["Job"], serde_json::json!({"$ref": "#/$defs/Patch"}), "{schema:#}");
    assert!(schema["$defs"]["Patches"].get("required").is_none(), "{schema:#}");
}

#[test]
fn start_period_is_a_startup_probe_window_not_a_delay() {
    let docs = manifests(deployment(vec![service("web", &["web"]).with(|s| s.healthcheck = Some(checked(30)))]));
    let container = &object(&docs, "Deployment", "web")["spec"]["template"]["spec"]["containers"][0];
    let startup = &container["startupProbe"];
    assert_eq!(startup["exec"]["command"][2], "/ready");
    assert_eq!(startup["periodSeconds"], 5);
    // 30 s of grace at one probe per 5 s, then the usual 3 retries.
    assert_eq!(startup["failureThreshold"], 9);
    for probe in ["readinessProbe", "livenessProbe", "startupProbe"] {
        assert!(container[probe]["initialDelaySeconds"].is_null(), "{probe} delays the first check");
    }
    assert_eq!(container["livenessProbe"]["failureThreshold"], 3);
    let docs = manifests(deployment(vec![service("web", &["web"]).with(|s| s.healthcheck = Some(checked(0)))]));
    assert!(object(&docs, "Deployment", "web")["spec"]["template"]["spec"]["containers"][0]["startupProbe"].is_null());
}

#[test]
fn a_persistent_claim_makes_the_deployment_recreate() {
    let docs = manifests(deployment(vec![service("db", &["db"]).volume("data", "/var/lib/db"), service("web", &["web"])]));
    assert_eq!(object(&docs, "Deployment", "db")["spec"]["strategy"]["type"], "Recreate");
    assert!(object(&docs, "Deployment", "web")["spec"]["strategy"].is_null(), "no claim: the default rolling update");
}

#[test]
fn patches_change_the_service_objects_of_their_kind() {
    let web = service("web", &["web"]).port("http", 8080).volume("data", "/data").settings(
        r#"{"patch": {
            "Deployment": {"spec": {"template": {"spec": {
                "nodeSelector": {"disk": "ssd"},
                "containers": [{"name": "web", "resources": {"requests": {"cpu": "100m"}}}, {"name": "proxy", "image": "envoy:1"}]}}}},
            "Service": {"spec": {"type": "NodePort", "ports": [{"port": 8080, "nodePort": 30080}]}},
            "PersistentVolumeClaim": {"spec": {"storageClassName": "fast"}}
        }}"#,
    );
    let docs = manifests(deployment(vec![web]));
    let pod = &object(&docs, "Deployment", "web")["spec"]["template"]["spec"];
    assert_eq!(pod["nodeSelector"]["disk"], "ssd");
    assert_eq!(pod["containers"][0]["name"], "web");
    assert!(pod["containers"][0]["image"].as_str().unwrap().starts_with("demo-web:"), "merged, not replaced");
    assert_eq!(pod["containers"][0]["resources"]["requests"]["cpu"], "100m");
    assert_eq!(pod["containers"][1]["image"], "envoy:1");
    let svc = object(&docs, "Service", "web");
    assert_eq!(svc["spec"]["type"], "NodePort");
    assert_eq!(svc["spec"]["ports"][0]["nodePort"], 30080);
    assert_eq!(svc["spec"]["ports"][0]["name"], "http");
    assert_eq!(object(&docs, "PersistentVolumeClaim", "web-data")["spec"]["storageClassName"], "fast");
}

#[test]
fn unknown_or_pointless_patches_are_refused_by_name() {
    let refused = |json: &str| errors(deployment(vec![service("web", &["web"]).settings(json)]))[0].message.clone();
    assert!(refused(r#"{"patches": {}}"#).starts_with("services.web.managers.k8s.patches: unknown field `patches`"));
    assert!(refused(r#"{"patch": {"Ingress": {}}}"#).starts_with("services.web.managers.k8s.patch.Ingress: unknown field `Ingress`"));
    assert!(refused(r#"{"patch": {"Service": {"spec": {}}}}"#).contains("the service has no Service (it has no ports)"));
    // A patch changing `kind` is the schema's to refuse (the host's check: tests/tests/settings.rs).
}

#[test]
fn extra_objects_follow_the_generated_ones_and_do_not_replace_them() {
    let mut d = deployment(vec![service("web", &["web"])]);
    d.settings_json = r#"{"extraObjects": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "extra"}, "data": {"no": "no"}}]}"#.into();
    let docs = manifests(d.clone());
    assert_eq!(docs.last().unwrap()["kind"], "ConfigMap");
    assert_eq!(docs.last().unwrap()["data"]["no"], "no");
    d.settings_json = r#"{"extraObjects": [{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}}]}"#.into();
    assert!(errors(d)[0].message.contains("Deployment \"web\" is also generated"));
}

/// The typed objects write what their JSON values (sorted maps, as the
/// objects were built before) write: every field in sorted order, absent
/// ones left out. One rich service, and every core option alone.
#[test]
fn typed_objects_write_what_their_json_values_write() {
    use nix2dream_plugin_kit::HttpProbe;
    let rich = |one_shot: bool, probe: Probe| {
        nix2dream_plugin_kit::testing::rich_service("web", &["web"], probe)
            .port("http", 8080)
            .port("Not_A_Port_Name", 9090)
            .description("hello 'world'\nno")
            .with(|s| {
                s.ports.push(nix2dream_plugin_kit::Port { protocol: nix2dream_plugin_kit::Protocol::Udp, ..s.ports[1].clone() });
                s.one_shot = one_shot;
            })
    };
    let http = || Probe::Http(HttpProbe { port: 8080, path: "healthz".into() });
    let mut services = vec![rich(false, http()), rich(true, checked(0).probe), rich(false, checked(0).probe).with(|s| s.resources.cpus = None)];
    services.extend(nix2dream_plugin_kit::CORE_OPTIONS.iter().map(|o| nix2dream_plugin_kit::testing::with_option(o)));
    for svc in services {
        let d = deployment(vec![svc]);
        let settings = crate::settings::Settings::parse("").unwrap();
        let requests = nix2dream_plugin_kit::image::service_images(&d).images;
        for (svc, request) in requests {
            let (objects, _) = crate::manifests::objects(&d, svc, &request, &settings).unwrap();
            let mut objects: Vec<_> = objects.into_iter().collect();
            objects.extend(crate::manifests::shared_claims(&d, &settings).unwrap());
            for object in objects {
                let typed = nix2dream_plugin_kit::yaml::to_string(&object).unwrap();
                let value = nix2dream_plugin_kit::yaml::to_string(&serde_json::to_value(&object).unwrap()).unwrap();
                assert_eq!(typed, value);
            }
        }
    }
}

#[test]
fn shared_image_archives_put_every_image_into_one_archive() {
    assert_eq!(image_archive_paths::<K8s>("{}"), ["images/web.tar", "images/db.tar"]);
    assert_eq!(image_archive_paths::<K8s>(r#"{"imageArchives":"shared"}"#), ["images/all.tar", "images/all.tar"]);
}
