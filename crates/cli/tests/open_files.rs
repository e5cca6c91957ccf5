//! `pushwire serve` raises its open-file limit: started with a soft limit
//! of 256, it runs with its hard limit, and says so when even that is too
//! low for `--max-connections`. (Its own test binary: the soft limit is
//! lowered for the whole process, which the child inherits.)

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use rlimit::Resource;

/// The soft limit on open files of process `pid`, from /proc.
fn soft_limit_of(pid: u32) -> u64 {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .expect("a Max open files line");
    line.split_whitespace().nth(3).unwrap().parse().unwrap()
}

#[test]
fn serve_raises_its_soft_limit_to_the_hard_one() {
    let (_, hard) = Resource::NOFILE.get().unwrap();
    Resource::NOFILE.set(256, hard).unwrap();
    let too_many = hard.saturating_add(1).to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pushwire"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--max-connections",
            &too_many,
        ])
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the pushwire binary runs");
    let mut log = Vec::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        let serving = line.contains("serving http://");
        log.push(line);
        if serving {
            break;
        }
    }
    let soft = soft_limit_of(child.id());
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(soft, hard, "the soft limit was raised to the hard one");
    assert!(
        hard == rlimit::INFINITY
            || log
                .iter()
                .any(|line| line.contains("open files limit") && line.contains(&too_many)),
        "a warning names the limit and --max-connections: {log:#?}"
    );
}
