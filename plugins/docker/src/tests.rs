use super::*;
use nix2dream_plugin_kit::testing::*;
use nix2dream_plugin_kit::types::ImageRequest;
use nix2dream_plugin_kit::{FileContent, Service};

fn request(svc: Service) -> ImageRequest {
    let rendered = Docker::render(deployment(vec![svc])).expect("renders");
    match rendered.artifacts.into_iter().next() {
        Some(Artifact::Image(r)) => r,
        other => panic!("expected one image request, got {other:?}"),
    }
}

#[test]
fn argv_env_path_workdir_ports_and_volumes_reach_the_image_config() {
    let svc = service("web", &["httpd", "-f", "-p", "8080"])
        .env("GREETING", "hi")
        .with(|s| s.package = Some("/nix/store/aaa-busybox".into()))
        .path_entry("/nix/store/bbb-tools")
        .working_directory("/srv")
        .port("http", 8080)
        .volume("data", "/var/lib/web");
    let r = request(svc);
    assert_eq!(r.name, "demo-web");
    assert_eq!(r.path, "images/web.tar");
    assert_eq!(r.config.cmd, ["httpd", "-f", "-p", "8080"]);
    assert!(r.config.entrypoint.is_empty());
    let env: Vec<(String, String)> = r.config.env.iter().map(|e| (e.name.clone(), e.value.clone())).collect();
    assert!(env.contains(&("GREETING".into(), "hi".into())));
    assert!(env.contains(&("PATH".into(), "/nix/store/aaa-busybox/bin:/nix/store/bbb-tools/bin".into())));
    assert_eq!(r.config.working_dir.as_deref(), Some("/srv"));
    assert_eq!(r.config.exposed_ports[0].port, 8080);
    assert_eq!(r.config.volumes, ["/var/lib/web"]);
    assert_eq!(r.store_paths, ["/nix/store/aaa-busybox", "/nix/store/bbb-tools"]);
}

#[test]
fn config_files_are_baked_at_the_path_the_service_expects() {
    let svc = service("web", &["x"])
        .working_directory("/srv")
        .text_file("a", "conf/a.ini", "[a]\n")
        .source_file("b", "/etc/b.conf", "/nix/store/ccc-b.conf");
    let r = request(svc);
    let paths: Vec<&str> = r.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["/srv/conf/a.ini", "/etc/b.conf", "/etc/passwd", "/etc/group"]);
    assert!(matches!(&r.files[1].content, FileContent::Source(s) if s == "/nix/store/ccc-b.conf"));
}

#[test]
fn pre_start_runs_through_sh_then_execs_argv() {
    let rendered = Docker::render(deployment(vec![service("web", &["app", "--x"]).pre_start("mkdir -p /tmp/a")])).unwrap();
    let Artifact::Image(r) = &rendered.artifacts[0] else { panic!() };
    assert_eq!(r.config.entrypoint[..2], ["sh", "-ec"]);
    assert!(r.config.entrypoint[2].starts_with("mkdir -p /tmp/a\nexec \"$@\""));
    assert_eq!(r.config.cmd, ["app", "--x"]);
    // Whether `sh` is in the image is the host's check (it knows the closure): no blind warning here.
    assert!(rendered.diagnostics.is_empty(), "{:?}", rendered.diagnostics);
}

#[test]
fn settings_are_refused_by_name() {
    let errors = Docker::render(deployment(vec![service("web", &["x"]).settings(r#"{"tag": "latest"}"#)])).unwrap_err();
    assert_eq!(errors[0].service.as_deref(), Some("web"));
    assert!(errors[0].message.starts_with("services.web.managers.docker.tag: unknown field `tag`"), "{:?}", errors[0]);
    let mut d = deployment(vec![service("web", &["x"])]);
    d.settings_json = r#"{"registry": "r.example", "push": true}"#.into();
    let errors = Docker::render(d.clone()).unwrap_err();
    assert!(errors[0].message.starts_with("settings.docker.push: unknown field `push`"), "{:?}", errors[0]);
    let schema: serde_json::Value = serde_json::from_str(&Docker::info().settings_schema).unwrap();
    assert_eq!(schema["$defs"]["NoSettings"]["additionalProperties"], false, "the host refuses every key: {schema:#}");
    d.settings_json = "{}".into();
    assert!(Docker::render(d).is_ok(), "empty settings are no settings");
}

#[test]
fn a_named_user_gets_passwd_and_group_entries() {
    let r = request(service("web", &["x"]).with(|s| s.user = Some("app".into())));
    assert_eq!(r.config.user.as_deref(), Some("app"));
    let passwd = r.files.iter().find(|f| f.path == "/etc/passwd").expect("passwd");
    assert!(matches!(&passwd.content, FileContent::Text(t) if t.contains("app:x:1000:1000:")));
    let numeric = request(service("web", &["x"]).with(|s| s.user = Some("1234".into())));
    let passwd = numeric.files.iter().find(|f| f.path == "/etc/passwd").expect("passwd");
    assert!(
        matches!(&passwd.content, FileContent::Text(t) if t == "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/var/empty:/bin/sh\n"),
        "a numeric user needs no entry; root and nobody are always there (nginx's workers look nobody up)"
    );
}

#[test]
fn the_tag_follows_the_contents() {
    let a = request(service("web", &["x"]).env("A", "1"));
    assert_eq!(a.tag, request(service("web", &["x"]).env("A", "1")).tag, "same input, same tag");
    assert_ne!(a.tag, request(service("web", &["x"]).env("A", "2")).tag);
    assert_eq!(a.tag.len(), 16);
}

#[test]
fn an_empty_argv_is_an_error_naming_the_service() {
    let errors = Docker::render(deployment(vec![service("web", &[])])).unwrap_err();
    assert_eq!(errors[0].service.as_deref(), Some("web"));
    assert_eq!(errors[0].option_name.as_deref(), Some("process.argv"));
}

#[test]
fn supported_options_are_exactly_those_that_change_the_images() {
    use nix2dream_plugin_kit::testing::{deployment, honoured_options, service};
    let honoured = honoured_options(|svc| format!("{:?}", Docker::render(deployment(vec![svc, service("db", &["db"])]))));
    let mut declared = Docker::info().supported_options;
    declared.sort();
    assert_eq!(declared, honoured);
}
