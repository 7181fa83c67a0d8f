//! `pouch top CONTAINER [ps OPTIONS]`.

use clap::Args;
use pouch_client::ContainerTop;

use crate::commands::Ctx;
use crate::error::CmdResult;
use crate::format::TabWriter;

#[derive(Debug, Args)]
pub struct TopArgs {
    /// The container, then options given to ps (flags end at the
    /// container, as docker's)
    #[arg(
        value_names = ["CONTAINER", "ps OPTIONS"],
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub args: Vec<String>,
}

/// The process table, aligned as docker does (`tabwriter` with a minimum
/// width of 20 and a padding of 3).
pub fn render(top: &ContainerTop) -> String {
    let mut tw = TabWriter::new(20, 3);
    tw.write(&top.titles.join("\t"));
    tw.write("\n");
    for p in &top.processes {
        tw.write(&p.join("\t"));
        tw.write("\n");
    }
    tw.render()
}

pub async fn run(ctx: &Ctx, args: TopArgs) -> CmdResult {
    let ps_args = args.args[1..].join(" ");
    let top = ctx
        .client
        .containers()
        .top(&args.args[0], Some(&ps_args))
        .await?;
    print!("{}", render(&top));
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: TopArgs,
    }

    #[test]
    fn ps_options_after_the_container() {
        let t = T::try_parse_from(["top", "c1", "-h", "-o", "pid"]).unwrap();
        assert_eq!(t.a.args, ["c1", "-h", "-o", "pid"]);
        assert!(T::try_parse_from(["top"]).is_err());
    }

    #[test]
    fn aligned_like_docker() {
        let top = ContainerTop {
            titles: vec!["UID".into(), "PID".into(), "PPID".into(), "CMD".into()],
            processes: vec![vec![
                "root".into(),
                "12345".into(),
                "12300".into(),
                "sleep 100".into(),
            ]],
        };
        assert_eq!(
            render(&top),
            "UID                 PID                 PPID                CMD\n\
             root                12345               12300               sleep 100\n"
        );
    }
}
