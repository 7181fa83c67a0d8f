//! The client against a small in-process HTTP server on a unix socket.

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::{StreamExt, TryStreamExt};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use pouch_api::container::ContainerCreateRequest;
use pouch_api::Filters;
use pouch_client::stream::encode_frame;
use pouch_client::{AttachOptions, Client, Error, LogsOptions, StreamKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;

struct Daemon {
    _dir: tempfile::TempDir,
    path: PathBuf,
    connections: Arc<AtomicUsize>,
}

fn json(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

async fn handle(mut req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let resp = match (req.method().as_str(), path.as_str()) {
        ("GET", "/v1.41/_ping") => Response::new(Full::new(Bytes::from_static(b"OK"))),
        ("GET", "/v1.41/version") => json(
            StatusCode::OK,
            serde_json::json!({"Version": "0.1.0", "ApiVersion": "1.41", "Os": "linux"}),
        ),
        ("GET", "/v1.41/info") => json(
            StatusCode::OK,
            serde_json::json!({"NCPU": 2, "RegistryConfig": null, "Name": "host"}),
        ),
        ("POST", "/v1.41/containers/create") => {
            assert_eq!(query, "name=web");
            let body = req.into_body().collect().await.unwrap().to_bytes();
            let create: ContainerCreateRequest = serde_json::from_slice(&body).unwrap();
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            // Config fields are flattened to the top level.
            assert_eq!(v["Image"], "busybox");
            assert_eq!(v["HostConfig"]["Memory"], 1024);
            assert_eq!(create.config.cmd, Some(vec!["true".to_string()]));
            json(
                StatusCode::CREATED,
                serde_json::json!({"Id": "abc123", "Warnings": []}),
            )
        }
        ("POST", "/v1.41/containers/abc123/start") => Response::builder()
            .status(StatusCode::NO_CONTENT)
            .body(Full::default())
            .unwrap(),
        ("POST", "/v1.41/containers/abc123/stop") => {
            assert_eq!(query, "t=3");
            Response::builder()
                .status(StatusCode::NOT_MODIFIED)
                .body(Full::default())
                .unwrap()
        }
        ("GET", "/v1.41/containers/missing/json") => json(
            StatusCode::NOT_FOUND,
            serde_json::json!({"message": "No such container: missing"}),
        ),
        ("GET", "/v1.41/containers/json") => {
            let filters = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("filters="))
                .unwrap();
            let decoded = percent_decode(filters);
            let f = Filters::parse(&decoded).unwrap();
            assert_eq!(f.get("label"), ["a=b"]);
            assert!(query.starts_with("all=1&"));
            json(
                StatusCode::OK,
                serde_json::json!([{"Id": "abc123", "Names": ["/web"], "State": "running"}]),
            )
        }
        ("POST", "/v1.41/containers/abc123/wait") => json(
            StatusCode::OK,
            serde_json::json!({"StatusCode": 3, "Error": null}),
        ),
        ("GET", "/v1.41/containers/abc123/logs") => {
            assert_eq!(query, "stdout=1&stderr=1&tail=2");
            let mut body = BytesMut::new();
            body.extend_from_slice(&encode_frame(StreamKind::Stdout, b"out line\n"));
            body.extend_from_slice(&encode_frame(StreamKind::Stderr, b"err line\n"));
            Response::new(Full::new(body.freeze()))
        }
        ("POST", "/v1.41/containers/abc123/attach") => {
            assert_eq!(
                req.headers().get("upgrade").and_then(|v| v.to_str().ok()),
                Some("tcp")
            );
            let on_upgrade = hyper::upgrade::on(&mut req);
            tokio::spawn(async move {
                let upgraded = on_upgrade.await.unwrap();
                let mut io = TokioIo::new(upgraded);
                io.write_all(&encode_frame(StreamKind::Stderr, b"attached\n"))
                    .await
                    .unwrap();
                // Echo stdin as stdout frames until EOF, then say bye.
                let mut buf = vec![0u8; 1024];
                loop {
                    let n = io.read(&mut buf).await.unwrap();
                    if n == 0 {
                        break;
                    }
                    io.write_all(&encode_frame(StreamKind::Stdout, &buf[..n]))
                        .await
                        .unwrap();
                }
                io.write_all(&encode_frame(StreamKind::Stdout, b"EOF seen\n"))
                    .await
                    .unwrap();
                io.shutdown().await.unwrap();
            });
            Response::builder()
                .status(StatusCode::SWITCHING_PROTOCOLS)
                .header("connection", "Upgrade")
                .header("upgrade", "tcp")
                .body(Full::default())
                .unwrap()
        }
        ("POST", "/v1.41/containers/abc123/exec") => {
            let body = req.into_body().collect().await.unwrap().to_bytes();
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(v["Cmd"], serde_json::json!(["echo", "hi"]));
            assert_eq!(v["AttachStdout"], true);
            json(StatusCode::CREATED, serde_json::json!({"Id": "exec1"}))
        }
        ("POST", "/v1.41/exec/exec1/start") => {
            let upgrade = req
                .headers()
                .get("upgrade")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            assert_eq!(
                req.headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok()),
                Some("application/json")
            );
            let on_upgrade = hyper::upgrade::on(&mut req);
            let body = req.into_body().collect().await.unwrap().to_bytes();
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            if v["Detach"] == true {
                assert_eq!(upgrade, None);
                Response::new(Full::default())
            } else {
                assert_eq!(upgrade.as_deref(), Some("tcp"));
                assert_eq!(v["Tty"], true);
                tokio::spawn(async move {
                    let mut io = TokioIo::new(on_upgrade.await.unwrap());
                    // TTY: raw output.
                    io.write_all(b"hi\r\n").await.unwrap();
                    io.shutdown().await.unwrap();
                });
                Response::builder()
                    .status(StatusCode::SWITCHING_PROTOCOLS)
                    .header("connection", "Upgrade")
                    .header("upgrade", "tcp")
                    .body(Full::default())
                    .unwrap()
            }
        }
        ("GET", "/v1.41/exec/exec1/json") => json(
            StatusCode::OK,
            serde_json::json!({"ID": "exec1", "Running": false, "ExitCode": 127, "ContainerID": "abc123"}),
        ),
        ("POST", "/v1.41/exec/exec1/resize") => {
            assert_eq!(query, "h=40&w=120");
            Response::new(Full::default())
        }
        ("GET", "/v1.41/containers/abc123/top") => {
            assert_eq!(query, "ps_args=-o%20pid");
            json(
                StatusCode::OK,
                serde_json::json!({"Titles": ["PID"], "Processes": [["1"], ["7"]]}),
            )
        }
        ("GET", "/v1.41/containers/abc123/stats") => {
            assert_eq!(query, "stream=1");
            Response::new(Full::new(Bytes::from_static(
                b"{\"id\":\"abc123\",\"name\":\"/web\",\"pids_stats\":{\"current\":2}}\n{\"id\":\"abc123\",\"cpu_stats\":{\"online_cpus\":4}}\n",
            )))
        }
        ("GET", "/v1.41/containers/abc123/changes") => {
            Response::new(Full::new(Bytes::from_static(
                b"[{\"Path\":\"/etc\",\"Kind\":0},{\"Path\":\"/etc/x\",\"Kind\":1}]",
            )))
        }
        ("GET", "/v1.41/containers/nochange/changes") => {
            Response::new(Full::new(Bytes::from_static(b"null")))
        }
        ("GET", "/v1.41/containers/abc123/export") => {
            Response::new(Full::new(Bytes::from_static(b"tar bytes")))
        }
        ("HEAD" | "GET", "/v1.41/containers/abc123/archive") => {
            assert_eq!(query, "path=%2Fetc%2Fhosts");
            // base64 of {"name":"hosts","size":12,"mode":420,"mtime":"2024-01-01T00:00:00Z","linkTarget":""}
            let stat = "eyJuYW1lIjoiaG9zdHMiLCJzaXplIjoxMiwibW9kZSI6NDIwLCJtdGltZSI6IjIwMjQtMDEtMDFUMDA6MDA6MDBaIiwibGlua1RhcmdldCI6IiJ9";
            let body = if req.method() == "GET" {
                "tar of hosts"
            } else {
                ""
            };
            Response::builder()
                .header("X-Docker-Container-Path-Stat", stat)
                .body(Full::new(Bytes::from_static(body.as_bytes())))
                .unwrap()
        }
        ("PUT", "/v1.41/containers/abc123/archive") => {
            assert_eq!(
                query,
                "path=%2Ftmp&noOverwriteDirNonDir=true&copyUIDGID=true"
            );
            let body = req.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(body.as_ref(), b"uploaded tar");
            Response::new(Full::default())
        }
        ("GET", "/v1.41/events") => {
            assert_eq!(query, "since=100&until=200");
            Response::new(Full::new(Bytes::from_static(
                b"{\"status\":\"start\",\"id\":\"abc\",\"Type\":\"container\",\"Action\":\"start\",\"Actor\":{\"ID\":\"abc\",\"Attributes\":{\"name\":\"web\"}},\"time\":150,\"timeNano\":150000000000}\n",
            )))
        }
        ("POST", "/v1.41/images/load") => {
            assert_eq!(
                req.headers().get("content-type").unwrap(),
                "application/x-tar"
            );
            let body = req.into_body().collect().await.unwrap().to_bytes();
            if body.as_ref() == b"good tar bytes" {
                Response::new(Full::new(Bytes::from_static(
                    b"{\"stream\":\"Loaded image: busybox:latest\\n\"}\r\n",
                )))
            } else {
                Response::new(Full::new(Bytes::from_static(
                    b"{\"errorDetail\":{\"message\":\"unexpected EOF\"},\"error\":\"unexpected EOF\"}\r\n",
                )))
            }
        }
        ("DELETE", "/v1.41/images/docker.io/library/busybox:latest") => {
            assert_eq!(query, "force=1");
            json(
                StatusCode::OK,
                serde_json::json!([{"Untagged": "busybox:latest"}, {"Deleted": "sha256:1"}]),
            )
        }
        ("POST", "/v1.41/images/busybox/tag") => {
            assert_eq!(query, "repo=my%2Fbox&tag=v1");
            Response::builder()
                .status(StatusCode::CREATED)
                .body(Full::default())
                .unwrap()
        }
        ("GET", "/v1.41/images/broken/json") => Response::builder()
            .status(StatusCode::INTERNAL_SERVER_ERROR)
            .body(Full::new(Bytes::from_static(b"plain text failure")))
            .unwrap(),
        ("GET", "/v1.41/images/garbage/json") => {
            Response::new(Full::new(Bytes::from_static(b"{\"Id\": 5}")))
        }
        _ => json(
            StatusCode::NOT_FOUND,
            serde_json::json!({"message": format!("page not found: {path}")}),
        ),
    };
    Ok(resp)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 3 <= bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

async fn start_daemon() -> Daemon {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pouchd.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&connections);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(handle))
                    .with_upgrades()
                    .await;
            });
        }
    });
    Daemon {
        _dir: dir,
        path,
        connections,
    }
}

fn client(d: &Daemon) -> Client {
    Client::new(&format!("unix://{}", d.path.display())).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_calls_reuse_one_connection() {
    let d = start_daemon().await;
    let c = client(&d);
    c.ping().await.unwrap();
    let v = c.version().await.unwrap();
    assert_eq!(v.api_version, "1.41");
    let info = c.info().await.unwrap();
    assert_eq!(info.ncpu, 2);
    assert!(info.registry_config.is_none());
    for _ in 0..20 {
        c.ping().await.unwrap();
    }
    // Connections go back to the pool asynchronously (hyper-util returns
    // them from a spawned task), so a request may race its predecessor's
    // return and dial anew; still, most requests must reuse a connection.
    let n = d.connections.load(Ordering::SeqCst);
    eprintln!("connections for 23 sequential requests: {n}");
    assert!(n <= 8, "keep-alive pool not used: {n} connections");

    // Concurrent use from spawned tasks on a multi-thread runtime.
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.version().await.map(|v| v.version) })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), "0.1.0");
    }
}

#[tokio::test]
async fn container_lifecycle_calls() {
    let d = start_daemon().await;
    let c = client(&d);
    let mut req = ContainerCreateRequest::default();
    req.config.image = "busybox".into();
    req.config.cmd = Some(vec!["true".into()]);
    req.host_config.memory = 1024;
    let created = c.containers().create(Some("web"), &req).await.unwrap();
    assert_eq!(created.id, "abc123");
    c.containers().start("abc123").await.unwrap();
    // 304 Not Modified is success, as with Docker's Go client.
    c.containers().stop("abc123", Some(3)).await.unwrap();
    let w = c.containers().wait("abc123", None).await.unwrap();
    assert_eq!(w.status_code, 3);
    let pending = c
        .containers()
        .wait_begin("abc123", Some("next-exit"))
        .await
        .unwrap();
    assert_eq!(pending.await.unwrap().status_code, 3);
    let err = c
        .containers()
        .wait_begin("missing", None)
        .await
        .err()
        .unwrap();
    assert!(err.is_not_found());
    let list = c
        .containers()
        .list(true, None, false, &Filters::new().with("label", "a=b"))
        .await
        .unwrap();
    assert_eq!(list[0].names, ["/web"]);
}

#[tokio::test]
async fn api_errors() {
    let d = start_daemon().await;
    let c = client(&d);
    let err = c.containers().inspect("missing").await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(err.api_message(), Some("No such container: missing"));
    assert_eq!(
        err.to_string(),
        "Error response from daemon: No such container: missing"
    );
    let err = c.images().inspect("broken").await.unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert_eq!(err.api_message(), Some("plain text failure"));
    let err = c.images().inspect("garbage").await.unwrap_err();
    assert!(matches!(err, Error::Decode(_)), "{err:?}");
}

#[tokio::test]
async fn connect_error() {
    let dir = tempfile::tempdir().unwrap();
    let host = format!("unix://{}", dir.path().join("none.sock").display());
    let err = Client::new(&host).unwrap().ping().await.unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    assert!(err.to_string().contains(&host));
}

#[tokio::test]
async fn logs_are_demultiplexed() {
    let d = start_daemon().await;
    let c = client(&d);
    let opts = LogsOptions {
        tail: Some("2".into()),
        ..LogsOptions::default()
    };
    let chunks: Vec<_> = c
        .containers()
        .logs("abc123", &opts)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(chunks.len(), 2);
    assert_eq!(chunks[0].stream, StreamKind::Stdout);
    assert_eq!(chunks[0].data, "out line\n");
    assert_eq!(chunks[1].stream, StreamKind::Stderr);
    assert_eq!(chunks[1].data, "err line\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_with_stdin_half_close() {
    let d = start_daemon().await;
    let c = client(&d);
    let opts = AttachOptions {
        stdin: true,
        ..AttachOptions::default()
    };
    let mut attached = c.containers().attach("abc123", &opts).await.unwrap();
    let first = attached.output.next().await.unwrap().unwrap();
    assert_eq!(first.stream, StreamKind::Stderr);
    assert_eq!(first.data, "attached\n");
    attached.input.write_all(b"hello\n").await.unwrap();
    attached.input.flush().await.unwrap();
    let echo = attached.output.next().await.unwrap().unwrap();
    assert_eq!(
        (echo.stream, echo.data.as_ref()),
        (StreamKind::Stdout, &b"hello\n"[..])
    );
    attached.input.close_write().await.unwrap();
    let rest: Vec<_> = attached.output.try_collect().await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].data, "EOF seen\n");
}

#[tokio::test]
async fn images() {
    let d = start_daemon().await;
    let c = client(&d);
    let body = futures::stream::iter(vec![
        Ok::<_, std::io::Error>(Bytes::from_static(b"good ")),
        Ok(Bytes::from_static(b"tar bytes")),
    ]);
    let msgs: Vec<_> = c
        .images()
        .load(body, true)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(msgs[0].stream, "Loaded image: busybox:latest\n");

    let reader: &'static [u8] = b"bad tar";
    let mut stream = c.images().load_reader(reader, false).await.unwrap();
    match stream.next().await {
        Some(Err(Error::Stream(m))) => assert_eq!(m, "unexpected EOF"),
        other => panic!("unexpected {other:?}"),
    }
    assert!(stream.next().await.is_none());

    let items = c
        .images()
        .remove("docker.io/library/busybox:latest", true, false)
        .await
        .unwrap();
    assert_eq!(items[0].untagged.as_deref(), Some("busybox:latest"));
    assert_eq!(items[1].deleted.as_deref(), Some("sha256:1"));
    c.images()
        .tag("busybox", "my/box", Some("v1"))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_round_trip() {
    use pouch_api::exec::{ExecConfig, ExecStartConfig};
    let d = start_daemon().await;
    let c = client(&d);
    let config = ExecConfig {
        attach_stdout: true,
        attach_stderr: true,
        tty: true,
        cmd: Some(vec!["echo".into(), "hi".into()]),
        ..Default::default()
    };
    let id = c.containers().exec_create("abc123", &config).await.unwrap();
    assert_eq!(id, "exec1");
    let start = ExecStartConfig {
        tty: true,
        ..Default::default()
    };
    let attached = c.exec().exec_start(&id, &start, true).await.unwrap();
    let out: Vec<_> = attached.output.try_collect().await.unwrap();
    let text: Vec<u8> = out.iter().flat_map(|c| c.data.to_vec()).collect();
    assert_eq!(text, b"hi\r\n");
    assert!(out.iter().all(|c| c.stream == StreamKind::Stdout));
    c.exec().exec_start_detached(&id, false).await.unwrap();
    let inspect = c.exec().exec_inspect(&id).await.unwrap();
    assert_eq!(inspect.exit_code, Some(127));
    assert!(!inspect.running);
    c.exec().exec_resize(&id, 40, 120).await.unwrap();
}

#[tokio::test]
async fn container_inspection_streams() {
    let d = start_daemon().await;
    let c = client(&d);
    let top = c.containers().top("abc123", Some("-o pid")).await.unwrap();
    assert_eq!(top.titles, ["PID"]);
    assert_eq!(top.processes, [["1"], ["7"]]);
    let stats: Vec<_> = c
        .containers()
        .stats("abc123", true, false)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(stats.len(), 2);
    assert_eq!(stats[0].name, "/web");
    assert_eq!(stats[0].pids_stats.current, 2);
    assert_eq!(stats[1].cpu_stats.online_cpus, 4);
    let changes = c.containers().changes("abc123").await.unwrap();
    assert_eq!(changes.len(), 2);
    assert_eq!(
        (changes[1].path.as_str(), changes[1].kind_letter()),
        ("/etc/x", "A")
    );
    assert!(c.containers().changes("nochange").await.unwrap().is_empty());
    let export: Vec<_> = c
        .containers()
        .export("abc123")
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(export.concat(), b"tar bytes");
    let events: Vec<_> = c
        .events(Some("100"), Some("200"), &Filters::new())
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor.attributes["name"], "web");
    assert_eq!(events[0].time_nano, 150_000_000_000);
}

#[tokio::test]
async fn archives() {
    let d = start_daemon().await;
    let c = client(&d);
    let st = c
        .containers()
        .archive_stat("abc123", "/etc/hosts")
        .await
        .unwrap();
    assert_eq!((st.name.as_str(), st.size, st.mode), ("hosts", 12, 0o644));
    assert!(!st.is_dir() && !st.is_symlink());
    let (st, body) = c
        .containers()
        .archive_get("abc123", "/etc/hosts")
        .await
        .unwrap();
    assert_eq!(st.name, "hosts");
    let body: Vec<_> = body.try_collect().await.unwrap();
    assert_eq!(body.concat(), b"tar of hosts");
    let opts = pouch_client::ArchivePutOptions {
        no_overwrite_dir_non_dir: true,
        copy_uid_gid: true,
    };
    c.containers()
        .archive_put_reader("abc123", "/tmp", &b"uploaded tar"[..], &opts)
        .await
        .unwrap();
    let err = c
        .containers()
        .archive_stat("missing", "/x")
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
}
