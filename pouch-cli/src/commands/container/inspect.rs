//! `pouch inspect`: containers first, then images, like `docker inspect`.

use clap::{Args, ValueEnum};
use pouch_api::container::ContainerInspect;
use pouch_api::image::ImageInspect;
use serde::Serialize;

use crate::commands::Ctx;
use crate::error::{CmdResult, Errors};
use crate::format::inspect as inspect_output;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ObjectType {
    Container,
    Image,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format the output using the given Go template
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    /// Return JSON for the specified type only
    #[arg(long = "type", value_enum)]
    pub kind: Option<ObjectType>,
    /// Display total file sizes if the type is container
    #[arg(short = 's', long)]
    pub size: bool,
    #[arg(value_name = "NAME|ID", required = true)]
    pub names: Vec<String>,
}

/// An inspected object, serialized in the API's field order.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Object {
    Container(Box<ContainerInspect>),
    Image(Box<ImageInspect>),
}

async fn lookup(ctx: &Ctx, args: &InspectArgs, name: &str) -> Result<Object, String> {
    let c = ctx.client.containers();
    if args.kind != Some(ObjectType::Image) {
        let res = if args.size {
            c.inspect_with_size(name).await
        } else {
            c.inspect(name).await
        };
        match res {
            Ok(v) => return Ok(Object::Container(Box::new(v))),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    if args.kind != Some(ObjectType::Container) {
        match ctx.client.images().inspect(name).await {
            Ok(v) => return Ok(Object::Image(Box::new(v))),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    Err(match args.kind {
        Some(ObjectType::Container) => format!("Error: No such container: {name}"),
        Some(ObjectType::Image) => format!("Error: No such image: {name}"),
        None => format!("Error: No such object: {name}"),
    })
}

pub async fn run(ctx: &Ctx, args: InspectArgs) -> CmdResult {
    let template = inspect_output::parse_format(args.format.as_deref())?;
    let mut found = Vec::new();
    let mut errors = Errors::new();
    for name in &args.names {
        match lookup(ctx, &args, name).await {
            Ok(o) => found.push(o),
            Err(e) => errors.push(e),
        }
    }
    inspect_output::print(&found, template.as_ref(), &mut errors)?;
    errors.into_result()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::inspect::to_indented_json;
    use crate::format::Template;

    #[test]
    fn indented_like_docker() {
        assert_eq!(to_indented_json::<Object>(&[]), "[]");
        let mut c = ContainerInspect {
            id: "abc".into(),
            name: "/web".into(),
            ..Default::default()
        };
        c.state.status = "running".into();
        let out = to_indented_json(&[Object::Container(Box::new(c))]);
        assert!(
            out.starts_with("[\n    {\n        \"Id\": \"abc\",\n        \"Created\": \"\",\n"),
            "{out}"
        );
        assert!(out.contains("\n        \"State\": {\n            \"Status\": \"running\","));
        assert!(out.ends_with("\n    }\n]"));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v[0]["Name"], "/web");
    }

    #[test]
    fn templates_over_inspect_data() {
        let mut c = ContainerInspect::default();
        c.state.exit_code = 7;
        c.config.image = "busybox".into();
        c.config.labels.insert("k".into(), "v".into());
        let v = serde_json::to_value(Object::Container(Box::new(c))).unwrap();
        let run = |f: &str| Template::parse(f).unwrap().execute(&v).unwrap();
        assert_eq!(run("{{.State.ExitCode}}"), "7");
        assert_eq!(run("{{.Config.Image}}"), "busybox");
        assert_eq!(run(r#"{{index .Config.Labels "k"}}"#), "v");
        assert!(run("{{json .Config}}").contains(r#""Image":"busybox""#));
    }
}
