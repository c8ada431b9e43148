//! YAML output that every reader takes as written: compose.yaml is read by
//! docker-compose 1.29 (PyYAML, YAML 1.1), manifests by kubectl (YAML 1.1
//! rules too) and by newer tools with YAML 1.2 rules. A plain `no`, `on`,
//! `12:30` or `1_000` is a boolean or a number to one of them and a string to
//! another, so every string scalar is quoted (serde-saphyr's `quote_all`),
//! with control, DEL, C1 and non-characters escaped in double quotes. Keys
//! are quoted whenever they could be read as anything but a string.
//!
//! Plugins build their documents with any serde type and emit them here, so
//! the quoting rules live in one place.

use serde::Serialize;

/// One YAML document for `value`; an error names what could not be written.
///
/// The bytes are serde-saphyr's (`quote_all`, YAML 1.1 rules). Most
/// documents are written by [`fast`], a block-style writer of the same
/// bytes for what plugins emit (mappings, sequences, strings, integers,
/// booleans, null) that asks serde-saphyr only for the scalars it does not
/// write itself: serde-saphyr's own checks of every key and value took
/// about half of a compose or k8s render. A document [`fast`] does not
/// cover is written by serde-saphyr whole.
pub fn to_string<T: Serialize>(value: &T) -> Result<String, String> {
    match fast::to_string(value) {
        Some(text) => Ok(text),
        None => saphyr(value),
    }
}

/// Appends the document [`to_string`] gives for `value` to `out` (written
/// there directly, not built apart and copied); on an error `out` is as it was.
pub fn append<T: Serialize>(out: &mut String, value: &T) -> Result<(), String> {
    if !fast::append(out, value) {
        out.push_str(&saphyr(value)?);
    }
    Ok(())
}

/// serde-saphyr with kit::yaml's options.
fn saphyr<T: Serialize>(value: &T) -> Result<String, String> {
    let options = serde_saphyr::ser_options! {
        quote_all: true,
        // YAML 1.1's spellings (yes/no/on/off/y/n) count as non-strings for
        // the keys serde-saphyr decides to quote: keep the YAML 1.1 rules.
        yaml_12: false,
    };
    serde_saphyr::to_string_with_options(value, options).map_err(|e| e.to_string())
}

mod fast;

#[cfg(test)]
mod tests {
    use super::to_string;
    use serde_json::json;

    /// Strings a YAML 1.1 or 1.2 reader could take for something else, or
    /// that need escaping (the property test in tests/tests/yaml_readers.rs
    /// checks any string against real readers).
    const TRICKY: &[&str] = &[
        "no", "yes", "on", "off", "y", "n", "~", "null", "12:30", "1_000", "0x1F", "0o17", ".inf", "1e3", "=", "<<",
        " lead", "trail ", "a\nb", "a\tb", "\u{1}\u{7f}\u{80}\u{85}\u{9f}", "\u{fffe}", "it's", "\"", "$x", "#c", "a: b", "- x",
        "ünï 字", "",
    ];

    #[test]
    fn every_string_value_is_quoted() {
        let text = to_string(&json!({"k": TRICKY})).unwrap();
        for line in text.lines().skip(1) {
            let item = line.trim_start().strip_prefix("- ").unwrap_or_else(|| panic!("{line:?} in\n{text}"));
            assert!(item.starts_with('\'') || item.starts_with('"'), "unquoted {item:?} in\n{text}");
        }
    }

    #[test]
    fn keys_that_read_as_other_types_are_quoted() {
        let text = to_string(&json!({"no": 1, "Y": 2, "<<": 3, "12:30": 4, "plain": 5})).unwrap();
        for key in ["no", "Y", "<<", "12:30"] {
            assert!(!text.lines().any(|l| l.starts_with(&format!("{key}:"))), "{key} left plain in\n{text}");
        }
        assert!(text.contains("plain: 5"), "{text}");
    }

    #[test]
    fn numbers_and_booleans_stay_what_they_are() {
        assert_eq!(to_string(&json!({"a": 1, "b": 0.5, "c": true, "d": null})).unwrap(), "a: 1\nb: 0.5\nc: true\nd: null\n");
    }
}

