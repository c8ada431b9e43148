//! Any string a user writes reaches YAML readers as that same string: argv
//! words, env values, healthcheck words, preStart scripts and descriptions
//! (labels, annotations), through every YAML-emitting plugin (compose, k8s),
//! read back by PyYAML's `safe_load` (YAML 1.1, what docker-compose 1.29
//! uses) and ruamel.yaml (YAML 1.2). Each case renders one deployment with
//! many strings and reads both files in one python3 run, to stay fast.

use nix2dream_e2e::*;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::process::Command;

/// Words YAML readers take for something other than a string, or that need escaping.
const TRAPS: &[&str] = &[
    "no", "yes", "on", "off", "y", "n", "Y", "N", "NO", "True", "~", "null", "Null", "12:30", "190:20:30", "1_000", "0x1F",
    "0o17", "0b101", "017", "+12", ".inf", "-.Inf", ".NaN", "1e3", "1.", "2001-12-14", "=", "<<", "---", "...", " ", "\t",
    "\n", "\r\n", "'", "\"", "\\", "$", "$$", "${X}", "#", ": ", "- ", "? ", "!tag", "&a", "*a", "|", ">", "%", "@", "`",
    "[", "{", ",", "\u{0}", "\u{7f}", "\u{80}", "\u{85}", "\u{9f}", "\u{a0}", "\u{2028}", "\u{2029}", "\u{feff}",
    "\u{fffe}", "\u{ffff}", "\u{10ffff}", "é", "字", "😀",
];

fn word() -> impl Strategy<Value = String> {
    let trap = || prop::sample::select(TRAPS).prop_map(str::to_owned);
    prop_oneof![
        trap(),
        (trap(), trap(), trap()).prop_map(|(a, b, c)| format!("{a}{b}{c}")),
        r"[ -~\t\n\r\x{0}-\x{1f}\x{7f}-\x{a0}\x{2028}\x{2029}\x{feff}\x{fffe}\x{ffff}é字😀]{0,10}",
        any::<String>(),
    ]
}

/// Compose reads `$VAR` in every string: the plugin writes `$$` for a `$`.
fn compose_escaped(s: &str) -> String {
    s.replace('$', "$$")
}

/// Both files as PyYAML (1.1) and ruamel.yaml (1.2) read them, as JSON.
const READ: &str = r#"
import json, sys, yaml
from ruamel.yaml import YAML
def both(path):
    text = open(path, encoding="utf-8").read()
    return {"yaml_1_1": list(yaml.safe_load_all(text)), "yaml_1_2": list(YAML(typ="safe", pure=True).load_all(text))}
print(json.dumps({"compose": both(sys.argv[1]), "k8s": both(sys.argv[2])}))
"#;

fn read_back(compose: &std::path::Path, k8s: &std::path::Path) -> Value {
    let out = Command::new("python3")
        .args(["-c", READ])
        .arg(compose)
        .arg(k8s)
        .output()
        .expect("python3 runs (scripts/install-deps.sh installs PyYAML and ruamel.yaml)");
    assert!(out.status.success(), "a YAML reader refused the output:\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_string_survives_compose_and_k8s_yaml_through_yaml_1_1_and_1_2_readers(words in prop::collection::vec(word(), 1..24)) {
        let tmp = tempfile::tempdir().unwrap();
        let description: String = words.concat();
        let script = words.join("\n");
        let env: serde_json::Map<String, Value> = words.iter().enumerate().map(|(i, w)| (format!("W{i}"), json!(w))).collect();
        let mut argv = vec!["prog".to_owned()];
        argv.extend(words.iter().cloned());
        let mut check = vec!["check".to_owned()];
        check.extend(words.iter().cloned());
        let input = write_deployment(
            tmp.path(),
            json!({"s": {
                "description": description,
                "process": {"argv": argv},
                "env": env,
                "preStart": script,
                "healthcheck": {"command": check},
            }}),
            json!({}),
        );
        let out = tmp.path().join("out");
        let r = run(nix2dream().args(["render", "--plugin", "compose", "--plugin", "k8s"]).arg(&input).arg("--out").arg(&out));
        prop_assert!(r.ok, "{}", r.stderr);
        let read = read_back(&out.join("compose/compose.yaml"), &out.join("k8s/manifests.yaml"));
        for reader in ["yaml_1_1", "yaml_1_2"] {
            let svc = &read["compose"][reader][0]["services"]["s"];
            let escaped = |items: &[String]| items.iter().map(|w| json!(compose_escaped(w))).collect::<Vec<_>>();
            prop_assert_eq!(svc["command"].as_array().unwrap(), &escaped(&argv), "compose command, {}", reader);
            for (i, w) in words.iter().enumerate() {
                prop_assert_eq!(&svc["environment"][format!("W{i}")], &json!(compose_escaped(w)), "compose env W{}, {}", i, reader);
            }
            prop_assert_eq!(&svc["healthcheck"]["test"].as_array().unwrap()[1..], &escaped(&check)[..], "compose healthcheck, {}", reader);
            prop_assert_eq!(&svc["labels"]["org.opencontainers.image.description"], &json!(compose_escaped(&description)), "compose label, {}", reader);
            prop_assert_eq!(&svc["entrypoint"][2], &json!(compose_escaped(&format!("{script}\nexec \"$@\""))), "compose preStart, {}", reader);
            let deployment = read["k8s"][reader].as_array().unwrap().iter().find(|d| d["kind"] == "Deployment").unwrap();
            prop_assert_eq!(&deployment["metadata"]["annotations"]["description"], &json!(description), "k8s annotation, {}", reader);
            let probe = &deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["exec"]["command"];
            prop_assert_eq!(probe, &json!(check), "k8s probe, {}", reader);
        }
    }
}
