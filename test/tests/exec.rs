//! exec: `docker exec` and the exec API (create, start attached or detached,
//! inspect) through bollard and raw HTTP.

use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::Docker;
use futures::StreamExt;
use pouch_tests::{wait_for, wait_for_async, TestDaemon};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Starts `sleep 1000` named `name` with the docker CLI.
fn sleeper(d: &TestDaemon, name: &str) -> String {
    d.docker_ok(&["run", "-d", "--name", name, "busybox", "sleep", "1000"])
}

#[test]
fn exec_output_and_exit_codes() {
    let Some(d) = TestDaemon::start() else { return };
    sleeper(&d, "ex1");
    let o = d.docker_run(&["exec", "ex1", "echo", "hello", "world"]);
    assert_eq!(o.ok(), "hello world\n", "stderr {:?}", o.stderr);

    let o = d.docker_run(&["exec", "ex1", "sh", "-c", "echo out; echo err >&2"]);
    assert_eq!(o.ok(), "out\n");
    assert_eq!(o.stderr, "err\n");

    let o = d.docker_run(&["exec", "ex1", "sh", "-c", "exit 7"]);
    assert_eq!(o.code(), 7, "stdout {:?} stderr {:?}", o.stdout, o.stderr);
    let o = d.docker_run(&["exec", "ex1", "false"]);
    assert_eq!(o.code(), 1, "stdout {:?} stderr {:?}", o.stdout, o.stderr);

    // A command that does not exist: 127 and runc's message.
    let o = d.docker_run(&["exec", "ex1", "no-such-cmd"]);
    assert_eq!(o.code(), 127, "stdout {:?} stderr {:?}", o.stdout, o.stderr);
    let all = format!("{}{}", o.stdout, o.stderr);
    assert!(
        all.contains("no-such-cmd") && all.contains("executable file not found"),
        "runc's message is missing: {all:?}"
    );
    let o = d.docker_run(&["exec", "ex1", "/no/such/path"]);
    assert_eq!(o.code(), 127, "stdout {:?} stderr {:?}", o.stdout, o.stderr);
    assert!(
        format!("{}{}", o.stdout, o.stderr).contains("/no/such/path"),
        "{o:?}"
    );
    // The container is unharmed by failed execs.
    assert_eq!(d.inspect_field("ex1", "{{.State.Status}}"), "running");
}

#[test]
fn exec_options() {
    let Some(d) = TestDaemon::start() else { return };
    sleeper(&d, "ex2");
    // -i with piped stdin and EOF.
    let o = d.docker_stdin(&["exec", "-i", "ex2", "cat"], b"piped\n");
    assert_eq!(o.ok(), "piped\n", "stderr {:?}", o.stderr);
    let o = d.docker_stdin(&["exec", "-i", "ex2", "wc", "-l"], b"1\n2\n3\n4\n");
    assert_eq!(o.ok().trim(), "4");
    // Without -i stdin is not connected.
    let o = d.docker_stdin(&["exec", "ex2", "cat"], b"not sent\n");
    assert_eq!(o.ok(), "", "stdin reached an exec without -i");

    assert_eq!(
        d.docker_ok(&["exec", "-u", "pouchtest", "ex2", "id", "-u"]),
        "1000"
    );
    assert_eq!(
        d.docker_ok(&["exec", "-u", "1234:5678", "ex2", "id"])
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>(),
        ["uid=1234", "gid=5678"]
    );
    assert_eq!(d.docker_ok(&["exec", "ex2", "id", "-u"]), "0");
    // A user added inside the running container is known to later execs.
    d.docker_ok(&[
        "exec",
        "ex2",
        "sh",
        "-c",
        "echo 'late:x:4321:4321:late:/home/late:/bin/sh' >> /etc/passwd",
    ]);
    assert_eq!(
        d.docker_ok(&["exec", "-u", "late", "ex2", "id", "-u"]),
        "4321"
    );
    let o = d.docker_run(&["exec", "-u", "nosuchuser", "ex2", "id"]);
    assert_ne!(o.code(), 0, "{o:?}");
    // Docker writes the failure into the exec's output stream.
    assert!(o.stdout.contains("unable to find user nosuchuser"), "{o:?}");
    assert_eq!(d.docker_ok(&["exec", "-w", "/tmp", "ex2", "pwd"]), "/tmp");
    assert_eq!(d.docker_ok(&["exec", "ex2", "pwd"]), "/");
    assert_eq!(
        d.docker_ok(&[
            "exec",
            "-e",
            "A=1",
            "-e",
            "B=two words",
            "ex2",
            "sh",
            "-c",
            "echo $A-$B"
        ]),
        "1-two words"
    );
    // The container's environment is inherited.
    let env = d.docker_ok(&["exec", "ex2", "env"]);
    assert!(env.lines().any(|l| l.starts_with("PATH=")), "{env}");

    // -d: the process runs on its own; a later exec sees its work.
    let out = d.docker_ok(&[
        "exec",
        "-d",
        "ex2",
        "sh",
        "-c",
        "sleep 0.3; echo done > /tmp/detached",
    ]);
    assert_eq!(out, "", "exec -d printed {out:?}");
    wait_for("the detached exec's file", Duration::from_secs(20), || {
        let o = d.docker_run(&["exec", "ex2", "cat", "/tmp/detached"]);
        (o.status.success() && o.stdout == "done\n").then_some(())
    });

    // -t: a terminal.
    let out = d.docker_ok(&["exec", "-t", "ex2", "tty"]);
    let tty = out.trim();
    assert!(
        tty.starts_with("/dev/pts/") && tty["/dev/pts/".len()..].parse::<u32>().is_ok(),
        "tty printed {out:?}"
    );
    // Without -t, no terminal.
    let o = d.docker_run(&["exec", "ex2", "tty"]);
    assert_eq!(o.stdout.trim(), "not a tty", "{o:?}");
    assert_eq!(o.code(), 1);
    // A TTY exec's exit code propagates as well.
    let o = d.docker_run(&["exec", "-t", "ex2", "sh", "-c", "exit 5"]);
    assert_eq!(o.code(), 5, "{o:?}");
}

#[test]
fn exec_in_stopped_or_paused_container_is_409() {
    let Some(d) = TestDaemon::start() else { return };
    let body = serde_json::json!({"Cmd": ["true"], "AttachStdout": true});

    // Created, never started.
    d.docker_ok(&["create", "--name", "created", "busybox", "sleep", "1000"]);
    let r = d.post_json("/v1.41/containers/created/exec", &body);
    let m = r.expect_error(409);
    assert!(m.contains("not running"), "{m}");
    let o = d.docker_run(&["exec", "created", "true"]);
    assert!(o.stderr.contains("is not running"), "{o:?}");
    assert_ne!(o.code(), 0);

    // Exited.
    d.docker_ok(&["run", "--name", "exited", "busybox", "true"]);
    let r = d.post_json("/v1.41/containers/exited/exec", &body);
    r.expect_error(409);

    // Paused.
    sleeper(&d, "paused");
    d.docker_ok(&["pause", "paused"]);
    let r = d.post_json("/v1.41/containers/paused/exec", &body);
    let m = r.expect_error(409);
    assert!(m.contains("paused"), "{m}");
    let o = d.docker_run(&["exec", "paused", "true"]);
    assert_ne!(o.code(), 0);
    assert!(o.stderr.contains("paused"), "{o:?}");
    // And once unpaused it works.
    d.docker_ok(&["unpause", "paused"]);
    assert_eq!(d.docker_ok(&["exec", "paused", "echo", "back"]), "back");

    // Unknown container and unknown exec: 404.
    d.post_json("/v1.41/containers/nope/exec", &body)
        .expect_error(404);
    d.get_ok("/v1.41/exec/0123456789abcdef/json")
        .expect_error(404);
    d.post_json("/v1.41/exec/0123456789abcdef/start", &serde_json::json!({}))
        .expect_error(404);
    // An exec without a command: 400.
    d.post_json(
        "/v1.41/containers/paused/exec",
        &serde_json::json!({"AttachStdout": true}),
    )
    .expect_error(400);
}

/// Output of an attached exec started with bollard: (stdout, stderr).
async fn collect(docker: &Docker, exec: &str) -> (String, String) {
    let started = docker
        .start_exec(exec, None::<StartExecOptions>)
        .await
        .unwrap_or_else(|e| panic!("start_exec {exec}: {e}"));
    let StartExecResults::Attached { mut output, .. } = started else {
        panic!("start_exec returned Detached");
    };
    let mut out = String::new();
    let mut err = String::new();
    tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(item) = output.next().await {
            match item.expect("exec output item") {
                bollard::container::LogOutput::StdOut { message } => {
                    out.push_str(&String::from_utf8_lossy(&message))
                }
                bollard::container::LogOutput::StdErr { message } => {
                    err.push_str(&String::from_utf8_lossy(&message))
                }
                other => panic!("unexpected frame {other:?}"),
            }
        }
    })
    .await
    .expect("exec output ends");
    (out, err)
}

async fn create_exec(docker: &Docker, container: &str, cmd: &[&str]) -> String {
    docker
        .create_exec(
            container,
            CreateExecOptions {
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                cmd: Some(cmd.to_vec()),
                ..Default::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("create_exec {cmd:?}: {e}"))
        .id
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_api_through_bollard() {
    let Some(d) = TestDaemon::start() else { return };
    let docker = d.bollard();
    let cid = sleeper(&d, "api");

    // Attached, with stdout and stderr apart, and the exit code after.
    let id = create_exec(&docker, "api", &["sh", "-c", "echo o; echo e >&2; exit 7"]).await;
    let i = docker.inspect_exec(&id).await.unwrap();
    assert_eq!(i.running, Some(false), "{i:?}");
    assert_eq!(i.container_id.as_deref(), Some(cid.as_str()));
    let (out, err) = collect(&docker, &id).await;
    assert_eq!(out, "o\n");
    assert_eq!(err, "e\n");
    let start = std::time::Instant::now();
    let i = loop {
        let i = docker.inspect_exec(&id).await.unwrap();
        if i.running == Some(false) && i.exit_code.is_some() {
            break i;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the exec's output ended but it is not done after 10 s: {}",
            d.get_ok(&format!("/v1.41/exec/{id}/json")).text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(i.exit_code, Some(7), "{i:?}");
    let pc = i.process_config.expect("ProcessConfig");
    assert_eq!(pc.entrypoint.as_deref(), Some("sh"));
    assert_eq!(
        pc.arguments,
        Some(vec![
            "-c".to_string(),
            "echo o; echo e >&2; exit 7".to_string()
        ])
    );

    // The container lists its execs.
    let c = docker.inspect_container("api", None).await.unwrap();
    let ids = c.exec_ids.unwrap_or_default();
    assert!(ids.contains(&id), "ExecIDs {ids:?} lacks {id}");

    // Stdin through the hijacked connection, ended by closing our side.
    let id = docker
        .create_exec(
            "api",
            CreateExecOptions {
                attach_stdin: Some(true),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                cmd: Some(vec!["sh", "-c", "cat; echo eof-seen"]),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id;
    let StartExecResults::Attached {
        mut output,
        mut input,
    } = docker.start_exec(&id, None).await.unwrap()
    else {
        panic!("detached")
    };
    input.write_all(b"from bollard\n").await.unwrap();
    input.flush().await.unwrap();
    input.shutdown().await.unwrap();
    let mut out = String::new();
    tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(item) = output.next().await {
            out.push_str(&item.expect("item").to_string());
        }
    })
    .await
    .unwrap_or_else(|_| panic!("stdin EOF did not end the exec; output so far {out:?}"));
    assert_eq!(out, "from bollard\neof-seen\n");

    // Detached start; the exec shows as running with a null ExitCode until
    // it ends.
    let sync = "/tmp/exec-go";
    let id = create_exec(
        &docker,
        "api",
        &[
            "sh",
            "-c",
            &format!("while [ ! -e {sync} ]; do sleep 0.05; done; exit 3"),
        ],
    )
    .await;
    let r = docker
        .start_exec(
            &id,
            Some(StartExecOptions {
                detach: true,
                ..Default::default()
            }),
        )
        .await
        .unwrap();
    assert!(matches!(r, StartExecResults::Detached), "{r:?}");
    let raw = wait_for_async("the exec to run", Duration::from_secs(10), || async {
        let v = d.get_ok(&format!("/v1.41/exec/{id}/json")).json();
        (v["Running"] == true).then_some(v)
    })
    .await;
    assert!(
        raw.get("ExitCode").is_some() && raw["ExitCode"].is_null(),
        "ExitCode should be null while running: {raw}"
    );
    assert!(raw["Pid"].as_u64().unwrap_or(0) > 0, "{raw}");
    assert_eq!(raw["ID"], id.as_str());
    assert_eq!(raw["ContainerID"], cid.as_str());
    // Starting it again is refused.
    let e = docker.start_exec(&id, None).await;
    let refused = match e {
        Err(bollard::errors::Error::DockerResponseServerError { status_code, .. }) => {
            status_code == 409
        }
        _ => false,
    };
    assert!(refused, "a second start of a running exec was not a 409");
    let touch = create_exec(&docker, "api", &["touch", sync]).await;
    let _ = collect(&docker, &touch).await;
    let raw = wait_for_async("the exec to end", Duration::from_secs(10), || async {
        let v = d.get_ok(&format!("/v1.41/exec/{id}/json")).json();
        (v["Running"] == false).then_some(v)
    })
    .await;
    assert_eq!(raw["ExitCode"], 3, "{raw}");
}

#[test]
fn exec_ids_in_container_inspect() {
    let Some(d) = TestDaemon::start() else { return };
    sleeper(&d, "ids");
    assert_eq!(d.inspect_field("ids", "{{len .ExecIDs}}"), "0");
    let r = d.post_json(
        "/v1.41/containers/ids/exec",
        &serde_json::json!({"Cmd": ["true"]}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["Id"].as_str().expect("Id").to_string();
    assert_eq!(id.len(), 64, "{id}");
    let ids = d.inspect_raw("ids")["ExecIDs"].clone();
    assert_eq!(ids, serde_json::json!([id]), "{ids}");
    // Inspect of a created, never started exec.
    let v = d.get_ok(&format!("/v1.41/exec/{id}/json")).json();
    assert_eq!(v["Running"], false, "{v}");
    assert!(v["ExitCode"].is_null(), "{v}");
    assert_eq!(v["ProcessConfig"]["entrypoint"], "true", "{v}");
}
