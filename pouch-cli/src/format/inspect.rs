//! `inspect` output as Docker prints it: the objects as one JSON array
//! indented by 4 spaces, or, with `--format`, one line per object.

use serde::Serialize;

use crate::error::{Errors, StatusError};
use crate::format::Template;

/// The `--format` of an inspect command; an empty one is the default.
pub fn parse_format(format: Option<&str>) -> Result<Option<Template>, StatusError> {
    match format {
        Some(f) if !f.is_empty() => Template::parse(f)
            .map(Some)
            .map_err(|e| StatusError::new(64, format!("Template parsing error: {e}"))),
        _ => Ok(None),
    }
}

/// Docker's default output: a JSON array indented by 4 spaces.
pub fn to_indented_json<T: Serialize>(objects: &[T]) -> String {
    if objects.is_empty() {
        return "[]".to_string();
    }
    let mut buf = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, formatter);
    if objects.serialize(&mut ser).is_err() {
        return "[]".to_string();
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// Prints `found` as the default JSON or through `template`; a template
/// failing on an object adds to `errors`, as Docker reports it.
pub fn print<T: Serialize>(
    found: &[T],
    template: Option<&Template>,
    errors: &mut Errors,
) -> Result<(), StatusError> {
    match template {
        None => println!("{}", to_indented_json(found)),
        Some(t) => {
            for o in found {
                let value = serde_json::to_value(o).map_err(|e| StatusError::msg(e.to_string()))?;
                match t.execute(&value) {
                    Ok(s) => println!("{s}"),
                    Err(e) => errors.push(e),
                }
            }
        }
    }
    Ok(())
}
