//! Lexical path handling with the semantics of Go's `path/filepath` (on
//! unix) and Docker's `pkg/archive` copy helpers, on `/`-separated
//! strings. `cp` depends on the exact behavior: a trailing `/` or `/.`
//! changes what gets copied where.

/// Go's `filepath.Clean`: the shortest equivalent path, lexically.
pub fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let rooted = path.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if matches!(out.last(), Some(&p) if p != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            p => out.push(p),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// Go's `filepath.Base`: the last element, trailing slashes removed;
/// `.` for an empty path, `/` for a path of slashes.
pub fn base(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".to_string();
    }
    match trimmed.rfind('/') {
        Some(i) => trimmed[i + 1..].to_string(),
        None => trimmed.to_string(),
    }
}

/// Go's `filepath.Dir`: everything before the last element, cleaned.
pub fn dir(path: &str) -> String {
    let i = path.rfind('/').map_or(0, |i| i + 1);
    clean(&path[..i])
}

/// Go's `filepath.Join` of two elements (empty elements are ignored).
pub fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => String::new(),
        (true, false) => clean(b),
        (false, true) => clean(a),
        (false, false) => clean(&format!("{a}/{b}")),
    }
}

pub fn has_trailing_separator(path: &str) -> bool {
    path.ends_with('/')
}

/// The path names a directory's content (`dir/.`, `.`).
pub fn specifies_current_dir(path: &str) -> bool {
    base(path) == "."
}

/// The path can only be a directory (`dir/`, `dir/.`).
pub fn asserts_directory(path: &str) -> bool {
    has_trailing_separator(path) || specifies_current_dir(path)
}

/// Docker's `SplitPathDirEntry`: the parent directory and the entry
/// (`/a/b/` → `/a`, `b`; `/a/b/.` → `/a/b`, `.`).
pub fn split_dir_entry(path: &str) -> (String, String) {
    let mut cleaned = clean(path);
    if specifies_current_dir(path) {
        cleaned.push_str("/.");
    }
    (dir(&cleaned), base(&cleaned))
}

/// Docker's `PreserveTrailingDotOrSeparator`: put back on a cleaned path
/// the trailing `/.` or `/` of the original.
pub fn preserve_trailing_dot_or_separator(cleaned: &str, original: &str) -> String {
    let mut out = cleaned.to_string();
    if !specifies_current_dir(&out) && specifies_current_dir(original) {
        if !has_trailing_separator(&out) {
            out.push('/');
        }
        out.push('.');
    }
    if !has_trailing_separator(&out) && has_trailing_separator(original) {
        out.push('/');
    }
    out
}

/// Docker's `GetRebaseName`: when following a symlink changed the last
/// element, the name the archive's entries must take instead. Returns the
/// resolved path (with the trailing `/` or `/.` of `path`) and that name.
pub fn rebase_name(path: &str, resolved: &str) -> (String, Option<String>) {
    let mut resolved = resolved.to_string();
    if specifies_current_dir(path) && !specifies_current_dir(&resolved) {
        resolved.push_str("/.");
    }
    if has_trailing_separator(path) && !has_trailing_separator(&resolved) {
        resolved.push('/');
    }
    let name = (base(path) != base(&resolved)).then(|| base(path));
    (resolved, name)
}

/// Docker's archive entry rebaser: `old` (and what is under it) becomes
/// `new`; other names are left alone. An empty `old` (the root) prefixes
/// every name with `new`.
pub fn rebase(name: &str, old: &str, new: &str) -> String {
    let old = old.trim_end_matches('/');
    let new = new.trim_end_matches('/');
    if old.is_empty() {
        let name = name.trim_start_matches('/');
        return if new.is_empty() {
            name.to_string()
        } else {
            format!("{new}/{name}")
        };
    }
    match name.strip_prefix(old) {
        Some(suffix) if suffix.is_empty() || suffix.starts_with('/') => format!("{new}{suffix}"),
        _ => name.to_string(),
    }
}

/// An absolute version of a local path (against `cwd`), keeping a
/// trailing `/` or `/.` (docker's `resolveLocalPath`).
pub fn resolve_local(path: &str, cwd: &str) -> String {
    let abs = if path.starts_with('/') {
        clean(path)
    } else {
        join(cwd, path)
    };
    preserve_trailing_dot_or_separator(&abs, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_clean_base_dir() {
        for (input, want) in [
            ("", "."),
            ("/", "/"),
            ("//a//b/", "/a/b"),
            ("a/./b/..", "a"),
            ("../../a", "../../a"),
            ("/../a", "/a"),
            ("a/..", "."),
            ("./", "."),
        ] {
            assert_eq!(clean(input), want, "clean({input:?})");
        }
        assert_eq!(base("/a/b/"), "b");
        assert_eq!(base("/"), "/");
        assert_eq!(base(""), ".");
        assert_eq!(base("a/."), ".");
        assert_eq!(dir("/a/b"), "/a");
        assert_eq!(dir("/a"), "/");
        assert_eq!(dir("a"), ".");
        assert_eq!(dir("/a/b/"), "/a/b");
        assert_eq!(join("/a", "../b"), "/b");
        assert_eq!(join("/a", "/etc/x"), "/a/etc/x");
    }

    #[test]
    fn docker_copy_helpers() {
        assert_eq!(split_dir_entry("/a/b/"), ("/a".into(), "b".into()));
        assert_eq!(split_dir_entry("/a/b/."), ("/a/b".into(), ".".into()));
        assert_eq!(split_dir_entry("/"), ("/".into(), "/".into()));
        assert_eq!(split_dir_entry("b"), (".".into(), "b".into()));
        assert!(asserts_directory("/a/"));
        assert!(asserts_directory("/a/."));
        assert!(!asserts_directory("/a"));
        assert_eq!(preserve_trailing_dot_or_separator("/x/d", "d/."), "/x/d/.");
        assert_eq!(preserve_trailing_dot_or_separator("/x/d", "d/"), "/x/d/");
        assert_eq!(preserve_trailing_dot_or_separator("/", "/"), "/");
        assert_eq!(resolve_local("d/", "/home/u"), "/home/u/d/");
        assert_eq!(resolve_local("./a:b", "/home/u"), "/home/u/a:b");
        assert_eq!(resolve_local("/tmp/./x/.", "/home/u"), "/tmp/x/.");
        assert_eq!(
            rebase_name("/etc/link", "/real/target"),
            ("/real/target".into(), Some("link".into()))
        );
        assert_eq!(
            rebase_name("/etc/link/", "/real/link"),
            ("/real/link/".into(), None)
        );
        assert_eq!(
            rebase_name("/etc/link/.", "/real/t"),
            ("/real/t/.".into(), None)
        );
    }

    #[test]
    fn rebases_like_docker() {
        assert_eq!(rebase("hosts", "hosts", "h2"), "h2");
        assert_eq!(rebase("etc/", "etc", "conf"), "conf/");
        assert_eq!(rebase("etc/passwd", "etc", "conf"), "conf/passwd");
        assert_eq!(rebase("etcetera", "etc", "conf"), "etcetera");
        assert_eq!(rebase("./", ".", "new"), "new/");
        assert_eq!(rebase("./a", ".", "new"), "new/a");
        assert_eq!(rebase(".hidden", ".", "new"), ".hidden");
        assert_eq!(rebase("/bin", "/", "root"), "root/bin");
        assert_eq!(rebase("bin", "", ""), "bin");
    }
}
