//! `docker build` (the classic builder) against a real daemon: a
//! multi-stage Dockerfile with ARG, ENV, WORKDIR, COPY (globs, directories,
//! --from, --chown), ADD of a local archive, RUN and metadata; failures;
//! and that a build leaves no container or intermediate image behind.

use pouch_tests::tarball::TarBuilder;
use pouch_tests::TestDaemon;
use std::path::Path;

fn write(dir: &Path, name: &str, data: &str) {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(p, data).expect("write");
}

/// `docker build` with the classic builder, in `dir`.
fn build(d: &TestDaemon, dir: &Path, args: &[&str]) -> pouch_tests::cli::Output {
    let mut c = d.docker();
    c.env("DOCKER_BUILDKIT", "0")
        .arg("build")
        .args(args)
        .arg(dir);
    pouch_tests::cli::run_with_timeout(&mut c, None, std::time::Duration::from_secs(120))
}

fn nothing_left(d: &TestDaemon) {
    assert_eq!(d.docker_ok(&["ps", "-aq"]), "", "build containers left");
    let dangling = d.docker_ok(&["images", "-q", "--filter", "dangling=true"]);
    assert_eq!(dangling, "", "intermediate images left");
}

#[test]
fn multi_stage_build_with_copy_run_and_metadata() {
    let Some(d) = TestDaemon::start() else { return };
    let ctx = d.dir.join("ctx");
    write(&ctx, "greet.txt", "greetings\n");
    write(&ctx, "a.conf", "a\n");
    write(&ctx, "b.conf", "b\n");
    write(&ctx, "skip.txt", "not copied\n");
    write(&ctx, "tree/one", "1\n");
    write(&ctx, "tree/deep/two", "2\n");
    let mut t = TarBuilder::new();
    t.file("inner/x.txt", b"from the archive\n");
    std::fs::write(ctx.join("bundle.tar"), t.finish()).expect("write tar");
    write(
        &ctx,
        "Dockerfile",
        r#"# A comment
ARG BASE=busybox
FROM $BASE AS base
ARG GREETING=hello
ENV APP_HOME=/app \
    MODE=test
WORKDIR $APP_HOME
COPY greet.txt ./
COPY *.conf conf/
COPY tree/ tree/
COPY --chown=1000:1000 greet.txt /owned.txt
ADD bundle.tar /unpacked/
RUN echo "$GREETING from run in $(pwd)" > run.txt && cat greet.txt
RUN test "$(stat -c %u:%g /owned.txt)" = 1000:1000
LABEL stage=base "with space"="yes"

FROM busybox
COPY --from=base /app /copied
COPY --from=base /owned.txt /unpacked /final/
EXPOSE 8080/tcp 9000-9001/udp
ENV PATH=/bin:/usr/bin
USER 1000
CMD ["cat", "/copied/run.txt"]
"#,
    );
    let o = build(&d, &ctx, &["-t", "built:v1", "--build-arg", "GREETING=hi"]);
    assert!(
        o.status.success(),
        "build failed: {}\n{}",
        o.stdout,
        o.stderr
    );
    assert!(o.stdout.contains("Step 1/"), "{}", o.stdout);
    assert!(
        o.stdout.contains("greetings"),
        "RUN output not shown: {}",
        o.stdout
    );
    assert!(o.stdout.contains("Successfully built "), "{}", o.stdout);
    assert!(
        o.stdout.contains("Successfully tagged built:v1"),
        "{}",
        o.stdout
    );

    assert_eq!(
        d.docker_ok(&["run", "--rm", "built:v1"]),
        "hi from run in /app"
    );
    let ls = d.docker_ok(&[
        "run", "--rm", "built:v1", "find", "/copied", "/final", "-type", "f",
    ]);
    let mut files: Vec<&str> = ls.lines().collect();
    files.sort();
    assert_eq!(
        files,
        [
            "/copied/conf/a.conf",
            "/copied/conf/b.conf",
            "/copied/greet.txt",
            "/copied/run.txt",
            "/copied/tree/deep/two",
            "/copied/tree/one",
            "/final/inner/x.txt",
            "/final/owned.txt",
        ]
    );
    let owner = d.docker_ok(&[
        "run",
        "--rm",
        "built:v1",
        "stat",
        "-c",
        "%u:%g",
        "/final/owned.txt",
        "/copied/greet.txt",
    ]);
    // COPY --from without --chown makes root the owner, as Docker does.
    assert_eq!(owner, "0:0\n0:0");
    let f = |field: &str| d.inspect_field("built:v1", field);
    assert_eq!(f("{{json .Config.Cmd}}"), r#"["cat","/copied/run.txt"]"#);
    assert_eq!(f("{{.Config.User}}"), "1000");
    let ports = f("{{json .Config.ExposedPorts}}");
    for p in ["8080/tcp", "9000/udp", "9001/udp"] {
        assert!(ports.contains(p), "{ports}");
    }
    // The first stage's label and env stay in it.
    let labels = f("{{json .Config.Labels}}");
    assert!(!labels.contains("stage"), "{labels}");
    // Intermediate containers and images are gone.
    nothing_left(&d);
    // The history lists the steps.
    let history = d.docker_ok(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}",
        "built:v1",
    ]);
    assert!(history.contains("CMD"), "{history}");
}

#[test]
fn failed_and_bad_builds_are_reported_and_leave_nothing() {
    let Some(d) = TestDaemon::start() else { return };
    let ctx = d.dir.join("ctx");
    write(
        &ctx,
        "Dockerfile",
        "FROM busybox\nRUN echo before\nRUN exit 3\n",
    );
    let o = build(&d, &ctx, &["-t", "broken"]);
    assert!(!o.status.success());
    let all = format!("{}{}", o.stdout, o.stderr);
    assert!(all.contains("returned a non-zero code: 3"), "{all}");
    nothing_left(&d);
    assert!(!d
        .docker_run(&["image", "inspect", "broken"])
        .status
        .success());

    // Sources outside the context are not found, not read.
    write(
        &ctx,
        "Dockerfile",
        "FROM busybox\nCOPY ../../../../etc/passwd /p\n",
    );
    let o = build(&d, &ctx, &["-t", "escape"]);
    assert!(!o.status.success(), "{}", o.stdout);
    nothing_left(&d);

    write(&ctx, "Dockerfile", "FROM busybox\nFROBNICATE x\n");
    let o = build(&d, &ctx, &[]);
    assert!(
        o.stderr.contains("unknown instruction: FROBNICATE"),
        "{}",
        o.stderr
    );
    write(&ctx, "Dockerfile", "FROM nosuchimage-here\n");
    let o = build(&d, &ctx, &[]);
    assert!(!o.status.success());

    // -q prints the ID only; a second Dockerfile name and a target stage.
    write(
        &ctx,
        "Other.dockerfile",
        "FROM busybox AS one\nENV X=1\nFROM one AS two\nENV Y=2\nFROM busybox\nENV Z=3\n",
    );
    let o = build(
        &d,
        &ctx,
        &[
            "-q",
            "-f",
            &ctx.join("Other.dockerfile").to_string_lossy(),
            "--target",
            "two",
            "-t",
            "two",
        ],
    );
    assert!(o.status.success(), "{}", o.stderr);
    let id = o.stdout.trim();
    assert!(id.starts_with("sha256:"), "{id}");
    assert_eq!(d.inspect_field("two", "{{.Id}}"), id);
    let env = d.inspect_field("two", "{{json .Config.Env}}");
    assert!(
        env.contains("X=1") && env.contains("Y=2") && !env.contains("Z=3"),
        "{env}"
    );
    nothing_left(&d);
}

#[test]
fn rebuilds_use_the_cache_until_a_source_changes() {
    let Some(d) = TestDaemon::start() else { return };
    let ctx = d.dir.join("ctx");
    write(&ctx, "data.txt", "one\n");
    write(
        &ctx,
        "Dockerfile",
        "FROM busybox\nARG V=1\nRUN echo ran-$V > /ran\nCOPY data.txt /data.txt\nRUN cat /data.txt > /copy\nCMD [\"cat\", \"/ran\", \"/copy\"]\n",
    );
    let first = build(&d, &ctx, &["-t", "cached:v1"]);
    assert!(first.status.success(), "{}{}", first.stdout, first.stderr);
    assert!(!first.stdout.contains("Using cache"), "{}", first.stdout);
    let id = d.inspect_field("cached:v1", "{{.Id}}");

    // The same build: every step from the cache, the same image.
    let again = build(&d, &ctx, &["-t", "cached:v2"]);
    assert!(again.status.success(), "{}", again.stderr);
    assert_eq!(
        again.stdout.matches("Using cache").count(),
        4,
        "{}",
        again.stdout
    );
    assert!(!again.stdout.contains("Running in"), "{}", again.stdout);
    assert_eq!(d.inspect_field("cached:v2", "{{.Id}}"), id);

    // A changed source re-runs its COPY and what follows, not what precedes.
    write(&ctx, "data.txt", "two\n");
    let changed = build(&d, &ctx, &["-t", "cached:v3"]);
    assert!(changed.status.success(), "{}", changed.stderr);
    assert_eq!(
        changed.stdout.matches("Using cache").count(),
        1,
        "{}",
        changed.stdout
    );
    assert_eq!(d.docker_ok(&["run", "--rm", "cached:v3"]), "ran-1\ntwo");
    // A build arg re-runs the steps after its ARG.
    let arg = build(&d, &ctx, &["-t", "cached:v4", "--build-arg", "V=2"]);
    assert!(arg.status.success(), "{}", arg.stderr);
    assert_eq!(d.docker_ok(&["run", "--rm", "cached:v4"]), "ran-2\ntwo");
    // --no-cache runs everything.
    let fresh = build(&d, &ctx, &["--no-cache", "-t", "cached:v5"]);
    assert!(!fresh.stdout.contains("Using cache"), "{}", fresh.stdout);

    // The cache's images are intermediate: listed with -a only.
    nothing_left(&d);
    let all = d.docker_ok(&["images", "-a", "-q"]).lines().count();
    let shown = d.docker_ok(&["images", "-q"]).lines().count();
    assert!(all > shown, "{all} vs {shown}");
    // builder prune empties it: the next build runs every step.
    let pruned = d.docker_run(&["builder", "prune", "-f"]);
    assert!(pruned.status.success(), "{}", pruned.stderr);
    assert_eq!(d.docker_ok(&["images", "-a", "-q"]).lines().count(), shown);
    let after = build(&d, &ctx, &["-t", "cached:v6"]);
    assert!(!after.stdout.contains("Using cache"), "{}", after.stdout);
}

#[test]
fn pouch_build_sends_the_context_without_ignored_files() {
    let Some(d) = TestDaemon::start() else { return };
    let ctx = d.dir.join("ctx");
    write(&ctx, "a.txt", "a\n");
    write(&ctx, "secret.key", "k\n");
    write(&ctx, "logs/x.log", "l\n");
    write(&ctx, ".dockerignore", "*.key\nlogs\n");
    write(
        &ctx,
        "Dockerfile",
        "FROM busybox\nCOPY . /ctx\nCMD [\"ls\", \"-A\", \"/ctx\"]\n",
    );
    let out = d.pouch_ok(&["build", "-t", "pb:1", &ctx.to_string_lossy()]);
    assert!(out.contains("Successfully tagged pb:1"), "{out}");
    assert_eq!(
        d.pouch_ok(&["run", "--rm", "pb:1"]),
        ".dockerignore\nDockerfile\na.txt"
    );
    // A Dockerfile outside the context, and -q.
    write(
        &d.dir,
        "elsewhere/Alt.dockerfile",
        "FROM busybox\nLABEL alt=yes\n",
    );
    let id = d.pouch_ok(&[
        "build",
        "-q",
        "-f",
        &d.dir.join("elsewhere/Alt.dockerfile").to_string_lossy(),
        "-t",
        "pb:alt",
        &ctx.to_string_lossy(),
    ]);
    assert!(id.starts_with("sha256:"), "{id}");
    assert_eq!(d.inspect_field("pb:alt", "{{.Config.Labels.alt}}"), "yes");
    let o = d.pouch_run(&["build", &d.dir.join("nope").to_string_lossy()]);
    assert!(!o.status.success());
}
