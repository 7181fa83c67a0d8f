//! `/_ping`, `/version`, `/info`.

use super::State;
use crate::mgr::container::Status;
use crate::mgr::system::VERSION;
use axum::http::header::{HeaderMap, HeaderValue, CACHE_CONTROL, PRAGMA};
use axum::response::IntoResponse;
use axum::Json;
use pouch_api::system::{ComponentVersion, Info, Platform, Version};

pub async fn ping() -> impl IntoResponse {
    let mut h = HeaderMap::new();
    h.insert(
        "Api-Version",
        HeaderValue::from_static(pouch_api::API_VERSION),
    );
    h.insert("Docker-Experimental", HeaderValue::from_static("false"));
    h.insert("Ostype", HeaderValue::from_static("linux"));
    h.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    h.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    (h, "OK")
}

pub async fn version(state: State) -> Json<Version> {
    let s = &state.system;
    let component = |name: &str, version: &str| ComponentVersion {
        name: name.to_string(),
        version: version.to_string(),
        details: Default::default(),
    };
    let arch = std::env::consts::ARCH
        .replace("x86_64", "amd64")
        .replace("aarch64", "arm64");
    let git_commit = option_env!("POUCH_GIT_COMMIT")
        .unwrap_or("unknown")
        .to_string();
    // Not a Go program: say so where clients expect a Go version.
    let go_version = "n/a (rust)".to_string();
    let mut engine = component("Engine", VERSION);
    // The docker CLI prints the engine's facts from these details.
    for (k, v) in [
        ("ApiVersion", pouch_api::API_VERSION.to_string()),
        ("MinAPIVersion", pouch_api::MIN_API_VERSION.to_string()),
        ("GitCommit", git_commit.clone()),
        ("GoVersion", go_version.clone()),
        ("Os", "linux".to_string()),
        ("Arch", arch.clone()),
        ("KernelVersion", s.kernel_version.clone()),
        ("Experimental", "false".to_string()),
        ("BuildTime", String::new()),
    ] {
        engine.details.insert(k.to_string(), v);
    }
    Json(Version {
        platform: Platform {
            name: "pouch-rs".to_string(),
        },
        components: vec![
            engine,
            component("containerd", &s.containerd_version),
            component("runc", &s.runc_version),
        ],
        version: VERSION.to_string(),
        api_version: pouch_api::API_VERSION.to_string(),
        min_api_version: pouch_api::MIN_API_VERSION.to_string(),
        git_commit,
        go_version,
        os: "linux".to_string(),
        arch,
        kernel_version: s.kernel_version.clone(),
        experimental: false,
        build_time: String::new(),
    })
}

pub async fn info(state: State) -> Json<Info> {
    let s = &state.system;
    let all = state.containers.all();
    let count =
        |f: &dyn Fn(Status) -> bool| all.iter().filter(|c| f(c.meta().state.status)).count() as i64;
    let running = count(&|st| st == Status::Running);
    let paused = count(&|st| st == Status::Paused);
    let mut info = Info {
        id: s.id.clone(),
        containers: all.len() as i64,
        containers_running: running,
        containers_paused: paused,
        containers_stopped: all.len() as i64 - running - paused,
        images: state.images.list().len() as i64,
        driver: "overlayfs".to_string(),
        system_time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        logging_driver: "json-file".to_string(),
        cgroup_driver: "cgroupfs".to_string(),
        cgroup_version: s.cgroup_version.clone(),
        kernel_version: s.kernel_version.clone(),
        operating_system: s.operating_system.clone(),
        os_type: "linux".to_string(),
        architecture: std::env::consts::ARCH.to_string(),
        ncpu: s.ncpu,
        mem_total: s.mem_total,
        docker_root_dir: s.home_dir.display().to_string(),
        name: s.hostname.clone(),
        server_version: VERSION.to_string(),
        default_runtime: "runc".to_string(),
        index_server_address: "https://index.docker.io/v1/".to_string(),
        debug: s.debug,
        memory_limit: true,
        cpu_cfs_period: true,
        cpu_cfs_quota: true,
        cpu_shares: true,
        cpu_set: true,
        pids_limit: true,
        swap_limit: s.swap_limit,
        oom_kill_disable: s.cgroup_version == "1",
        ipv4_forwarding: s.ipv4_forwarding,
        bridge_nf_iptables: s.bridge_nf_iptables,
        bridge_nf_ip6tables: s.bridge_nf_ip6tables,
        containerd_commit: pouch_api::system::Commit {
            id: s.containerd_version.clone(),
            expected: s.containerd_version.clone(),
        },
        runc_commit: pouch_api::system::Commit {
            id: s.runc_version.clone(),
            expected: s.runc_version.clone(),
        },
        ..Default::default()
    };
    info.plugins.volume = vec!["local".to_string()];
    info.plugins.log = vec!["json-file".to_string()];
    info.plugins.network = vec!["bridge".to_string(), "host".to_string(), "null".to_string()];
    info.runtimes.insert(
        "runc".to_string(),
        pouch_api::system::Runtime {
            path: "runc".to_string(),
            ..Default::default()
        },
    );
    Json(info)
}
