//! `pouch network ...` and `pouch run --network/--network-alias/--ip`
//! against a real daemon.

use pouch_tests::TestDaemon;

#[test]
fn pouch_network_commands() {
    let Some(d) = TestDaemon::start() else { return };
    let id = d.pouch_ok(&["network", "create", "--label", "x=y", "n1"]);
    assert_eq!(id.len(), 64, "{id}");
    let ls = d.pouch_ok(&["network", "ls"]);
    let row = ls
        .lines()
        .find(|l| l.contains(" n1 "))
        .unwrap_or_else(|| panic!("{ls}"));
    assert!(row.starts_with(&id[..12]), "{row}");
    assert!(ls.starts_with("NETWORK ID"), "{ls}");
    let subnet = d.pouch_ok(&[
        "network",
        "inspect",
        "-f",
        "{{range .IPAM.Config}}{{.Subnet}}{{end}}",
        "n1",
    ]);
    assert!(subnet.starts_with(&d.net.pool_prefix()), "{subnet}");
    let json: serde_json::Value =
        serde_json::from_str(&d.pouch_ok(&["network", "inspect", "n1"])).expect("json");
    assert_eq!(json[0]["Labels"]["x"], "y");

    let fixed = format!("{}9", d.net.pool_prefix());
    d.pouch_ok(&[
        "run",
        "-d",
        "--name",
        "ca",
        "--network",
        "n1",
        "--network-alias",
        "alpha",
        "busybox",
        "sleep",
        "1000",
    ]);
    d.pouch_ok(&[
        "run",
        "-d",
        "--name",
        "cb",
        "--network",
        "n1",
        "--ip",
        &fixed,
        "busybox",
        "sleep",
        "1000",
    ]);
    assert_eq!(
        d.pouch_ok(&[
            "inspect",
            "-f",
            "{{.NetworkSettings.Networks.n1.IPAddress}}",
            "cb"
        ]),
        fixed
    );
    d.pouch_ok(&["exec", "cb", "ping", "-c1", "-W3", "alpha"]);

    // connect / disconnect a container of the default bridge.
    d.pouch_ok(&["run", "-d", "--name", "cc", "busybox", "sleep", "1000"]);
    d.pouch_ok(&["network", "connect", "--alias", "gamma", "n1", "cc"]);
    d.pouch_ok(&["exec", "ca", "ping", "-c1", "-W3", "gamma"]);
    let nets = d.pouch_ok(&[
        "inspect",
        "-f",
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
        "cc",
    ]);
    assert_eq!(nets, "bridge n1");
    d.pouch_ok(&["network", "disconnect", "n1", "cc"]);
    let nets = d.pouch_ok(&[
        "inspect",
        "-f",
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
        "cc",
    ]);
    assert_eq!(nets, "bridge");

    let o = d.pouch_run(&["network", "rm", "n1"]);
    assert!(!o.status.success());
    assert!(o.stderr.contains("active endpoints"), "{}", o.stderr);
    d.pouch_ok(&["rm", "-f", "ca", "cb", "cc"]);
    assert_eq!(d.pouch_ok(&["network", "rm", "n1"]), "n1");
    d.pouch_ok(&["network", "create", "idle"]);
    let pruned = d.pouch_ok(&["network", "prune", "-f"]);
    assert_eq!(pruned, "Deleted Networks:\nidle");
    let o = d.pouch_run(&["network", "inspect", "idle"]);
    assert!(o.stderr.contains("No such network: idle"), "{}", o.stderr);
}
