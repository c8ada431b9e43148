//! serde-saphyr's block-style output (`quote_all`, YAML 1.1 rules, indent
//! 2, sequences not indented under their key, `{}`/`[]` for empty
//! collections) written directly, for mappings with string keys,
//! sequences, strings, integers, booleans and null.
//!
//! Only what is certain is written here: a key of letters, digits and
//! `_./-` that starts with a letter and is no YAML 1.1 word (plain), a
//! string of printable ASCII without `'` or `\` (single-quoted). Any other
//! key, string or float is handed to serde-saphyr alone (its text is the
//! same wherever it stands) and copied; anything else (bytes, enums,
//! a scalar document) makes [`to_string`] give up, and the caller writes
//! the whole document with serde-saphyr. `tests` compares both on random
//! documents.

use serde::ser::{self, Serialize};
use std::fmt::Write as _;

/// The document, or None when it holds something written only by serde-saphyr.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Option<String> {
    let mut w = Writer { out: String::new(), at: At::Root };
    value.serialize(&mut w).ok()?;
    Some(w.out)
}

/// Appends the document to `out`, or leaves `out` as it was and returns
/// false when it holds something written only by serde-saphyr.
pub fn append<T: Serialize + ?Sized>(out: &mut String, value: &T) -> bool {
    let start = out.len();
    let mut w = Writer { out: std::mem::take(out), at: At::Root };
    let written = value.serialize(&mut w).is_ok();
    *out = w.out;
    if !written {
        out.truncate(start);
    }
    written
}

/// Where the next node goes.
#[derive(Clone, Copy)]
enum At {
    /// The document itself.
    Root,
    /// After `key:` of a mapping whose keys are at this column.
    Value(usize),
    /// After `- `: the item's content starts at this column.
    Item(usize),
}

struct Writer {
    out: String,
    at: At,
}

/// Not written here: the document goes to serde-saphyr.
#[derive(Debug)]
struct GiveUp;

impl std::fmt::Display for GiveUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not written by kit::yaml::fast")
    }
}

impl std::error::Error for GiveUp {}

impl ser::Error for GiveUp {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        GiveUp
    }
}

type Result<T = ()> = std::result::Result<T, GiveUp>;

fn indent(out: &mut String, column: usize) {
    // One copy, not a push per space: this runs before every entry.
    const SPACES: &str = "                                                                ";
    let mut left = column;
    while left > 0 {
        let n = left.min(SPACES.len());
        out.push_str(&SPACES[..n]);
        left -= n;
    }
}

/// Bytes by what they may be in the text written here, one lookup per byte
/// (every key and string of a document goes through these).
const PLAIN_KEY_BYTE: [bool; 256] = {
    let mut set = [false; 256];
    let mut b = 0;
    while b < 256 {
        set[b] = (b as u8).is_ascii_alphanumeric() || matches!(b as u8, b'_' | b'.' | b'/' | b'-');
        b += 1;
    }
    set
};
const SINGLE_QUOTED_BYTE: [bool; 256] = {
    let mut set = [false; 256];
    let mut b = 0;
    while b < 256 {
        set[b] = b >= 0x20 && b < 0x7f && !matches!(b as u8, b'\'' | b'\\');
        b += 1;
    }
    set
};

/// A YAML 1.1 word that a plain key would be read as (bool, null, float).
fn is_word(s: &str) -> bool {
    s.len() <= 5 && ["y", "yes", "n", "no", "true", "false", "on", "off", "null", "nan", "inf"].iter().any(|w| s.eq_ignore_ascii_case(w))
}

/// A key serde-saphyr writes plain.
fn is_plain_key(s: &str) -> bool {
    s.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
        && s.bytes().all(|b| PLAIN_KEY_BYTE[usize::from(b)])
        && !is_word(s)
}

/// A string serde-saphyr writes single-quoted as it is (`quote_all`).
fn is_single_quoted(s: &str) -> bool {
    s.bytes().all(|b| SINGLE_QUOTED_BYTE[usize::from(b)])
}

/// serde-saphyr's text for `value` as the value of a one-entry mapping: the
/// text it gives that value anywhere in block style (one line, or give up).
fn saphyr_value<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    let text = super::saphyr(&[("k", value)].into_iter().collect::<std::collections::BTreeMap<_, _>>()).map_err(|_| GiveUp)?;
    let scalar = text.strip_prefix("k: ").and_then(|t| t.strip_suffix('\n')).ok_or(GiveUp)?;
    if scalar.contains('\n') || scalar.is_empty() {
        return Err(GiveUp);
    }
    Ok(scalar.to_owned())
}

/// serde-saphyr's text for `key` as a mapping key (one line, `key: `, or give up).
fn saphyr_key(key: &str) -> Result<String> {
    let text = super::saphyr(&[(key, ())].into_iter().collect::<std::collections::BTreeMap<_, _>>()).map_err(|_| GiveUp)?;
    let key = text.strip_suffix(": null\n").ok_or(GiveUp)?;
    if key.contains('\n') || key.starts_with('?') || key.is_empty() {
        return Err(GiveUp);
    }
    Ok(key.to_owned())
}

impl Writer {
    /// Writes a scalar's text where the writer is.
    fn scalar(&mut self, text: &str) -> Result {
        match self.at {
            At::Root => return Err(GiveUp),
            At::Value(_) => self.out.push(' '),
            At::Item(_) => {}
        }
        self.out.push_str(text);
        self.out.push('\n');
        Ok(())
    }

    /// An integer's digits where the writer is (as [`Self::scalar`] writes them).
    fn integer(&mut self, v: impl std::fmt::Display) -> Result {
        match self.at {
            At::Root => return Err(GiveUp),
            At::Value(_) => self.out.push(' '),
            At::Item(_) => {}
        }
        let _ = write!(self.out, "{v}");
        self.out.push('\n');
        Ok(())
    }

    fn str_value(&mut self, s: &str) -> Result {
        if is_single_quoted(s) {
            if matches!(self.at, At::Root) {
                return Err(GiveUp);
            }
            if let At::Value(_) = self.at {
                self.out.push(' ');
            }
            self.out.push('\'');
            self.out.push_str(s);
            self.out.push_str("'\n");
            Ok(())
        } else {
            let text = saphyr_value(s)?;
            self.scalar(&text)
        }
    }

    /// A collection starting where the writer is: the column of its
    /// entries, and whether the first one stays on the current line.
    fn open(&self, sequence: bool) -> (usize, bool) {
        match self.at {
            At::Root => (0, false),
            At::Value(column) if sequence => (column, false),
            At::Value(column) => (column + 2, false),
            At::Item(column) => (column, true),
        }
    }
}

/// A mapping or sequence being written.
struct Collection<'a> {
    w: &'a mut Writer,
    /// Where the collection stands (for `{}`/`[]` when empty).
    at: At,
    column: usize,
    inline_first: bool,
    entries: usize,
    empty: &'static str,
}

impl Collection<'_> {
    /// The line break and indentation before an entry.
    fn start_entry(&mut self) {
        if self.entries == 0 {
            if let At::Value(_) = self.at {
                self.w.out.push('\n');
            }
            if !self.inline_first {
                indent(&mut self.w.out, self.column);
            }
        } else {
            indent(&mut self.w.out, self.column);
        }
        self.entries += 1;
    }

    fn finish(self) -> Result {
        if self.entries == 0 {
            if let At::Value(_) = self.at {
                self.w.out.push(' ');
            }
            self.w.out.push_str(self.empty);
            self.w.out.push('\n');
        }
        self.w.at = self.at;
        Ok(())
    }

    fn key<K: Serialize + ?Sized>(&mut self, key: &K) -> Result {
        self.start_entry();
        key.serialize(KeyWriter(&mut self.w.out))?;
        self.w.out.push(':');
        Ok(())
    }

    fn value<V: Serialize + ?Sized>(&mut self, value: &V) -> Result {
        self.w.at = At::Value(self.column);
        value.serialize(&mut *self.w)
    }

    fn item<V: Serialize + ?Sized>(&mut self, value: &V) -> Result {
        self.start_entry();
        self.w.out.push_str("- ");
        self.w.at = At::Item(self.column + 2);
        value.serialize(&mut *self.w)
    }
}

impl<'a> ser::Serializer for &'a mut Writer {
    type Ok = ();
    type Error = GiveUp;
    type SerializeSeq = Collection<'a>;
    type SerializeTuple = Collection<'a>;
    type SerializeTupleStruct = ser::Impossible<(), GiveUp>;
    type SerializeTupleVariant = ser::Impossible<(), GiveUp>;
    type SerializeMap = Collection<'a>;
    type SerializeStruct = Collection<'a>;
    type SerializeStructVariant = ser::Impossible<(), GiveUp>;

    fn serialize_bool(self, v: bool) -> Result {
        self.scalar(if v { "true" } else { "false" })
    }
    fn serialize_i8(self, v: i8) -> Result {
        self.serialize_i64(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result {
        self.serialize_i64(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result {
        self.serialize_i64(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result {
        self.integer(v)
    }
    fn serialize_u8(self, v: u8) -> Result {
        self.serialize_u64(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result {
        self.serialize_u64(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result {
        self.serialize_u64(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result {
        self.integer(v)
    }
    fn serialize_f32(self, v: f32) -> Result {
        let text = saphyr_value(&v)?;
        self.scalar(&text)
    }
    fn serialize_f64(self, v: f64) -> Result {
        let text = saphyr_value(&v)?;
        self.scalar(&text)
    }
    fn serialize_char(self, v: char) -> Result {
        self.str_value(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result {
        self.str_value(v)
    }
    fn serialize_bytes(self, _: &[u8]) -> Result {
        Err(GiveUp)
    }
    fn serialize_none(self) -> Result {
        self.scalar("null")
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result {
        self.scalar("null")
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result {
        Err(GiveUp)
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result {
        Err(GiveUp)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, _: &T) -> Result {
        Err(GiveUp)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(self, _: &'static str, _: u32, _: &'static str, _: &T) -> Result {
        Err(GiveUp)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Collection<'a>> {
        let (column, inline_first) = self.open(true);
        let at = self.at;
        Ok(Collection { w: self, at, column, inline_first, entries: 0, empty: "[]" })
    }
    fn serialize_tuple(self, len: usize) -> Result<Collection<'a>> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct> {
        Err(GiveUp)
    }
    fn serialize_tuple_variant(self, _: &'static str, _: u32, _: &'static str, _: usize) -> Result<Self::SerializeTupleVariant> {
        Err(GiveUp)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Collection<'a>> {
        let (column, inline_first) = self.open(false);
        let at = self.at;
        Ok(Collection { w: self, at, column, inline_first, entries: 0, empty: "{}" })
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Collection<'a>> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(self, _: &'static str, _: u32, _: &'static str, _: usize) -> Result<Self::SerializeStructVariant> {
        Err(GiveUp)
    }
}

impl ser::SerializeSeq for Collection<'_> {
    type Ok = ();
    type Error = GiveUp;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        self.item(value)
    }
    fn end(self) -> Result {
        self.finish()
    }
}

impl ser::SerializeTuple for Collection<'_> {
    type Ok = ();
    type Error = GiveUp;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        self.item(value)
    }
    fn end(self) -> Result {
        self.finish()
    }
}

impl ser::SerializeMap for Collection<'_> {
    type Ok = ();
    type Error = GiveUp;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result {
        self.key(key)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        self.value(value)
    }
    fn end(self) -> Result {
        self.finish()
    }
}

impl ser::SerializeStruct for Collection<'_> {
    type Ok = ();
    type Error = GiveUp;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result {
        self.key(key)?;
        self.value(value)
    }
    fn end(self) -> Result {
        self.finish()
    }
}

/// Writes a string key (plain, or serde-saphyr's text); other keys give up.
struct KeyWriter<'a>(&'a mut String);

impl ser::Serializer for KeyWriter<'_> {
    type Ok = ();
    type Error = GiveUp;
    type SerializeSeq = ser::Impossible<(), GiveUp>;
    type SerializeTuple = ser::Impossible<(), GiveUp>;
    type SerializeTupleStruct = ser::Impossible<(), GiveUp>;
    type SerializeTupleVariant = ser::Impossible<(), GiveUp>;
    type SerializeMap = ser::Impossible<(), GiveUp>;
    type SerializeStruct = ser::Impossible<(), GiveUp>;
    type SerializeStructVariant = ser::Impossible<(), GiveUp>;

    fn serialize_str(self, v: &str) -> Result {
        if is_plain_key(v) {
            self.0.push_str(v);
        } else {
            self.0.push_str(&saphyr_key(v)?);
        }
        Ok(())
    }
    fn serialize_bool(self, _: bool) -> Result {
        Err(GiveUp)
    }
    fn serialize_i8(self, _: i8) -> Result {
        Err(GiveUp)
    }
    fn serialize_i16(self, _: i16) -> Result {
        Err(GiveUp)
    }
    fn serialize_i32(self, _: i32) -> Result {
        Err(GiveUp)
    }
    fn serialize_i64(self, _: i64) -> Result {
        Err(GiveUp)
    }
    fn serialize_u8(self, _: u8) -> Result {
        Err(GiveUp)
    }
    fn serialize_u16(self, _: u16) -> Result {
        Err(GiveUp)
    }
    fn serialize_u32(self, _: u32) -> Result {
        Err(GiveUp)
    }
    fn serialize_u64(self, _: u64) -> Result {
        Err(GiveUp)
    }
    fn serialize_f32(self, _: f32) -> Result {
        Err(GiveUp)
    }
    fn serialize_f64(self, _: f64) -> Result {
        Err(GiveUp)
    }
    fn serialize_char(self, _: char) -> Result {
        Err(GiveUp)
    }
    fn serialize_bytes(self, _: &[u8]) -> Result {
        Err(GiveUp)
    }
    fn serialize_none(self) -> Result {
        Err(GiveUp)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result {
        Err(GiveUp)
    }
    fn serialize_unit(self) -> Result {
        Err(GiveUp)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result {
        Err(GiveUp)
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result {
        Err(GiveUp)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, _: &T) -> Result {
        Err(GiveUp)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(self, _: &'static str, _: u32, _: &'static str, _: &T) -> Result {
        Err(GiveUp)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq> {
        Err(GiveUp)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple> {
        Err(GiveUp)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct> {
        Err(GiveUp)
    }
    fn serialize_tuple_variant(self, _: &'static str, _: u32, _: &'static str, _: usize) -> Result<Self::SerializeTupleVariant> {
        Err(GiveUp)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap> {
        Err(GiveUp)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct> {
        Err(GiveUp)
    }
    fn serialize_struct_variant(self, _: &'static str, _: u32, _: &'static str, _: usize) -> Result<Self::SerializeStructVariant> {
        Err(GiveUp)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::Value;

    /// Strings from a small alphabet of what matters to YAML, and words.
    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z0-9_./:# '\"\\\\\n\t-]{0,8}",
            "[a-z \"\n]{60,200}",
            prop::sample::select(vec![
                "no", "Yes", "ON", "y", "N", "~", "null", "NaN", ".inf", "12:30", "1_000", "0x1F", "0o17", "1e3", "=", "<<", "---", "...",
                "- x", "? x", "a: b", "#c", "a #c", "", " lead", "trail ", "\u{85}", "ünï 字", "\u{fffe}", "app.kubernetes.io/name", "2001-12-14",
            ])
            .prop_map(str::to_owned),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            prop::num::f64::NORMAL.prop_map(Value::from),
            Just(Value::from(0.5)),
            text().prop_map(Value::String),
        ];
        leaf.prop_recursive(5, 64, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::btree_map(text(), inner, 0..5).prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        #[test]
        fn writes_serde_saphyrs_bytes(v in value()) {
            let expected = super::super::saphyr(&v).unwrap();
            match super::to_string(&v) {
                Some(text) => prop_assert_eq!(text, expected),
                // Only a scalar document is left to serde-saphyr whole.
                None => prop_assert!(!v.is_object() && !v.is_array(), "gave up on {v:?}"),
            }
        }
    }

    #[test]
    fn a_document_of_what_plugins_write() {
        let v = serde_json::json!({
            "a": "x", "b": {"c": 1, "d": {"e": true}}, "d": ["x", "y"],
            "e": [{"k": "v", "k2": "w", "k3": [1, 2], "k4": {"z": null}}, ["n", "m", ["deep"]], {}, []],
            "f": {}, "g": [], "h": null, "i": 0.5, "j": -3, "k": [{"only": {"in": 1}}], "l": [[{"x": 1}]],
            "no": "it's", "12:30": "a\nb", "m": [{}], "n": [[]], "o": [{"p": []}]
        });
        assert_eq!(super::to_string(&v).unwrap(), super::super::saphyr(&v).unwrap());
    }
}
