//! Showing a JSON progress stream (pull, push, import) as the docker CLI's
//! `jsonmessage.DisplayJSONMessagesStream` does: on a terminal one live
//! line per layer (indicatif bars), elsewhere plain lines without the
//! byte-counting updates.

use std::collections::HashMap;
use std::io::Write as _;

use futures::StreamExt;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use pouch_api::JsonMessage;
use pouch_client::JsonMessageStream;

use crate::error::{describe, StatusError};
use crate::format::human::human_size;

/// The line docker prints for `msg` without a terminal, or `None` when it
/// prints nothing (byte-count updates, aux messages).
pub fn plain_line(msg: &JsonMessage) -> Option<String> {
    if msg.aux.is_some() {
        return None;
    }
    let counted = msg
        .progress_detail
        .as_ref()
        .is_some_and(|p| p.current > 0 || p.total > 0);
    if counted {
        return None;
    }
    let mut line = String::new();
    if !msg.id.is_empty() {
        line.push_str(&msg.id);
        line.push_str(": ");
    }
    if !msg.from.is_empty() {
        line.push_str(&format!("(from {}) ", msg.from));
    }
    if !msg.progress.is_empty() {
        line.push_str(&format!("{} {}\n", msg.status, msg.progress));
    } else if !msg.stream.is_empty() {
        line.push_str(&msg.stream);
    } else {
        line.push_str(&msg.status);
        line.push('\n');
    }
    Some(line)
}

/// `current/total` as docker's progress bar shows them.
fn counts(current: u64, total: u64) -> String {
    format!(
        "{}/{}",
        human_size(current as f64),
        human_size(total as f64)
    )
}

/// Where messages go: plain lines, or live bars on a terminal.
pub struct Display {
    tty: Option<Bars>,
    /// Messages with `aux` (push's `{"Tag","Digest","Size"}`), kept for
    /// the caller.
    pub aux: Vec<serde_json::Value>,
    /// The last `status` without an id (import's new image ID).
    pub last_status: String,
}

struct Bars {
    multi: MultiProgress,
    bars: HashMap<String, ProgressBar>,
    text: ProgressStyle,
    bar: ProgressStyle,
}

impl Bars {
    fn new_multi() -> MultiProgress {
        MultiProgress::with_draw_target(ProgressDrawTarget::stdout_with_hz(10))
    }

    /// Draw the current lines in their last state and stop managing them.
    fn freeze(&mut self) {
        for (_, b) in self.bars.drain() {
            b.finish();
        }
        self.multi = Self::new_multi();
    }
}

impl Display {
    pub fn new(tty: bool) -> Self {
        let tty = tty.then(|| {
            let text = ProgressStyle::with_template("{prefix}: {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            // Docker's counts: `1.81MB/2.14MB` (go-units, no space).
            let bar = ProgressStyle::with_template("{prefix}: {msg} [{bar:50}] {counts}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .with_key(
                    "counts",
                    |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{}", counts(s.pos(), s.len().unwrap_or(0)));
                    },
                )
                .progress_chars("=> ");
            Bars {
                multi: Bars::new_multi(),
                bars: HashMap::new(),
                text,
                bar,
            }
        });
        Self {
            tty,
            aux: Vec::new(),
            last_status: String::new(),
        }
    }

    /// Show one message.
    pub fn show(&mut self, msg: &JsonMessage) -> std::io::Result<()> {
        if let Some(aux) = &msg.aux {
            self.aux.push(aux.clone());
            return Ok(());
        }
        if msg.id.is_empty() && !msg.status.is_empty() {
            self.last_status = msg.status.clone();
        }
        let Some(t) = self.tty.as_mut() else {
            if let Some(line) = plain_line(msg) {
                let mut out = std::io::stdout().lock();
                out.write_all(line.as_bytes())?;
                out.flush()?;
            }
            return Ok(());
        };
        if msg.id.is_empty() {
            // Docker keeps the order of first appearance: a plain line goes
            // below the layer lines, and later layers below it. So the
            // current lines are left as they are and a new set starts.
            t.freeze();
            let text = if msg.stream.is_empty() {
                format!("{}\n", msg.status)
            } else {
                msg.stream.clone()
            };
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            return out.flush();
        }
        let bar = t.bars.entry(msg.id.clone()).or_insert_with(|| {
            let b = ProgressBar::new(0)
                .with_style(t.text.clone())
                .with_prefix(msg.id.clone())
                .with_message(msg.status.clone());
            t.multi.add(b)
        });
        bar.set_message(msg.status.clone());
        match msg.progress_detail.as_ref().filter(|p| p.total > 0) {
            Some(p) => {
                bar.set_style(t.bar.clone());
                bar.set_length(p.total.max(0) as u64);
                bar.set_position(p.current.clamp(0, p.total) as u64);
            }
            None => bar.set_style(t.text.clone()),
        }
        Ok(())
    }

    /// Leave every bar drawn in its last state.
    pub fn finish(&mut self) {
        if let Some(t) = self.tty.as_mut() {
            t.freeze();
        }
    }

    /// Show a whole stream; an error in it fails the command with its
    /// message.
    pub async fn run(&mut self, mut messages: JsonMessageStream) -> Result<(), StatusError> {
        let mut result = Ok(());
        while let Some(msg) = messages.next().await {
            match msg {
                Ok(m) => self.show(&m)?,
                Err(e) => {
                    result = Err(StatusError::msg(describe(&e)));
                    break;
                }
            }
        }
        self.finish();
        result
    }
}

/// Drain a stream without showing it (`-q`), keeping its errors.
pub async fn drain(mut messages: JsonMessageStream) -> Result<Display, StatusError> {
    let mut d = Display::new(false);
    while let Some(msg) = messages.next().await {
        let m = msg.map_err(|e| StatusError::msg(describe(&e)))?;
        if let Some(aux) = m.aux {
            d.aux.push(aux);
        } else if m.id.is_empty() && !m.status.is_empty() {
            d.last_status = m.status;
        }
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(json: &str) -> JsonMessage {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn plain_lines_like_docker() {
        let lines: Vec<Option<String>> = [
            r#"{"status":"Pulling from test/busybox","id":"v1"}"#,
            r#"{"status":"Pulling fs layer","progressDetail":{},"id":"0123456789ab"}"#,
            r#"{"status":"Downloading","progressDetail":{"current":10,"total":100},"progress":"[=>  ] 10B/100B","id":"0123456789ab"}"#,
            r#"{"status":"Download complete","progressDetail":{},"id":"0123456789ab"}"#,
            r#"{"status":"Digest: sha256:aa"}"#,
            r#"{"progressDetail":{},"aux":{"Tag":"v1","Digest":"sha256:aa","Size":527}}"#,
            r#"{"stream":"Loaded image: x\n"}"#,
            r#"{"status":"Preparing","progress":"waiting","id":"ab"}"#,
        ]
        .iter()
        .map(|j| plain_line(&msg(j)))
        .collect();
        assert_eq!(
            lines,
            [
                Some("v1: Pulling from test/busybox\n".to_string()),
                Some("0123456789ab: Pulling fs layer\n".to_string()),
                None,
                Some("0123456789ab: Download complete\n".to_string()),
                Some("Digest: sha256:aa\n".to_string()),
                None,
                Some("Loaded image: x\n".to_string()),
                Some("ab: Preparing waiting\n".to_string()),
            ]
        );
    }

    #[test]
    fn counts_like_docker() {
        assert_eq!(counts(1_810_000, 2_140_000), "1.81MB/2.14MB");
        assert_eq!(counts(0, 512), "0B/512B");
    }

    #[tokio::test]
    async fn stream_errors_fail_with_their_message() {
        let items: Vec<pouch_client::Result<JsonMessage>> = vec![
            Ok(msg(r#"{"status":"sha256:0123"}"#)),
            Ok(msg(r#"{"aux":{"ID":"x"}}"#)),
        ];
        let d = drain(Box::pin(futures::stream::iter(items))).await.unwrap();
        assert_eq!(d.last_status, "sha256:0123");
        assert_eq!(d.aux.len(), 1);
        let items: Vec<pouch_client::Result<JsonMessage>> = vec![
            Ok(msg(r#"{"status":"Pulling"}"#)),
            Err(pouch_client::Error::Stream("manifest unknown".into())),
        ];
        let mut d = Display::new(false);
        let e = d
            .run(Box::pin(futures::stream::iter(items)))
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "manifest unknown");
    }
}
