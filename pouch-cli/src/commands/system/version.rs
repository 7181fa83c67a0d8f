//! `pouch version`: Client and Server sections like `docker version`.

use std::fmt::Write as _;

use clap::Args;
use pouch_api::system::Version;
use serde_json::{json, Value};

use crate::commands::Ctx;
use crate::error::{CmdResult, StatusError};
use crate::format::Template;

#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Format the output using the given Go template
    #[arg(short = 'f', long)]
    pub format: Option<String>,
}

/// Go's name of the architecture.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

fn client_info() -> Value {
    json!({
        "Version": env!("CARGO_PKG_VERSION"),
        "ApiVersion": pouch_api::API_VERSION,
        // docker's templates use the Go field name.
        "APIVersion": pouch_api::API_VERSION,
        "Os": std::env::consts::OS,
        "Arch": go_arch(),
    })
}

/// `key:` padded so values start at column 20, as docker aligns them.
fn line(out: &mut String, indent: usize, key: &str, value: &str) {
    let label = format!("{}{key}:", " ".repeat(indent));
    let _ = writeln!(out, "{label:<20}{value}");
}

fn client_section() -> String {
    let mut out = String::from("Client:\n");
    line(&mut out, 1, "Version", env!("CARGO_PKG_VERSION"));
    line(&mut out, 1, "API version", pouch_api::API_VERSION);
    line(
        &mut out,
        1,
        "OS/Arch",
        &format!("{}/{}", std::env::consts::OS, go_arch()),
    );
    out
}

/// The Server section of `docker version`.
pub fn server_section(v: &Version) -> String {
    let mut out = String::from("Server:");
    if !v.platform.name.is_empty() {
        out.push(' ');
        out.push_str(&v.platform.name);
    }
    out.push('\n');
    let engine = v.components.iter().find(|c| c.name == "Engine");
    let detail = |k: &str, fallback: &str| -> String {
        engine
            .and_then(|e| e.details.get(k).cloned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| fallback.to_string())
    };
    out.push_str(" Engine:\n");
    let version = engine.map_or(v.version.as_str(), |e| e.version.as_str());
    line(&mut out, 2, "Version", version);
    let api = detail("ApiVersion", &v.api_version);
    let min = detail("MinAPIVersion", &v.min_api_version);
    let api = if min.is_empty() {
        api
    } else {
        format!("{api} (minimum version {min})")
    };
    line(&mut out, 2, "API version", &api);
    for (label, key, fallback) in [
        ("Go version", "GoVersion", v.go_version.as_str()),
        ("Git commit", "GitCommit", v.git_commit.as_str()),
        ("Built", "BuildTime", v.build_time.as_str()),
    ] {
        let value = detail(key, fallback);
        if !value.is_empty() {
            line(&mut out, 2, label, &value);
        }
    }
    let os = detail("Os", &v.os);
    let arch = detail("Arch", &v.arch);
    line(&mut out, 2, "OS/Arch", &format!("{os}/{arch}"));
    line(
        &mut out,
        2,
        "Experimental",
        &detail(
            "Experimental",
            if v.experimental { "true" } else { "false" },
        ),
    );
    for c in v.components.iter().filter(|c| c.name != "Engine") {
        let _ = writeln!(out, " {}:", c.name);
        line(&mut out, 2, "Version", &c.version);
        let mut keys: Vec<&String> = c.details.keys().collect();
        keys.sort();
        for k in keys {
            line(&mut out, 2, k, &c.details[k]);
        }
    }
    out
}

/// The server's version as templates see it: docker's templates use Go's
/// field names (`APIVersion`, `MinAPIVersion`), not the JSON keys.
fn server_template_value(v: &pouch_api::system::Version) -> Value {
    let mut val = serde_json::to_value(v).unwrap_or(Value::Null);
    if let Some(obj) = val.as_object_mut() {
        for (json_key, go_name) in [
            ("ApiVersion", "APIVersion"),
            ("MinAPIVersion", "MinAPIVersion"),
        ] {
            if let Some(x) = obj.get(json_key).cloned() {
                obj.insert(go_name.to_string(), x);
            }
        }
    }
    val
}

pub async fn run(ctx: &Ctx, args: VersionArgs) -> CmdResult {
    let server = ctx.client.version().await;
    if let Some(f) = args.format.as_deref().filter(|f| !f.is_empty()) {
        let t = Template::parse(f)
            .map_err(|e| StatusError::msg(format!("Template parsing error: {e}")))?;
        let data = json!({
            "Client": client_info(),
            "Server": server.as_ref().ok().map(server_template_value),
        });
        println!("{}", t.execute(&data).map_err(StatusError::msg)?);
        return server.map(|_| ()).map_err(Into::into);
    }
    print!("{}", client_section());
    let v = server?;
    println!();
    print!("{}", server_section(&v));
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use pouch_api::system::ComponentVersion;

    use super::*;

    #[test]
    fn server_section_like_docker() {
        let v = Version {
            version: "0.1.0".into(),
            api_version: "1.41".into(),
            min_api_version: "1.12".into(),
            os: "linux".into(),
            arch: "amd64".into(),
            git_commit: "abc123".into(),
            components: vec![
                ComponentVersion {
                    name: "Engine".into(),
                    version: "0.1.0".into(),
                    details: HashMap::new(),
                },
                ComponentVersion {
                    name: "containerd".into(),
                    version: "1.6.20".into(),
                    details: HashMap::from([("GitCommit".into(), "deadbeef".into())]),
                },
            ],
            ..Default::default()
        };
        assert_eq!(
            server_section(&v),
            "Server:\n Engine:\n  Version:          0.1.0\n  API version:      1.41 (minimum version 1.12)\n  Git commit:       abc123\n  OS/Arch:          linux/amd64\n  Experimental:     false\n containerd:\n  Version:          1.6.20\n  GitCommit:        deadbeef\n"
        );
        assert!(client_section().starts_with("Client:\n Version:           "));
    }
}
