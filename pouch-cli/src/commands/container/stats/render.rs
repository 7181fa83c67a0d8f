//! The stats table: cells as `docker stats` prints them.

use super::*;

pub(super) fn percentage(v: f64) -> String {
    format!("{v:.2}%")
}

/// The template data of an entry (docker's `statsContext`).
pub fn row(e: &StatsEntry, trunc: bool) -> Value {
    const NONE: &str = "--";
    let name = e.name.strip_prefix('/').unwrap_or(&e.name);
    let id = if trunc { short_id(&e.id) } else { e.id.clone() };
    let (cpu, mem, mem_perc, net, block, pids) = if e.is_invalid {
        (
            NONE.to_string(),
            "-- / --".to_string(),
            NONE.to_string(),
            NONE.to_string(),
            NONE.to_string(),
            NONE.to_string(),
        )
    } else {
        (
            percentage(e.cpu_percentage),
            format!("{} / {}", bytes_size(e.memory), bytes_size(e.memory_limit)),
            percentage(e.memory_percentage),
            format!(
                "{} / {}",
                human_size(e.network_rx),
                human_size(e.network_tx)
            ),
            format!(
                "{} / {}",
                human_size(e.block_read),
                human_size(e.block_write)
            ),
            e.pids_current.to_string(),
        )
    };
    json!({
        "Container": e.container,
        "Name": if name.is_empty() { NONE } else { name },
        "ID": id,
        "CPUPerc": cpu,
        "MemUsage": mem,
        "MemPerc": mem_perc,
        "NetIO": net,
        "BlockIO": block,
        "PIDs": pids,
    })
}

pub fn headers() -> Value {
    json!({
        "Container": "CONTAINER",
        "Name": "NAME",
        "ID": "CONTAINER ID",
        "CPUPerc": "CPU %",
        "MemUsage": "MEM USAGE / LIMIT",
        "MemPerc": "MEM %",
        "NetIO": "NET I/O",
        "BlockIO": "BLOCK I/O",
        "PIDs": "PIDS",
    })
}

/// The effective format: `table` (or nothing) is the default table.
pub fn format_string(format: Option<&str>) -> String {
    match format {
        None | Some("") | Some("table") => DEFAULT_TABLE.to_string(),
        Some(f) => f.to_string(),
    }
}

pub fn render(entries: &[StatsEntry], format: &ListFormat, trunc: bool) -> Result<String, String> {
    let rows: Vec<Value> = entries.iter().map(|e| row(e, trunc)).collect();
    format
        .render(&rows, &headers())
        .map_err(|e| format!("template parsing error: {e}"))
}

/// One frame of the live view: from the top left, each line cleared to
/// its end, the rest of the screen cleared (no flicker).
pub fn frame(text: &str) -> String {
    let mut out = String::from("\x1b[H");
    for line in text.strip_suffix('\n').unwrap_or(text).split('\n') {
        out.push_str(line);
        out.push_str("\x1b[K\n");
    }
    out.push_str("\x1b[J");
    out
}
