//! Dockerfile instructions applied to an image config, as `docker commit
//! --change` and `docker import --change` take them (moby's
//! `dockerfile.BuildFromConfig`): CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK,
//! LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR. Pure functions.

use super::shellwords::words;
use crate::error::{Error, Result};
use pouch_api::container::{Config, EmptyObject, HealthConfig};

const ALLOWED: &[&str] = &[
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "HEALTHCHECK",
    "LABEL",
    "ONBUILD",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// Every Dockerfile instruction, to tell an unknown word from a known one
/// that commit does not allow (Docker words the two errors differently).
const KNOWN: &[&str] = &["ADD", "ARG", "COPY", "FROM", "MAINTAINER", "RUN", "SHELL"];

/// Applies `changes` (one instruction each) on top of `cfg`.
pub fn apply(mut cfg: Config, changes: &[String]) -> Result<Config> {
    let mut cmd_set = false;
    for (i, raw) in changes.iter().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (word, rest) = match line.split_once(char::is_whitespace) {
            Some((w, r)) => (w, r.trim()),
            None => (line, ""),
        };
        let instr = word.to_ascii_uppercase();
        if !ALLOWED.contains(&instr.as_str()) {
            if KNOWN.contains(&instr.as_str()) {
                return Err(Error::invalid(format!(
                    "{instr} is not a valid change command"
                )));
            }
            return Err(Error::invalid(format!(
                "dockerfile parse error line {}: unknown instruction: {instr}",
                i + 1
            )));
        }
        let bad = |why: &str| Error::invalid(format!("{instr} {rest:?}: {why}"));
        match instr.as_str() {
            "CMD" => {
                cfg.cmd = Some(command(rest, &cfg).map_err(|w| bad(&w))?);
                cmd_set = true;
            }
            "ENTRYPOINT" => {
                cfg.entrypoint = Some(command(rest, &cfg).map_err(|w| bad(&w))?);
                // As in a Dockerfile: a new entrypoint drops an inherited CMD.
                if !cmd_set {
                    cfg.cmd = None;
                }
            }
            "ENV" => {
                for (k, v) in name_values(rest, "ENV", &cfg.env).map_err(|w| bad(&w))? {
                    let prefix = format!("{k}=");
                    cfg.env.retain(|e| !e.starts_with(&prefix) && e != &k);
                    cfg.env.push(format!("{k}={v}"));
                }
            }
            "LABEL" => {
                for (k, v) in name_values(rest, "LABEL", &cfg.env).map_err(|w| bad(&w))? {
                    cfg.labels.insert(k, v);
                }
            }
            "EXPOSE" => {
                let ports = words(rest, &cfg.env).map_err(|w| bad(&w))?;
                if ports.is_empty() {
                    return Err(bad("requires at least one argument"));
                }
                for p in ports {
                    for port in expose(&p).map_err(|w| bad(&w))? {
                        cfg.exposed_ports.insert(port, EmptyObject {});
                    }
                }
            }
            "VOLUME" => {
                let vols = match json_array(rest) {
                    Some(v) => v,
                    None => words(rest, &cfg.env).map_err(|w| bad(&w))?,
                };
                if vols.is_empty() {
                    return Err(bad("requires at least one argument"));
                }
                for v in vols {
                    if v.trim().is_empty() {
                        return Err(bad("volume path cannot be empty"));
                    }
                    cfg.volumes.insert(v, EmptyObject {});
                }
            }
            "USER" | "STOPSIGNAL" | "WORKDIR" => {
                let args = words(rest, &cfg.env).map_err(|w| bad(&w))?;
                let [arg] = args.as_slice() else {
                    return Err(bad("requires exactly one argument"));
                };
                match instr.as_str() {
                    "USER" => cfg.user = arg.clone(),
                    "STOPSIGNAL" => cfg.stop_signal = arg.clone(),
                    _ => cfg.working_dir = workdir(&cfg.working_dir, arg),
                }
            }
            "ONBUILD" => {
                if rest.is_empty() {
                    return Err(bad("requires at least one argument"));
                }
                let first = rest.split_whitespace().next().unwrap_or("");
                if ["ONBUILD", "FROM", "MAINTAINER"].contains(&first.to_ascii_uppercase().as_str())
                {
                    return Err(bad("that instruction is not allowed as an ONBUILD trigger"));
                }
                cfg.on_build.push(rest.to_string());
            }
            "HEALTHCHECK" => cfg.healthcheck = Some(healthcheck(rest).map_err(|w| bad(&w))?),
            _ => unreachable!("checked against ALLOWED"),
        }
    }
    Ok(cfg)
}

/// `["a","b"]` (exec form) or a shell command line (run by the image's shell).
fn command(rest: &str, cfg: &Config) -> std::result::Result<Vec<String>, String> {
    if let Some(v) = json_array(rest) {
        return Ok(v);
    }
    let mut shell = cfg
        .shell
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
    if rest.is_empty() {
        return Err("requires at least one argument".into());
    }
    shell.push(rest.to_string());
    Ok(shell)
}

/// A JSON array of strings, or `None` when `s` is not one (shell form).
fn json_array(s: &str) -> Option<Vec<String>> {
    if !s.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(s).ok()
}

/// `K=v K2="v 2"`, or the legacy `K some value` (one pair).
fn name_values(
    rest: &str,
    instr: &str,
    env: &[String],
) -> std::result::Result<Vec<(String, String)>, String> {
    let ws = words(rest, env)?;
    if ws.is_empty() {
        return Err("requires at least one argument".into());
    }
    if !ws[0].contains('=') {
        let (key, value) = match rest.split_once(char::is_whitespace) {
            Some((k, v)) => (k, v.trim()),
            None => return Err(format!("{instr} must have two arguments")),
        };
        let value = words(value, env)?.join(" ");
        return Ok(vec![(key.to_string(), value)]);
    }
    ws.into_iter()
        .map(|w| match w.split_once('=') {
            Some(("", _)) => Err(format!("{instr} names cannot be empty")),
            Some((k, v)) => Ok((k.to_string(), v.to_string())),
            None => Err(format!(
                "syntax error - can't find = in {w:?}: must be of the form name=value"
            )),
        })
        .collect()
}

/// `80`, `80/udp`, `8000-8002/tcp` → Docker's `port/proto` keys.
fn expose(spec: &str) -> std::result::Result<Vec<String>, String> {
    let (ports, proto) = match spec.split_once('/') {
        Some((p, proto)) => (p, proto.to_ascii_lowercase()),
        None => (spec, "tcp".to_string()),
    };
    if !["tcp", "udp", "sctp"].contains(&proto.as_str()) {
        return Err(format!("invalid proto: {proto}"));
    }
    let port = |p: &str| {
        p.parse::<u16>()
            .map_err(|_| format!("invalid containerPort: {p}"))
    };
    let (lo, hi) = match ports.split_once('-') {
        Some((a, b)) => (port(a)?, port(b)?),
        None => (port(ports)?, port(ports)?),
    };
    if hi < lo {
        return Err(format!(
            "invalid range specified for container port: {ports}"
        ));
    }
    Ok((lo..=hi).map(|p| format!("{p}/{proto}")).collect())
}

fn workdir(current: &str, arg: &str) -> String {
    let joined = if arg.starts_with('/') || current.is_empty() {
        arg.to_string()
    } else {
        format!("{}/{arg}", current.trim_end_matches('/'))
    };
    let mut parts: Vec<&str> = Vec::new();
    for c in joined.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

/// `NONE`, or `[--interval=D ...] CMD <command>`.
fn healthcheck(rest: &str) -> std::result::Result<HealthConfig, String> {
    let mut hc = HealthConfig::default();
    let mut rest = rest.trim();
    if rest.eq_ignore_ascii_case("NONE") {
        hc.test = vec!["NONE".into()];
        return Ok(hc);
    }
    while let Some(flag) = rest.strip_prefix("--") {
        let (opt, tail) = flag.split_once(char::is_whitespace).unwrap_or((flag, ""));
        let (name, value) = opt
            .split_once('=')
            .ok_or_else(|| format!("flag --{opt} needs a value"))?;
        match name {
            "interval" => hc.interval = duration_ns(value)?,
            "timeout" => hc.timeout = duration_ns(value)?,
            "start-period" => hc.start_period = duration_ns(value)?,
            "retries" => {
                hc.retries = value
                    .parse::<i64>()
                    .ok()
                    .filter(|r| *r >= 0)
                    .ok_or_else(|| format!("invalid retries: {value}"))?
            }
            other => return Err(format!("unknown flag: --{other}")),
        }
        rest = tail.trim_start();
    }
    let (word, cmd) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    if !word.eq_ignore_ascii_case("CMD") {
        return Err("unknown type: use NONE or CMD".into());
    }
    let cmd = cmd.trim();
    hc.test = match json_array(cmd) {
        Some(v) if !v.is_empty() => [vec!["CMD".to_string()], v].concat(),
        Some(_) => return Err("requires a command".into()),
        None if cmd.is_empty() => return Err("requires a command".into()),
        None => vec!["CMD-SHELL".into(), cmd.to_string()],
    };
    Ok(hc)
}

/// Go duration (`30s`, `1m30s`, `500ms`) in nanoseconds.
pub(crate) fn duration_ns(s: &str) -> std::result::Result<i64, String> {
    let bad = || format!("invalid duration: {s}");
    let mut total: f64 = 0.0;
    let mut rest = s;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let n: f64 = rest[..num_end].parse().map_err(|_| bad())?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        total += n * mult;
        rest = &rest[unit_end..];
    }
    Ok(total as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(changes: &[&str]) -> Result<Config> {
        let c: Vec<String> = changes.iter().map(|s| s.to_string()).collect();
        apply(Config::default(), &c)
    }

    #[test]
    fn cmd_and_entrypoint_in_both_forms() {
        let c = run(&[r#"CMD ["cat","/x"]"#]).unwrap();
        assert_eq!(c.cmd, Some(vec!["cat".to_string(), "/x".to_string()]));
        let c = run(&["cmd echo hi there"]).unwrap();
        assert_eq!(
            c.cmd,
            Some(vec!["/bin/sh".into(), "-c".into(), "echo hi there".into()])
        );
        let c = run(&["ENTRYPOINT [\"/bin/app\"]"]).unwrap();
        assert_eq!(c.entrypoint, Some(vec!["/bin/app".to_string()]));
    }

    #[test]
    fn entrypoint_drops_inherited_cmd_but_not_a_new_one() {
        let base = Config {
            cmd: Some(vec!["sh".into()]),
            ..Default::default()
        };
        let c = apply(base.clone(), &["ENTRYPOINT top".into()]).unwrap();
        assert_eq!(c.cmd, None);
        let c = apply(
            base,
            &["CMD [\"-b\"]".into(), "ENTRYPOINT [\"top\"]".into()],
        )
        .unwrap();
        assert_eq!(c.cmd, Some(vec!["-b".to_string()]));
    }

    #[test]
    fn env_forms_and_replacement() {
        let base = Config {
            env: vec!["A=old".into(), "PATH=/bin".into()],
            ..Default::default()
        };
        let c = apply(
            base,
            &[
                "ENV A=b".into(),
                r#"ENV C="x y" D=z\ w"#.into(),
                "ENV LEGACY some value".into(),
            ],
        )
        .unwrap();
        assert_eq!(
            c.env,
            ["PATH=/bin", "A=b", "C=x y", "D=z w", "LEGACY=some value"]
        );
    }

    #[test]
    fn variables_expand_as_in_a_dockerfile() {
        let base = Config {
            env: vec!["PATH=/bin".into(), "EMPTY=".into()],
            ..Default::default()
        };
        let c = apply(
            base,
            &[
                r#"ENV PATH=$PATH:/x B=${PATH}/y C="${MISSING:-dflt}" D=${PATH:+set}"#.into(),
                r#"ENV E='$PATH' F=\$PATH G=${EMPTY:-e}"#.into(),
                "WORKDIR /home/$B".into(),
                r#"CMD echo $PATH"#.into(),
            ],
        )
        .unwrap();
        assert_eq!(
            c.env,
            [
                "EMPTY=",
                "PATH=/bin:/x",
                "B=/bin/y",
                "C=dflt",
                "D=set",
                "E=$PATH",
                "F=$PATH",
                "G=e"
            ]
        );
        assert_eq!(c.working_dir, "/home/bin/y");
        // Commands are run by the shell, which expands them itself.
        assert_eq!(c.cmd.unwrap()[2], "echo $PATH");
        assert!(run(&["ENV A=${B"]).is_err());
    }

    #[test]
    fn labels_ports_volumes_user_workdir_signal() {
        let c = run(&[
            r#"LABEL a=1 "b c"=2"#,
            "EXPOSE 80 53/udp 8000-8001",
            r#"VOLUME ["/data", "/logs"]"#,
            "VOLUME /more",
            "USER nobody",
            "WORKDIR /srv",
            "WORKDIR app/../web",
            "STOPSIGNAL SIGINT",
        ])
        .unwrap();
        assert_eq!(c.labels["a"], "1");
        assert_eq!(c.labels["b c"], "2");
        let mut ports: Vec<_> = c.exposed_ports.keys().cloned().collect();
        ports.sort();
        assert_eq!(ports, ["53/udp", "80/tcp", "8000/tcp", "8001/tcp"]);
        assert!(c.volumes.contains_key("/data") && c.volumes.contains_key("/more"));
        assert_eq!(c.user, "nobody");
        assert_eq!(c.working_dir, "/srv/web");
        assert_eq!(c.stop_signal, "SIGINT");
    }

    #[test]
    fn healthcheck_forms() {
        let c = run(&["HEALTHCHECK --interval=1m30s --retries=3 CMD curl -f http://x/"]).unwrap();
        let hc = c.healthcheck.unwrap();
        assert_eq!(hc.test, ["CMD-SHELL", "curl -f http://x/"]);
        assert_eq!(hc.interval, 90_000_000_000);
        assert_eq!(hc.retries, 3);
        let c = run(&["HEALTHCHECK NONE"]).unwrap();
        assert_eq!(c.healthcheck.unwrap().test, ["NONE"]);
    }

    #[test]
    fn bad_changes_are_invalid_parameters() {
        for bad in [
            "RUN echo hi",
            "FOO bar",
            "ENV",
            "ENV A",
            "ENV A=b c",
            "EXPOSE 99999",
            "EXPOSE 80/xyz",
            "USER a b",
            "LABEL \"unterminated",
            "HEALTHCHECK --interval=abc CMD x",
            "CMD",
        ] {
            let e = run(&[bad]).expect_err(bad);
            assert!(matches!(e, Error::InvalidParameter(_)), "{bad}: {e:?}");
        }
        let e = run(&["RUN x"]).unwrap_err();
        assert_eq!(e.to_string(), "RUN is not a valid change command");
    }
}
