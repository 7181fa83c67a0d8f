//! Container API helpers over bollard (a real Docker API client), shared by
//! the integration tests: create/run/inspect/wait with clear panics.

use crate::wait_for_async;
use bollard::errors::Error as BollardError;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerStateStatusEnum, ContainerSummary,
};
use bollard::query_parameters::{
    CreateContainerOptions, ListContainersOptions, WaitContainerOptions,
};
use bollard::Docker;
use futures::StreamExt;
use std::path::Path;
use std::time::Duration;

/// A create body for busybox running `cmd`.
pub fn body(cmd: &[&str]) -> ContainerCreateBody {
    ContainerCreateBody {
        image: Some("busybox".to_string()),
        cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
        ..Default::default()
    }
}

/// Creates a container (named unless `name` is empty); returns its ID.
pub async fn create(docker: &Docker, name: &str, b: ContainerCreateBody) -> String {
    let opts = (!name.is_empty()).then(|| CreateContainerOptions {
        name: Some(name.to_string()),
        ..Default::default()
    });
    let r = docker
        .create_container(opts, b)
        .await
        .unwrap_or_else(|e| panic!("create {name}: {e}"));
    assert_eq!(r.id.len(), 64, "id {:?}", r.id);
    r.id
}

/// Creates and starts a busybox container running `cmd`.
pub async fn run(docker: &Docker, name: &str, cmd: &[&str]) -> String {
    let id = create(docker, name, body(cmd)).await;
    docker
        .start_container(&id, None)
        .await
        .unwrap_or_else(|e| panic!("start {name}: {e}"));
    id
}

/// Inspects `id`; panics if that fails.
pub async fn inspect(docker: &Docker, id: &str) -> ContainerInspectResponse {
    docker
        .inspect_container(id, None)
        .await
        .unwrap_or_else(|e| panic!("inspect {id}: {e}"))
}

/// `State.Status` of `id`.
pub async fn status(docker: &Docker, id: &str) -> ContainerStateStatusEnum {
    inspect(docker, id)
        .await
        .state
        .and_then(|s| s.status)
        .expect("State.Status")
}

/// The exit code from a wait response (bollard turns non-zero codes into errors).
pub fn wait_code(r: Option<Result<bollard::models::ContainerWaitResponse, BollardError>>) -> i64 {
    match r {
        Some(Ok(w)) => w.status_code,
        Some(Err(BollardError::DockerContainerWaitError { code, .. })) => code,
        other => panic!("unexpected wait result {other:?}"),
    }
}

/// `POST /containers/{id}/wait?condition=`: the exit code (30 s limit).
pub async fn wait(docker: &Docker, id: &str, condition: &str) -> i64 {
    let opts = WaitContainerOptions {
        condition: condition.to_string(),
    };
    let mut s = docker.wait_container(id, Some(opts));
    let r = tokio::time::timeout(Duration::from_secs(30), s.next())
        .await
        .unwrap_or_else(|_| panic!("wait {condition} on {id} did not return"));
    wait_code(r)
}

/// Polls until `id` has status `want` (20 s limit).
pub async fn wait_status(docker: &Docker, id: &str, want: ContainerStateStatusEnum) {
    wait_for_async(
        &format!("{id} to be {want:?}"),
        Duration::from_secs(20),
        || async { (status(docker, id).await == want).then_some(()) },
    )
    .await
}

/// The HTTP status of an error response.
pub fn server_status(e: &BollardError) -> u16 {
    match e {
        BollardError::DockerResponseServerError { status_code, .. } => *status_code,
        other => panic!("expected an error response, got {other:?}"),
    }
}

/// Waits until `p` exists (20 s limit).
pub async fn wait_file(p: &Path) {
    wait_for_async(
        &format!("{}", p.display()),
        Duration::from_secs(20),
        || async { p.exists().then_some(()) },
    )
    .await
}

/// Container `id` as `GET /containers/json?all=1` lists it.
pub async fn listed(docker: &Docker, id: &str) -> ContainerSummary {
    let all = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            ..Default::default()
        }))
        .await
        .unwrap_or_else(|e| panic!("list: {e}"));
    all.into_iter()
        .find(|c| c.id.as_deref() == Some(id))
        .unwrap_or_else(|| panic!("{id} not listed"))
}
