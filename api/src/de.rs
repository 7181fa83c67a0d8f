//! Deserialization helpers that mirror Go's `encoding/json` leniency.
//!
//! Docker clients are written in Go, where a `nil` slice or map is encoded as
//! JSON `null`, and where decoding `null` into any non-pointer value is a
//! no-op. The helpers here let our (non-`Option`) fields accept `null` as
//! "use the default" while still rejecting values of the wrong type.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};
use serde::{Serialize, Serializer};

/// Deserialize `T`, treating JSON `null` as `T::default()`.
///
/// Use as `#[serde(deserialize_with = "null_default")]` on every field that
/// is not an `Option`, so `{"Binds": null}` decodes like a missing field.
pub fn null_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Deserialize a Docker `StrSlice`: a JSON array of strings, a single string
/// (meaning a one-element list) or `null` (meaning "not set").
pub fn string_or_vec<'de, D>(deserializer: D) -> Result<Option<Vec<String>>, D::Error>
where
    D: Deserializer<'de>,
{
    struct StrSliceVisitor;

    impl<'de> Visitor<'de> for StrSliceVisitor {
        type Value = Option<Vec<String>>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string, an array of strings or null")
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(vec![v.to_owned()]))
        }

        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(vec![v]))
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(256));
            while let Some(item) = seq.next_element::<String>()? {
                out.push(item);
            }
            Ok(Some(out))
        }
    }

    deserializer.deserialize_option(StrSliceVisitor)
}

/// A JSON object that carries no data, e.g. the values of `ExposedPorts`
/// (`{"80/tcp": {}}`). Serializes as `{}`; accepts any object or `null`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct EmptyObject {}

impl Serialize for EmptyObject {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        serializer.serialize_map(Some(0))?.end()
    }
}

impl<'de> Deserialize<'de> for EmptyObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EmptyVisitor;

        impl<'de> Visitor<'de> for EmptyVisitor {
            type Value = EmptyObject;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object or null")
            }

            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(EmptyObject {})
            }

            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(EmptyObject {})
            }

            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }

            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map
                    .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(EmptyObject {})
            }
        }

        deserializer.deserialize_option(EmptyVisitor)
    }
}

/// `skip_serializing_if` helper for numeric fields Go tags `omitempty`.
pub(crate) fn is_zero<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// `skip_serializing_if` helper for boolean fields Go tags `omitempty`.
pub(crate) fn is_false(v: &bool) -> bool {
    !*v
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(default)]
    struct S {
        #[serde(deserialize_with = "null_default")]
        v: Vec<String>,
        #[serde(deserialize_with = "string_or_vec")]
        cmd: Option<Vec<String>>,
        #[serde(deserialize_with = "null_default")]
        e: std::collections::HashMap<String, EmptyObject>,
    }

    #[test]
    fn null_is_default() {
        let s: S = serde_json::from_str(r#"{"v":null,"cmd":null,"e":null}"#).unwrap();
        assert_eq!(s, S::default());
    }

    #[test]
    fn wrong_type_fails() {
        assert!(serde_json::from_str::<S>(r#"{"v":"x"}"#).is_err());
        assert!(serde_json::from_str::<S>(r#"{"cmd":5}"#).is_err());
        assert!(serde_json::from_str::<S>(r#"{"cmd":[1]}"#).is_err());
        assert!(serde_json::from_str::<S>(r#"{"e":{"80/tcp":"x"}}"#).is_err());
    }

    #[test]
    fn string_or_array() {
        let s: S = serde_json::from_str(r#"{"cmd":"echo hi"}"#).unwrap();
        assert_eq!(s.cmd, Some(vec!["echo hi".to_string()]));
        let s: S = serde_json::from_str(r#"{"cmd":["a","b"]}"#).unwrap();
        assert_eq!(s.cmd, Some(vec!["a".to_string(), "b".to_string()]));
        let s: S = serde_json::from_str(r#"{"cmd":[]}"#).unwrap();
        assert_eq!(s.cmd, Some(vec![]));
    }

    #[test]
    fn empty_object() {
        let s: S = serde_json::from_str(r#"{"e":{"80/tcp":{},"53/udp":null}}"#).unwrap();
        assert_eq!(s.e.len(), 2);
        assert_eq!(serde_json::to_string(&EmptyObject {}).unwrap(), "{}");
    }
}
