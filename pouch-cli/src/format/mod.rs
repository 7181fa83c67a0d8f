//! Output formatting: aligned tables, Go-like templates for `--format`,
//! and human-readable sizes and times.

pub mod human;
pub mod inspect;
pub mod table;
pub mod template;
mod template_funcs;
mod template_parse;

use serde_json::Value;

pub use table::TabWriter;
pub use template::Template;

/// A list `--format` (`ps`, `images`): either `table ...` (a header line
/// plus aligned rows) or a raw template printed once per row.
#[derive(Debug, Clone)]
pub struct ListFormat {
    table: bool,
    template: Template,
}

impl ListFormat {
    /// Prepare a format as Docker does: a `table` prefix selects table
    /// mode, surrounding spaces are trimmed and the two-character
    /// sequences `\t` and `\n` become a tab and a newline. `json` is
    /// `{{json .}}`. Errors read `Template parsing error: ...`.
    pub fn parse(format: &str) -> Result<Self, String> {
        let (table, body) = match format.strip_prefix("table") {
            Some(rest) => (true, rest),
            None => (false, format),
        };
        let body = body.trim_matches(' ');
        let body = if !table && body == "json" {
            "{{json .}}".to_string()
        } else {
            body.replace("\\t", "\t").replace("\\n", "\n")
        };
        let template =
            Template::parse(&body).map_err(|e| format!("Template parsing error: {e}"))?;
        Ok(Self { table, template })
    }

    /// Render all rows; `headers` maps each field name to its column
    /// title (used in table mode only).
    pub fn render(&self, rows: &[Value], headers: &Value) -> Result<String, String> {
        let mut text = String::new();
        if self.table {
            text.push_str(&self.template.execute_header(headers)?);
            text.push('\n');
        }
        for row in rows {
            text.push_str(&self.template.execute(row)?);
            text.push('\n');
        }
        if !self.table {
            return Ok(text);
        }
        let mut tw = TabWriter::docker();
        tw.write(&text);
        Ok(tw.render())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn table_and_raw_formats() {
        let rows = vec![
            json!({"ID": "0123456789ab", "Names": "web"}),
            json!({"ID": "ba9876543210", "Names": "a-much-longer-name"}),
        ];
        let headers = json!({"ID": "CONTAINER ID", "Names": "NAMES"});
        let f = ListFormat::parse(r"table {{.Names}}\t{{.ID}}").unwrap();
        assert!(f.table);
        assert_eq!(
            f.render(&rows, &headers).unwrap(),
            "NAMES                CONTAINER ID\n\
             web                  0123456789ab\n\
             a-much-longer-name   ba9876543210\n"
        );
        let f = ListFormat::parse("{{.ID}}: {{.Names}}").unwrap();
        assert_eq!(
            f.render(&rows, &headers).unwrap(),
            "0123456789ab: web\nba9876543210: a-much-longer-name\n"
        );
        let f = ListFormat::parse("json").unwrap();
        assert_eq!(
            f.render(&rows[..1], &headers).unwrap(),
            "{\"ID\":\"0123456789ab\",\"Names\":\"web\"}\n"
        );
        // Header only when there are no rows.
        let f = ListFormat::parse("table {{.ID}}").unwrap();
        assert_eq!(f.render(&[], &headers).unwrap(), "CONTAINER ID\n");
        let e = ListFormat::parse("{{.ID").unwrap_err();
        assert!(
            e.starts_with("Template parsing error: template: :1:"),
            "{e}"
        );
    }
}
