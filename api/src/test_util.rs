//! Test helpers.

use serde_json::Value;

/// Assert that every object key of `orig` (recursively) is present in
/// `produced`, except keys whose original value is `null`, an empty array
/// or an empty object that we are allowed to omit when empty.
pub(crate) fn assert_keys_preserved(orig: &Value, produced: &Value, path: &str) {
    match (orig, produced) {
        (Value::Object(o), Value::Object(p)) => {
            for (k, ov) in o {
                let sub = format!("{path}/{k}");
                match p.get(k) {
                    Some(pv) => assert_keys_preserved(ov, pv, &sub),
                    None => {
                        let omittable = match ov {
                            Value::Null => true,
                            Value::Array(a) => a.is_empty(),
                            Value::Object(m) => m.is_empty(),
                            Value::String(s) => s.is_empty(),
                            Value::Bool(b) => !b,
                            Value::Number(n) => n.as_f64() == Some(0.0),
                        };
                        assert!(omittable, "key {sub} lost in serialization");
                    }
                }
            }
        }
        (Value::Array(o), Value::Array(p)) => {
            assert_eq!(o.len(), p.len(), "array length differs at {path}");
            for (i, (ov, pv)) in o.iter().zip(p).enumerate() {
                assert_keys_preserved(ov, pv, &format!("{path}[{i}]"));
            }
        }
        (Value::Null, _) | (_, Value::Null) => {}
        (o, p) => assert_eq!(o, p, "value differs at {path}"),
    }
}
