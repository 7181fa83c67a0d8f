//! `pouch system df`: disk usage of images, containers, local volumes and
//! the build cache, in docker's summary table.

use clap::Args;
use pouch_api::system::SystemDfResponse;

use crate::commands::Ctx;
use crate::error::CmdResult;
use crate::format::human::human_size4;
use crate::format::table::TabWriter;

#[derive(Debug, Args)]
pub struct DfArgs {}

/// `<size> (<percent>%)` of what could be reclaimed, as docker prints it.
fn reclaimable(bytes: i64, total: i64) -> String {
    let size = human_size4(bytes.max(0) as f64);
    if total <= 0 {
        return size;
    }
    let pct = (bytes.max(0) as f64 * 100.0 / total as f64).round() as i64;
    format!("{size} ({pct}%)")
}

/// The summary table.
pub fn render(df: &SystemDfResponse) -> String {
    let mut t = TabWriter::docker();
    t.write("TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE\n");
    // Images: unused ones' unshared bytes can go.
    let active = df.images.iter().filter(|i| i.containers > 0).count();
    let unused: i64 = df
        .images
        .iter()
        .filter(|i| i.containers <= 0)
        .map(|i| i.size - i.shared_size.max(0))
        .sum();
    t.write(&format!(
        "Images\t{}\t{active}\t{}\t{}\n",
        df.images.len(),
        human_size4(df.layers_size as f64),
        reclaimable(unused, df.layers_size)
    ));
    let running = |c: &&pouch_api::container::ContainerSummary| {
        matches!(c.state.as_str(), "running" | "paused" | "restarting")
    };
    let size: i64 = df.containers.iter().filter_map(|c| c.size_rw).sum();
    let stopped: i64 = df
        .containers
        .iter()
        .filter(|c| !running(c))
        .filter_map(|c| c.size_rw)
        .sum();
    t.write(&format!(
        "Containers\t{}\t{}\t{}\t{}\n",
        df.containers.len(),
        df.containers.iter().filter(running).count(),
        human_size4(size as f64),
        reclaimable(stopped, size)
    ));
    let usage = |v: &pouch_api::volume::Volume| v.usage_data.clone().unwrap_or_default();
    let vsize: i64 = df.volumes.iter().map(|v| usage(v).size.max(0)).sum();
    let unused: i64 = df
        .volumes
        .iter()
        .filter(|v| usage(v).ref_count == 0)
        .map(|v| usage(v).size.max(0))
        .sum();
    t.write(&format!(
        "Local Volumes\t{}\t{}\t{}\t{}\n",
        df.volumes.len(),
        df.volumes.iter().filter(|v| usage(v).ref_count > 0).count(),
        human_size4(vsize as f64),
        reclaimable(unused, vsize)
    ));
    t.write(&format!(
        "Build Cache\t{}\t0\t0B\t0B\n",
        df.build_cache.len()
    ));
    t.render()
}

pub async fn run(ctx: &Ctx, _args: DfArgs) -> CmdResult {
    let df = ctx.client.system_df().await?;
    print!("{}", render(&df));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pouch_api::container::ContainerSummary;
    use pouch_api::image::ImageSummary;

    #[test]
    fn summary_table() {
        let df = SystemDfResponse {
            layers_size: 2000,
            images: vec![
                ImageSummary {
                    size: 1500,
                    shared_size: 500,
                    containers: 1,
                    ..Default::default()
                },
                ImageSummary {
                    size: 1000,
                    shared_size: 500,
                    containers: 0,
                    ..Default::default()
                },
            ],
            containers: vec![
                ContainerSummary {
                    state: "running".into(),
                    size_rw: Some(10),
                    ..Default::default()
                },
                ContainerSummary {
                    state: "exited".into(),
                    size_rw: Some(30),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let out = render(&df);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("TYPE "), "{out}");
        let cols = |l: &str| {
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(cols(lines[1]), ["Images", "2", "1", "2kB", "500B (25%)"]);
        assert_eq!(cols(lines[2]), ["Containers", "2", "1", "40B", "30B (75%)"]);
        assert_eq!(cols(lines[3]), ["Local Volumes", "0", "0", "0B", "0B"]);
        assert_eq!(cols(lines[4]), ["Build Cache", "0", "0", "0B", "0B"]);
    }
}
