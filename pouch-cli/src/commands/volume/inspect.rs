//! `pouch volume inspect`.

use clap::Args;
use pouch_api::volume::Volume;
use serde::Serialize;

use crate::commands::Ctx;
use crate::error::{CmdResult, Errors, StatusError};
use crate::format::Template;

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format the output using the given Go template
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    #[arg(value_name = "VOLUME", required = true)]
    pub names: Vec<String>,
}

/// Docker's default output: a JSON array indented by 4 spaces.
fn to_indented_json(volumes: &[Volume]) -> String {
    let mut buf = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, formatter);
    if volumes.is_empty() || volumes.serialize(&mut ser).is_err() {
        return "[]".to_string();
    }
    String::from_utf8_lossy(&buf).into_owned()
}

pub async fn run(ctx: &Ctx, args: InspectArgs) -> CmdResult {
    let template = match args.format.as_deref() {
        Some(f) if !f.is_empty() => Some(
            Template::parse(f)
                .map_err(|e| StatusError::new(64, format!("Template parsing error: {e}")))?,
        ),
        _ => None,
    };
    let mut found = Vec::new();
    let mut errors = Errors::new();
    for name in &args.names {
        match ctx.client.volumes().inspect(name).await {
            Ok(v) => found.push(v),
            Err(e) if e.is_not_found() => errors.push(format!("Error: No such volume: {name}")),
            Err(e) => errors.push(e),
        }
    }
    match &template {
        None => println!("{}", to_indented_json(&found)),
        Some(t) => {
            for v in &found {
                let value = serde_json::to_value(v).map_err(|e| StatusError::msg(e.to_string()))?;
                match t.execute(&value) {
                    Ok(s) => println!("{s}"),
                    Err(e) => errors.push(e),
                }
            }
        }
    }
    errors.into_result()
}
