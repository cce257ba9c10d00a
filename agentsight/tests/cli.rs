//! The command line without privileges: help, argument errors and bad targets are clear and
//! exit 2, before anything is loaded into the kernel. Hermetic: runs in plain `cargo test`.

use std::process::Command;

fn agentsight(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_agentsight")).args(args).output().expect("run agentsight");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_lists_the_commands() {
    let (code, out, _) = agentsight(&["--help"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("record") && out.contains("attach"), "{out}");
    let (_, out, _) = agentsight(&["record", "--help"]);
    assert!(out.contains("--until") && out.contains("exit code"), "{out}");
}

#[test]
fn record_without_a_command_is_a_usage_error() {
    let (code, _, err) = agentsight(&["record"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("<CMD>"), "{err}");
}

#[test]
fn ring_size_must_be_a_power_of_two() {
    let (code, _, err) = agentsight(&["record", "--ring-mib", "3", "--", "true"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("not a power of two"), "{err}");
}

#[test]
fn attach_to_a_missing_pid_says_so() {
    // pid_max is at most 2^22: this pid cannot exist
    let (code, _, err) = agentsight(&["attach", "--pid", "4294967294"]);
    assert_eq!(code, Some(2));
    assert_eq!(err.trim(), "agentsight: no process with pid 4294967294");
}

#[test]
fn attach_needs_a_target() {
    let (code, _, err) = agentsight(&["attach"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--pid"), "{err}");
}
