//! `pouch update`: new resource limits or restart policy for containers.

use clap::Args;
use pouch_api::container::ContainerUpdateRequest;

use crate::commands::Ctx;
use crate::error::{CmdResult, StatusError};
use crate::opts::{parse_cpus, parse_memory, parse_restart};

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Memory limit (e.g. 512m, 1g, or bytes)
    #[arg(short = 'm', long, value_parser = parse_memory)]
    pub memory: Option<i64>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    #[arg(long = "memory-swap", allow_negative_numbers = true, value_parser = parse_swap)]
    pub memory_swap: Option<i64>,
    /// Memory soft limit
    #[arg(long = "memory-reservation", value_parser = parse_memory)]
    pub memory_reservation: Option<i64>,
    /// Number of CPUs
    #[arg(long, value_parser = parse_cpus)]
    pub cpus: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares")]
    pub cpu_shares: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) period
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota
    #[arg(long = "cpu-quota")]
    pub cpu_quota: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long = "pids-limit", allow_negative_numbers = true)]
    pub pids_limit: Option<i64>,
    /// Restart policy to apply when a container exits
    #[arg(long, value_parser = parse_restart)]
    pub restart: Option<pouch_api::container::RestartPolicy>,
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

fn parse_swap(s: &str) -> Result<i64, String> {
    match s {
        "-1" => Ok(-1),
        s => parse_memory(s),
    }
}

impl UpdateArgs {
    fn request(&self) -> ContainerUpdateRequest {
        ContainerUpdateRequest {
            memory: self.memory.unwrap_or(0),
            memory_swap: self.memory_swap.unwrap_or(0),
            memory_reservation: self.memory_reservation.unwrap_or(0),
            nano_cpus: self.cpus.unwrap_or(0),
            cpu_shares: self.cpu_shares.unwrap_or(0),
            cpu_period: self.cpu_period.unwrap_or(0),
            cpu_quota: self.cpu_quota.unwrap_or(0),
            cpuset_cpus: self.cpuset_cpus.clone().unwrap_or_default(),
            cpuset_mems: self.cpuset_mems.clone().unwrap_or_default(),
            pids_limit: self.pids_limit,
            restart_policy: self.restart.clone().unwrap_or_default(),
            ..Default::default()
        }
    }
}

/// Like docker: each container is updated and named on success; failures
/// are printed and make the exit status 1.
pub async fn run(ctx: &Ctx, args: UpdateArgs) -> CmdResult {
    let req = args.request();
    let mut failed = false;
    for c in &args.containers {
        match ctx.client.containers().update(c, &req).await {
            Ok(resp) => {
                for w in &resp.warnings {
                    eprintln!("{w}");
                }
                println!("{c}");
            }
            Err(e) => {
                eprintln!("{e}");
                failed = true;
            }
        }
    }
    if failed {
        return Err(StatusError::code(1));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: UpdateArgs,
    }

    #[test]
    fn flags_become_the_request() {
        let t = T::try_parse_from([
            "update",
            "-m",
            "64m",
            "--memory-swap",
            "-1",
            "--cpus",
            "0.5",
            "--pids-limit",
            "-1",
            "--restart",
            "on-failure:3",
            "a",
            "b",
        ])
        .unwrap();
        let r = t.a.request();
        assert_eq!(
            (r.memory, r.memory_swap, r.nano_cpus),
            (64 << 20, -1, 500_000_000)
        );
        assert_eq!(r.pids_limit, Some(-1));
        assert_eq!(
            (
                r.restart_policy.name.as_str(),
                r.restart_policy.maximum_retry_count
            ),
            ("on-failure", 3)
        );
        assert_eq!(t.a.containers, ["a", "b"]);
        assert_eq!(r.cpu_shares, 0);
    }
}
