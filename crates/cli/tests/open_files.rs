//! `pushwire serve` raises its open-file limit: started with a soft limit
//! of 256, it runs with its hard limit, and says so when even that is too
//! low for `--max-connections`. (Its own test binary: the soft limit is
//! lowered for the whole process, which the child inherits.)

mod common;

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
    let serve = common::serve(&["--max-connections", &too_many]);
    let soft = soft_limit_of(serve.child.id());
    assert_eq!(soft, hard, "the soft limit was raised to the hard one");
    assert!(
        hard == rlimit::INFINITY
            || serve
                .log
                .iter()
                .any(|line| line.contains("open files limit") && line.contains(&too_many)),
        "a warning names the limit and --max-connections: {:#?}",
        serve.log
    );
}
