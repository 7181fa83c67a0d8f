//! User-defined bridge networks against a real containerd, pouchd and the
//! CNI plugins, driven by the docker CLI and docker-compose: subnets from the
//! daemon's pool, containers finding each other by name and alias, connect
//! and disconnect of running containers, and that removing a network leaves
//! no bridge or rule behind. Only addresses of the test's own networks are
//! used.

use pouch_tests::net::{link_exists, rules_of};
use pouch_tests::{wait_for, TestDaemon};
use std::time::Duration;

fn net_field(d: &TestDaemon, net: &str, format: &str) -> String {
    d.docker_ok(&["network", "inspect", "-f", format, net])
}

/// `getent`-free name lookup inside a container: busybox ping resolves
/// through /etc/hosts and prints the address.
fn resolves(d: &TestDaemon, from: &str, name: &str) -> String {
    let o = d.docker_run(&["exec", from, "ping", "-c1", "-W3", name]);
    assert!(
        o.status.success(),
        "{from} cannot reach {name}: {} {}",
        o.stdout,
        o.stderr
    );
    let line = o.stdout.lines().next().unwrap_or_default().to_string();
    // PING name (10.214.x.y): 56 data bytes
    line.split(['(', ')'])
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

#[test]
fn containers_on_a_user_network_reach_each_other_by_name() {
    let Some(d) = TestDaemon::start() else { return };
    let id = d.docker_ok(&["network", "create", "--label", "team=a", "appnet"]);
    assert_eq!(id.len(), 64, "{id}");
    let subnet = net_field(&d, "appnet", "{{range .IPAM.Config}}{{.Subnet}}{{end}}");
    assert!(subnet.starts_with(&d.net.pool_prefix()), "{subnet}");
    assert!(subnet.ends_with("/28"), "{subnet}");
    assert_eq!(net_field(&d, "appnet", "{{.Driver}}"), "bridge");
    assert_eq!(net_field(&d, "appnet", "{{.Labels.team}}"), "a");
    let ls = d.docker_ok(&[
        "network",
        "ls",
        "--filter",
        "type=custom",
        "--format",
        "{{.Name}}",
    ]);
    assert_eq!(ls, "appnet");
    let err = d.docker_run(&["network", "create", "appnet"]);
    assert!(err.stderr.contains("already exists"), "{}", err.stderr);

    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "db",
        "--network",
        "appnet",
        "--network-alias",
        "database",
        "busybox",
        "sleep",
        "1000",
    ]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "appnet",
        "busybox",
        "sleep",
        "1000",
    ]);
    let db_ip = d.inspect_field("db", "{{.NetworkSettings.Networks.appnet.IPAddress}}");
    let web_ip = d.inspect_field("web", "{{.NetworkSettings.Networks.appnet.IPAddress}}");
    assert!(db_ip.starts_with(&d.net.pool_prefix()), "{db_ip}");
    // The top-level fields describe the default bridge only, as Docker's.
    assert_eq!(d.inspect_field("db", "{{.NetworkSettings.IPAddress}}"), "");
    let aliases = d.inspect_field("db", "{{.NetworkSettings.Networks.appnet.Aliases}}");
    assert!(aliases.contains("database"), "{aliases}");
    // By name and alias, both ways, whoever started first.
    assert_eq!(resolves(&d, "web", "db"), db_ip);
    assert_eq!(resolves(&d, "web", "database"), db_ip);
    assert_eq!(resolves(&d, "db", "web"), web_ip);
    let members = net_field(&d, "appnet", "{{range .Containers}}{{.Name}} {{end}}");
    assert!(
        members.contains("db") && members.contains("web"),
        "{members}"
    );

    // Outbound NAT: one rule for the network's subnet.
    let bridge = format!("br-{}", &id[..12]);
    assert!(link_exists(&bridge));
    let masq = rules_of(&bridge);
    assert_eq!(masq.len(), 1, "{masq:?}");
    assert!(masq[0].contains(&format!("-s {subnet}")), "{masq:?}");

    // In use: the network stays.
    let o = d.docker_run(&["network", "rm", "appnet"]);
    assert!(!o.status.success());
    assert!(o.stderr.contains("active endpoints"), "{}", o.stderr);

    // A container that leaves is forgotten by the others.
    d.docker_ok(&["rm", "-f", "web"]);
    let hosts = d.docker_ok(&["exec", "db", "cat", "/etc/hosts"]);
    assert!(!hosts.contains("web"), "{hosts}");
    d.docker_ok(&["rm", "-f", "db"]);
    d.docker_ok(&["network", "rm", "appnet"]);
    assert!(!link_exists(&bridge), "bridge {bridge} left");
    assert_eq!(rules_of(&bridge), Vec::<String>::new());
    let o = d.docker_run(&["network", "inspect", "appnet"]);
    assert!(!o.status.success());
}

#[test]
fn connect_and_disconnect_a_running_container() {
    let Some(d) = TestDaemon::start() else { return };
    d.docker_ok(&[
        "network",
        "create",
        "--subnet",
        &format!("{}16/28", d.net.pool_prefix()),
        "back",
    ]);
    d.docker_ok(&["run", "-d", "--name", "api", "busybox", "sleep", "1000"]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "store",
        "--network",
        "back",
        "--ip",
        &format!("{}20", d.net.pool_prefix()),
        "busybox",
        "sleep",
        "1000",
    ]);
    assert_eq!(
        d.inspect_field("store", "{{.NetworkSettings.Networks.back.IPAddress}}"),
        format!("{}20", d.net.pool_prefix())
    );
    d.docker_ok(&["network", "connect", "--alias", "gateway", "back", "api"]);
    let back_ip = d.inspect_field("api", "{{.NetworkSettings.Networks.back.IPAddress}}");
    assert!(back_ip.starts_with(&d.net.pool_prefix()), "{back_ip}");
    let eth1 = d.docker_ok(&["exec", "api", "ip", "-4", "addr", "show", "eth1"]);
    assert!(eth1.contains(&back_ip), "{eth1}");
    // Still on the default bridge too.
    let bridge_ip = d.inspect_field("api", "{{.NetworkSettings.IPAddress}}");
    assert!(bridge_ip.starts_with(&d.net.prefix()), "{bridge_ip}");
    assert_eq!(resolves(&d, "store", "gateway"), back_ip);
    assert_eq!(
        resolves(&d, "api", "store"),
        format!("{}20", d.net.pool_prefix())
    );

    d.docker_ok(&["network", "disconnect", "back", "api"]);
    let o = d.docker_run(&["exec", "api", "ip", "link", "show", "eth1"]);
    assert!(!o.status.success(), "eth1 still there: {}", o.stdout);
    let hosts = d.docker_ok(&["exec", "store", "cat", "/etc/hosts"]);
    assert!(!hosts.contains("gateway"), "{hosts}");
    let nets = d.inspect_field(
        "api",
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
    );
    assert_eq!(nets, "bridge");

    // Across a restart of the container, the network stays configured.
    d.docker_ok(&["network", "connect", "back", "api"]);
    d.docker_ok(&["restart", "-t", "1", "api"]);
    let nets = d.inspect_field(
        "api",
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
    );
    assert_eq!(nets.split_whitespace().count(), 2, "{nets}");
    wait_for("api on back after restart", Duration::from_secs(10), || {
        let o = d.docker_run(&["exec", "store", "ping", "-c1", "-W2", "api"]);
        o.status.success().then_some(())
    });
    d.docker_ok(&["rm", "-f", "api", "store"]);
    let pruned = d.docker_ok(&["network", "prune", "-f"]);
    assert!(pruned.contains("back"), "{pruned}");
}

#[test]
fn docker_compose_build_up_and_down() {
    let Some(d) = TestDaemon::start() else { return };
    let dir = d.dir.join("compose");
    std::fs::create_dir_all(&dir).expect("compose dir");
    std::fs::write(
        dir.join("docker-compose.yml"),
        r#"version: "3"
services:
  db:
    image: busybox
    command: ["sh", "-c", "while true; do echo from-db | nc -l -p 5000; done"]
  web:
    build: ./web
    image: pt-web:latest
    depends_on: [db]
    command: ["sh", "-c", "until nc -w 2 db 5000 | grep -q from-db; do sleep 0.2; done; echo web-reached-db; sleep 1000"]
"#,
    )
    .expect("write compose file");
    // The web service's image is built by compose through POST /build.
    std::fs::create_dir_all(dir.join("web")).expect("web dir");
    std::fs::write(
        dir.join("web/Dockerfile"),
        "FROM busybox\nRUN echo built-by-compose > /built\n",
    )
    .expect("write Dockerfile");
    let compose = |args: &[&str]| {
        let mut c = std::process::Command::new("docker-compose");
        c.current_dir(&dir)
            .env("DOCKER_HOST", format!("unix://{}", d.sock.display()))
            .env("DOCKER_CONFIG", d.dir.join("docker-config"))
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_API_VERSION")
            .env_remove("DOCKER_TLS_VERIFY")
            .args(["-p", "pt"])
            .args(args);
        let o = pouch_tests::cli::run_with_timeout(&mut c, None, Duration::from_secs(120));
        assert!(
            o.status.success(),
            "docker-compose {args:?}: {} {}",
            o.stdout,
            o.stderr
        );
        o.stdout
    };
    compose(&["build"]);
    compose(&["up", "-d"]);
    assert_eq!(
        d.docker_ok(&["exec", "pt_web_1", "cat", "/built"]),
        "built-by-compose"
    );
    let net = d.docker_ok(&[
        "network",
        "ls",
        "--filter",
        "name=pt_default",
        "--format",
        "{{.Name}}",
    ]);
    assert_eq!(net, "pt_default");
    wait_for(
        "web reaching db by its service name",
        Duration::from_secs(30),
        || {
            let o = d.docker_run(&["logs", "pt_web_1"]);
            o.stdout.contains("web-reached-db").then_some(())
        },
    );
    let ps = compose(&["ps"]);
    assert!(ps.contains("pt_db_1") && ps.contains("pt_web_1"), "{ps}");
    // Up again: nothing to recreate, the network is the same.
    compose(&["up", "-d"]);
    compose(&["down", "-t", "1"]);
    let left = d.docker_ok(&["ps", "-aq"]);
    assert_eq!(left, "");
    let o = d.docker_run(&["network", "inspect", "pt_default"]);
    assert!(!o.status.success(), "network left after down");
    assert_eq!(
        pouch_tests::net::bridges_with_prefix(&d.net.pool_prefix()),
        Vec::<String>::new()
    );
}

#[test]
fn networks_are_isolated_from_each_other() {
    let Some(d) = TestDaemon::start() else { return };
    let na = d.docker_ok(&["network", "create", "na"]);
    d.docker_ok(&["network", "create", "nb"]);
    for (name, net) in [("a1", "na"), ("a2", "na"), ("b1", "nb"), ("c1", "bridge")] {
        d.docker_ok(&[
            "run",
            "-d",
            "--name",
            name,
            "--network",
            net,
            "busybox",
            "sleep",
            "1000",
        ]);
    }
    let ip = |c: &str, net: &str| {
        d.inspect_field(
            c,
            &format!("{{{{.NetworkSettings.Networks.{net}.IPAddress}}}}"),
        )
    };
    let pings = |from: &str, to: &str| {
        d.docker_run(&["exec", from, "ping", "-c1", "-W2", to])
            .status
            .success()
    };
    // Within a network, traffic flows (the control for what follows).
    assert!(pings("a1", &ip("a2", "na")));
    // Across networks, and between a network and the default bridge, not.
    assert!(!pings("a1", &ip("b1", "nb")), "na reached nb");
    assert!(!pings("b1", &ip("a2", "na")), "nb reached na");
    assert!(
        !pings("a1", &ip("c1", "bridge")),
        "na reached the default bridge"
    );
    assert!(
        !pings("c1", &ip("a2", "na")),
        "the default bridge reached na"
    );
    // Two isolation rules per network, tagged with its bridge.
    let bridge = format!("br-{}", &na[..12]);
    assert_eq!(pouch_tests::net::filter_rules_of(&bridge).len(), 2);
    // Connected to both, a container reaches both.
    d.docker_ok(&["network", "connect", "na", "b1"]);
    assert!(pings("a1", &ip("b1", "na")));
    d.docker_ok(&["rm", "-f", "a1", "a2", "b1", "c1"]);
    d.docker_ok(&["network", "rm", "na", "nb"]);
    assert_eq!(
        pouch_tests::net::filter_rules_of(&bridge),
        Vec::<String>::new()
    );
}

#[test]
fn user_networks_survive_a_daemon_restart() {
    let Some(mut d) = TestDaemon::start() else {
        return;
    };
    let id = d.docker_ok(&["network", "create", "keep"]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "k1",
        "--network",
        "keep",
        "busybox",
        "sleep",
        "1000",
    ]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "k2",
        "--network",
        "keep",
        "busybox",
        "sleep",
        "1000",
    ]);
    let ip = d.inspect_field("k1", "{{.NetworkSettings.Networks.keep.IPAddress}}");
    d.restart();
    assert_eq!(
        d.docker_ok(&["network", "inspect", "-f", "{{.Id}}", "keep"]),
        id
    );
    assert_eq!(
        d.inspect_field("k1", "{{.NetworkSettings.Networks.keep.IPAddress}}"),
        ip
    );
    d.docker_ok(&["exec", "k2", "ping", "-c1", "-W3", "k1"]);
    // A container started after the restart joins the same network and
    // the others learn its name.
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "k3",
        "--network",
        "keep",
        "busybox",
        "sleep",
        "1000",
    ]);
    d.docker_ok(&["exec", "k1", "ping", "-c1", "-W3", "k3"]);
    let bridge = format!("br-{}", &id[..12]);
    assert_eq!(pouch_tests::net::filter_rules_of(&bridge).len(), 2);
    d.docker_ok(&["rm", "-f", "k1", "k2", "k3"]);
    d.docker_ok(&["network", "rm", "keep"]);
}

#[test]
fn container_network_mode_joins_another_containers_namespace() {
    let Some(d) = TestDaemon::start() else { return };
    d.docker_ok(&["run", "-d", "--name", "web", "busybox", "sleep", "1000"]);
    let ip = d.inspect_field("web", "{{.NetworkSettings.IPAddress}}");
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--network",
        "container:web",
        "busybox",
        "ip",
        "-4",
        "addr",
        "show",
        "eth0",
    ]);
    assert!(out.contains(&format!("{ip}/")), "{out}");
    let web_host = d.docker_ok(&["exec", "web", "hostname"]);
    assert_eq!(
        d.docker_ok(&[
            "run",
            "--rm",
            "--net",
            "container:web",
            "busybox",
            "hostname"
        ]),
        web_host
    );
    let hosts = d.docker_ok(&[
        "run",
        "--rm",
        "--net",
        "container:web",
        "busybox",
        "cat",
        "/etc/hosts",
    ]);
    assert!(hosts.contains(&ip), "{hosts}");
    // Docker's refusals.
    let o = d.docker_run(&[
        "run",
        "--rm",
        "-p",
        "8080:80",
        "--net",
        "container:web",
        "busybox",
        "true",
    ]);
    assert!(o.stderr.contains("conflicting options"), "{}", o.stderr);
    let o = d.docker_run(&[
        "run",
        "--rm",
        "--net",
        "container:nosuch",
        "busybox",
        "true",
    ]);
    assert!(o.stderr.contains("No such container"), "{}", o.stderr);
    d.docker_ok(&[
        "create",
        "--name",
        "joiner",
        "--net",
        "container:web",
        "busybox",
        "sleep",
        "1000",
    ]);
    d.docker_ok(&["stop", "-t", "0", "web"]);
    let o = d.docker_run(&["start", "joiner"]);
    assert!(o.stderr.contains("non running container"), "{}", o.stderr);
    d.docker_ok(&["rm", "-f", "web", "joiner"]);
}

/// What a test that fails leaves: networks, one with a container on its
/// bridge and one never used (its rules exist, its bridge does not).
#[test]
fn harness_cleanup_removes_a_daemons_user_networks() {
    let Some(d) = TestDaemon::start() else { return };
    let used = d.docker_ok(&["network", "create", "used"]);
    let idle = d.docker_ok(&["network", "create", "idle"]);
    d.docker_ok(&["run", "-d", "--network", "used", "busybox", "sleep", "1000"]);
    let bridges = [format!("br-{}", &used[..12]), format!("br-{}", &idle[..12])];
    for b in &bridges {
        assert_eq!(rules_of(b).len(), 1, "masquerade of {b}");
        assert_eq!(
            pouch_tests::net::filter_rules_of(b).len(),
            2,
            "isolation of {b}"
        );
    }
    assert!(link_exists(&bridges[0]));
    drop(d);
    for b in &bridges {
        assert!(!link_exists(b), "bridge {b} left");
        assert_eq!(rules_of(b), Vec::<String>::new());
        assert_eq!(pouch_tests::net::filter_rules_of(b), Vec::<String>::new());
    }
}
