//! JSON read into a `serde_json::Value`, refusing a key given twice in one
//! object (serde_json keeps the last silently, so a service or `schema`
//! written twice would quietly lose one of them).

use serde::de::{DeserializeSeed, Error, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;

/// Parses `text`; a duplicate key is an error naming its path.
pub fn parse(text: &str) -> serde_json::Result<Value> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = Strict { path: Some("") }.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// Deserializes one value found at `path` (dotted, for messages); without
/// a path, a duplicate key is refused without saying where (and no path is
/// formatted for every value on the way).
pub struct Strict<'p> {
    path: Option<&'p str>,
}

impl Strict<'_> {
    pub fn without_path() -> Strict<'static> {
        Strict { path: None }
    }
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v).map(Value::Number).ok_or_else(|| E::custom("not a finite number"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            let path = self.path.map(|path| format!("{path}[{}]", items.len()));
            match seq.next_element_seed(Strict { path: path.as_deref() })? {
                Some(item) => items.push(item),
                None => return Ok(Value::Array(items)),
            }
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = self.path.map(|path| if path.is_empty() { key.clone() } else { format!("{path}.{key}") });
            if object.contains_key(&key) {
                return Err(A::Error::custom(match &path {
                    Some(path) => format!("{path}: given twice in one object; each key may appear only once (which one was meant?)"),
                    None => format!("{key:?} given twice in one object"),
                }));
            }
            let value = map.next_value_seed(Strict { path: path.as_deref() })?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn a_key_given_twice_is_refused_with_its_path() {
        let e = parse(r#"{"services": {"web": {"a": 1}, "web": {"b": 2}}}"#).unwrap_err().to_string();
        assert!(e.contains("services.web: given twice"), "{e}");
        let e = parse(r#"{"schema": "x", "schema": "y"}"#).unwrap_err().to_string();
        assert!(e.contains("schema: given twice"), "{e}");
        let e = parse(r#"{"a": [{"k": 1, "k": 1}]}"#).unwrap_err().to_string();
        assert!(e.contains("a[0].k: given twice"), "{e}");
        assert_eq!(parse(r#"{"a": [1, 2.5, "x", null, true], "b": {}}"#).unwrap(), serde_json::json!({"a": [1, 2.5, "x", null, true], "b": {}}));
    }
}
