//! Turning the kernel's bytes into the strings of the event model: lossless escaping of
//! non-UTF-8 bytes, absolute paths, and the names of errnos and open flags.
//!
//! Invariants: nothing here panics on any input; a byte sequence that is not UTF-8 comes out as
//! `\xNN` escapes and is reported (`non_utf8`), so a reader can tell it from the real text.

use std::fmt::Write as _;

/// Decode `bytes` as UTF-8, writing each invalid byte as `\xNN`. Returns the text and whether
/// any byte had to be escaped.
pub(crate) fn escape_bytes(bytes: &[u8]) -> (String, bool) {
    let mut out = String::with_capacity(bytes.len());
    let mut rest = bytes;
    let mut escaped = false;
    loop {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                out.push_str(valid);
                return (out, escaped);
            }
            Err(err) => {
                let (valid, after) = rest.split_at(err.valid_up_to());
                // `valid_up_to` marks the end of a valid prefix, so this cannot fail
                out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                let bad = err.error_len().unwrap_or(after.len()).max(1).min(after.len());
                for b in &after[..bad] {
                    let _ = write!(out, "\\x{b:02x}");
                }
                escaped = true;
                rest = &after[bad..];
            }
        }
    }
}

/// Split an exec's argument area (NUL-separated, as in the process's memory) into arguments.
pub(crate) fn split_argv(bytes: &[u8]) -> (Vec<String>, bool) {
    let bytes = bytes.strip_suffix(&[0]).unwrap_or(bytes);
    if bytes.is_empty() {
        return (Vec::new(), false);
    }
    let mut non_utf8 = false;
    let args = bytes
        .split(|&b| b == 0)
        .map(|arg| {
            let (s, e) = escape_bytes(arg);
            non_utf8 |= e;
            s
        })
        .collect();
    (args, non_utf8)
}

/// The absolute, lexically normalised form of `path` as seen from directory `base`.
///
/// `.` and empty components are dropped and `..` removes the previous component; this is lexical
/// (a `..` after a symlink names the symlink's parent), which is what the process asked for.
/// A relative `path` with an empty `base` (the kernel could not resolve it) stays relative.
pub(crate) fn absolute(base: &str, path: &str) -> String {
    let joined;
    let full = if path.starts_with('/') || base.is_empty() {
        path
    } else {
        joined = format!("{base}/{path}");
        &joined
    };
    let absolute = full.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in full.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let body = parts.join("/");
    if absolute {
        format!("/{body}")
    } else if body.is_empty() {
        ".".to_string()
    } else {
        body
    }
}

/// The symbolic name of a (positive) errno, e.g. `ENOENT`, or `E<n>` for rare ones.
pub(crate) fn errno_name(errno: i64) -> String {
    let name = match errno {
        1 => "EPERM",
        2 => "ENOENT",
        3 => "ESRCH",
        4 => "EINTR",
        5 => "EIO",
        6 => "ENXIO",
        7 => "E2BIG",
        8 => "ENOEXEC",
        9 => "EBADF",
        10 => "ECHILD",
        11 => "EAGAIN",
        12 => "ENOMEM",
        13 => "EACCES",
        14 => "EFAULT",
        16 => "EBUSY",
        17 => "EEXIST",
        18 => "EXDEV",
        19 => "ENODEV",
        20 => "ENOTDIR",
        21 => "EISDIR",
        22 => "EINVAL",
        23 => "ENFILE",
        24 => "EMFILE",
        26 => "ETXTBSY",
        27 => "EFBIG",
        28 => "ENOSPC",
        30 => "EROFS",
        31 => "EMLINK",
        36 => "ENAMETOOLONG",
        39 => "ENOTEMPTY",
        40 => "ELOOP",
        95 => "EOPNOTSUPP",
        97 => "EAFNOSUPPORT",
        98 => "EADDRINUSE",
        99 => "EADDRNOTAVAIL",
        101 => "ENETUNREACH",
        104 => "ECONNRESET",
        106 => "EISCONN",
        110 => "ETIMEDOUT",
        111 => "ECONNREFUSED",
        113 => "EHOSTUNREACH",
        114 => "EALREADY",
        115 => "EINPROGRESS",
        122 => "EDQUOT",
        _ => return format!("E{errno}"),
    };
    name.to_string()
}

/// The errno name of a syscall result, if it is an error.
pub(crate) fn result_error(result: i64) -> Option<String> {
    (result < 0 && result > -4096).then(|| errno_name(-result))
}

/// Open flags spelled out, e.g. `O_WRONLY|O_CREAT|O_TRUNC` (x86_64 values).
pub(crate) fn open_flags_text(flags: u32) -> String {
    const NAMED: &[(u32, &str)] = &[
        (0o100, "O_CREAT"),
        (0o200, "O_EXCL"),
        (0o400, "O_NOCTTY"),
        (0o1000, "O_TRUNC"),
        (0o2000, "O_APPEND"),
        (0o4000, "O_NONBLOCK"),
        (0o10000, "O_DSYNC"),
        (0o40000, "O_DIRECT"),
        (0o200000, "O_DIRECTORY"),
        (0o400000, "O_NOFOLLOW"),
        (0o1000000, "O_NOATIME"),
        (0o2000000, "O_CLOEXEC"),
        (0o10000000, "O_PATH"),
    ];
    const O_TMPFILE: u32 = 0o20000000 | 0o200000;
    let mut parts = vec![match flags & 3 {
        0 => "O_RDONLY",
        1 => "O_WRONLY",
        2 => "O_RDWR",
        _ => "O_ACCMODE",
    }
    .to_string()];
    let mut rest = flags & !3 & !0o100000; // O_LARGEFILE says nothing on 64-bit
    if rest & O_TMPFILE == O_TMPFILE {
        parts.push("O_TMPFILE".into());
        rest &= !O_TMPFILE;
    }
    for &(bit, name) in NAMED {
        if rest & bit != 0 {
            parts.push(name.into());
            rest &= !bit;
        }
    }
    if rest != 0 {
        parts.push(format!("{rest:#o}"));
    }
    parts.join("|")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escape_keeps_utf8_and_escapes_the_rest() {
        assert_eq!(escape_bytes("héllo".as_bytes()), ("héllo".to_string(), false));
        assert_eq!(escape_bytes(b"a\xffb\xc3"), ("a\\xffb\\xc3".to_string(), true));
    }

    #[test]
    fn argv_splits_on_nul_and_flags_non_utf8() {
        let (args, bad) = split_argv(b"python3\0-c\0print(1)\0");
        assert_eq!(args, ["python3", "-c", "print(1)"]);
        assert!(!bad);
        let (args, bad) = split_argv(b"echo\0\xfe\xff\0");
        assert_eq!(args, ["echo", "\\xfe\\xff"]);
        assert!(bad);
        assert_eq!(split_argv(b"").0, Vec::<String>::new());
        // an empty argument in the middle survives
        assert_eq!(split_argv(b"a\0\0b\0").0, ["a", "", "b"]);
    }

    #[test]
    fn absolute_resolves_relative_paths_against_base() {
        assert_eq!(absolute("/tmp/x", "a"), "/tmp/x/a");
        assert_eq!(absolute("/tmp/x", "./a/../b"), "/tmp/x/b");
        assert_eq!(absolute("/tmp/x", "../../../etc"), "/etc");
        assert_eq!(absolute("/tmp", "/etc//passwd"), "/etc/passwd");
        assert_eq!(absolute("/", "."), "/");
        assert_eq!(absolute("", "rel/x"), "rel/x");
        assert_eq!(absolute("", "../x"), "../x");
    }

    #[test]
    fn errno_and_flags_have_names() {
        assert_eq!(result_error(-2).as_deref(), Some("ENOENT"));
        assert_eq!(result_error(3), None);
        assert_eq!(errno_name(4000), "E4000");
        assert_eq!(open_flags_text(0o1101), "O_WRONLY|O_CREAT|O_TRUNC");
        assert_eq!(open_flags_text(0o2000000), "O_RDONLY|O_CLOEXEC");
        assert_eq!(open_flags_text(0o20200002), "O_RDWR|O_TMPFILE");
    }

    proptest! {
        #[test]
        fn escape_never_panics_and_is_utf8_identity(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let (s, escaped) = escape_bytes(&bytes);
            prop_assert_eq!(escaped, std::str::from_utf8(&bytes).is_err());
            if !escaped {
                prop_assert_eq!(s.as_bytes(), &bytes[..]);
            }
        }

        #[test]
        fn absolute_is_absolute_and_clean(base in "(/[a-z.]{1,3}){0,4}", rel in "([a-z.]{1,3}/?){0,5}") {
            let base = if base.is_empty() { "/".to_string() } else { base };
            let p = absolute(&base, &rel);
            prop_assert!(p.starts_with('/'));
            prop_assert!(!p.contains("//"));
            prop_assert!(!p.split('/').any(|c| c == "." || c == ".."));
        }
    }
}
