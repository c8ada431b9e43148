//! `nix2dream eval` / `render services.nix` / `options`: the host driving Nix.
//! Tests that evaluate need nixpkgs (its lib/); they are skipped, loudly,
//! where it is absent. The error paths for a missing Nix or nixpkgs are not.

use nix2dream_e2e::*;
use std::path::Path;

fn eval(file: &Path, nixpkgs: &Path) -> Run {
    run(nix2dream().arg("eval").arg(file).arg("--nixpkgs").arg(nixpkgs))
}

#[test]
fn a_services_nix_renders_and_its_process_really_serves() {
    let Some(nixpkgs) = nixpkgs_or_skip("nix_render::a_services_nix_renders_and_its_process_really_serves") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let home = tmp.path().join("site");
    let services = tmp.path().join("services.nix");
    std::fs::write(
        &services,
        format!(
            r#"{{ lib, ... }}: {{
  name = "nixtest";
  services.site = {{
    process.argv = [ "python3" "-m" "http.server" "{port}" "--bind" "127.0.0.1" ];
    workingDirectory = "{home}";
    configData."hello.txt".text = "hello from services.nix, ${{lib.toUpper "nix"}}\n";
    env.PYTHONUNBUFFERED = true;
    ports.http.port = {port};
  }};
}}
"#,
            home = home.display()
        ),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let r = run(nix2dream().args(["render", "--plugin", "procfile"]).arg(&services).arg("--out").arg(&out).arg("--nixpkgs").arg(&nixpkgs));
    assert!(r.ok, "{}", r.stderr);
    let honcho = Honcho::start(&out);
    let body = wait_for(30, || http_get(port, "/hello.txt")).unwrap_or_else(|| panic!("no answer:\n{}", honcho.log()));
    assert_eq!(body, "hello from services.nix, NIX\n");
    honcho.stop();
}

#[test]
fn rendering_the_demo_nix_equals_rendering_its_json() {
    let Some(nixpkgs) = nixpkgs_or_skip("nix_render::rendering_the_demo_nix_equals_rendering_its_json") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let demo = repo_root().join("examples/demo");
    for (input, out) in [("services.nix", "from-nix"), ("deployment.json", "from-json")] {
        let r = run(nix2dream()
            .args(["render", "--plugin", "procfile"])
            .arg(demo.join(input))
            .arg("--out")
            .arg(tmp.path().join(out))
            .arg("--nixpkgs")
            .arg(&nixpkgs));
        assert!(r.ok, "{input}: {}", r.stderr);
    }
    assert_eq!(snapshot(&tmp.path().join("from-nix")), snapshot(&tmp.path().join("from-json")));
}

#[test]
fn eval_prints_the_deployment_and_reports_assertions_and_nix_errors() {
    let Some(nixpkgs) = nixpkgs_or_skip("nix_render::eval_prints_the_deployment_and_reports_assertions_and_nix_errors") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good.nix");
    std::fs::write(&good, "{ ... }: { name = \"g\"; services.a.process.argv = [ \"true\" ]; services.a.replicas = 3; }\n").unwrap();
    let r = eval(&good, &nixpkgs);
    assert!(r.ok, "{}", r.stderr);
    let json: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(json["schema"], "nix2dream/v1");
    assert_eq!(json["services"]["a"]["replicas"], 3);
    assert_eq!(json["services"]["a"]["optionsSet"], serde_json::json!(["process.argv", "replicas"]));

    let bad = tmp.path().join("bad.nix");
    std::fs::write(&bad, "{ ... }: {\n  name = \"b\";\n  services.a.process.argv = [ ];\n  services.a.dependsOn.ghost = { };\n}\n").unwrap();
    let r = eval(&bad, &nixpkgs);
    assert!(!r.ok);
    assert!(r.stderr.contains("2 failed assertions"), "{}", r.stderr);
    assert!(r.stderr.contains("services.a.process.argv: must not be empty"), "{}", r.stderr);
    assert!(r.stderr.contains("services.a.dependsOn.ghost"), "{}", r.stderr);

    let broken = tmp.path().join("broken.nix");
    std::fs::write(&broken, "{ ... }: {\n  name = \"b\";\n  services.a.process.argv = [ \"x\" ] ++ oops;\n}\n").unwrap();
    let r = eval(&broken, &nixpkgs);
    assert!(!r.ok);
    assert!(r.stderr.contains("undefined variable 'oops'") && r.stderr.contains("broken.nix:3:"), "{}", r.stderr);
}

#[test]
fn docs_options_md_is_generated_from_the_nix_declarations() {
    let Some(nixpkgs) = nixpkgs_or_skip("nix_render::docs_options_md_is_generated_from_the_nix_declarations") else { return };
    let r = run(nix2dream().arg("options").arg("--nixpkgs").arg(&nixpkgs));
    assert!(r.ok, "{}", r.stderr);
    let committed = std::fs::read_to_string(repo_root().join("docs/options.md")).unwrap();
    assert!(
        r.stdout == committed,
        "docs/options.md is out of date: regenerate it with `nix2dream options --nixpkgs PATH > docs/options.md`"
    );
    for option in ["services.<name>.process.argv", "services.<name>.healthcheck", "services.<name>.dependsOn"] {
        assert!(committed.contains(option), "{option} is not documented");
    }
}

#[test]
fn without_nixpkgs_the_error_says_how_to_provide_it() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("services.nix");
    std::fs::write(&file, "{ ... }: { name = \"x\"; services.a.process.argv = [ \"x\" ]; }\n").unwrap();
    let r = run(nix2dream().arg("eval").arg(&file).env("NIX_PATH", "").env_remove("NIX2DREAM_NIXPKGS").env("HOME", tmp.path()));
    assert!(!r.ok);
    for hint in ["nixpkgs not found", "--nixpkgs PATH", "NIX2DREAM_NIXPKGS", "NIX_PATH"] {
        assert!(r.stderr.contains(hint), "missing {hint:?}:\n{}", r.stderr);
    }
}

#[test]
fn without_nix_the_error_says_to_install_it() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("services.nix");
    std::fs::write(&file, "{ ... }: { }\n").unwrap();
    // A stand-in nixpkgs, so that only the missing `nix-instantiate` is wrong.
    std::fs::create_dir_all(tmp.path().join("lib")).unwrap();
    std::fs::write(tmp.path().join("lib/default.nix"), "{ }\n").unwrap();
    let r = run(nix2dream().arg("eval").arg(&file).arg("--nixpkgs").arg(tmp.path()).env("PATH", tmp.path()));
    assert!(!r.ok);
    assert!(r.stderr.contains("`nix-instantiate` not found: install Nix"), "{}", r.stderr);
}
