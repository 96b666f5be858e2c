//! A plugin's flood of stdout and stderr, run through `dify-wasm run` as a user runs it: the
//! host's log stays near the budget, says once what it dropped, carries no raw control bytes
//! or colour codes into a file, and a log nobody reads does not hold the invocation up.

use std::fs::File;
use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use dify_wasm_test_artifacts as artifacts;
use serde_json::Value;

/// 300 MiB of guest output, as in the issue.
const FLOOD: u64 = 300 << 20;
/// The default of `Limits::max_log_bytes`.
const BUDGET: u64 = 1 << 20;

/// A compile cache private to this test run, so tests neither read nor fill the user's.
fn cache_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dify-wasm-cli-cache")
}

/// `dify-wasm run` of the adversary's `log_flood`, with the default log filter.
fn flood(bytes: u64, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dify-wasm"));
    cmd.env_remove("RUST_LOG")
        .env("DIFY_WASM_CACHE_DIR", cache_dir())
        .args([
            "run",
            artifacts::ADVERSARY,
            "--tool",
            "log_flood",
            "--params",
        ])
        .arg(format!(r#"{{"bytes": {bytes}, "control": true}}"#))
        .args(["--timeout-secs", "120"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    cmd
}

/// How a watched run ended.
struct Watched {
    status: ExitStatus,
    took: Duration,
    /// The child's peak RSS (VmHWM) as last seen before it exited, in KiB.
    peak_kib: u64,
    stdout: String,
}

/// Waits for `child` at most `limit` (killing it past that), sampling its peak RSS.
fn watch(mut child: Child, limit: Duration) -> Watched {
    let started = Instant::now();
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0;
    let status = loop {
        if let Some(status) = child.try_wait().expect("the child can be waited for") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("dify-wasm did not finish within {limit:?}");
        }
        if let Some(kib) = std::fs::read_to_string(&status_path)
            .ok()
            .and_then(|s| field_kib(&s, "VmHWM"))
        {
            peak_kib = peak_kib.max(kib);
        }
        sleep(Duration::from_millis(10));
    };
    let took = started.elapsed();
    Watched {
        status,
        took,
        peak_kib,
        stdout: reader.join().expect("stdout is read"),
    }
}

fn field_kib(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().trim_end_matches(" kB").parse().ok()
    })
}

/// The texts of the `text` messages printed on stdout.
fn texts(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .filter(|m| m["type"] == "text")
        .map(|m| m["message"]["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Checks a log file: no raw control characters (but the newlines between lines), no colour
/// codes, one summary naming the knob; returns the summary.
fn check_log(log: &[u8]) -> String {
    let text = String::from_utf8(log.to_vec()).expect("the host's log is UTF-8");
    if let Some((at, c)) = text
        .char_indices()
        .find(|&(_, c)| c != '\n' && (c.is_control() || c == '\u{202e}' || c == '\u{2028}'))
    {
        let from = text[..at].rfind('\n').map_or(0, |n| n + 1);
        panic!(
            "raw {c:?} at byte {at} of the log, in line: {:?}",
            &text[from..at + 1]
        );
    }
    assert!(
        text.contains(r"\rOVERWRITTEN\0\u{1b}[31mred\u{1b}[0m\u{1b}]0;pwned\u{7}\u{7f}\u{9b}2J"),
        "the control characters are shown escaped"
    );
    let summaries: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("plugin output dropped"))
        .collect();
    assert_eq!(summaries.len(), 1, "one summary: {summaries:#?}");
    let summary = summaries[0].to_owned();
    assert!(summary.contains("`adversary`"), "{summary}");
    assert!(summary.contains("Limits::max_log_bytes"), "{summary}");
    assert!(summary.contains("CLI --max-log-bytes"), "{summary}");
    summary
}

#[test]
fn a_flood_into_a_file_stays_near_the_budget_and_is_summed_up_once() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("stderr.log");
    let child = flood(FLOOD, &[])
        .stderr(File::create(&path).expect("the log file"))
        .spawn()
        .expect("dify-wasm starts");
    let run = watch(child, Duration::from_secs(110));
    let log = std::fs::read(&path).expect("the log file");
    eprintln!(
        "{} MiB of guest output -> {} bytes of host log in {:?}; dify-wasm peak RSS (VmHWM) {} MiB",
        FLOOD >> 20,
        log.len(),
        run.took,
        run.peak_kib >> 10
    );
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&log));
    assert_eq!(texts(&run.stdout), vec![format!("wrote {FLOOD} bytes")]);
    let summary = check_log(&log);
    assert!(
        summary.contains(&format!("log budget of {BUDGET} bytes")),
        "{summary}"
    );
    assert!(
        (log.len() as u64) < BUDGET + (16 << 10),
        "{} bytes of host log for a budget of {BUDGET}",
        log.len()
    );
    assert!(
        (log.len() as u64) > BUDGET / 2,
        "the budget is used: {} bytes",
        log.len()
    );
    assert!(
        run.peak_kib < 256 << 10,
        "peak RSS {} MiB while the plugin wrote {} MiB",
        run.peak_kib >> 10,
        FLOOD >> 20
    );
}

#[test]
fn the_budget_follows_the_max_log_bytes_flag() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("stderr.log");
    let child = flood(8 << 20, &["--max-log-bytes", "40000"])
        .stderr(File::create(&path).expect("the log file"))
        .spawn()
        .expect("dify-wasm starts");
    let run = watch(child, Duration::from_secs(110));
    let log = std::fs::read(&path).expect("the log file");
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&log));
    let summary = check_log(&log);
    assert!(summary.contains("log budget of 40000 bytes"), "{summary}");
    assert!(log.len() < 40000 + 4096, "{} bytes of host log", log.len());
}

#[test]
fn a_log_nobody_reads_does_not_hold_the_invocation_up() {
    // Standard error is a pipe that is never read: once its buffer (64 KiB) is full, every write
    // to it blocks for good.
    let mut child = flood(FLOOD, &[])
        .stderr(Stdio::piped())
        .spawn()
        .expect("dify-wasm starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    let run = watch(child, Duration::from_secs(100));
    drop(stderr);
    eprintln!(
        "{} MiB of guest output into an unread pipe: finished in {:?}, peak RSS (VmHWM) {} MiB",
        FLOOD >> 20,
        run.took,
        run.peak_kib >> 10
    );
    assert!(run.status.success(), "exit status {:?}", run.status);
    assert_eq!(texts(&run.stdout), vec![format!("wrote {FLOOD} bytes")]);
    assert!(
        run.took < Duration::from_secs(60),
        "took {:?}, half of --timeout-secs 120",
        run.took
    );
}
