//! Image and registry calls of the client against a recording HTTP server
//! on a unix socket: what goes on the wire, and how answers decode.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use base64::Engine;
use bytes::Bytes;
use futures::TryStreamExt;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use pouch_api::image::AuthConfig;
use pouch_api::Filters;
use pouch_client::{Client, CommitOptions, Error, ImportOptions, PullOptions};
use tokio::net::UnixListener;

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    /// Path and query, without the version prefix.
    uri: String,
    auth: Option<String>,
    content_type: Option<String>,
    body: Vec<u8>,
}

// A std mutex: held only to push or read, never across an await.
type Log = Arc<Mutex<Vec<Seen>>>;

fn answer(uri: &str) -> (u16, String) {
    let path = uri.split('?').next().unwrap_or("");
    match path {
        "/images/create" if uri.contains("fromImage=private") => (
            200,
            concat!(
                r#"{"status":"Pulling from private","id":"v1"}"#,
                "\n",
                r#"{"errorDetail":{"message":"unauthorized: no"},"error":"unauthorized: no"}"#,
                "\n"
            )
            .into(),
        ),
        "/images/create" => (
            200,
            concat!(
                r#"{"status":"Pulling from library/busybox","id":"latest"}"#,
                "\n",
                r#"{"status":"sha256:0123"}"#,
                "\n"
            )
            .into(),
        ),
        "/images/127.0.0.1:5000/x/push" => (200, r#"{"status":"The push refers to repository [127.0.0.1:5000/x]"}"#.into()),
        "/auth" => (200, r#"{"Status":"Login Succeeded","IdentityToken":""}"#.into()),
        "/images/get" => (200, "TARBYTES".into()),
        "/commit" => (201, r#"{"Id":"sha256:c0ffee"}"#.into()),
        "/images/busybox/history" => (
            200,
            r#"[{"Id":"sha256:01","Created":1,"CreatedBy":"CMD","Tags":["busybox:latest"],"Size":0,"Comment":""}]"#
                .into(),
        ),
        "/images/prune" => (
            200,
            r#"{"ImagesDeleted":[{"Deleted":"sha256:01"}],"SpaceReclaimed":7}"#.into(),
        ),
        _ => (404, r#"{"message":"page not found"}"#.into()),
    }
}

async fn handle(log: Log, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let uri = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().trim_start_matches("/v1.41").to_string())
        .unwrap_or_default();
    let mut seen = Seen {
        method: req.method().to_string(),
        uri,
        auth: header("x-registry-auth"),
        content_type: header("content-type"),
        body: Vec::new(),
    };
    seen.body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    let (status, body) = answer(&seen.uri);
    log.lock().unwrap().push(seen);
    Ok(Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap())
}

async fn start() -> (tempfile::TempDir, Client, Log) {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("d.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let log: Log = Arc::default();
    let server_log = log.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let log = server_log.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| handle(log.clone(), req));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    let client = Client::new(&format!("unix://{}", sock.display())).unwrap();
    (dir, client, log)
}

fn last(log: &Log) -> Seen {
    log.lock().unwrap().last().cloned().expect("a request")
}

fn decode_auth(header: &str) -> serde_json::Value {
    let raw = base64::engine::general_purpose::URL_SAFE
        .decode(header)
        .expect("base64url");
    serde_json::from_slice(&raw).expect("JSON auth")
}

#[tokio::test]
async fn pull_and_push_send_credentials() {
    let (_dir, c, log) = start().await;
    let auth = AuthConfig {
        username: "tester".into(),
        password: "s3cret".into(),
        serveraddress: "127.0.0.1:5000".into(),
        ..Default::default()
    };
    let opts = PullOptions {
        platform: Some("linux/amd64".into()),
        auth: Some(auth.clone()),
    };
    let msgs: Vec<_> = c
        .images()
        .pull("busybox", Some("latest"), &opts)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[1].status, "sha256:0123");
    let s = last(&log);
    assert_eq!(s.method, "POST");
    assert_eq!(
        s.uri,
        "/images/create?fromImage=busybox&tag=latest&platform=linux%2Famd64"
    );
    let sent = decode_auth(s.auth.as_deref().expect("X-Registry-Auth"));
    assert_eq!(sent["username"], "tester");
    assert_eq!(sent["password"], "s3cret");
    assert_eq!(sent["serveraddress"], "127.0.0.1:5000");

    // Anonymous: an empty object, as docker sends.
    let err = c
        .images()
        .pull("private", Some("v1"), &PullOptions::default())
        .await
        .unwrap()
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Stream(m) if m == "unauthorized: no"),
        "{err}"
    );
    assert_eq!(
        decode_auth(&last(&log).auth.unwrap()),
        serde_json::json!({})
    );

    c.images()
        .push("127.0.0.1:5000/x", Some("v1"), Some(&auth))
        .await
        .unwrap()
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    let s = last(&log);
    assert_eq!(s.uri, "/images/127.0.0.1:5000/x/push?tag=v1");
    assert_eq!(decode_auth(&s.auth.unwrap())["username"], "tester");

    let r = c.login(&auth).await.unwrap();
    assert_eq!(r.status, "Login Succeeded");
    let s = last(&log);
    assert_eq!((s.method.as_str(), s.uri.as_str()), ("POST", "/auth"));
    let body: serde_json::Value = serde_json::from_slice(&s.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"username":"tester","password":"s3cret","serveraddress":"127.0.0.1:5000"})
    );
}

#[tokio::test]
async fn save_import_commit_history_prune() {
    let (_dir, c, log) = start().await;
    let tar: Vec<Bytes> = c
        .images()
        .save(&["busybox", "my/img:v1"])
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(tar.concat(), b"TARBYTES");
    assert_eq!(
        last(&log).uri,
        "/images/get?names=busybox&names=my%2Fimg%3Av1"
    );

    let opts = ImportOptions {
        repo: Some("imported:v1".into()),
        changes: vec!["ENV A=b".into()],
        ..Default::default()
    };
    let msgs: Vec<_> = c
        .images()
        .import_reader(&b"rootfs tar"[..], &opts)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(msgs.last().unwrap().status, "sha256:0123");
    let s = last(&log);
    assert_eq!(
        s.uri,
        "/images/create?fromSrc=-&repo=imported%3Av1&changes=ENV%20A%3Db"
    );
    assert_eq!(s.body, b"rootfs tar");
    assert_eq!(s.content_type.as_deref(), Some("application/x-tar"));
    c.images()
        .import_url("http://h/r.tar", &ImportOptions::default())
        .await
        .unwrap()
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    assert!(last(&log).body.is_empty());

    let commit = CommitOptions {
        repo: Some("my/img".into()),
        tag: Some("v2".into()),
        comment: Some("msg".into()),
        pause: false,
        changes: vec!["CMD [\"sh\"]".into(), "ENV A=b".into()],
        ..Default::default()
    };
    assert_eq!(
        c.images().commit("c1", &commit).await.unwrap(),
        "sha256:c0ffee"
    );
    let s = last(&log);
    assert_eq!(
        s.uri,
        "/commit?container=c1&repo=my%2Fimg&tag=v2&comment=msg&pause=0\
         &changes=CMD%20%5B%22sh%22%5D&changes=ENV%20A%3Db"
    );
    assert!(s.body.is_empty() && s.content_type.is_none(), "{s:?}");
    c.images()
        .commit("c1", &CommitOptions::default())
        .await
        .unwrap();
    assert_eq!(last(&log).uri, "/commit?container=c1");

    let h = c.images().history("busybox").await.unwrap();
    assert_eq!(h[0].tags, ["busybox:latest"]);

    let mut f = Filters::new();
    f.add("dangling", "false".to_string());
    let p = c.images().prune(&f).await.unwrap();
    assert_eq!(p.space_reclaimed, 7);
    assert_eq!(
        last(&log).uri,
        "/images/prune?filters=%7B%22dangling%22%3A%7B%22false%22%3Atrue%7D%7D"
    );

    let e = c.images().history("nope").await.unwrap_err();
    assert!(e.is_not_found(), "{e}");
}
