//! Attribute values and the ordered set that holds them.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

use super::catalogue;

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

/// A packet's attributes by name. Iteration and JSON output follow the
/// catalogue's order (IP, then TCP, then derived), not the alphabet, so a
/// person reads them in header order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attributes {
    /// Kept sorted by catalogue position (then name): iteration and output
    /// need no sort, and lookups are a binary search. Catalogue names are
    /// `&'static str`; only unknown option names allocate.
    entries: Vec<Entry>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    order: (usize, u32),
    name: Cow<'static, str>,
    value: Value,
}

impl Attributes {
    pub fn new() -> Self {
        Self::default()
    }

    fn order(name: &str) -> (usize, u32) {
        let (a, b, _) = catalogue::sort_key(name);
        (a, b)
    }

    fn find(&self, name: &str) -> Result<usize, usize> {
        self.find_at(Self::order(name), name)
    }

    fn find_at(&self, order: (usize, u32), name: &str) -> Result<usize, usize> {
        self.entries
            .binary_search_by(|e| (e.order, e.name.as_ref()).cmp(&(order, name)))
    }

    pub fn insert(&mut self, name: impl Into<Cow<'static, str>>, value: impl Into<Value>) {
        let name = name.into();
        let value = value.into();
        let order = Self::order(&name);
        match self.find_at(order, &name) {
            Ok(i) => self.entries[i].value = value,
            Err(i) => self.entries.insert(i, Entry { order, name, value }),
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<Value> {
        let i = self.find(name).ok()?;
        Some(self.entries.remove(i).value)
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.find(name).ok().map(|i| &self.entries[i].value)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.find(name).is_ok()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Names and values in catalogue order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries.iter().map(|e| (e.name.as_ref(), &e.value))
    }

    /// Names in catalogue order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.iter().map(|(k, _)| k)
    }
}

impl FromIterator<(String, Value)> for Attributes {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Self {
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
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Attributes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<String, Value>::deserialize(deserializer)?;
        Ok(map.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_in_catalogue_order_whatever_the_insertion_order() {
        let mut a = Attributes::new();
        a.insert("tcp.len", 0u32);
        a.insert("synlab.tcp.option.30", "ab");
        a.insert("ip.ttl", 64u8);
        a.insert("synlab.tcp.option.254", "");
        a.insert("ip.version", 4u8);
        a.insert("ip.ttl", 63u8);
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
        assert!(!a.contains("synlab.tcp.option.30"));
        assert_eq!(a.len(), 4);
        assert_eq!(a.get("no.such"), None);
    }
}
