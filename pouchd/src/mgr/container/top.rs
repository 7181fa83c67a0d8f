//! `GET /containers/{id}/top`: the host's `ps`, narrowed to the container's processes.

use super::ContainerMgr;
use crate::error::{Error, Result};

/// `ps` output as Docker returns it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Top {
    pub titles: Vec<String>,
    pub processes: Vec<Vec<String>>,
}

/// Keeps the rows of `ps` output whose PID column is one of `pids`.
pub fn filter_ps(output: &str, pids: &[u32]) -> Result<Top> {
    let mut lines = output.lines();
    let header = lines
        .next()
        .ok_or_else(|| Error::system("ps printed nothing"))?;
    let titles: Vec<String> = header.split_whitespace().map(str::to_string).collect();
    let pid_col = titles
        .iter()
        .position(|t| t == "PID")
        .ok_or_else(|| Error::invalid("Couldn't find PID field in ps output"))?;
    let mut processes = Vec::new();
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(pid) = fields.get(pid_col).and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !pids.contains(&pid) {
            continue;
        }
        // The last column (the command) may contain spaces: keep it whole.
        let n = titles.len();
        let mut row: Vec<String> = fields
            .iter()
            .take(n.saturating_sub(1))
            .map(|s| s.to_string())
            .collect();
        if fields.len() >= n {
            row.push(fields[n - 1..].join(" "));
        }
        processes.push(row);
    }
    Ok(Top { titles, processes })
}

impl ContainerMgr {
    pub async fn top(&self, reference: &str, ps_args: &str) -> Result<Top> {
        let c = self.get(reference)?;
        if !c.meta().state.status.is_alive() {
            return Err(Self::not_running(&c.id));
        }
        let pids = self.rt.task_pids(&c.id).await?;
        let args: Vec<&str> = if ps_args.is_empty() {
            vec!["-ef"]
        } else {
            ps_args.split_whitespace().collect()
        };
        let out = tokio::process::Command::new("ps")
            .args(&args)
            .output()
            .await
            .map_err(|e| Error::system(format!("running ps: {e}")))?;
        if !out.status.success() {
            return Err(Error::invalid(format!(
                "ps: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        filter_ps(&String::from_utf8_lossy(&out.stdout), &pids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_container_pids_and_whole_commands() {
        let out = "UID PID PPID C STIME TTY TIME CMD\nroot 1 0 0 10:00 ? 00:00:01 /sbin/init\nroot 42 1 0 10:00 ? 00:00:00 sleep 1000\n";
        let t = filter_ps(out, &[42]).unwrap();
        assert_eq!(t.titles.len(), 8);
        assert_eq!(
            t.processes,
            vec![vec![
                "root",
                "42",
                "1",
                "0",
                "10:00",
                "?",
                "00:00:00",
                "sleep 1000"
            ]]
        );
        assert!(filter_ps("USER COMMAND\nroot x\n", &[1]).is_err());
    }
}
