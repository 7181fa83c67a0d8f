//! Seccomp: Docker's default profile and profiles in Docker's JSON format,
//! turned into the OCI spec's filter for the container's capabilities.
//!
//! The default allows what ordinary programs need and refuses (EPERM) the
//! calls that reach into the kernel's global state (module loading, clock,
//! keyrings, mounting, new namespaces...) unless the container holds the
//! capability that would let it do so anyway, as Docker's profile does.

use crate::error::{Error, Result};
use oci_spec::runtime::{
    Arch, Capability, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompArgBuilder,
    LinuxSeccompBuilder, LinuxSeccompOperator, LinuxSyscallBuilder,
};
use serde::Deserialize;
use std::collections::HashSet;

/// A profile as Docker's `--security-opt seccomp=<file>` takes it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub default_action: LinuxSeccompAction,
    #[serde(default)]
    pub default_errno_ret: Option<u32>,
    #[serde(default)]
    pub architectures: Vec<Arch>,
    #[serde(default)]
    pub arch_map: Vec<ArchMap>,
    #[serde(default)]
    pub syscalls: Vec<Rule>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchMap {
    pub architecture: Arch,
    #[serde(default)]
    pub sub_architectures: Vec<Arch>,
}

/// Syscalls with one action, applied when its conditions hold.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    #[serde(default)]
    pub names: Vec<String>,
    /// The single-name form of older profiles.
    #[serde(default)]
    pub name: Option<String>,
    pub action: LinuxSeccompAction,
    #[serde(default)]
    pub errno_ret: Option<u32>,
    #[serde(default)]
    pub args: Vec<LinuxSeccompArg>,
    #[serde(default)]
    pub includes: Filter,
    #[serde(default)]
    pub excludes: Filter,
}

/// When a rule applies: every capability in `caps` held (includes) or any
/// held (excludes); the machine's architecture among `arches`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    #[serde(default)]
    pub caps: Vec<String>,
    #[serde(default)]
    pub arches: Vec<String>,
}

impl Profile {
    /// Parses a profile; the message says what is wrong with it.
    pub fn parse(json: &str) -> Result<Profile> {
        serde_json::from_str(json)
            .map_err(|e| Error::invalid(format!("Invalid --security-opt: seccomp profile: {e}")))
    }

    /// The filter for a process holding `caps`, on this machine.
    pub fn to_oci(&self, caps: &HashSet<Capability>) -> Result<LinuxSeccomp> {
        let native = native_arch();
        let mut arches: Vec<Arch> = Vec::new();
        if let Some(m) = self
            .arch_map
            .iter()
            .find(|m| Some(m.architecture) == native)
        {
            arches.push(m.architecture);
            arches.extend(m.sub_architectures.iter().copied());
        } else {
            arches.extend(self.architectures.iter().copied());
        }
        let native_name = std::env::consts::ARCH;
        let held = |c: &String| {
            let name = c.strip_prefix("CAP_").unwrap_or(c);
            name.parse::<Capability>()
                .map(|c| caps.contains(&c))
                .unwrap_or(false)
        };
        let arch_in = |list: &[String]| list.iter().any(|a| arch_alias(a) == native_name);
        let mut syscalls = Vec::new();
        for r in &self.syscalls {
            if !r.includes.caps.iter().all(held)
                || r.excludes.caps.iter().any(held)
                || (!r.includes.arches.is_empty() && !arch_in(&r.includes.arches))
                || arch_in(&r.excludes.arches)
            {
                continue;
            }
            let mut names = r.names.clone();
            names.extend(r.name.iter().cloned());
            if names.is_empty() {
                continue;
            }
            let mut b = LinuxSyscallBuilder::default().names(names).action(r.action);
            if let Some(e) = r.errno_ret {
                b = b.errno_ret(e);
            }
            if !r.args.is_empty() {
                b = b.args(r.args.clone());
            }
            syscalls.push(b.build().map_err(spec_err)?);
        }
        let mut b = LinuxSeccompBuilder::default()
            .default_action(self.default_action)
            .architectures(arches)
            .syscalls(syscalls);
        if let Some(e) = self.default_errno_ret {
            b = b.default_errno_ret(e);
        }
        b.build().map_err(spec_err)
    }
}

fn spec_err(e: impl std::fmt::Display) -> Error {
    Error::system(format!("seccomp profile: {e}"))
}

fn native_arch() -> Option<Arch> {
    match std::env::consts::ARCH {
        "x86_64" => Some(Arch::ScmpArchX86_64),
        "aarch64" => Some(Arch::ScmpArchAarch64),
        "x86" => Some(Arch::ScmpArchX86),
        "arm" => Some(Arch::ScmpArchArm),
        _ => None,
    }
}

/// Docker's profiles name architectures as Go does (`amd64`); Rust says `x86_64`.
fn arch_alias(a: &str) -> &str {
    match a {
        "amd64" => "x86_64",
        "arm64" => "aarch64",
        "386" => "x86",
        other => other,
    }
}

/// What every container may call, whatever its capabilities.
const ALLOWED: &str =
    "accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32 \
     clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime \
     clock_gettime64 clock_nanosleep clock_nanosleep_time64 close close_range connect \
     copy_file_range creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old \
     epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit \
     exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir \
     fchmod fchmodat fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr \
     flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync \
     ftruncate ftruncate64 futex futex_time64 futex_waitv futimesat getcpu getcwd getdents \
     getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32 \
     getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid \
     getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid getsockname \
     getsockopt get_thread_area gettid gettimeofday getuid getuid32 getxattr \
     inotify_add_watch inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy \
     io_getevents io_pgetevents io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit \
     io_uring_enter io_uring_register io_uring_setup ipc kill landlock_add_rule \
     landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link linkat \
     listen listxattr llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64 madvise \
     membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 \
     mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive \
     mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap msgctl msgget \
     msgrcv msgsnd msync munlock munlockall munmap nanosleep newfstatat _newselect open \
     openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free \
     pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64 \
     process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read readahead \
     readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg \
     remap_file_pages removexattr rename renameat renameat2 restart_syscall rmdir rseq \
     rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend \
     rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr \
     sched_getparam sched_get_priority_max sched_get_priority_min sched_getscheduler \
     sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity sched_setattr \
     sched_setparam sched_setscheduler sched_yield seccomp select semctl semget semop \
     semtimedop semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid \
     setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid \
     setpriority setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid \
     setreuid32 setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address \
     setuid setuid32 setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd \
     signalfd4 sigprocmask sigreturn socket socketcall socketpair splice stat stat64 statfs \
     statfs64 statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time \
     timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime \
     timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime \
     timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat \
     utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev";

/// Tracing one's own children is harmless on kernels since 4.8, which
/// closed the seccomp bypass through ptrace.
const ALLOWED_TRACING: &str =
    "kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace";

/// Calls a capability makes allowed.
const BY_CAPABILITY: &[(&str, &str)] = &[
    ("CAP_DAC_READ_SEARCH", "open_by_handle_at"),
    (
        "CAP_SYS_ADMIN",
        "bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount \
         mount_setattr move_mount name_to_handle_at open_tree perf_event_open quotactl \
         quotactl_fd setdomainname sethostname setns syslog umount umount2 unshare",
    ),
    ("CAP_SYS_BOOT", "reboot"),
    ("CAP_SYS_CHROOT", "chroot"),
    ("CAP_SYS_MODULE", "delete_module init_module finit_module"),
    ("CAP_SYS_PACCT", "acct"),
    ("CAP_SYS_RAWIO", "iopl ioperm"),
    (
        "CAP_SYS_TIME",
        "settimeofday stime clock_settime clock_settime64",
    ),
    ("CAP_SYS_TTY_CONFIG", "vhangup"),
    ("CAP_SYS_NICE", "get_mempolicy mbind set_mempolicy"),
    ("CAP_SYSLOG", "syslog"),
    ("CAP_BPF", "bpf"),
    ("CAP_PERFMON", "perf_event_open"),
];

/// clone(2) flags that create namespaces: refused without CAP_SYS_ADMIN.
const CLONE_NAMESPACE_FLAGS: u64 = 0x7E02_0000;

/// The personalities programs commonly set (Linux, its 32-bit variants,
/// and queries).
const PERSONALITIES: &[u64] = &[0x0, 0x0008, 0x20000, 0x20008, 0xffff_ffff];

const ENOSYS: u32 = 38;
const EPERM: u32 = 1;

fn arg(
    index: usize,
    value: u64,
    value_two: Option<u64>,
    op: LinuxSeccompOperator,
) -> LinuxSeccompArg {
    let mut b = LinuxSeccompArgBuilder::default()
        .index(index)
        .value(value)
        .op(op);
    if let Some(v) = value_two {
        b = b.value_two(v);
    }
    // Builder with every field set: cannot fail.
    b.build().unwrap_or_default()
}

fn allow(names: &str) -> Rule {
    Rule {
        names: names.split_whitespace().map(str::to_string).collect(),
        action: LinuxSeccompAction::ScmpActAllow,
        ..Default::default()
    }
}

fn caps(c: &[&str]) -> Filter {
    Filter {
        caps: c.iter().map(|s| s.to_string()).collect(),
        arches: Vec::new(),
    }
}

/// Docker's default profile.
pub fn default_profile() -> Profile {
    let mut syscalls = vec![allow(ALLOWED), allow(ALLOWED_TRACING)];
    for p in PERSONALITIES {
        syscalls.push(Rule {
            args: vec![arg(0, *p, None, LinuxSeccompOperator::ScmpCmpEq)],
            ..allow("personality")
        });
    }
    syscalls.push(Rule {
        includes: Filter {
            caps: Vec::new(),
            arches: vec!["amd64".into(), "x32".into(), "386".into()],
        },
        ..allow("arch_prctl modify_ldt")
    });
    // Without CAP_SYS_ADMIN: threads and processes, no new namespaces; and
    // clone3, whose flags seccomp cannot see, answers ENOSYS so that libc
    // falls back to clone.
    syscalls.push(Rule {
        args: vec![arg(
            0,
            CLONE_NAMESPACE_FLAGS,
            Some(0),
            LinuxSeccompOperator::ScmpCmpMaskedEq,
        )],
        excludes: caps(&["CAP_SYS_ADMIN"]),
        ..allow("clone")
    });
    syscalls.push(Rule {
        action: LinuxSeccompAction::ScmpActErrno,
        errno_ret: Some(ENOSYS),
        excludes: caps(&["CAP_SYS_ADMIN"]),
        ..allow("clone3")
    });
    for (cap, names) in BY_CAPABILITY {
        syscalls.push(Rule {
            includes: caps(&[cap]),
            ..allow(names)
        });
    }
    Profile {
        default_action: LinuxSeccompAction::ScmpActErrno,
        default_errno_ret: Some(EPERM),
        architectures: Vec::new(),
        arch_map: vec![
            ArchMap {
                architecture: Arch::ScmpArchX86_64,
                sub_architectures: vec![Arch::ScmpArchX86, Arch::ScmpArchX32],
            },
            ArchMap {
                architecture: Arch::ScmpArchAarch64,
                sub_architectures: vec![Arch::ScmpArchArm],
            },
        ],
        syscalls,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(s: &LinuxSeccomp) -> HashSet<String> {
        s.syscalls()
            .iter()
            .flatten()
            .filter(|r| r.action() == LinuxSeccompAction::ScmpActAllow && r.args().is_none())
            .flat_map(|r| r.names().iter().cloned())
            .collect()
    }

    fn cap_set(c: &[&str]) -> HashSet<Capability> {
        c.iter().map(|c| c.parse().expect("capability")).collect()
    }

    #[test]
    fn default_profile_refuses_by_default_and_allows_the_common_calls() {
        let s = default_profile().to_oci(&cap_set(&["CHOWN"])).unwrap();
        assert_eq!(s.default_action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(s.default_errno_ret(), Some(EPERM));
        let allowed = names(&s);
        for n in ["read", "write", "execve", "openat", "clone3"] {
            assert_eq!(allowed.contains(n), n != "clone3", "{n}");
        }
        for n in [
            "mount",
            "unshare",
            "setns",
            "reboot",
            "init_module",
            "keyctl",
        ] {
            assert!(!allowed.contains(n), "{n} allowed without its capability");
        }
        if cfg!(target_arch = "x86_64") {
            assert_eq!(
                s.architectures().clone().unwrap_or_default(),
                vec![Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32]
            );
            assert!(s
                .syscalls()
                .iter()
                .flatten()
                .any(|r| r.names().contains(&"arch_prctl".to_string())));
        }
        // clone is allowed only without namespace flags.
        let clone = s
            .syscalls()
            .iter()
            .flatten()
            .find(|r| r.names() == &["clone".to_string()])
            .expect("clone rule");
        let a = clone.args().clone().unwrap_or_default();
        assert_eq!(a[0].op(), LinuxSeccompOperator::ScmpCmpMaskedEq);
        assert_eq!(a[0].value(), CLONE_NAMESPACE_FLAGS);
    }

    #[test]
    fn capabilities_open_their_calls() {
        let s = default_profile()
            .to_oci(&cap_set(&["SYS_ADMIN", "SYS_TIME"]))
            .unwrap();
        let allowed = names(&s);
        for n in [
            "mount",
            "unshare",
            "setns",
            "clone",
            "clone3",
            "clock_settime",
        ] {
            assert!(allowed.contains(n), "{n} refused with its capability");
        }
        assert!(!allowed.contains("reboot"));
    }

    #[test]
    fn docker_format_profiles_parse() {
        let p = Profile::parse(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],
                "syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13},
                            {"name":"chmod","action":"SCMP_ACT_ERRNO","args":[{"index":1,"value":511,"op":"SCMP_CMP_EQ"}]},
                            {"names":["reboot"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_BOOT"]}}]}"#,
        )
        .unwrap();
        let s = p.to_oci(&cap_set(&["CHOWN"])).unwrap();
        assert_eq!(s.default_action(), LinuxSeccompAction::ScmpActAllow);
        let rules = s.syscalls().clone().unwrap_or_default();
        assert_eq!(rules.len(), 2, "the CAP_SYS_BOOT rule does not apply");
        assert_eq!(rules[0].errno_ret(), Some(13));
        assert_eq!(rules[1].names(), &["chmod".to_string()]);
        assert!(Profile::parse(r#"{"defaultAction":"SCMP_ACT_NOPE"}"#).is_err());
        assert!(Profile::parse("[]").is_err());
    }
}
