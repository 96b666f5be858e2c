//! The memory limit holds for a whole instance, not for each of its memories: a component of
//! several core modules, each with its own linear memory, cannot hold more than its limit
//! across them, and the host's resident memory shows it.

use std::process::Command;

use dify_wasm_host::{Limits, LocalBackend, Plugin, Runtime, ToolError};
use dify_wasm_test_artifacts as artifacts;
use serde_json::json;

use crate::common::*;

const MIB: u32 = 1 << 20;
/// The limit the hostile guests run under: the default.
const LIMIT: u32 = 128 * MIB;
/// A wasm page.
const PAGE: u32 = 1 << 16;

/// Grows the module's own memory to `target` bytes, at most 1 MiB at a time, writing every new
/// byte so that the pages are really resident; traps (as a guest's allocator aborts) when a
/// growth is refused.
const GROW_TO: &str = r#"
    (func $grow-to (export "grow-to") (param $target i32)
      (local $old i32)
      (local $pages i32)
      (block $done
        (loop $more
          (local.set $pages
            (i32.sub
              (i32.div_u (i32.add (local.get $target) (i32.const 65535)) (i32.const 65536))
              (memory.size)))
          (br_if $done (i32.le_s (local.get $pages) (i32.const 0)))
          (if (i32.gt_u (local.get $pages) (i32.const 16)) (then (local.set $pages (i32.const 16))))
          (local.set $old (memory.grow (local.get $pages)))
          (if (i32.eq (local.get $old) (i32.const -1)) (then unreachable))
          (memory.fill
            (i32.mul (local.get $old) (i32.const 65536))
            (i32.const 1)
            (i32.mul (local.get $pages) (i32.const 65536)))
          (br $more))))
"#;

/// One core module of a [`plugin`]: its memory's declared size in pages, the size in bytes
/// `invoke-tool` grows it to, and the elements of a funcref table it declares (none when 0).
#[derive(Clone, Copy)]
struct Memory {
    initial_pages: u32,
    grow_to: u32,
    table_elements: u32,
}

impl Memory {
    fn growing_to(bytes: u32) -> Memory {
        Memory {
            initial_pages: 1,
            grow_to: bytes,
            table_elements: 0,
        }
    }

    fn table(&self) -> String {
        match self.table_elements {
            0 => String::new(),
            n => format!("(table {n} funcref)"),
        }
    }
}

/// A component exporting `dify:plugin/tool-provider@0.1.0`, made of one core module per entry
/// of `memories`, each with a memory of its own. `invoke-tool` grows the memories of the other
/// modules, then that of the first (which also holds the strings the host passes in), each to
/// its `grow_to`, then answers `ok`.
fn plugin(memories: &[Memory]) -> String {
    let (first, others) = memories.split_first().expect("at least one module");
    let mut wat = String::from("(component\n");
    for (i, m) in others.iter().enumerate() {
        wat += &format!(
            "  (core module $m{i} (memory (export \"memory\") {}) {} {GROW_TO})\n",
            m.initial_pages,
            m.table(),
        );
        wat += &format!("  (core instance $i{i} (instantiate $m{i}))\n");
    }
    let imports: String = (0..others.len())
        .map(|i| format!("(import \"m{i}\" \"grow-to\" (func $grow-m{i} (param i32)))\n"))
        .collect();
    let calls: String = others
        .iter()
        .enumerate()
        .map(|(i, m)| format!("(call $grow-m{i} (i32.const {}))\n", m.grow_to))
        .collect();
    let with: String = (0..others.len())
        .map(|i| format!("(with \"m{i}\" (instance $i{i}))"))
        .collect();
    wat += &format!(
        r#"
  (core module $main
    {imports}
    (memory (export "memory") {initial})
    {table}
    (global $heap (mut i32) (i32.const 1024))
    ;; A bump allocator for the strings the host passes in.
    (func (export "realloc") (param i32 i32) (param $align i32) (param $size i32) (result i32)
      (local $at i32)
      (local.set $at
        (i32.and
          (i32.add (global.get $heap) (i32.sub (local.get $align) (i32.const 1)))
          (i32.sub (i32.const 0) (local.get $align))))
      (global.set $heap (i32.add (local.get $at) (local.get $size)))
      (if (i32.gt_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536)))
        (then unreachable))
      (local.get $at))
    {GROW_TO}
    (func (export "invoke-tool") (param i32 i32 i32 i32 i32 i32) (result i32)
      {calls}
      (call $grow-to (i32.const {grow}))
      ;; result::ok in the return area
      (i32.store8 (i32.const 16) (i32.const 0))
      (i32.const 16))
  )
  (core instance $main (instantiate $main {with}))

  (type $backend-failure (record
    (field "status" (option u16))
    (field "code" (option string))
    (field "message" string)))
  (type $invoke-error (variant
    (case "not-found" string)
    (case "invalid-parameters" string)
    (case "permission-denied" string)
    (case "tool-failed" string)
    (case "backend-unreachable" string)
    (case "backend-failed" $backend-failure)
    (case "rate-limited" string)
    (case "timed-out" string)
    (case "limit-exceeded" string)
    (case "cancelled" string)))
  (alias core export $main "memory" (core memory $memory))
  (alias core export $main "realloc" (core func $realloc))
  (alias core export $main "invoke-tool" (core func $invoke))
  (func $invoke-tool
    (param "tool-name" string) (param "parameters" string) (param "credentials" string)
    (result (result (error $invoke-error)))
    (canon lift (core func $invoke) (memory $memory) (realloc $realloc)))
  (instance $provider
    (export "backend-failure" (type $backend-failure))
    (export "invoke-error" (type $invoke-error))
    (export "invoke-tool" (func $invoke-tool)))
  (export "dify:plugin/tool-provider@0.1.0" (instance $provider))
)
"#,
        initial = first.initial_pages,
        grow = first.grow_to,
        table = first.table(),
    );
    wat
}

/// The hostile guest: two memories, each growing to just under the limit.
fn two_memories_near_the_limit() -> String {
    plugin(&[
        Memory::growing_to(LIMIT - 8 * MIB),
        Memory::growing_to(LIMIT - 8 * MIB),
    ])
}

fn load_wat(rt: &Runtime, name: &str, wat: &str) -> Plugin {
    let bytes = wat::parse_str(wat).unwrap_or_else(|e| panic!("{name} assembles: {e}"));
    rt.load_plugin_bytes(name, &bytes)
        .unwrap_or_else(|e| panic!("{name} loads: {e}"))
}

async fn invoke(rt: &Runtime, plugin: &Plugin) -> Option<ToolError> {
    // The guests call no tools: a backend without plugins, so that nothing is compiled during
    // the invocation but the guest.
    let backend = LocalBackend::builder(rt).build();
    let (messages, error) = run(rt, plugin, "grow", json!({}), backend).await;
    assert!(messages.is_empty(), "the guest emits nothing");
    error
}

/// Showcase's `echo` on `rt`, as an honest neighbour would call it.
async fn honest_echo(rt: &Runtime, showcase: &Plugin) {
    let backend = local_backend(rt, Default::default());
    let (messages, error) = run(rt, showcase, "echo", json!({"text": "still here"}), backend).await;
    assert_eq!(error, None, "the honest invocation succeeds");
    assert_eq!(texts(&messages), vec!["still here".to_owned()]);
}

fn assert_memory_limit(error: Option<ToolError>) {
    match error {
        Some(ToolError::LimitExceeded(text)) => assert!(
            text.contains("memory limit of 128 MiB")
                && text.contains("Limits::memory_bytes")
                && text.contains("--memory-mib"),
            "the error names the limit and its knob: {text}"
        ),
        other => panic!("expected the memory limit, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_memories_share_one_limit_while_a_neighbour_is_served() {
    let rt = runtime();
    let hostile = load_wat(&rt, "two-memories", &two_memories_near_the_limit());
    // Compiled beforehand, so that the echo runs while the hostile guest fills its memories.
    let showcase = load(&rt, artifacts::SHOWCASE);
    let (error, ()) = tokio::join!(invoke(&rt, &hostile), honest_echo(&rt, &showcase));
    assert_memory_limit(error);
    // The instance's memory went back to the pool: the same runtime serves the next call.
    honest_echo(&rt, &showcase).await;
}

#[tokio::test]
async fn one_memory_may_use_three_quarters_of_the_limit() {
    let rt = runtime();
    let single = load_wat(
        &rt,
        "one-memory",
        &plugin(&[Memory::growing_to(LIMIT / 4 * 3)]),
    );
    assert_eq!(invoke(&rt, &single).await, None);
}

#[tokio::test]
async fn two_memories_may_share_three_quarters_of_the_limit() {
    let rt = runtime();
    let half = LIMIT / 8 * 3;
    let split = load_wat(
        &rt,
        "two-memories",
        &plugin(&[Memory::growing_to(half), Memory::growing_to(half)]),
    );
    assert_eq!(invoke(&rt, &split).await, None);
}

#[tokio::test]
async fn memories_declared_too_large_together_are_refused_at_instantiation() {
    // Each declares 80 MiB: either alone fits the limit, together they do not.
    let pages = 80 * MIB / PAGE;
    let declared = Memory {
        initial_pages: pages,
        grow_to: 0,
        table_elements: 0,
    };
    let rt = runtime();
    let plugin = load_wat(&rt, "large-memories", &plugin(&[declared, declared]));
    assert_memory_limit(invoke(&rt, &plugin).await);
    honest_echo(&rt, &load(&rt, artifacts::SHOWCASE)).await;
}

#[tokio::test]
async fn the_limit_is_exact_and_tables_count_against_it() {
    let rt = runtime();
    // The second memory keeps its one page; the first takes the rest: exactly the limit.
    let exact = [Memory::growing_to(LIMIT - PAGE), Memory::growing_to(PAGE)];
    let plugin_at_limit = load_wat(&rt, "at-the-limit", &plugin(&exact));
    assert_eq!(invoke(&rt, &plugin_at_limit).await, None);
    // The same memories and one table element more do not fit.
    let mut with_table = exact;
    with_table[0].table_elements = 1;
    let plugin_over = load_wat(&rt, "table-over-the-limit", &plugin(&with_table));
    assert_memory_limit(invoke(&rt, &plugin_over).await);
}

#[tokio::test]
async fn a_lower_limit_is_the_sum_too() {
    let rt = runtime_with(Limits {
        memory_bytes: 32 << 20,
        ..Limits::default()
    });
    let plugin = load_wat(
        &rt,
        "two-memories",
        &plugin(&[Memory::growing_to(20 * MIB), Memory::growing_to(20 * MIB)]),
    );
    match invoke(&rt, &plugin).await {
        Some(ToolError::LimitExceeded(text)) => {
            assert!(text.contains("memory limit of 32 MiB"), "{text}")
        }
        other => panic!("expected the memory limit, got {other:?}"),
    }
}

/// A `/proc/self/status` field, in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"))
}

/// The hostile guest alone in a process, so that the process's peak resident memory is its
/// doing: run by [`the_hosts_resident_memory_stays_within_the_limit`].
#[tokio::test]
#[ignore = "run alone in a process of its own by the_hosts_resident_memory_stays_within_the_limit"]
async fn rss_probe() {
    let rt = runtime();
    let hostile = load_wat(&rt, "two-memories", &two_memories_near_the_limit());
    // Linux: writing 5 to clear_refs resets VmHWM to the current RSS.
    std::fs::write("/proc/self/clear_refs", "5").expect("reset VmHWM");
    let before = status_kib("VmRSS");
    let error = invoke(&rt, &hostile).await;
    let peak = status_kib("VmHWM");
    let after = status_kib("VmRSS");
    let growth = peak.saturating_sub(before);
    println!(
        "RSS before {before} KiB, peak {peak} KiB (+{growth} KiB), after {after} KiB; outcome {error:?}"
    );
    assert_memory_limit(error);
    // The guest may hold its limit; the host adds little around it. Before the limit covered
    // the sum, this guest took the host to about twice the limit.
    let bound = u64::from(LIMIT + 24 * MIB) >> 10;
    assert!(
        growth <= bound,
        "the host's RSS grew by {growth} KiB, more than {bound} KiB"
    );
}

#[test]
fn the_hosts_resident_memory_stays_within_the_limit() {
    let exe = std::env::current_exe().expect("the test binary");
    let out = Command::new(exe)
        .args([
            "memory::rss_probe",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .output()
        .expect("run the probe");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "the probe failed:\n{stdout}\n{stderr}"
    );
}
