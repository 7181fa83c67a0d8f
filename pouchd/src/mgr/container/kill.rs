//! `POST /containers/{id}/kill`.

use super::state::Status;
use super::ContainerMgr;
use crate::error::{Error, Result};

/// Parses `9`, `KILL`, `SIGKILL`, `sigkill`.
pub fn parse_signal(s: &str) -> Result<u32> {
    let bad = || Error::invalid(format!("Invalid signal: {s}"));
    if let Ok(n) = s.parse::<u32>() {
        if n == 0 || n > 64 {
            return Err(bad());
        }
        return Ok(n);
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<nix::sys::signal::Signal>()
        .map(|sig| sig as i32 as u32)
        .map_err(|_| bad())
}

impl ContainerMgr {
    /// Sends `signal` (default SIGKILL) to the container's init process.
    pub async fn kill(&self, reference: &str, signal: Option<&str>) -> Result<()> {
        let c = self.get(reference)?;
        let sig = match signal {
            Some(s) if !s.is_empty() => parse_signal(s)?,
            _ => 9,
        };
        let _op = c.op.lock().await;
        match c.meta().state.status {
            Status::Running => {}
            Status::Paused => {
                return Err(Error::conflict(format!(
                    "Container {} is paused. Unpause the container before stopping or killing",
                    c.id
                )))
            }
            _ => return Err(Self::not_running(&c.id)),
        }
        if sig == 9 || sig == 15 {
            c.update(|m| m.manually_stopped = true);
            self.save(&c).await?;
        }
        self.rt.kill(&c.id, sig, false).await?;
        self.emit(&c.meta(), "kill", &[("signal", sig.to_string())]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_parse_by_name_and_number() {
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert_eq!(parse_signal("KILL").unwrap(), 9);
        assert_eq!(parse_signal("SIGTERM").unwrap(), 15);
        assert_eq!(parse_signal("hup").unwrap(), 1);
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("0").is_err());
    }
}
