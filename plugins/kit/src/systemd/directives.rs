//! `managers.<plugin>` for the systemd-based managers: extra directives by
//! section, e.g. `{"Service": {"LimitNOFILE": 65536}}`. A plugin's settings
//! type holds one [`Section`] per section it writes; the schema derived from
//! it says what a directive may be (the host checks it), and [`directives`]
//! turns the sections into lines.

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// One extra directive: (section, key, value).
pub type Directive = (String, String, String);

/// One section's directives, by name: a value, or a list of values (the
/// directive repeated).
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct Section(pub BTreeMap<String, Values>);

/// A directive's value(s).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Values {
    One(Value),
    Many(Vec<Value>),
}

/// A directive's value: a string, a number, or a boolean (`yes`/`no`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Flag(bool),
    Number(serde_json::Number),
    Text(String),
}

impl JsonSchema for Section {
    fn schema_name() -> Cow<'static, str> {
        "DirectiveSection".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        // `pattern` constrains strings only and `items` arrays only: one
        // line per value, a directive name of letters and digits.
        json_schema!({
            "type": "object",
            "description": "Directives by name: a string (one line), a number, a boolean (yes/no), or a list of them (the directive repeated).",
            "propertyNames": {"pattern": "^[A-Za-z0-9]+$"},
            "additionalProperties": {
                "type": ["string", "number", "boolean", "array"],
                "pattern": "^[^\r\n]*$",
                "items": {"type": ["string", "number", "boolean"], "pattern": "^[^\r\n]*$"}
            }
        })
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::Flag(true) => "yes".into(),
        Value::Flag(false) => "no".into(),
        Value::Number(n) => n.to_string(),
        Value::Text(s) => s.clone(),
    }
}

/// The directives of the given sections, e.g. `[("Service", &settings.service)]`, in order.
pub fn directives(sections: &[(&str, &Section)]) -> Vec<Directive> {
    let mut out = Vec::new();
    for (name, section) in sections {
        for (key, values) in &section.0 {
            let values = match values {
                Values::One(v) => std::slice::from_ref(v),
                Values::Many(vs) => vs.as_slice(),
            };
            out.extend(values.iter().map(|v| (name.to_string(), key.clone(), text(v))));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_become_directives() {
        let section: Section = serde_json::from_str(r#"{"LimitNOFILE": 65536, "Environment": ["A=1", "B=2"], "NoNewPrivileges": true}"#).unwrap();
        assert_eq!(
            directives(&[("Service", &section)]),
            [
                ("Service".into(), "Environment".into(), "A=1".into()),
                ("Service".into(), "Environment".into(), "B=2".into()),
                ("Service".into(), "LimitNOFILE".into(), "65536".into()),
                ("Service".into(), "NoNewPrivileges".into(), "yes".into()),
            ]
        );
        assert!(serde_json::from_str::<Section>(r#"{"X": {"a": 1}}"#).is_err(), "an object is no directive value");
    }
}
