//! The iptables rules of a bridge network, tagged with a comment naming the
//! network as CNI's own rules are (`name: "<bridge>" ...`), so tools that
//! clean up a network's rules find these too:
//!
//! * masquerade: one nat rule per network for what leaves its subnet, as
//!   Docker has. (The bridge plugin's `ipMasq` makes a chain and three rules
//!   per container: nine runs of iptables on every start, six on every exit.)
//! * isolation: Docker's two-stage filter chains, shared by every pouchd on
//!   the host: what comes in from one network's bridge and goes out through
//!   another's is dropped, so containers reach only the networks they are on.

use super::manager::run_cmd;
use super::BridgeConfig;
use crate::error::{Error, Result};

const STAGE_1: &str = "POUCH-ISOLATION-STAGE-1";
const STAGE_2: &str = "POUCH-ISOLATION-STAGE-2";

fn iptables(args: &[&str]) -> tokio::process::Command {
    let mut c = tokio::process::Command::new("iptables");
    c.arg("--wait").args(args);
    c
}

/// Makes (or removes) one rule, checked first so that it exists once.
async fn rule(table: &str, chain: &str, spec: &[&str], add: bool, what: &str) -> Result<()> {
    let with = |op: &str| {
        let mut a = vec!["-t", table, op, chain];
        a.extend_from_slice(spec);
        iptables(&a)
    };
    let present = run_cmd(with("-C"), "iptables").await?.status.success();
    if present == add {
        return Ok(());
    }
    let out = run_cmd(with(if add { "-A" } else { "-D" }), "iptables").await?;
    if !out.status.success() {
        return Err(Error::system(format!(
            "{} {what}: {}",
            if add { "adding" } else { "removing" },
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

pub(super) async fn masquerade(b: &BridgeConfig, add: bool) -> Result<()> {
    let comment = format!("name: \"{}\" pouchd masquerade", b.name);
    let subnet = b.subnet();
    let spec = [
        "-s",
        &subnet,
        "!",
        "-o",
        &b.name,
        "-m",
        "comment",
        "--comment",
        &comment,
        "-j",
        "MASQUERADE",
    ];
    rule(
        "nat",
        "POSTROUTING",
        &spec,
        add,
        &format!("the masquerade rule of {}", b.name),
    )
    .await
}

/// The shared chains and FORWARD's jump to them, made once.
async fn ensure_chains() -> Result<()> {
    for chain in [STAGE_1, STAGE_2] {
        // Fails when the chain exists, which is what is wanted.
        let _ = run_cmd(iptables(&["-t", "filter", "-N", chain]), "iptables").await?;
    }
    let jump = ["-j", STAGE_1];
    let present = run_cmd(
        iptables(&["-t", "filter", "-C", "FORWARD", jump[0], jump[1]]),
        "iptables",
    )
    .await?
    .status
    .success();
    if !present {
        let out = run_cmd(
            iptables(&["-t", "filter", "-I", "FORWARD", "1", jump[0], jump[1]]),
            "iptables",
        )
        .await?;
        if !out.status.success() {
            return Err(Error::system(format!(
                "adding the isolation jump: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
    }
    Ok(())
}

pub(super) async fn isolate(b: &BridgeConfig, add: bool) -> Result<()> {
    if add {
        ensure_chains().await?;
    }
    let comment = format!("name: \"{}\" pouchd isolation", b.name);
    let stage_1 = [
        "-i",
        &b.name,
        "!",
        "-o",
        &b.name,
        "-m",
        "comment",
        "--comment",
        &comment,
        "-j",
        STAGE_2,
    ];
    let stage_2 = [
        "-o",
        &b.name,
        "-m",
        "comment",
        "--comment",
        &comment,
        "-j",
        "DROP",
    ];
    let what = format!("the isolation rules of {}", b.name);
    // A rule (or chain) already gone counts as removed: `-C` fails first.
    let first = rule("filter", STAGE_1, &stage_1, add, &what).await;
    let second = rule("filter", STAGE_2, &stage_2, add, &what).await;
    first.and(second)
}
