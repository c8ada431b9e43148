//! The core option names: the vocabulary shared by `optionsSet`,
//! `ignoreUnsupported`, `--allow-unsupported` and a plugin's supported options.

pub use nix2dream_core_options::{is_core_option, CORE_OPTIONS};

use super::read::ServiceKeys;
use super::Service;

/// For hand-written JSON without `optionsSet`: the core options whose field
/// the service's JSON object gave (and not as null or `false`), from the
/// keys it gave and what was read. `ports.internal` and `ports.hostPort` are
/// set when any port sets them (`volumes.shared`, `.hostPath`, `.readOnly`
/// when any volume does).
pub fn options_set_by(keys: &ServiceKeys, service: &Service) -> Vec<String> {
    let any_port = |f: fn(&super::Port) -> bool| service.ports.values().any(f);
    let any_volume = |f: fn(&super::Volume) -> bool| service.volumes.values().any(f);
    CORE_OPTIONS
        .iter()
        .filter(|option| match **option {
            "ports.internal" => any_port(|p| p.internal),
            "ports.hostPort" => any_port(|p| p.host_port.is_some()),
            "volumes.shared" => any_volume(|v| v.shared.is_some()),
            "volumes.hostPath" => any_volume(|v| v.host_path.is_some()),
            "volumes.readOnly" => any_volume(|v| v.read_only),
            // Required, with its `argv`.
            "process.argv" => true,
            // `oneShot: false` is the default written out.
            "oneShot" => service.one_shot,
            // These may be given as null, which is not setting them.
            "description" => service.description.is_some(),
            "package" => service.package.is_some(),
            "workingDirectory" => service.working_directory.is_some(),
            "preStart" => service.pre_start.is_some(),
            "user" => service.user.is_some(),
            "group" => service.group.is_some(),
            "healthcheck" => service.healthcheck.is_some(),
            "stopSignal" => service.stop_signal.is_some(),
            "stopTimeout" => service.stop_timeout.is_some(),
            // The rest cannot be null: given is set, even as the default.
            other => keys.has(other),
        })
        .map(|option| option.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map, Value};

    /// What `optionsSet` was derived from before the deployment was read
    /// in one pass: the service's JSON object itself. The reference.
    fn options_present(service: &Map<String, Value>) -> Vec<String> {
        let any_entry = |map: &str, field: &str| {
            service.get(map).and_then(|m| m.as_object()).is_some_and(|entries| {
                entries.values().any(|e| e.get(field).is_some_and(|v| !v.is_null() && *v != Value::Bool(false)))
            })
        };
        CORE_OPTIONS
            .iter()
            .filter(|option| match option.split_once('.') {
                Some((map @ ("ports" | "volumes"), inner)) => any_entry(map, inner),
                Some((outer, inner)) => service.get(outer).and_then(|v| v.get(inner)).is_some_and(|v| !v.is_null()),
                None => service.get(**option).is_some_and(|v| !v.is_null() && *v != Value::Bool(false)),
            })
            .map(|option| option.to_string())
            .collect()
    }

    #[test]
    fn every_top_level_option_is_a_key_the_reader_notes() {
        for option in CORE_OPTIONS {
            let top = option.split_once('.').map_or(*option, |(outer, _)| outer);
            assert!(ServiceKeys::NAMES.contains(&top), "{top} is not noted");
        }
    }

    #[test]
    fn derived_from_what_was_read_as_from_the_json_object() {
        // Each option alone, as a value, as null, as false, as the default
        // written out, and as an empty collection; then all together.
        let fields: Vec<(&str, Vec<Value>)> = vec![
            ("description", vec![json!("d"), json!(null)]),
            ("package", vec![json!("/nix/store/x-p"), json!(null)]),
            ("env", vec![json!({"A": "1"}), json!({})]),
            ("path", vec![json!(["/nix/store/x-p"]), json!([])]),
            ("workingDirectory", vec![json!("/srv"), json!(null)]),
            ("preStart", vec![json!("true"), json!(null)]),
            ("configData", vec![json!({"c": {"text": "x"}}), json!({})]),
            ("volumes", vec![
                json!({"d": {"path": "/d"}}),
                json!({"d": {"path": "/d", "shared": "s"}}),
                json!({"d": {"path": "/d", "shared": null, "hostPath": "/h", "readOnly": false}}),
                json!({"d": {"path": "/d", "readOnly": true}, "e": {"path": "/e", "persistent": false}}),
                json!({}),
            ]),
            ("ports", vec![
                json!({"http": {"port": 80}}),
                json!({"http": {"port": 80, "internal": true}}),
                json!({"http": {"port": 80, "internal": false, "hostPort": null}, "b": {"port": 81, "hostPort": 8081}}),
                json!({}),
            ]),
            ("user", vec![json!("u"), json!(null)]),
            ("group", vec![json!("g"), json!(null)]),
            ("dependsOn", vec![json!({"db": {}}), json!({})]),
            ("healthcheck", vec![json!({"command": ["true"]}), json!(null)]),
            ("restart", vec![json!("always"), json!("on-failure")]),
            ("resources", vec![json!({"cpus": 1.5}), json!({})]),
            ("replicas", vec![json!(2), json!(1)]),
            ("oneShot", vec![json!(true), json!(false)]),
            ("stopSignal", vec![json!("SIGINT"), json!(null)]),
            ("stopTimeout", vec![json!(5), json!(null)]),
            ("secrets", vec![json!({"k": {"env": "K"}}), json!({})]),
        ];
        let mut cases: Vec<Map<String, Value>> = vec![Map::new()];
        for (key, values) in &fields {
            for value in values {
                cases.push(Map::from_iter([(key.to_string(), value.clone())]));
            }
        }
        cases.push(fields.iter().map(|(key, values)| (key.to_string(), values[0].clone())).collect());
        for mut case in cases {
            case.insert("process".into(), json!({"argv": ["app"]}));
            let text = json!({"schema": "nix2dream/v1", "name": "t", "services": {"s": case}}).to_string();
            let read = super::super::read::read(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(read.services["s"].options_set(), options_present(&case), "{text}");
        }
    }
}
