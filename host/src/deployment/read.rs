//! The deployment read from its text in one pass, straight into the typed
//! model: no `serde_json::Value` tree built, walked and freed on the way
//! (that tree was four fifths of loading 10,000 services).
//!
//! What the tree was for is done while reading: every map refuses a key
//! given twice (serde_json keeps the last silently), and each service's own
//! keys are noted, for `optionsSet` when the input does not say it. This
//! reader only detects a problem; `super::explain` reads the text again,
//! slowly, for a message naming the field.

use super::{options, Deployment, Service};
use serde::de::{DeserializeSeed, Deserializer, Error, MapAccess, Visitor};
use serde::{forward_to_deserialize_any, Deserialize};
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

/// Reads and type-checks `text` (nothing beyond what serde checks).
pub(super) fn read(text: &str) -> serde_json::Result<Deployment> {
    let mut de = serde_json::Deserializer::from_str(text);
    let deployment = Deployment::deserialize(&mut de)?;
    de.end()?;
    Ok(deployment)
}

/// `#[serde(deserialize_with)]` for a map: a key given twice is an error.
pub fn unique_map<'de, D, V>(d: D) -> Result<BTreeMap<String, V>, D::Error>
where
    D: Deserializer<'de>,
    V: Deserialize<'de>,
{
    d.deserialize_map(UniqueMap(PhantomData, |value: V| value))
}

/// A map of JSON values (plugins' settings): no key twice, at any depth.
pub fn unique_value_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, serde_json::Value>, D::Error> {
    d.deserialize_map(UniqueMap(PhantomData, |value: UniqueValue| value.0))
}

/// The services, each with `optionsSet` derived from its keys when the
/// input does not give it.
pub fn services<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, Service>, D::Error> {
    d.deserialize_map(UniqueMap(PhantomData, |ServiceWithKeys(mut service, keys): ServiceWithKeys| {
        if service.options_set.is_none() {
            service.options_set = Some(options::options_set_by(&keys, &service));
        }
        service
    }))
}

/// Visits a map into a `BTreeMap`, each value made from a `T` by the function it holds.
struct UniqueMap<T, F>(PhantomData<T>, F);

impl<'de, T, V, F> Visitor<'de> for UniqueMap<T, F>
where
    T: Deserialize<'de>,
    F: Fn(T) -> V,
{
    type Value = BTreeMap<String, V>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(A::Error::custom(format!("{key:?} given twice in one object")));
            }
            let value = (self.1)(map.next_value::<T>()?);
            out.insert(key, value);
        }
        Ok(out)
    }
}

/// A JSON value whose objects, at any depth, give no key twice.
struct UniqueValue(serde_json::Value);

impl<'de> Deserialize<'de> for UniqueValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::strict_json::Strict::without_path().deserialize(d).map(UniqueValue)
    }
}

/// Which of a service's own keys its JSON object gave.
#[derive(Default)]
pub struct ServiceKeys(u32);

impl ServiceKeys {
    /// The keys this records: a service's fields that are core options.
    pub const NAMES: [&'static str; 21] = [
        "description", "package", "process", "env", "path", "workingDirectory", "preStart", "configData", "volumes", "ports",
        "user", "group", "dependsOn", "healthcheck", "restart", "resources", "replicas", "oneShot", "stopSignal", "stopTimeout",
        "secrets",
    ];

    fn note(&mut self, key: &str) {
        if let Some(i) = Self::NAMES.iter().position(|name| *name == key) {
            self.0 |= 1 << i;
        }
    }

    /// Whether the object gave `key` (one of `NAMES`).
    pub fn has(&self, key: &str) -> bool {
        Self::NAMES.iter().position(|name| *name == key).is_some_and(|i| self.0 & (1 << i) != 0)
    }
}

/// A service read through `KeysNoted`, with the keys it gave.
struct ServiceWithKeys(Service, ServiceKeys);

impl<'de> Deserialize<'de> for ServiceWithKeys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut keys = ServiceKeys::default();
        let service = Service::deserialize(KeysNoted { de: d, keys: &mut keys })?;
        Ok(ServiceWithKeys(service, keys))
    }
}

/// A deserializer of one object that notes its keys as the derived
/// `Deserialize` of a struct reads them.
struct KeysNoted<'k, D> {
    de: D,
    keys: &'k mut ServiceKeys,
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for KeysNoted<'_, D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.de.deserialize_map(NotingVisitor { visitor, keys: self.keys })
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

struct NotingVisitor<'k, V> {
    visitor: V,
    keys: &'k mut ServiceKeys,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for NotingVisitor<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.visitor.expecting(f)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_map(NotingMap { map, keys: self.keys })
    }
}

struct NotingMap<'k, A> {
    map: A,
    keys: &'k mut ServiceKeys,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for NotingMap<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        // Inside the map's own key reading, so that an error (an unknown
        // field) is placed at that key by `serde_path_to_error`.
        self.map.next_key_seed(NotingKey { seed, keys: self.keys })
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

/// Reads a key with `seed`, noting it on the way.
struct NotingKey<'k, K> {
    seed: K,
    keys: &'k mut ServiceKeys,
}

impl<'de, K: DeserializeSeed<'de>> DeserializeSeed<'de> for NotingKey<'_, K> {
    type Value = K::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<K::Value, D::Error> {
        self.seed.deserialize(NotingKeyDeserializer { de: d, keys: self.keys })
    }
}

struct NotingKeyDeserializer<'k, D> {
    de: D,
    keys: &'k mut ServiceKeys,
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for NotingKeyDeserializer<'_, D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.de.deserialize_str(NotingKeyVisitor { visitor, keys: self.keys })
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// Passes a key's text on to `visitor`, noting it.
struct NotingKeyVisitor<'k, V> {
    visitor: V,
    keys: &'k mut ServiceKeys,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for NotingKeyVisitor<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.visitor.expecting(f)
    }

    fn visit_borrowed_str<E: Error>(self, v: &'de str) -> Result<V::Value, E> {
        self.keys.note(v);
        self.visitor.visit_borrowed_str(v)
    }

    fn visit_str<E: Error>(self, v: &str) -> Result<V::Value, E> {
        self.keys.note(v);
        self.visitor.visit_str(v)
    }

    fn visit_string<E: Error>(self, v: String) -> Result<V::Value, E> {
        self.keys.note(&v);
        self.visitor.visit_string(v)
    }
}

#[cfg(test)]
mod tests {
    use super::super::from_json;
    use super::read;

    #[test]
    fn a_key_given_twice_anywhere_is_refused_and_named_with_its_path() {
        let web = r#"{"process": {"argv": ["x"]}}"#;
        for (text, path) in [
            (format!(r#"{{"services": {{"web": {web}, "web": {web}}}}}"#), "services.web"),
            (r#"{"services": {"web": {"process": {"argv": ["x"]}, "env": {"A": "1", "A": "2"}}}}"#.to_owned(), "services.web.env.A"),
            (r#"{"services": {"web": {"process": {"argv": ["x"]}, "ports": {"p": {"port": 1}, "p": {"port": 2}}}}}"#.to_owned(), "services.web.ports.p"),
            (r#"{"services": {"web": {"process": {"argv": ["x"]}, "managers": {"k8s": {"a": {"b": 1, "b": 2}}}}}}"#.to_owned(), "services.web.managers.k8s.a.b"),
            (format!(r#"{{"services": {{"web": {web}}}, "settings": {{"compose": {{"x": [{{"y": 1, "y": 1}}]}}}}}}"#), "settings.compose.x[0].y"),
            (format!(r#"{{"services": {{"web": {web}}}, "secrets": {{"s": {{"file": "/a"}}, "s": {{"file": "/b"}}}}}}"#), "secrets.s"),
            (format!(r#"{{"services": {{"web": {web}}}, "name": "u"}}"#), "name"),
        ] {
            let text = format!(r#"{{"schema": "nix2dream/v1", "name": "t", {}"#, &text[1..]);
            assert!(read(&text).is_err(), "the one-pass reader took {text}");
            let e = from_json(&text).unwrap_err().to_string();
            assert!(e.contains(&format!("{path}: given twice in one object")), "{text}: {e}");
        }
    }

    #[test]
    fn keys_with_escapes_are_read_and_noted() {
        // `\u0065nv` is `env`: the key is not borrowed from the text.
        let text = r#"{"schema": "nix2dream/v1", "name": "t", "services": {"w\u0065b": {"process": {"argv": ["x"]}, "\u0065nv": {"A": "1"}}}}"#;
        let d = from_json(text).unwrap();
        assert_eq!(d.services["web"].env["A"], "1");
        assert_eq!(d.services["web"].options_set(), ["process.argv", "env"]);
    }

    #[test]
    fn a_service_that_is_not_an_object_is_refused_with_its_path() {
        let text = r#"{"schema": "nix2dream/v1", "name": "t", "services": {"web": [{"argv": ["x"]}]}}"#;
        let e = from_json(text).unwrap_err().to_string();
        assert!(e.starts_with("services.web: invalid type: sequence"), "{e}");
    }
}
