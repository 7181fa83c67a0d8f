//! Container output through bollard and the docker CLI: `logs --follow`
//! while the container runs and ends, and attached output to a slow client.

use bollard::models::ContainerStateStatusEnum;
use bollard::query_parameters::LogsOptions;
use futures::StreamExt;
use pouch_tests::containers_api::*;
use pouch_tests::TestDaemon;
use std::time::{Duration, Instant};

/// Follow ends once the container exits (whatever the content).
#[tokio::test(flavor = "multi_thread")]
async fn logs_follow_ends_when_container_exits() {
    let Some(d) = TestDaemon::start() else { return };
    let docker = d.bollard();
    let id = run(
        &docker,
        "follow-end",
        &[
            "sh",
            "-c",
            "for i in 1 2 3; do echo line$i; sleep 0.2; done",
        ],
    )
    .await;
    let opts = LogsOptions {
        follow: true,
        stdout: true,
        stderr: true,
        ..Default::default()
    };
    let start = Instant::now();
    let mut s = docker.logs(&id, Some(opts));
    let ended = tokio::time::timeout(Duration::from_secs(15), async {
        while let Some(item) = s.next().await {
            item.expect("log stream item");
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "logs --follow did not end after the container exited"
    );
    assert!(
        start.elapsed() >= Duration::from_millis(300),
        "ended too early"
    );
    wait_status(&docker, &id, ContainerStateStatusEnum::EXITED).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_follow_content() {
    let Some(d) = TestDaemon::start() else { return };
    let docker = d.bollard();
    let id = run(
        &docker,
        "follow-content",
        &[
            "sh",
            "-c",
            // The last write is not right before the exit: see
            // logs_follow_ends_after_a_burst for that case.
            "echo bad >&2; for i in 1 2 3; do echo line$i; sleep 0.2; done",
        ],
    )
    .await;
    let opts = LogsOptions {
        follow: true,
        stdout: true,
        stderr: true,
        ..Default::default()
    };
    let mut s = docker.logs(&id, Some(opts));
    let mut out = String::new();
    let mut err = String::new();
    tokio::time::timeout(Duration::from_secs(15), async {
        while let Some(item) = s.next().await {
            match item.expect("log item") {
                bollard::container::LogOutput::StdOut { message } => {
                    out.push_str(&String::from_utf8_lossy(&message))
                }
                bollard::container::LogOutput::StdErr { message } => {
                    err.push_str(&String::from_utf8_lossy(&message))
                }
                other => panic!("unexpected log frame {other:?}"),
            }
        }
    })
    .await
    .expect("follow ends");
    assert_eq!(out, "line1\nline2\nline3\n");
    assert_eq!(err, "bad\n");
    // Without follow, with tail.
    let opts = LogsOptions {
        stdout: true,
        tail: "1".into(),
        ..Default::default()
    };
    let lines: Vec<String> = docker
        .logs(&id, Some(opts))
        .map(|i| i.expect("log item").to_string())
        .collect()
        .await;
    assert_eq!(lines.concat(), "line3\n");
}

/// Follow ends even when the last lines are written just before the exit,
/// and delivers all of them.
#[tokio::test(flavor = "multi_thread")]
async fn logs_follow_ends_after_a_burst() {
    let Some(d) = TestDaemon::start() else { return };
    let docker = d.bollard();
    let id = run(
        &docker,
        "burst",
        &["sh", "-c", "sleep 0.3; seq 1 20000; echo end >&2"],
    )
    .await;
    let opts = LogsOptions {
        follow: true,
        stdout: true,
        stderr: true,
        ..Default::default()
    };
    let mut s = docker.logs(&id, Some(opts));
    let mut out = String::new();
    let mut err = String::new();
    let ended = tokio::time::timeout(Duration::from_secs(15), async {
        while let Some(item) = s.next().await {
            match item.expect("log item") {
                bollard::container::LogOutput::StdOut { message } => {
                    out.push_str(&String::from_utf8_lossy(&message))
                }
                bollard::container::LogOutput::StdErr { message } => {
                    err.push_str(&String::from_utf8_lossy(&message))
                }
                other => panic!("unexpected log frame {other:?}"),
            }
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "logs --follow still open 15 s after the container exited ({} stdout lines so far, stderr {err:?}, status {:?})",
        out.lines().count(),
        status(&docker, &id).await
    );
    assert_eq!(out.lines().count(), 20000);
    assert_eq!(out.lines().last(), Some("20000"));
    assert_eq!(err, "end\n");
}

#[test]
fn a_slow_attached_client_gets_every_byte() {
    let Some(d) = TestDaemon::start() else { return };
    // 20 MB through `docker run` (attach) into a reader that starts only
    // after 8 s: the pipe and socket buffers fill and the client falls far
    // behind the container, which must wait for it rather than lose output.
    let o = d.docker_sh(
        "\"$DOCKER\" run --rm busybox sh -c 'yes 0123456789 | head -c 20000000' \
         | (sleep 8; wc -c)",
    );
    assert_eq!(o.ok().trim(), "20000000", "{o:?}");
}
