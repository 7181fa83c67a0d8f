//! What the `prune` commands share: docker's confirmation prompt and its
//! report of what went.

use std::io::Write as _;

use crate::format::human::human_size4;

/// Docker's `PromptForConfirmation`: only `y`/`Y` is a yes.
pub fn confirmed(answer: &str) -> bool {
    matches!(answer.trim(), "y" | "Y")
}

/// Prints `warning` and docker's question; whether the answer is yes.
pub fn ask(warning: &str) -> std::io::Result<bool> {
    print!("{warning}\nAre you sure you want to continue? [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(confirmed(&answer))
}

/// `<heading>:` and one line per removed item, then a blank line; nothing
/// when nothing was removed.
pub fn deleted<S: AsRef<str>>(heading: &str, lines: &[S]) -> String {
    let mut out = String::new();
    if !lines.is_empty() {
        out.push_str(heading);
        out.push_str(":\n");
        for l in lines {
            out.push_str(l.as_ref());
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

/// The last line of a prune's report.
pub fn total(reclaimed: u64) -> String {
    format!("Total reclaimed space: {}\n", human_size4(reclaimed as f64))
}

/// What went and the reclaimed total, as docker prints them.
pub fn report<S: AsRef<str>>(heading: &str, lines: &[S], reclaimed: u64) -> String {
    deleted(heading, lines) + &total(reclaimed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_like_docker() {
        assert_eq!(
            report::<&str>("Deleted Things", &[], 0),
            "Total reclaimed space: 0B\n"
        );
        assert_eq!(
            report("Deleted Volumes", &["a", "b"], 2048),
            "Deleted Volumes:\na\nb\n\nTotal reclaimed space: 2.048kB\n"
        );
        assert!(confirmed(" y\n") && confirmed("Y") && !confirmed("yes") && !confirmed(""));
    }
}
