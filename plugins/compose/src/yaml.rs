//! compose.yaml's pieces: Compose's `$` escaping, an ordered map of typed
//! entries, and the deep merge of user settings (done on a `Value`). It is
//! written out by `kit::yaml` (every string quoted).

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_yaml_ng::Value;
use std::borrow::Cow;

/// Compose interpolates `$VAR` in every string; `$$` is a literal `$`.
pub fn escape(s: &str) -> Cow<'_, str> {
    if s.contains('$') {
        Cow::Owned(s.replace('$', "$$"))
    } else {
        Cow::Borrowed(s)
    }
}

/// Every string escaped.
pub fn strings<S: AsRef<str>>(items: &[S]) -> Vec<Cow<'_, str>> {
    items.iter().map(|s| escape(s.as_ref())).collect()
}

/// A mapping kept in insertion order, written as a YAML mapping. Like the
/// `serde_yaml_ng::Mapping` compose.yaml was built from: [`Self::insert`]
/// of a key already there replaces its value where it stands.
pub struct Entries<K, V>(pub Vec<(K, V)>);

impl<K, V> Default for Entries<K, V> {
    fn default() -> Self {
        Entries(Vec::new())
    }
}

impl<K: PartialEq, V> Entries<K, V> {
    /// Inserts or replaces (a linear search: for the few entries of one service).
    pub fn insert(&mut self, key: K, value: V) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => *v = value,
            None => self.0.push((key, value)),
        }
    }
}

impl<K, V> Entries<K, V> {
    /// Appends a key known not to be there yet.
    pub fn push(&mut self, key: K, value: V) {
        self.0.push((key, value));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<K: Serialize, V: Serialize> Serialize for Entries<K, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// An empty mapping (`{}`).
pub struct Empty;

impl Serialize for Empty {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_map(Some(0))?.end()
    }
}

/// User settings (JSON) as YAML; they are taken verbatim (not escaped), so a
/// user can write `${VAR}` on purpose.
pub fn from_json(json: &serde_json::Value) -> Value {
    serde_yaml_ng::to_value(json).unwrap_or(Value::Null)
}

/// Merges `overlay` into `base`: mappings key by key, anything else replaced.
pub fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Mapping(base), Value::Mapping(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (_, Value::Null) => {}
        (base, overlay) => *base = overlay,
    }
}

impl<K, V> From<Vec<(K, V)>> for Entries<K, V> {
    fn from(entries: Vec<(K, V)>) -> Self {
        Entries(entries)
    }
}
