//! Attribute values and the ordered set that holds them.

use std::collections::BTreeMap;
use std::fmt;

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

use super::vocab::{Attr, Field};

/// One attribute's value: flags are booleans, numbers are numbers, the rest strings.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Bool(bool),
    Int(u64),
    Str(String),
}

impl Value {
    /// The value as a number, if it is one (booleans count as 0/1, like tshark).
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Bool(b) => Some(u64::from(*b)),
            Value::Int(n) => Some(*n),
            Value::Str(_) => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(n) => write!(f, "{n}"),
            Value::Str(s) if s.is_empty() => f.write_str("\"\""),
            Value::Str(s) => f.write_str(s),
        }
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<u8> for Value {
    fn from(n: u8) -> Self {
        Value::Int(n.into())
    }
}
impl From<u16> for Value {
    fn from(n: u16) -> Self {
        Value::Int(n.into())
    }
}
impl From<u32> for Value {
    fn from(n: u32) -> Self {
        Value::Int(n.into())
    }
}
impl From<u64> for Value {
    fn from(n: u64) -> Self {
        Value::Int(n)
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}
impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_owned())
    }
}

/// What a lookup accepts: a key of the vocabulary, or a name (parsed by
/// the vocabulary; an unknown name is simply absent).
pub trait Key {
    /// The key, or `None` for a name outside the vocabulary.
    fn attr(&self) -> Option<Attr>;
}

impl Key for Attr {
    fn attr(&self) -> Option<Attr> {
        Some(*self)
    }
}

impl Key for Field {
    fn attr(&self) -> Option<Attr> {
        Some(Attr::Field(*self))
    }
}

impl<K: Key + ?Sized> Key for &K {
    fn attr(&self) -> Option<Attr> {
        (*self).attr()
    }
}

impl Key for str {
    fn attr(&self) -> Option<Attr> {
        self.parse().ok()
    }
}

impl Key for String {
    fn attr(&self) -> Option<Attr> {
        self.parse().ok()
    }
}

/// A packet's attributes, keyed by the vocabulary. Iteration and JSON
/// output follow the table's order (IP, then TCP, then derived), not the
/// alphabet, so a person reads them in header order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attributes {
    /// Kept sorted by key order: iteration and output need no sort, and a
    /// lookup is a binary search over small integers (no name hashing).
    entries: Vec<(Attr, Value)>,
}

impl Attributes {
    pub fn new() -> Self {
        Self::default()
    }

    /// Room for `n` attributes without growing (a decoded SYN has ~60).
    pub fn with_capacity(n: usize) -> Self {
        Attributes {
            entries: Vec::with_capacity(n),
        }
    }

    fn find(&self, key: Attr) -> Result<usize, usize> {
        let order = key.order();
        self.entries
            .binary_search_by(|(k, _)| k.order().cmp(&order))
    }

    /// Inlined so that decoding a packet (~60 inserts of constant keys, in
    /// table order) appends without a call; the rest goes to `place`.
    #[inline]
    pub fn insert(&mut self, key: impl Into<Attr>, value: impl Into<Value>) {
        let key = key.into();
        let value = value.into();
        // Decoding inserts in table order: appending is the common case.
        if self.entries.last().is_none_or(|(k, _)| *k < key) {
            self.entries.push((key, value));
            return;
        }
        self.place(key, value);
    }

    /// Insert out of table order: replace, or insert where the key belongs.
    fn place(&mut self, key: Attr, value: Value) {
        match self.find(key) {
            Ok(i) => self.entries[i].1 = value,
            Err(i) => self.entries.insert(i, (key, value)),
        }
    }

    pub fn remove(&mut self, key: impl Key) -> Option<Value> {
        let i = self.find(key.attr()?).ok()?;
        Some(self.entries.remove(i).1)
    }

    pub fn get(&self, key: impl Key) -> Option<&Value> {
        let i = self.find(key.attr()?).ok()?;
        Some(&self.entries[i].1)
    }

    /// The value as a number (booleans are 0/1), if present and numeric.
    pub fn num(&self, key: impl Key) -> Option<u64> {
        self.get(key).and_then(Value::as_u64)
    }

    /// Whether a boolean attribute is present and true.
    pub fn flag(&self, key: impl Key) -> bool {
        matches!(self.get(key), Some(Value::Bool(true)))
    }

    /// The value as text, if present and a string.
    pub fn text(&self, key: impl Key) -> Option<&str> {
        match self.get(key) {
            Some(Value::Str(s)) => Some(s),
            _ => None,
        }
    }

    pub fn contains(&self, key: impl Key) -> bool {
        key.attr().is_some_and(|k| self.find(k).is_ok())
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Keys and values in table order.
    pub fn iter(&self) -> impl Iterator<Item = (Attr, &Value)> {
        self.entries.iter().map(|(k, v)| (*k, v))
    }

    /// Keys in table order.
    pub fn keys(&self) -> impl Iterator<Item = Attr> + '_ {
        self.entries.iter().map(|(k, _)| *k)
    }

    /// Names in table order.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.keys().map(Attr::name)
    }

    /// Keep only the attributes for which `keep` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(Attr, &Value) -> bool) {
        self.entries.retain(|(k, v)| keep(*k, v));
    }
}

impl FromIterator<(Attr, Value)> for Attributes {
    fn from_iter<I: IntoIterator<Item = (Attr, Value)>>(iter: I) -> Self {
        let mut a = Attributes::new();
        for (k, v) in iter {
            a.insert(k, v);
        }
        a
    }
}

impl Serialize for Attributes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (k, v) in self.iter() {
            map.serialize_entry(k.name(), v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Attributes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<String, Value>::deserialize(deserializer)?;
        map.into_iter()
            .map(|(k, v)| Ok((k.parse().map_err(serde::de::Error::custom)?, v)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_in_table_order_whatever_the_insertion_order() {
        let mut a = Attributes::new();
        a.insert(Field::TcpLen, 0u32);
        a.insert(Attr::UnknownOption(30), "ab");
        a.insert(Field::IpTtl, 64u8);
        a.insert(Attr::UnknownOption(254), "");
        a.insert(Field::IpVersion, 4u8);
        a.insert(Field::IpTtl, 63u8);
        let names: Vec<&str> = a.names().collect();
        assert_eq!(
            names,
            [
                "ip.version",
                "ip.ttl",
                "synlab.tcp.option.30",
                "synlab.tcp.option.254",
                "tcp.len"
            ]
        );
        assert_eq!(a.get("ip.ttl"), Some(&Value::Int(63)));
        assert_eq!(a.remove("synlab.tcp.option.30"), Some(Value::from("ab")));
        assert!(!a.contains(Attr::UnknownOption(30)));
        assert_eq!(a.len(), 4);
        assert_eq!(a.get("no.such"), None);
    }

    #[test]
    fn json_has_names_and_refuses_unknown_ones() {
        let mut a = Attributes::new();
        a.insert(Field::IpTtl, 64u8);
        a.insert(Attr::UnknownOption(30), "ab");
        let json = serde_json::to_string(&a).unwrap_or_default();
        assert_eq!(json, r#"{"ip.ttl":64,"synlab.tcp.option.30":"ab"}"#);
        let back: Attributes = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(back, a);
        assert!(serde_json::from_str::<Attributes>(r#"{"ip.tll":1}"#).is_err());
    }
}
