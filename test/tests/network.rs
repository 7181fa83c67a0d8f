//! The default bridge network and published ports, against a real
//! containerd, pouchd and the CNI plugins: addresses, container-to-container
//! traffic, ports published on 127.0.0.1, and that nothing (veths, netns
//! mounts, iptables rules, leases) outlives a container, even across a
//! daemon crash. The only addresses used are 127.0.0.1 and the containers'.

use pouch_tests::net::{bridge_ports, container_rules_of, link_exists, rules_of};
use pouch_tests::{wait_for, TestDaemon};
use std::io::Read;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::time::Duration;

/// A port nothing listens on right now.
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A busybox server answering `text` to each connection on port 80.
const SERVE: &str = "while true; do echo \"$TEXT\" | nc -l -p 80; done";

/// What a connection to 127.0.0.1:port reads, once the server answers.
fn fetch(port: u16, want: &str) -> String {
    wait_for(
        &format!("{want:?} on 127.0.0.1:{port}"),
        Duration::from_secs(20),
        || {
            let mut s = TcpStream::connect_timeout(
                &(Ipv4Addr::LOCALHOST, port).into(),
                Duration::from_secs(2),
            )
            .ok()?;
            s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
            out.contains(want).then_some(out)
        },
    )
}

fn netns_files(d: &TestDaemon) -> Vec<String> {
    std::fs::read_dir(d.dir.join("run/netns"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn netns_mounts(d: &TestDaemon) -> Vec<String> {
    pouch_tests::cleanup::mounts_under(&d.dir.join("run/netns"))
}

/// Nothing of a container's network is left: no veth on the bridge, no
/// iptables rule of the daemon's CNI network, no namespace.
#[track_caller]
fn assert_released(d: &TestDaemon) {
    assert_eq!(
        bridge_ports(&d.net.bridge),
        Vec::<String>::new(),
        "veths left"
    );
    assert_eq!(
        container_rules_of(&d.net.bridge),
        Vec::<String>::new(),
        "iptables rules left"
    );
    assert_eq!(netns_files(d), Vec::<String>::new(), "netns files left");
    assert_eq!(netns_mounts(d), Vec::<String>::new(), "netns mounts left");
}

fn ip_of(d: &TestDaemon, name: &str) -> String {
    d.inspect_field(name, "{{.NetworkSettings.IPAddress}}")
}

#[test]
fn bridge_addresses_and_peers() {
    let Some(d) = TestDaemon::start() else { return };
    d.docker_ok(&["run", "-d", "--name", "ca", "busybox", "sleep", "1000"]);
    d.docker_ok(&["run", "-d", "--name", "cb", "busybox", "sleep", "1000"]);
    let (ip_a, ip_b) = (ip_of(&d, "ca"), ip_of(&d, "cb"));
    let prefix = d.net.prefix();
    assert!(ip_a.starts_with(&prefix), "{ip_a} not in {prefix}0/24");
    assert!(ip_b.starts_with(&prefix), "{ip_b} not in {prefix}0/24");
    assert_ne!(ip_a, ip_b);
    assert!(link_exists(&d.net.bridge));
    assert_eq!(bridge_ports(&d.net.bridge).len(), 2);

    let f = |field: &str| d.inspect_field("ca", field);
    assert_eq!(f("{{.NetworkSettings.Gateway}}"), format!("{prefix}1"));
    assert_eq!(f("{{.NetworkSettings.IPPrefixLen}}"), "24");
    assert_eq!(f("{{.NetworkSettings.Bridge}}"), d.net.bridge);
    assert_eq!(f("{{.NetworkSettings.Networks.bridge.IPAddress}}"), ip_a);
    assert_eq!(
        f("{{.NetworkSettings.Networks.bridge.Gateway}}"),
        format!("{prefix}1")
    );
    let mac = f("{{.NetworkSettings.MacAddress}}");
    assert_eq!(mac.len(), 17, "{mac}");
    assert_eq!(f("{{.NetworkSettings.Networks.bridge.MacAddress}}"), mac);
    assert_eq!(
        f("{{len .NetworkSettings.Networks.bridge.NetworkID}}"),
        "64"
    );
    assert_eq!(
        f("{{len .NetworkSettings.Networks.bridge.EndpointID}}"),
        "64"
    );
    assert_eq!(f("{{len .NetworkSettings.SandboxID}}"), "64");
    let sandbox = f("{{.NetworkSettings.SandboxKey}}");
    assert!(std::path::Path::new(&sandbox).exists(), "{sandbox}");

    // What the container sees agrees with inspect.
    let addr = d.docker_ok(&["exec", "ca", "ip", "-4", "addr", "show", "eth0"]);
    assert!(addr.contains(&format!("{ip_a}/24")), "{addr}");
    let own_mac = d.docker_ok(&["exec", "ca", "cat", "/sys/class/net/eth0/address"]);
    assert_eq!(own_mac, mac);
    // The loopback interface is up (pouchd brings it up in the namespace).
    d.docker_ok(&["exec", "ca", "ping", "-c1", "-W2", "127.0.0.1"]);
    let route = d.docker_ok(&["exec", "ca", "ip", "route"]);
    assert!(route.contains(&format!("default via {prefix}1")), "{route}");
    let hosts = d.docker_ok(&["exec", "ca", "cat", "/etc/hosts"]);
    assert!(hosts.contains(&ip_a), "{hosts}");
    let resolv = d.docker_ok(&["exec", "ca", "cat", "/etc/resolv.conf"]);
    assert!(!resolv.contains("nameserver 127."), "{resolv}");
    let lo = d.docker_ok(&["exec", "ca", "ip", "link", "show", "lo"]);
    assert!(lo.contains("UP"), "{lo}");

    // Container to container, and host to container.
    d.docker_ok(&["exec", "ca", "ping", "-c1", "-W5", &ip_b]);
    d.docker_ok(&["exec", "cb", "ping", "-c1", "-W5", &ip_a]);
    let served = d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "srv",
        "-e",
        "TEXT=peer-hello",
        "busybox",
        "sh",
        "-c",
        SERVE,
    ]);
    let ip_srv = ip_of(&d, &served);
    let got = wait_for("nc from a to srv", Duration::from_secs(20), || {
        let o = d.docker_run(&["exec", "ca", "nc", "-w", "2", &ip_srv, "80"]);
        o.stdout.contains("peer-hello").then_some(o.stdout)
    });
    assert!(got.contains("peer-hello"));
    // Outbound traffic is masqueraded: one rule for the subnet, as Docker
    // has, not one per container.
    let nat = pouch_tests::net::nat_rules();
    let masq: Vec<String> = rules_of(&d.net.bridge)
        .into_iter()
        .filter(|r| r.contains("-j MASQUERADE"))
        .collect();
    assert_eq!(masq.len(), 1, "{nat}");
    assert!(
        masq[0].starts_with(&format!(
            "-A POSTROUTING -s {prefix}0/24 ! -o {} ",
            d.net.bridge
        )),
        "{nat}"
    );
    assert!(!nat.contains(&format!("-s {ip_a}/32")), "{nat}");

    // A restarted container is on the bridge again.
    d.docker_ok(&["restart", "-t", "1", "ca"]);
    let ip_a2 = ip_of(&d, "ca");
    assert!(ip_a2.starts_with(&prefix), "{ip_a2}");
    d.docker_ok(&["exec", "cb", "ping", "-c1", "-W5", &ip_a2]);

    d.docker_ok(&["rm", "-f", "ca", "cb", "srv"]);
    assert_released(&d);
    // The bridge itself stays, as docker0 does.
    assert!(link_exists(&d.net.bridge));
}

#[test]
fn none_and_host_stay_off_the_bridge() {
    let Some(d) = TestDaemon::start() else { return };
    d.docker_ok(&[
        "run", "-d", "--name", "nn", "--net", "none", "busybox", "sleep", "1000",
    ]);
    assert_eq!(ip_of(&d, "nn"), "");
    assert_eq!(
        d.inspect_field(
            "nn",
            "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}"
        ),
        "none"
    );
    assert!(netns_files(&d).is_empty());
    d.docker_ok(&["rm", "-f", "nn"]);
}

#[test]
fn docker_run_publishes_a_port_on_localhost() {
    let Some(d) = TestDaemon::start() else { return };
    let port = free_port();
    let id = d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-e",
        "TEXT=hello-from-web",
        "-p",
        &format!("127.0.0.1:{port}:80"),
        "busybox",
        "sh",
        "-c",
        SERVE,
    ]);
    fetch(port, "hello-from-web");
    assert_eq!(
        d.docker_ok(&["port", "web"]),
        format!("80/tcp -> 127.0.0.1:{port}")
    );
    assert_eq!(
        d.docker_ok(&["port", "web", "80/tcp"]),
        format!("127.0.0.1:{port}")
    );
    assert_eq!(
        d.pouch_ok(&["port", "web"]),
        format!("80/tcp -> 127.0.0.1:{port}")
    );
    let ports = d.inspect_field("web", "{{json .NetworkSettings.Ports}}");
    let v: serde_json::Value = serde_json::from_str(&ports).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": port.to_string()}]})
    );
    let ps = d.docker_ok(&["ps", "--format", "{{.Ports}}"]);
    assert_eq!(ps, format!("127.0.0.1:{port}->80/tcp"));
    let list = d.get_ok("/v1.41/containers/json").json();
    assert_eq!(
        list[0]["Ports"],
        serde_json::json!([{"IP": "127.0.0.1", "PrivatePort": 80, "PublicPort": port, "Type": "tcp"}])
    );
    assert!(!container_rules_of(&d.net.bridge).is_empty());

    // A host port left to the daemon, and -P.
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "any",
        "-e",
        "TEXT=any-port",
        "-p",
        "127.0.0.1::80",
        "busybox",
        "sh",
        "-c",
        SERVE,
    ]);
    let chosen: u16 = d
        .inspect_field(
            "any",
            "{{(index (index .NetworkSettings.Ports \"80/tcp\") 0).HostPort}}",
        )
        .parse()
        .expect("a host port");
    assert_ne!(chosen, port);
    fetch(chosen, "any-port");
    d.docker_ok(&[
        "run", "-d", "--name", "all", "--expose", "7000", "-P", "busybox", "sleep", "1000",
    ]);
    let all = d.docker_ok(&["port", "all"]);
    assert!(all.starts_with("7000/tcp -> 0.0.0.0:"), "{all}");

    // Stopped: nothing published, nothing left; still on the bridge network.
    let net_id = d.inspect_field("web", "{{.NetworkSettings.Networks.bridge.NetworkID}}");
    let web_ip = ip_of(&d, "web");
    d.docker_ok(&["stop", "-t", "1", "web"]);
    // Gone by the time stop returns, as with Docker.
    let rules = container_rules_of(&d.net.bridge);
    assert!(
        !rules
            .iter()
            .any(|r| r.contains(&format!("{web_ip}/32")) || r.contains(&id)),
        "{rules:?}"
    );
    assert!(!netns_files(&d).contains(&id));
    assert_eq!(
        d.inspect_field("web", "{{.NetworkSettings.Networks.bridge.NetworkID}}"),
        net_id
    );
    let listed = d.docker_ok(&["network", "inspect", "-f", "{{.Id}}", "bridge"]);
    assert_eq!(listed, net_id);
    assert_eq!(
        d.inspect_field("web", "{{json .NetworkSettings.Ports}}"),
        "{}"
    );
    assert_eq!(d.inspect_field("web", "{{.NetworkSettings.IPAddress}}"), "");
    assert!(
        TcpStream::connect_timeout(&(Ipv4Addr::LOCALHOST, port).into(), Duration::from_secs(1))
            .is_err(),
        "port {port} still answers after stop"
    );
    // Started again: published again.
    d.docker_ok(&["start", "web"]);
    fetch(port, "hello-from-web");
    d.docker_ok(&["rm", "-f", &id, "any", "all"]);
    assert_released(&d);
}

#[test]
fn port_conflicts_and_bad_specs_are_docker_errors() {
    let Some(d) = TestDaemon::start() else { return };
    let port = free_port();
    let p = format!("127.0.0.1:{port}:80");
    d.docker_ok(&[
        "run", "-d", "--name", "first", "-p", &p, "busybox", "sleep", "1000",
    ]);
    let o = d.docker_run(&[
        "run", "-d", "--name", "second", "-p", &p, "busybox", "sleep", "1000",
    ]);
    let err = o.failed();
    assert!(err.contains("port is already allocated"), "{err}");
    assert_eq!(d.inspect_field("second", "{{.State.Running}}"), "false");

    // A port a host process holds.
    let holder = TcpListener::bind("127.0.0.1:0").unwrap();
    let held = holder.local_addr().unwrap().port();
    let o = d.docker_run(&[
        "run",
        "-d",
        "-p",
        &format!("127.0.0.1:{held}:80"),
        "busybox",
        "sleep",
        "1000",
    ]);
    assert!(
        o.failed().contains(&format!("127.0.0.1:{held}")),
        "{}",
        o.stderr
    );
    drop(holder);

    let create = |bindings: serde_json::Value| {
        d.post_json(
            "/v1.41/containers/create",
            &serde_json::json!({"Image": "busybox", "Cmd": ["true"],
                "HostConfig": {"PortBindings": bindings}}),
        )
    };
    for bad in [
        serde_json::json!({"80/tcp": [{"HostIp": "not-an-ip", "HostPort": "8080"}]}),
        serde_json::json!({"80/tcp": [{"HostIp": "", "HostPort": "99999"}]}),
        serde_json::json!({"x/tcp": [{"HostIp": "", "HostPort": "8080"}]}),
        serde_json::json!({"80/icmp": [{"HostIp": "", "HostPort": "8080"}]}),
    ] {
        let r = create(bad.clone());
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        assert!(r.json()["message"].is_string(), "{}", r.text());
    }

    // Networks: the three built-in ones; user-defined ones are refused.
    let ls = d.docker_ok(&["network", "ls", "--format", "{{.Name}} {{.Driver}}"]);
    let mut names: Vec<&str> = ls.lines().collect();
    names.sort();
    assert_eq!(names, ["bridge bridge", "host host", "none null"]);
    let subnet = d.docker_ok(&[
        "network",
        "inspect",
        "-f",
        "{{(index .IPAM.Config 0).Subnet}}",
        "bridge",
    ]);
    assert_eq!(subnet, format!("{}0/24", d.net.prefix()));
    let members = d.docker_ok(&[
        "network",
        "inspect",
        "-f",
        "{{range .Containers}}{{.Name}} {{end}}",
        "bridge",
    ]);
    assert_eq!(members.trim(), "first");
    let o = d.docker_run(&["network", "create", "-d", "overlay", "mynet"]);
    assert!(
        o.failed().contains("plugin \"overlay\" not found"),
        "{}",
        o.stderr
    );
    let o = d.docker_run(&["network", "create", "--ipv6", "mynet"]);
    assert!(o.failed().contains("IPv6"), "{}", o.stderr);
    let o = d.docker_run(&["network", "rm", "bridge"]);
    assert!(o.failed().contains("pre-defined"), "{}", o.stderr);
    let r = d.get_ok("/v1.41/networks/nosuch");
    assert_eq!(r.status, 404);
    let r = d.post_json(
        "/v1.41/containers/create",
        &serde_json::json!({"Image": "busybox", "HostConfig": {"NetworkMode": "mynet"}}),
    );
    assert_eq!(r.status, 404, "{}", r.text());

    d.docker_ok(&["rm", "-f", "first", "second"]);
    assert_released(&d);
}

#[test]
fn daemon_crash_releases_stopped_and_keeps_running() {
    let Some(mut d) = TestDaemon::start() else {
        return;
    };
    let port = free_port();
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "keep",
        "-e",
        "TEXT=still-here",
        "-p",
        &format!("127.0.0.1:{port}:80"),
        "busybox",
        "sh",
        "-c",
        SERVE,
    ]);
    let doomed_port = free_port();
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "doomed",
        "-p",
        &format!("127.0.0.1:{doomed_port}:80"),
        "busybox",
        "sleep",
        "1000",
    ]);
    fetch(port, "still-here");
    let doomed_ip = ip_of(&d, "doomed");
    let doomed_id = d.inspect_field("doomed", "{{.Id}}");
    let pid: i32 = d.inspect_field("doomed", "{{.State.Pid}}").parse().unwrap();
    assert_eq!(bridge_ports(&d.net.bridge).len(), 2);

    // The daemon dies; then a container ends while nobody watches.
    d.kill9();
    pouch_tests::cleanup::sigkill(pid);
    wait_for("doomed's process to go", Duration::from_secs(10), || {
        pouch_tests::cleanup::is_gone(pid).then_some(())
    });
    d.restart();

    wait_for("doomed to be seen exited", Duration::from_secs(20), || {
        (d.inspect_field("doomed", "{{.State.Status}}") == "exited").then_some(())
    });
    assert_eq!(ip_of(&d, "doomed"), "");
    assert!(!netns_files(&d).contains(&doomed_id));
    assert_eq!(bridge_ports(&d.net.bridge).len(), 1);
    let rules = container_rules_of(&d.net.bridge);
    assert!(!rules.iter().any(|r| r.contains(&doomed_ip)), "{rules:?}");
    assert!(!rules.iter().any(|r| r.contains(&doomed_id)), "{rules:?}");
    let leases = d
        .dir
        .join("run/cni/ipam")
        .join(&d.net.bridge)
        .join(&doomed_ip);
    assert!(!leases.exists(), "lease of {doomed_ip} kept");

    // The running one kept its address and its port.
    fetch(port, "still-here");
    assert_eq!(
        d.docker_ok(&["port", "keep"]),
        format!("80/tcp -> 127.0.0.1:{port}")
    );
    // Its port is still its own.
    let o = d.docker_run(&[
        "run",
        "-d",
        "-p",
        &format!("127.0.0.1:{port}:80"),
        "busybox",
        "sleep",
        "1000",
    ]);
    assert!(o.failed().contains("already allocated"), "{}", o.stderr);

    d.docker_ok(&["rm", "-f", "keep", "doomed"]);
    let leftovers: Vec<String> = d
        .docker_ok(&["ps", "-aq"])
        .lines()
        .map(str::to_string)
        .collect();
    for id in leftovers {
        d.docker_ok(&["rm", "-f", &id]);
    }
    assert_released(&d);
}

/// The harness's own cleanup: a daemon dropped with a publishing container
/// still running leaves no bridge, rule or chain of its network behind.
#[test]
fn harness_cleanup_removes_a_daemons_network() {
    let Some(d) = TestDaemon::start() else { return };
    let port = free_port();
    d.docker_ok(&[
        "run",
        "-d",
        "-p",
        &format!("127.0.0.1:{port}:80"),
        "busybox",
        "sleep",
        "1000",
    ]);
    let bridge = d.net.bridge.clone();
    let rules = rules_of(&bridge);
    assert!(rules.len() >= 2, "{rules:?}");
    let chains: Vec<String> = rules
        .iter()
        .filter_map(|r| r.split(" -j ").nth(1))
        .filter(|c| c.starts_with("CNI-") && !c.starts_with("CNI-HOSTPORT-"))
        .map(|c| c.trim().to_string())
        .collect();
    assert!(!chains.is_empty(), "{rules:?}");
    drop(d);
    assert!(!link_exists(&bridge), "bridge {bridge} left");
    assert_eq!(rules_of(&bridge), Vec::<String>::new());
    let nat = pouch_tests::net::nat_rules();
    for c in chains {
        assert!(!nat.contains(&format!(":{c} ")), "chain {c} left: {nat}");
    }
}

#[test]
fn pouch_run_publishes_a_port() {
    let Some(d) = TestDaemon::start() else { return };
    let port = free_port();
    d.pouch_ok(&[
        "run",
        "-d",
        "--name",
        "pweb",
        "-e",
        "TEXT=from-pouch",
        "-p",
        &format!("127.0.0.1:{port}:80"),
        "busybox",
        "sh",
        "-c",
        SERVE,
    ]);
    fetch(port, "from-pouch");
    assert_eq!(
        d.pouch_ok(&["port", "pweb", "80"]),
        format!("127.0.0.1:{port}")
    );
    assert_eq!(
        d.pouch_ok(&["ps", "--format", "{{.Ports}}"]),
        format!("127.0.0.1:{port}->80/tcp")
    );
    d.pouch_ok(&["rm", "-f", "pweb"]);
    assert_released(&d);
}

#[test]
fn restart_policy_runs_get_a_fresh_network_without_leaks() {
    let Some(d) = TestDaemon::start() else { return };
    let port = free_port();
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "flaky",
        "--restart",
        "always",
        "-p",
        &format!("127.0.0.1:{port}:80"),
        "busybox",
        "sh",
        "-c",
        "sleep 1; exit 3",
    ]);
    wait_for("two restarts", Duration::from_secs(30), || {
        let n: u32 = d.inspect_field("flaky", "{{.RestartCount}}").parse().ok()?;
        (n >= 2 && d.inspect_field("flaky", "{{.State.Running}}") == "true").then_some(())
    });
    assert!(ip_of(&d, "flaky").starts_with(&d.net.prefix()));
    assert_eq!(
        bridge_ports(&d.net.bridge).len(),
        1,
        "one veth, not one per run"
    );
    assert_eq!(netns_files(&d).len(), 1);
    assert_eq!(
        d.docker_ok(&["port", "flaky"]),
        format!("80/tcp -> 127.0.0.1:{port}")
    );
    d.docker_ok(&["rm", "-f", "flaky"]);
    assert_released(&d);
}
