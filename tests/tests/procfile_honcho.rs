//! The procfile plugin end to end: nix2dream renders, the real honcho runs
//! the Procfile, and the test talks to the processes it started.

use nix2dream_e2e::*;
use serde_json::json;
use std::path::Path;

/// An HTTP service that reports, as JSON, the argv, env, working directory
/// and config file it really got.
const REPORTER: &str = r#"
import http.server, json, os, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({
            "argv": sys.argv[1:],
            "greeting": os.environ.get("GREETING"),
            "cwd": os.getcwd(),
            "config": open("conf/app.ini").read(),
        }).encode()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT_HTTP"])), H).serve_forever()
"#;

fn render(input: &Path, out: &Path, extra: &[&str]) -> Run {
    run(nix2dream().args(["render", "--plugin", "procfile"]).arg(input).arg("--out").arg(out).args(extra))
}

#[test]
fn two_services_really_start_under_honcho_with_their_argv_env_directory_and_files() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let port = free_port();
    let tricky = ["with space", "it's", "$HOME", "two\nlines", "back\\slash"];
    let mut web_argv = vec!["python3".to_owned(), "-c".to_owned(), REPORTER.to_owned()];
    web_argv.extend(tricky.iter().map(|s| s.to_string()));
    let input = write_deployment(
        root,
        json!({
            "web": {
                "process": {"argv": web_argv},
                "env": {"GREETING": "hello \"world\" $USER"},
                "workingDirectory": root.join("web-home").to_str().unwrap(),
                "configData": {"app": {"path": "conf/app.ini", "text": "[app]\nname = it's $demo\n"}},
                "ports": {"http": {"port": port}},
            },
            "worker": {
                "process": {"argv": ["sh", "-c", "printf '%s|' \"$MESSAGE\" \"$@\" \"$(pwd)\" > \"$STATE/worker.txt\"; cat settings.json >> \"$STATE/worker.txt\"; exec sleep 600", "worker", "arg one", "$2"]},
                "env": {"MESSAGE": "from the worker", "STATE": root.join("state").to_str().unwrap()},
                "workingDirectory": root.join("worker-home").to_str().unwrap(),
                "volumes": {"state": {"path": root.join("state").to_str().unwrap()}},
                "configData": {"settings": {"path": "settings.json", "text": "{\"x\": 1}"}},
                "dependsOn": {"web": {"condition": "started"}},
            },
        }),
        json!({}),
    );
    let out = root.join("out");
    let r = render(&input, &out, &["--allow-unsupported", "dependsOn"]);
    assert!(r.ok, "{}", r.stderr);

    let honcho = Honcho::start(&out);
    let report = wait_for(30, || http_get(port, "/")).unwrap_or_else(|| panic!("web never answered:\n{}", honcho.log()));
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["argv"], json!(tricky), "argv changed on the way");
    assert_eq!(report["greeting"], "hello \"world\" $USER");
    assert_eq!(report["cwd"], root.join("web-home").to_str().unwrap());
    assert_eq!(report["config"], "[app]\nname = it's $demo\n");

    let worker_file = root.join("state/worker.txt");
    let worker = wait_for(30, || std::fs::read_to_string(&worker_file).ok().filter(|s| s.ends_with('}')))
        .unwrap_or_else(|| panic!("the worker never wrote its file:\n{}", honcho.log()));
    let home = root.join("worker-home");
    assert_eq!(worker, format!("from the worker|arg one|$2|{}|{{\"x\": 1}}", home.display()));
    let log = honcho.stop();
    assert!(log.contains("web.1") && log.contains("worker.1"), "honcho did not run both:\n{log}");
}

#[test]
fn every_launcher_of_the_bundled_example_passes_shellcheck() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let r = render(&repo_root().join("examples/demo/deployment.json"), &out, &[]);
    assert!(r.ok, "{}", r.stderr);
    let launchers: Vec<_> = std::fs::read_dir(out.join("bin")).unwrap().flatten().map(|e| e.path()).collect();
    assert_eq!(launchers.len(), 3, "one launcher per service");
    for launcher in launchers {
        let check = run(std::process::Command::new("shellcheck").args(["-s", "sh"]).arg(&launcher));
        assert!(check.ok, "{} fails shellcheck:\n{}{}", launcher.display(), check.stdout, check.stderr);
    }
}

/// The bundled example, as `./x demo` renders it, really serves its page and
/// its worker really fetches it.
#[test]
fn the_bundled_example_runs_under_honcho() {
    let state = Path::new("/tmp/nix2dream-demo");
    let _ = std::fs::remove_dir_all(state);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let r = render(&repo_root().join("examples/demo/deployment.json"), &out, &[]);
    assert!(r.ok, "{}", r.stderr);
    // What the procfile plugin cannot honour is said, not silently dropped.
    for ignored in [r#""worker" sets `dependsOn`"#, r#""worker" sets `replicas`"#, r#""web" sets `healthcheck`"#] {
        assert!(r.stderr.contains(ignored), "no warning for {ignored}:\n{}", r.stderr);
    }
    assert!(!r.stderr.contains(r#""queue" sets `healthcheck`"#), "ignoreUnsupported was not honoured:\n{}", r.stderr);

    let honcho = Honcho::start(&out);
    let page = wait_for(30, || http_get(18080, "/index.html")).unwrap_or_else(|| panic!("no page:\n{}", honcho.log()));
    assert!(page.contains("Hello from nix2dream"), "{page}");
    let motd = wait_for(5, || http_get(18080, "/motd.txt")).unwrap();
    assert!(motd.contains("configData"), "{motd}");
    let fetches = state.join("worker/fetches.log");
    let log = wait_for(30, || std::fs::read_to_string(&fetches).ok().filter(|l| l.contains(" 200")))
        .unwrap_or_else(|| panic!("the worker never fetched the page:\n{}", honcho.log()));
    assert!(log.contains("http://127.0.0.1:18080/index.html 200"), "{log}");
    std::fs::write(state.join("queue/incoming/job-1"), "work").unwrap();
    wait_for(30, || state.join("queue/done/job-1").exists().then_some(()))
        .unwrap_or_else(|| panic!("the queue never processed the job:\n{}", honcho.log()));
    honcho.stop();
}
