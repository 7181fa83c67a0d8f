//! Events: history with since/until, the live stream, filters, history
//! kept across a pouchd restart, exec and image events.

use pouch_tests::{wait_for, TestDaemon};
use serde_json::Value;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Now as `seconds.nanoseconds`, the form `docker events --since` takes.
fn now_ts() -> String {
    let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    format!("{}.{:09}", t.as_secs(), t.subsec_nanos())
}

/// `docker events --since SINCE --until <now> --format '{{json .}}' ARGS`.
fn events(d: &TestDaemon, since: &str, args: &[&str]) -> Vec<Value> {
    let until = now_ts();
    let mut a = vec![
        "events",
        "--since",
        since,
        "--until",
        &until,
        "--format",
        "{{json .}}",
    ];
    a.extend_from_slice(args);
    d.docker_ok(&a)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}")))
        .collect()
}

/// Polls [`events`] until `done` holds for the list.
#[track_caller]
fn events_until(
    d: &TestDaemon,
    since: &str,
    args: &[&str],
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let start = std::time::Instant::now();
    let last = loop {
        let ev = events(d, since, args);
        if done(&ev) {
            return ev;
        }
        if start.elapsed() > Duration::from_secs(20) {
            break ev;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    panic!(
        "events {args:?} never had {what}; last: {}",
        summary(&last).join("\n")
    );
}

fn action(e: &Value) -> &str {
    e["Action"].as_str().unwrap_or("")
}

fn attr<'a>(e: &'a Value, k: &str) -> &'a str {
    e["Actor"]["Attributes"][k].as_str().unwrap_or("")
}

fn summary(ev: &[Value]) -> Vec<String> {
    ev.iter()
        .map(|e| {
            format!(
                "{} {} {} {}",
                e["Type"].as_str().unwrap_or("?"),
                action(e),
                &e["Actor"]["ID"]
                    .as_str()
                    .unwrap_or("?")
                    .chars()
                    .take(12)
                    .collect::<String>(),
                e["Actor"]["Attributes"]
            )
        })
        .collect()
}

/// Actions of the events of one actor, in order.
fn actions_of(ev: &[Value], id: &str) -> Vec<String> {
    ev.iter()
        .filter(|e| e["Actor"]["ID"] == id)
        .map(|e| action(e).to_string())
        .collect()
}

/// Asserts that `want` appears in `got` in this order (other items between).
#[track_caller]
fn assert_subsequence(got: &[String], want: &[&str]) {
    let mut it = got.iter();
    for w in want {
        assert!(
            it.any(|g| g == w),
            "{want:?} is not a subsequence of {got:?} (at {w:?})"
        );
    }
}

fn url_filters(json: &str) -> String {
    let mut out = String::new();
    for b in json.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[test]
fn lifecycle_events_since_until() {
    let Some(d) = TestDaemon::start() else { return };
    let t0 = now_ts();
    let o = d.docker_run(&["run", "--name", "evlife", "busybox", "sh", "-c", "exit 3"]);
    assert_eq!(o.code(), 3, "{o:?}");
    let id = d.inspect_field("evlife", "{{.Id}}");
    d.docker_ok(&["rm", "evlife"]);

    let ev = events_until(&d, &t0, &[], "destroy", |ev| {
        actions_of(ev, &id).iter().any(|a| a == "destroy")
    });
    let acts = actions_of(&ev, &id);
    assert_subsequence(&acts, &["create", "start", "die", "destroy"]);
    assert_eq!(acts.first().map(String::as_str), Some("create"), "{acts:?}");
    assert_eq!(acts.last().map(String::as_str), Some("destroy"), "{acts:?}");
    let die = ev
        .iter()
        .find(|e| e["Actor"]["ID"] == id.as_str() && action(e) == "die")
        .unwrap();
    assert_eq!(attr(die, "exitCode"), "3", "{die}");
    assert_eq!(attr(die, "name"), "evlife", "{die}");
    assert_eq!(attr(die, "image"), "busybox", "{die}");
    assert_eq!(die["Type"], "container");
    assert_eq!(die["status"], "die", "{die}");
    assert_eq!(die["id"], id.as_str(), "{die}");
    assert_eq!(die["from"], "busybox", "{die}");
    assert_eq!(die["scope"], "local", "{die}");
    // Ordered by time, and time agrees with timeNano.
    let nanos: Vec<i64> = ev.iter().map(|e| e["timeNano"].as_i64().unwrap()).collect();
    assert!(
        nanos.windows(2).all(|w| w[0] <= w[1]),
        "events out of order: {}",
        summary(&ev).join("\n")
    );
    for e in &ev {
        assert_eq!(
            e["time"].as_i64().unwrap(),
            e["timeNano"].as_i64().unwrap() / 1_000_000_000,
            "{e}"
        );
    }

    // until excludes what happens later; since excludes what happened before.
    let until = now_ts();
    std::thread::sleep(Duration::from_millis(20));
    d.docker_ok(&["create", "--name", "later", "busybox", "true"]);
    let later = d.inspect_field("later", "{{.Id}}");
    let bounded: Vec<Value> = d
        .docker_ok(&[
            "events",
            "--since",
            &t0,
            "--until",
            &until,
            "--format",
            "{{json .}}",
        ])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        actions_of(&bounded, &later).is_empty(),
        "--until shows a later event: {}",
        summary(&bounded).join("\n")
    );
    assert_eq!(actions_of(&bounded, &id), acts);
    let after = events(&d, &until, &[]);
    assert!(
        actions_of(&after, &id).is_empty(),
        "{}",
        summary(&after).join("\n")
    );
    assert_eq!(actions_of(&after, &later), ["create"]);
}

#[test]
fn live_stream_receives_new_events() {
    let Some(d) = TestDaemon::start() else { return };
    let filters = url_filters(r#"{"type":["container"]}"#);
    let mut s = d.open_stream("GET", &format!("/v1.41/events?filters={filters}"));
    assert_eq!(s.status, 200);
    let id = d.docker_ok(&["run", "-d", "--name", "live", "busybox", "sleep", "1000"]);
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !seen.iter().any(|a| a == "start") {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = s
            .next_line(left)
            .expect("read events")
            .unwrap_or_else(|| panic!("no start event within 20 s; saw {seen:?}"));
        if line.trim().is_empty() {
            continue;
        }
        let e: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        assert_eq!(e["Type"], "container", "{e}");
        if e["Actor"]["ID"] == id.as_str() {
            seen.push(action(&e).to_string());
        }
    }
    assert_eq!(seen.first().map(String::as_str), Some("create"), "{seen:?}");
    // The stream stays open and keeps delivering.
    assert!(!s.ended());
    d.docker_ok(&["stop", "-t", "0", "live"]);
    loop {
        let line = s
            .next_line(Duration::from_secs(20))
            .expect("read events")
            .unwrap_or_else(|| panic!("no die event after stop; saw {seen:?}"));
        let Ok(e) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if e["Actor"]["ID"] == id.as_str() && action(&e) == "die" {
            assert_eq!(attr(&e, "exitCode"), "137", "{e}");
            break;
        }
    }
    drop(s);
    // The daemon is fine after the client went away.
    assert_eq!(d.get_ok("/_ping").status, 200);
}

#[test]
fn filters_and_bad_filters() {
    let Some(d) = TestDaemon::start() else { return };
    let t0 = now_ts();
    d.docker_run(&["run", "--name", "fa", "busybox", "true"])
        .ok();
    let o = d.docker_run(&["run", "--name", "fb", "busybox", "false"]);
    assert_eq!(o.code(), 1);
    d.docker_ok(&["tag", "busybox", "evtag:one"]);
    let a = d.inspect_field("fa", "{{.Id}}");
    let b = d.inspect_field("fb", "{{.Id}}");

    let die = events_until(&d, &t0, &["--filter", "event=die"], "two dies", |ev| {
        ev.len() >= 2
    });
    assert_eq!(die.len(), 2, "{}", summary(&die).join("\n"));
    assert!(
        die.iter().all(|e| action(e) == "die"),
        "{}",
        summary(&die).join("\n")
    );
    assert_eq!(attr(&die[0], "exitCode"), "0");
    assert_eq!(attr(&die[1], "exitCode"), "1");

    let only_a = events(&d, &t0, &["--filter", "container=fa"]);
    assert!(!only_a.is_empty());
    assert!(
        only_a.iter().all(|e| e["Actor"]["ID"] == a.as_str()),
        "{}",
        summary(&only_a).join("\n")
    );
    assert_subsequence(&actions_of(&only_a, &a), &["create", "start", "die"]);
    // By ID as well.
    let by_id = events(&d, &t0, &["--filter", &format!("container={b}")]);
    assert!(by_id.iter().all(|e| e["Actor"]["ID"] == b.as_str()));
    assert_subsequence(&actions_of(&by_id, &b), &["create", "start", "die"]);
    // Two filters of different keys: both must match.
    let a_die = events(
        &d,
        &t0,
        &["--filter", "container=fa", "--filter", "event=die"],
    );
    assert_eq!(a_die.len(), 1, "{}", summary(&a_die).join("\n"));
    // Two values of one key: either.
    let starts_dies = events(
        &d,
        &t0,
        &["--filter", "event=start", "--filter", "event=die"],
    );
    assert_eq!(starts_dies.len(), 4, "{}", summary(&starts_dies).join("\n"));

    let containers = events(&d, &t0, &["--filter", "type=container"]);
    assert!(containers.iter().all(|e| e["Type"] == "container"));
    assert!(containers.iter().any(|e| e["Actor"]["ID"] == a.as_str()));
    assert!(containers.iter().any(|e| e["Actor"]["ID"] == b.as_str()));
    let images = events(&d, &t0, &["--filter", "type=image"]);
    assert!(!images.is_empty());
    assert!(
        images.iter().all(|e| e["Type"] == "image"),
        "{}",
        summary(&images).join("\n")
    );
    assert!(images.iter().any(|e| action(e) == "tag"));

    // Bad filters: 400 with a message, and the CLI fails.
    let bad = url_filters(r#"{"bogus":["x"]}"#);
    let m = d
        .get_ok(&format!("/v1.41/events?filters={bad}"))
        .expect_error(400);
    assert!(m.contains("bogus"), "{m}");
    d.get_ok("/v1.41/events?filters=notjson").expect_error(400);
    d.get_ok("/v1.41/events?since=garbage").expect_error(400);
    let o = d.docker_run(&[
        "events",
        "--since",
        &t0,
        "--until",
        &now_ts(),
        "--filter",
        "bogus=1",
    ]);
    o.failed();
    assert!(o.stderr.contains("bogus"), "{o:?}");
}

#[test]
fn history_survives_pouchd_kill9() {
    let Some(mut d) = TestDaemon::start() else {
        return;
    };
    let t0 = now_ts();
    let id = d.docker_ok(&["create", "--name", "before", "busybox", "true"]);
    wait_for("the create event", Duration::from_secs(10), || {
        let ev = events(&d, &t0, &["--filter", "container=before"]);
        (!ev.is_empty()).then_some(())
    });
    d.kill9();
    d.restart();
    d.docker_ok(&["start", "before"]);
    let ev = events_until(&d, &t0, &[], "the start after the restart", |ev| {
        actions_of(ev, &id).iter().any(|a| a == "die")
    });
    let acts = actions_of(&ev, &id);
    assert_subsequence(&acts, &["create", "start", "die"]);
    assert_eq!(
        acts.iter().filter(|a| *a == "create").count(),
        1,
        "{acts:?}"
    );
}

#[test]
fn exec_events() {
    let Some(d) = TestDaemon::start() else { return };
    let id = d.docker_ok(&["run", "-d", "--name", "ex", "busybox", "sleep", "1000"]);
    let t0 = now_ts();
    let o = d.docker_run(&["exec", "ex", "sh", "-c", "exit 2"]);
    assert_eq!(o.code(), 2);
    let ev = events_until(&d, &t0, &["--filter", "container=ex"], "exec_die", |ev| {
        ev.iter().any(|e| action(e) == "exec_die")
    });
    let acts = actions_of(&ev, &id);
    let pos = |prefix: &str| {
        acts.iter()
            .position(|a| a.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in {acts:?}"))
    };
    assert!(pos("exec_create") < pos("exec_start"), "{acts:?}");
    assert!(pos("exec_start") < pos("exec_die"), "{acts:?}");
    // Docker's actions carry the command: "exec_create: sh -c exit 2".
    assert_eq!(acts[pos("exec_create")], "exec_create: sh -c exit 2");
    let exec_die = ev.iter().find(|e| action(e) == "exec_die").unwrap();
    assert_eq!(attr(exec_die, "exitCode"), "2", "{exec_die}");
    let exec_id = attr(exec_die, "execID");
    assert_eq!(exec_id.len(), 64, "{exec_die}");
    assert!(
        ev.iter()
            .filter(|e| action(e).starts_with("exec_"))
            .all(|e| attr(e, "execID") == exec_id),
        "{}",
        summary(&ev).join("\n")
    );
    // The event filter matches the action without its command.
    let created = events(&d, &t0, &["--filter", "event=exec_create"]);
    assert_eq!(created.len(), 1, "{}", summary(&created).join("\n"));
}

#[test]
fn image_tag_untag_events() {
    let Some(d) = TestDaemon::start() else { return };
    let image_id = d.inspect_field("busybox", "{{.Id}}");
    let t0 = now_ts();
    d.docker_ok(&["tag", "busybox", "evimg:v1"]);
    d.docker_ok(&["rmi", "evimg:v1"]);
    let ev = events_until(&d, &t0, &["--filter", "type=image"], "untag", |ev| {
        ev.iter().any(|e| action(e) == "untag")
    });
    let acts: Vec<String> = ev.iter().map(|e| action(e).to_string()).collect();
    assert_eq!(acts, ["tag", "untag"], "{}", summary(&ev).join("\n"));
    for e in &ev {
        assert_eq!(e["Actor"]["ID"], image_id.as_str(), "{e}");
        assert_eq!(attr(e, "name"), "evimg:v1", "{e}");
    }
    // Filtering by image name.
    let named = events(&d, &t0, &["--filter", "image=evimg:v1"]);
    assert_eq!(named.len(), 2, "{}", summary(&named).join("\n"));
}
