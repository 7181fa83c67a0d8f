//! A process's output to every attached client, without loss: each client
//! has a bounded queue, and a client that reads slowly slows the copier (and
//! so the process's writes), as Docker's attach does. A client that goes
//! away is dropped.

use super::io::OutputChunk;
use std::sync::Mutex;
use tokio::sync::mpsc;

/// Chunks (of up to 32 KiB) queued per client before the copier waits.
const QUEUE: usize = 64;

#[derive(Default)]
pub struct Fanout {
    // std lock: held to copy or prune the list, never across an await.
    subscribers: Mutex<Vec<mpsc::Sender<OutputChunk>>>,
}

/// One client's view of the output from the moment it subscribed.
pub struct Subscription(mpsc::Receiver<OutputChunk>);

impl Subscription {
    /// The next chunk; `None` once the process's output is gone for good.
    pub async fn recv(&mut self) -> Option<OutputChunk> {
        self.0.recv().await
    }
}

impl Fanout {
    pub fn subscribe(&self) -> Subscription {
        let (tx, rx) = mpsc::channel(QUEUE);
        self.lock().push(tx);
        Subscription(rx)
    }

    /// Hands `chunk` to every client, waiting for room in each queue.
    pub async fn send(&self, chunk: OutputChunk) {
        let subscribers: Vec<_> = self.lock().clone();
        if subscribers.is_empty() {
            return;
        }
        let mut gone = false;
        for tx in &subscribers {
            gone |= tx.send(chunk.clone()).await.is_err();
        }
        if gone {
            self.lock().retain(|tx| !tx.is_closed());
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<mpsc::Sender<OutputChunk>>> {
        self.subscribers.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mgr::container::StreamKind;
    use bytes::Bytes;

    fn data(i: u32) -> OutputChunk {
        OutputChunk::Data(StreamKind::Stdout, Bytes::from(i.to_string()))
    }

    #[tokio::test]
    async fn a_slow_client_loses_nothing_and_a_gone_one_is_dropped() {
        let f = std::sync::Arc::new(Fanout::default());
        let mut slow = f.subscribe();
        let gone = f.subscribe();
        drop(gone);
        let sender = {
            let f = f.clone();
            tokio::spawn(async move {
                for i in 0..(QUEUE as u32 * 4) {
                    f.send(data(i)).await;
                }
                f.send(OutputChunk::End).await;
            })
        };
        let mut got = Vec::new();
        while let Some(c) = slow.recv().await {
            match c {
                OutputChunk::Data(_, b) => got.push(String::from_utf8_lossy(&b).into_owned()),
                OutputChunk::End => break,
            }
            tokio::task::yield_now().await;
        }
        sender.await.expect("sender");
        let want: Vec<String> = (0..(QUEUE as u32 * 4)).map(|i| i.to_string()).collect();
        assert_eq!(got, want);
        assert_eq!(f.lock().len(), 1, "the dropped client is pruned");
    }
}
