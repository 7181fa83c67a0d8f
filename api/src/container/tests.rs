//! Round-trip tests of container types against JSON captured from Docker.

use serde_json::Value;

use super::*;
use crate::test_util::assert_keys_preserved;

/// `docker run -it busybox sh` as sent by docker CLI 20.10.
const CREATE_CLI: &str = r#"{"Hostname":"","Domainname":"","User":"","AttachStdin":true,"AttachStdout":true,"AttachStderr":true,"Tty":true,"OpenStdin":true,"StdinOnce":true,"Env":[],"Cmd":["sh"],"Image":"busybox","Volumes":{},"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{},"HostConfig":{"Binds":null,"ContainerIDFile":"","LogConfig":{"Type":"","Config":{}},"NetworkMode":"default","PortBindings":{"80/tcp":[{"HostIp":"","HostPort":"8080"}]},"RestartPolicy":{"Name":"no","MaximumRetryCount":0},"AutoRemove":false,"VolumeDriver":"","VolumesFrom":null,"CapAdd":null,"CapDrop":null,"CgroupnsMode":"","Dns":[],"DnsOptions":[],"DnsSearch":[],"ExtraHosts":null,"GroupAdd":null,"IpcMode":"","Cgroup":"","Links":null,"OomScoreAdj":0,"PidMode":"","Privileged":false,"PublishAllPorts":false,"ReadonlyRootfs":false,"SecurityOpt":null,"UTSMode":"","UsernsMode":"","ShmSize":0,"ConsoleSize":[0,0],"Isolation":"","CpuShares":512,"Memory":67108864,"NanoCpus":1500000000,"CgroupParent":"","BlkioWeight":0,"BlkioWeightDevice":[],"BlkioDeviceReadBps":null,"BlkioDeviceWriteBps":null,"BlkioDeviceReadIOps":null,"BlkioDeviceWriteIOps":null,"CpuPeriod":0,"CpuQuota":0,"CpuRealtimePeriod":0,"CpuRealtimeRuntime":0,"CpusetCpus":"","CpusetMems":"","Devices":[],"DeviceCgroupRules":null,"DeviceRequests":null,"KernelMemory":0,"KernelMemoryTCP":0,"MemoryReservation":0,"MemorySwap":-1,"MemorySwappiness":null,"OomKillDisable":false,"PidsLimit":100,"Ulimits":[{"Name":"nofile","Hard":2048,"Soft":1024}],"CpuCount":0,"CpuPercent":0,"IOMaximumIOps":0,"IOMaximumBandwidth":0,"MaskedPaths":null,"ReadonlyPaths":null,"Init":true},"NetworkingConfig":{"EndpointsConfig":{}},"ExposedPorts":{"80/tcp":{}}}"#;

/// A minimal hand-written request with `Cmd`/`Entrypoint` as strings, the
/// way some clients send them.
const CREATE_STRING_CMD: &str = r#"{"Image":"busybox","Cmd":"echo hello","Entrypoint":"/bin/sh -c","Env":null,"Labels":null,"HostConfig":null}"#;

/// `docker inspect` of a running container, Docker 20.10.
const INSPECT: &str = r#"{
  "Id": "5c9a1c4e4e4d2f7e3c8a6c0b1f5d2b7a9e3f1c2d4b6a8e0f1a2b3c4d5e6f7a8b",
  "Created": "2023-03-01T10:00:00.123456789Z",
  "Path": "sh",
  "Args": [],
  "State": {"Status": "running", "Running": true, "Paused": false, "Restarting": false, "OOMKilled": false, "Dead": false, "Pid": 4242, "ExitCode": 0, "Error": "", "StartedAt": "2023-03-01T10:00:01.5Z", "FinishedAt": "0001-01-01T00:00:00Z"},
  "Image": "sha256:7cfbbec8963d8f13e6c70416d6592e1cc10f47a348131290a55d43c3acab3fb9",
  "ResolvConfPath": "/var/lib/docker/containers/5c9a/resolv.conf",
  "HostnamePath": "/var/lib/docker/containers/5c9a/hostname",
  "HostsPath": "/var/lib/docker/containers/5c9a/hosts",
  "LogPath": "/var/lib/docker/containers/5c9a/5c9a-json.log",
  "Name": "/web",
  "RestartCount": 0,
  "Driver": "overlay2",
  "Platform": "linux",
  "MountLabel": "",
  "ProcessLabel": "",
  "AppArmorProfile": "docker-default",
  "ExecIDs": null,
  "HostConfig": {"Binds": ["/tmp:/data:ro"], "ContainerIDFile": "", "LogConfig": {"Type": "json-file", "Config": {}}, "NetworkMode": "default", "PortBindings": {}, "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}, "AutoRemove": false, "VolumeDriver": "", "VolumesFrom": null, "CapAdd": null, "CapDrop": null, "CgroupnsMode": "host", "Dns": [], "DnsOptions": [], "DnsSearch": [], "ExtraHosts": null, "GroupAdd": null, "IpcMode": "private", "Cgroup": "", "Links": null, "OomScoreAdj": 0, "PidMode": "", "Privileged": false, "PublishAllPorts": false, "ReadonlyRootfs": false, "SecurityOpt": null, "UTSMode": "", "UsernsMode": "", "ShmSize": 67108864, "Runtime": "runc", "ConsoleSize": [0, 0], "Isolation": "", "CpuShares": 0, "Memory": 0, "NanoCpus": 0, "CgroupParent": "", "BlkioWeight": 0, "BlkioWeightDevice": [], "BlkioDeviceReadBps": null, "BlkioDeviceWriteBps": null, "BlkioDeviceReadIOps": null, "BlkioDeviceWriteIOps": null, "CpuPeriod": 0, "CpuQuota": 0, "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0, "CpusetCpus": "", "CpusetMems": "", "Devices": [], "DeviceCgroupRules": null, "DeviceRequests": null, "KernelMemory": 0, "KernelMemoryTCP": 0, "MemoryReservation": 0, "MemorySwap": 0, "MemorySwappiness": null, "OomKillDisable": false, "PidsLimit": null, "Ulimits": null, "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0, "IOMaximumBandwidth": 0, "MaskedPaths": ["/proc/asound", "/proc/acpi"], "ReadonlyPaths": ["/proc/bus", "/proc/fs"]},
  "GraphDriver": {"Data": {"LowerDir": "/var/lib/docker/overlay2/abc-init/diff", "MergedDir": "/var/lib/docker/overlay2/abc/merged", "UpperDir": "/var/lib/docker/overlay2/abc/diff", "WorkDir": "/var/lib/docker/overlay2/abc/work"}, "Name": "overlay2"},
  "Mounts": [{"Type": "bind", "Source": "/tmp", "Destination": "/data", "Mode": "ro", "RW": false, "Propagation": "rprivate"}],
  "Config": {"Hostname": "5c9a1c4e4e4d", "Domainname": "", "User": "", "AttachStdin": true, "AttachStdout": true, "AttachStderr": true, "Tty": true, "OpenStdin": true, "StdinOnce": true, "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["sh"], "Image": "busybox", "Volumes": null, "WorkingDir": "", "Entrypoint": null, "OnBuild": null, "Labels": {"app": "web"}},
  "NetworkSettings": {"Bridge": "", "SandboxID": "0a1b2c3d", "HairpinMode": false, "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0, "Ports": {"80/tcp": null, "443/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8443"}]}, "SandboxKey": "/var/run/docker/netns/0a1b2c3d", "SecondaryIPAddresses": null, "SecondaryIPv6Addresses": null, "EndpointID": "e1", "Gateway": "172.17.0.1", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "IPAddress": "172.17.0.2", "IPPrefixLen": 16, "IPv6Gateway": "", "MacAddress": "02:42:ac:11:00:02", "Networks": {"bridge": {"IPAMConfig": null, "Links": null, "Aliases": null, "NetworkID": "n1", "EndpointID": "e1", "Gateway": "172.17.0.1", "IPAddress": "172.17.0.2", "IPPrefixLen": 16, "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "MacAddress": "02:42:ac:11:00:02", "DriverOpts": null}}}
}"#;

const SUMMARY: &str = r#"[{"Id":"5c9a","Names":["/web"],"Image":"busybox","ImageID":"sha256:7cfb","Command":"sh","Created":1677664800,"Ports":[{"IP":"0.0.0.0","PrivatePort":443,"PublicPort":8443,"Type":"tcp"},{"PrivatePort":80,"Type":"tcp"}],"Labels":{"app":"web"},"State":"running","Status":"Up 2 minutes","HostConfig":{"NetworkMode":"default"},"NetworkSettings":{"Networks":{"bridge":{"IPAMConfig":null,"Links":null,"Aliases":null,"NetworkID":"n1","EndpointID":"e1","Gateway":"172.17.0.1","IPAddress":"172.17.0.2","IPPrefixLen":16,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"MacAddress":"02:42:ac:11:00:02","DriverOpts":null}}},"Mounts":[]}]"#;

#[test]
fn create_request_from_docker_cli() {
    let req: ContainerCreateRequest = serde_json::from_str(CREATE_CLI).unwrap();
    assert_eq!(req.config.image, "busybox");
    assert_eq!(req.config.cmd, Some(vec!["sh".to_string()]));
    assert_eq!(req.config.entrypoint, None);
    assert!(req.config.tty && req.config.open_stdin && req.config.attach_stdin);
    assert!(req.config.exposed_ports.contains_key("80/tcp"));
    let hc = &req.host_config;
    assert_eq!(hc.network_mode, "default");
    assert_eq!(hc.cpu_shares, 512);
    assert_eq!(hc.memory, 64 << 20);
    assert_eq!(hc.nano_cpus, 1_500_000_000);
    assert_eq!(hc.memory_swap, -1);
    assert_eq!(hc.pids_limit, Some(100));
    assert_eq!(hc.memory_swappiness, None);
    assert_eq!(hc.oom_kill_disable, Some(false));
    assert_eq!(hc.init, Some(true));
    assert!(hc.binds.is_empty());
    assert_eq!(hc.restart_policy.name, "no");
    assert_eq!(hc.ulimits[0].name, "nofile");
    assert_eq!((hc.ulimits[0].soft, hc.ulimits[0].hard), (1024, 2048));
    let pb = hc.port_bindings["80/tcp"].as_ref().unwrap();
    assert_eq!(pb[0].host_port, "8080");

    let out = serde_json::to_value(&req).unwrap();
    let orig: Value = serde_json::from_str(CREATE_CLI).unwrap();
    assert_keys_preserved(&orig, &out, "");
    let back: ContainerCreateRequest = serde_json::from_value(out).unwrap();
    assert_eq!(back, req);
}

#[test]
fn create_request_with_string_cmd() {
    let req: ContainerCreateRequest = serde_json::from_str(CREATE_STRING_CMD).unwrap();
    assert_eq!(req.config.cmd, Some(vec!["echo hello".to_string()]));
    assert_eq!(req.config.entrypoint, Some(vec!["/bin/sh -c".to_string()]));
    assert!(req.config.env.is_empty());
    assert_eq!(req.host_config, HostConfig::default());
    let json = serde_json::to_string(&req).unwrap();
    let back: ContainerCreateRequest = serde_json::from_str(&json).unwrap();
    assert_eq!(back, req);
}

#[test]
fn create_request_partial_and_wrong_types() {
    let req: ContainerCreateRequest = serde_json::from_str(r#"{"Image":"x"}"#).unwrap();
    assert_eq!(req.config.image, "x");
    assert_eq!(req.config.cmd, None);
    for bad in [
        r#"{"Image":5}"#,
        r#"{"Tty":"yes"}"#,
        r#"{"Cmd":{"a":1}}"#,
        r#"{"HostConfig":{"Memory":"1g"}}"#,
        r#"{"HostConfig":{"Binds":"x"}}"#,
        r#"{"HostConfig":"x"}"#,
        r#"{"NetworkingConfig":{"EndpointsConfig":{"n":{"IPAddress":1}}}}"#,
        r#"{"Env":[1]}"#,
    ] {
        assert!(
            serde_json::from_str::<ContainerCreateRequest>(bad).is_err(),
            "{bad} should fail"
        );
    }
}

#[test]
fn cmd_null_serializes_as_null() {
    let c = Config::default();
    let v = serde_json::to_value(&c).unwrap();
    assert_eq!(v["Cmd"], Value::Null);
    assert_eq!(v["Entrypoint"], Value::Null);
    assert!(v.get("StopTimeout").is_none());
    assert!(v.get("Healthcheck").is_none());
}

#[test]
fn inspect_roundtrip() {
    let i: ContainerInspect = serde_json::from_str(INSPECT).unwrap();
    assert!(i.state.running);
    assert_eq!(i.state.pid, 4242);
    assert_eq!(i.name, "/web");
    assert_eq!(i.exec_ids, None);
    assert_eq!(i.network_settings.ip_address, "172.17.0.2");
    assert_eq!(i.network_settings.ports["80/tcp"], None);
    assert_eq!(
        i.network_settings.ports["443/tcp"].as_ref().unwrap()[0].host_port,
        "8443"
    );
    assert_eq!(i.network_settings.networks["bridge"].network_id, "n1");
    assert_eq!(i.mounts[0].destination, "/data");
    assert!(!i.mounts[0].rw);
    assert_eq!(i.graph_driver.name, "overlay2");
    assert_eq!(i.host_config.shm_size, 64 << 20);
    assert_eq!(i.config.labels["app"], "web");

    let out = serde_json::to_value(&i).unwrap();
    let orig: Value = serde_json::from_str(INSPECT).unwrap();
    assert_keys_preserved(&orig, &out, "");
    assert_eq!(out["State"]["OOMKilled"], Value::Bool(false));
    assert_eq!(out["ExecIDs"], Value::Null);
    assert!(out.get("SizeRw").is_none());
    let back: ContainerInspect = serde_json::from_value(out).unwrap();
    assert_eq!(back, i);
}

#[test]
fn summary_roundtrip() {
    let list: Vec<ContainerSummary> = serde_json::from_str(SUMMARY).unwrap();
    assert_eq!(list[0].names, ["/web"]);
    assert_eq!(list[0].ports[0].public_port, 8443);
    assert_eq!(list[0].ports[1].public_port, 0);
    assert_eq!(list[0].created, 1677664800);
    let out = serde_json::to_value(&list).unwrap();
    let orig: Value = serde_json::from_str(SUMMARY).unwrap();
    assert_keys_preserved(&orig, &out, "");
    // Unpublished ports omit IP and PublicPort, as Docker.
    assert!(out[0]["Ports"][1].get("PublicPort").is_none());
    assert!(out[0]["Ports"][1].get("IP").is_none());
    assert!(out[0].get("SizeRw").is_none());
}

#[test]
fn small_bodies() {
    let w = ContainerWaitResponse::default();
    assert_eq!(
        serde_json::to_string(&w).unwrap(),
        r#"{"StatusCode":0,"Error":null}"#
    );
    let w: ContainerWaitResponse =
        serde_json::from_str(r#"{"StatusCode":137,"Error":{"Message":"killed"}}"#).unwrap();
    assert_eq!(w.status_code, 137);
    assert_eq!(w.error.unwrap().message, "killed");
    let c = ContainerCreateResponse {
        id: "abc".into(),
        warnings: vec![],
    };
    assert_eq!(
        serde_json::to_string(&c).unwrap(),
        r#"{"Id":"abc","Warnings":[]}"#
    );
    let u: ContainerUpdateResponse = serde_json::from_str(r#"{"Warnings":null}"#).unwrap();
    assert!(u.warnings.is_empty());
}
