//! Checking what a plugin says about itself (`info()`), which is as
//! untrusted as the rest of it: its name becomes an output folder and a
//! settings key, its texts reach the user's terminal, its supported options
//! decide which warnings the user sees.

use super::PluginInfo;
use crate::deployment::options::{is_core_option, CORE_OPTIONS};
use anyhow::{bail, Result};

/// `info()` texts together may not be larger than this.
const MAX_INFO_BYTES: usize = 1 << 20;

fn is_plugin_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    s.len() <= 64
        && matches!(bytes.next(), Some(b) if b.is_ascii_lowercase() || b.is_ascii_digit())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn is_version(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+'))
}

/// Terminal escapes and other control characters could disguise messages.
fn has_control_chars(s: &str) -> bool {
    s.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
}

/// Refuses an `info()` the host cannot safely use, saying which field and why.
pub fn check(info: &PluginInfo) -> Result<()> {
    if !is_plugin_name(&info.name) {
        bail!("its name {:?} is not a plugin name: use 1 to 64 of [a-z0-9-], starting with a letter or digit", info.name);
    }
    if !is_version(&info.version) {
        bail!("its version {:?} is not a version: use 1 to 64 of [A-Za-z0-9.+-], e.g. 1.2.0", info.version);
    }
    let texts = [("description", &info.description), ("usage", &info.usage), ("settings schema", &info.settings_schema)];
    let size: usize = texts.iter().map(|(_, t)| t.len()).sum::<usize>() + info.supported_options.iter().map(String::len).sum::<usize>();
    if size > MAX_INFO_BYTES {
        bail!("its info() is {size} bytes, over the {MAX_INFO_BYTES} bytes allowed");
    }
    for (field, text) in texts {
        if has_control_chars(text) {
            bail!("its {field} contains control characters (terminal escapes are refused)");
        }
    }
    for option in &info.supported_options {
        if !is_core_option(option) {
            bail!(
                "it declares {:?} as a supported option, which is not a core option (known: {})",
                option.escape_debug().to_string(),
                CORE_OPTIONS.join(", ")
            );
        }
    }
    Ok(())
}

/// Refuses a settings schema the host cannot compile: it checks settings
/// against it before a render that has some.
pub fn check_settings_schema(info: &PluginInfo) -> Result<()> {
    if let Err(e) = crate::settings::validator(&info.settings_schema) {
        bail!("its settings schema is {e}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> PluginInfo {
        PluginInfo {
            name: "compose".into(),
            version: "0.1.0".into(),
            description: "compose.yaml\nwith images".into(),
            supported_options: vec!["process.argv".into(), "env".into()],
            settings_schema: "{\"type\":\"object\"}".into(),
            usage: "docker-compose up".into(),
            addressing: crate::plugin::Addressing::ServiceName,
        }
    }

    fn refused(change: impl FnOnce(&mut PluginInfo)) -> String {
        let mut i = info();
        change(&mut i);
        check(&i).and_then(|_| check_settings_schema(&i)).expect_err("should be refused").to_string()
    }

    #[test]
    fn a_well_formed_info_passes() {
        check(&info()).unwrap();
        check_settings_schema(&info()).unwrap();
    }

    #[test]
    fn names_that_would_escape_or_spoof_are_refused() {
        assert!(refused(|i| i.name = "../etc".into()).contains("not a plugin name"));
        assert!(refused(|i| i.name = "Compose".into()).contains("not a plugin name"));
        assert!(refused(|i| i.name = String::new()).contains("not a plugin name"));
        assert!(refused(|i| i.version = "1.0\n".into()).contains("not a version"));
        assert!(refused(|i| i.description = "ok\u{1b}[2Kfake".into()).contains("description contains control characters"));
        assert!(refused(|i| i.usage = "x".repeat(MAX_INFO_BYTES + 1)).contains("over the"));
    }

    #[test]
    fn supported_options_must_be_core_options() {
        let e = refused(|i| i.supported_options.push("healthCheck".into()));
        assert!(e.contains("\"healthCheck\"") && e.contains("not a core option") && e.contains("healthcheck"), "{e}");
        assert!(refused(|i| i.settings_schema = "{not json".into()).contains("settings schema is not JSON"));
        assert!(refused(|i| i.settings_schema = r#"{"$ref": "https://example.com/s.json"}"#.into()).contains("not a usable JSON Schema"));
    }
}
