//! `pouch volume create`.

use clap::Args;
use pouch_api::volume::VolumeCreateRequest;

use crate::commands::{key_values, Ctx};
use crate::error::{CmdResult, StatusError};

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Specify volume driver name
    #[arg(short = 'd', long, default_value = "local")]
    pub driver: String,
    /// Set metadata for a volume
    #[arg(long = "label", value_name = "LABEL")]
    pub labels: Vec<String>,
    /// Set driver specific options
    #[arg(short = 'o', long = "opt", value_name = "OPT")]
    pub opts: Vec<String>,
    /// Specify volume name
    #[arg(long = "name", hide = true)]
    pub name_flag: Option<String>,
    #[arg(value_name = "VOLUME")]
    pub name: Option<String>,
}

/// The request sent; a name both as argument and `--name` must agree.
pub fn request(args: &CreateArgs) -> Result<VolumeCreateRequest, String> {
    let name =
        match (&args.name, &args.name_flag) {
            (Some(a), Some(b)) if a != b => return Err(
                "conflicting options: either specify --name or provide positional arg, not both"
                    .to_string(),
            ),
            (Some(a), _) | (None, Some(a)) => a.clone(),
            (None, None) => String::new(),
        };
    Ok(VolumeCreateRequest {
        name,
        driver: args.driver.clone(),
        driver_opts: key_values(&args.opts),
        labels: key_values(&args.labels),
    })
}

pub async fn run(ctx: &Ctx, args: CreateArgs) -> CmdResult {
    let req = request(&args).map_err(StatusError::msg)?;
    let v = ctx.client.volumes().create(&req).await?;
    println!("{}", v.name);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_names() {
        let args = CreateArgs {
            driver: "local".into(),
            labels: vec!["a=b".into(), "flag".into()],
            opts: vec![],
            name_flag: None,
            name: Some("v1".into()),
        };
        let r = request(&args).unwrap();
        assert_eq!(r.name, "v1");
        assert_eq!(r.labels["a"], "b");
        assert_eq!(r.labels["flag"], "");
        let args = CreateArgs {
            name_flag: Some("v2".into()),
            ..args
        };
        assert!(request(&args).is_err());
    }
}
