//! The JSON progress stream of pull and push (Docker's `jsonmessage`): the
//! messages the `docker` CLI draws its progress bars from.

use crate::ctrd::BlobStream;
use crate::error::{Error, Result};
use pouch_api::message::{JsonMessage, JsonProgress};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How often byte counters are reported per layer.
const EVERY: Duration = Duration::from_millis(100);

/// Where an operation reports progress. Sending fails once the receiver
/// (the HTTP client) is gone, which cancels the operation.
#[derive(Clone)]
pub struct Progress {
    tx: Option<mpsc::Sender<JsonMessage>>,
}

impl Progress {
    pub fn new(tx: mpsc::Sender<JsonMessage>) -> Self {
        Progress { tx: Some(tx) }
    }

    /// Progress nobody reads (never cancels).
    pub fn discard() -> Self {
        Progress { tx: None }
    }

    pub async fn send(&self, m: JsonMessage) -> Result<()> {
        match &self.tx {
            None => Ok(()),
            Some(tx) => tx.send(m).await.map_err(|_| cancelled()),
        }
    }

    /// `{"status": status, "id": id}` (no id when empty).
    pub async fn status(&self, id: &str, status: &str) -> Result<()> {
        self.send(JsonMessage {
            status: status.to_string(),
            id: id.to_string(),
            progress_detail: (!id.is_empty()).then(JsonProgress::default),
            ..Default::default()
        })
        .await
    }

    /// A byte counter: `{"status":"Downloading","progressDetail":{"current":N,"total":M},...}`.
    pub async fn bytes(&self, id: &str, status: &str, current: u64, total: u64) -> Result<()> {
        self.send(JsonMessage {
            status: status.to_string(),
            id: id.to_string(),
            progress: bar(current, total),
            progress_detail: Some(JsonProgress {
                current: current as i64,
                total: total as i64,
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
    }

    /// Out-of-band data (`{"progressDetail":{},"aux":{...}}`).
    pub async fn aux(&self, value: serde_json::Value) -> Result<()> {
        self.send(JsonMessage {
            progress_detail: Some(JsonProgress::default()),
            aux: Some(value),
            ..Default::default()
        })
        .await
    }
}

/// The error of an operation whose client went away.
pub fn cancelled() -> Error {
    Error::system("the client went away: operation cancelled")
}

/// The 12-hex-digit short form of a digest, as progress IDs are shown.
pub fn short_id(digest: &str) -> String {
    let hex = digest.split_once(':').map(|(_, h)| h).unwrap_or(digest);
    hex.chars().take(12).collect()
}

/// Wraps `inner` so that the bytes passing through are reported as `status`
/// of `id` (at most every 100 ms). A report the client cannot take any more
/// ends the stream with an error, which aborts the transfer.
pub fn counting(
    inner: BlobStream,
    progress: Progress,
    id: String,
    status: &'static str,
    total: u64,
) -> BlobStream {
    struct St {
        inner: BlobStream,
        progress: Progress,
        id: String,
        current: u64,
        last: Option<Instant>,
    }
    let st = St {
        inner,
        progress,
        id,
        current: 0,
        last: None,
    };
    Box::pin(futures::stream::unfold(st, move |mut st| async move {
        use futures::StreamExt;
        let item = st.inner.next().await?;
        if let Ok(chunk) = &item {
            st.current += chunk.len() as u64;
            let due = st.last.is_none_or(|t| t.elapsed() >= EVERY) || st.current >= total;
            if due {
                st.last = Some(Instant::now());
                if st
                    .progress
                    .bytes(&st.id, status, st.current, total)
                    .await
                    .is_err()
                {
                    let e = std::io::Error::other(cancelled().to_string());
                    return Some((Err(e), st));
                }
            }
        }
        Some((item, st))
    }))
}

/// Docker's rendering of a progress bar: `[=====>      ]  1.2MB/3.4MB`.
fn bar(current: u64, total: u64) -> String {
    if total == 0 {
        return format!("{:>8}", human_size(current));
    }
    let pct = ((current as f64 / total as f64 * 100.0) as usize / 2).min(50);
    format!(
        "[{}>{}] {:>8}/{}",
        "=".repeat(pct),
        " ".repeat(50 - pct),
        human_size(current),
        human_size(total)
    )
}

/// Docker's `units.HumanSize`: decimal units, 4 significant digits.
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i < UNITS.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    let int_digits = if v < 1.0 {
        1
    } else {
        (v.log10().floor() as usize) + 1
    };
    let decimals = 4usize.saturating_sub(int_digits);
    let mut s = format!("{v:.decimals$}");
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    format!("{s}{}", UNITS[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_docker() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(1000), "1kB");
        assert_eq!(human_size(1_200_000), "1.2MB");
        assert_eq!(human_size(1_048_576), "1.049MB");
        assert_eq!(human_size(123_456_789), "123.5MB");
    }

    #[test]
    fn progress_bar() {
        let b = bar(50, 100);
        assert!(b.starts_with("[=========================>"), "{b}");
        assert!(b.ends_with("50B/100B"), "{b}");
        assert_eq!(short_id("sha256:0123456789abcdef"), "0123456789ab");
    }

    #[tokio::test]
    async fn counting_reports_and_cancels() {
        let (tx, mut rx) = mpsc::channel(16);
        let chunks: Vec<std::io::Result<bytes::Bytes>> = vec![
            Ok(bytes::Bytes::from_static(b"abc")),
            Ok(bytes::Bytes::from_static(b"de")),
        ];
        let s = counting(
            Box::pin(futures::stream::iter(chunks)),
            Progress::new(tx),
            "id".into(),
            "Downloading",
            5,
        );
        use futures::StreamExt;
        let got: Vec<_> = s.collect().await;
        assert!(got.iter().all(|r| r.is_ok()));
        let first = rx.recv().await.unwrap();
        assert_eq!(first.progress_detail.unwrap().current, 3);
        let last = rx.recv().await.unwrap();
        assert_eq!(last.progress_detail.unwrap().current, 5);

        // A client that went away ends the transfer with an error.
        drop(rx);
        let (tx, rx) = mpsc::channel(1);
        drop(rx);
        let chunks: Vec<std::io::Result<bytes::Bytes>> = vec![Ok(bytes::Bytes::from_static(b"x"))];
        let mut s = counting(
            Box::pin(futures::stream::iter(chunks)),
            Progress::new(tx),
            "id".into(),
            "Downloading",
            1,
        );
        assert!(s.next().await.unwrap().is_err());
    }
}
