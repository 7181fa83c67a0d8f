//! `HostConfig.SecurityOpt`: what the client may ask for, checked at create
//! (a bad option is a 400 then, not a failed start later).

use crate::error::{Error, Result};

/// The seccomp filter a container runs under.
#[derive(Debug, Clone, PartialEq)]
pub enum SeccompChoice {
    /// Docker's default profile.
    Default,
    /// No filter.
    Unconfined,
    /// A profile in Docker's JSON format (the docker CLI reads the file and
    /// sends its content).
    Custom(String),
}

/// The parsed security options.
#[derive(Debug, Clone, PartialEq)]
pub struct SecurityOpts {
    pub seccomp: SeccompChoice,
    pub no_new_privileges: bool,
    /// `systempaths=unconfined`: no masked or read-only /proc and /sys paths.
    pub unmasked_paths: bool,
}

impl Default for SecurityOpts {
    fn default() -> Self {
        SecurityOpts {
            seccomp: SeccompChoice::Default,
            no_new_privileges: false,
            unmasked_paths: false,
        }
    }
}

fn invalid(opt: &str) -> Error {
    Error::invalid(format!("Invalid --security-opt: {opt:?}"))
}

/// Parses `key=value` options (and the older `key:value` form of the CLI).
pub fn parse(opts: &[String]) -> Result<SecurityOpts> {
    let mut out = SecurityOpts::default();
    for opt in opts {
        if opt == "no-new-privileges" {
            out.no_new_privileges = true;
            continue;
        }
        let (key, value) = match (opt.split_once('='), opt.split_once(':')) {
            (Some((k, v)), _) if !k.contains(':') => (k, v),
            (_, Some(kv)) => kv,
            _ => return Err(invalid(opt)),
        };
        match key {
            "seccomp" => {
                out.seccomp = match value {
                    "unconfined" => SeccompChoice::Unconfined,
                    "" => return Err(invalid(opt)),
                    json => {
                        super::seccomp::Profile::parse(json)?;
                        SeccompChoice::Custom(json.to_string())
                    }
                }
            }
            "no-new-privileges" => {
                out.no_new_privileges = value.parse::<bool>().map_err(|_| invalid(opt))?;
            }
            "systempaths" if value == "unconfined" => out.unmasked_paths = true,
            // AppArmor and SELinux are not enabled on the hosts pouchd
            // supports; Docker accepts and ignores these there as well.
            "apparmor" | "label" => {}
            _ => return Err(invalid(opt)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(o: &[&str]) -> Result<SecurityOpts> {
        parse(&o.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn options_parse_as_docker_accepts_them() {
        assert_eq!(p(&[]).unwrap(), SecurityOpts::default());
        let o = p(&["seccomp=unconfined", "no-new-privileges"]).unwrap();
        assert_eq!(o.seccomp, SeccompChoice::Unconfined);
        assert!(o.no_new_privileges);
        assert!(p(&["seccomp:unconfined"]).is_ok());
        assert!(!p(&["no-new-privileges=false"]).unwrap().no_new_privileges);
        assert!(p(&["no-new-privileges:true"]).unwrap().no_new_privileges);
        assert!(p(&["systempaths=unconfined"]).unwrap().unmasked_paths);
        assert!(p(&["apparmor=unconfined", "label=disable"]).is_ok());
        let custom = r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#;
        assert_eq!(
            p(&[&format!("seccomp={custom}")]).unwrap().seccomp,
            SeccompChoice::Custom(custom.to_string())
        );
    }

    #[test]
    fn bad_options_are_refused() {
        for bad in [
            "bogus",
            "foo=bar",
            "seccomp=",
            "seccomp={not json",
            "no-new-privileges=maybe",
            "systempaths=open",
        ] {
            let e = p(&[bad]).unwrap_err();
            assert!(
                e.to_string().contains("Invalid --security-opt"),
                "{bad}: {e}"
            );
        }
    }
}
