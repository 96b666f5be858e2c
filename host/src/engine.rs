//! The one wasmtime `Engine` shared by every plugin, and the clock that preempts guests.

use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::error::SetupError;
use crate::limits::Limits;

/// How often the epoch advances. A guest that never calls the host yields to the executor at
/// this rate, so the wall-clock timeout and cancellation reach it within one tick.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Core instances one component may create (a Rust plugin has about 5; Python and JavaScript
/// ones more).
pub const CORE_INSTANCES_PER_COMPONENT: u32 = 32;
/// Linear memories one component may have; their sizes together obey the memory limit.
pub const MEMORIES_PER_COMPONENT: u32 = 2;
/// Tables one component may have.
pub const TABLES_PER_COMPONENT: u32 = 8;

/// Bytes of each memory slot kept resident between instances.
const KEEP_RESIDENT_MEMORY: usize = 1 << 20;
/// Bytes of each table slot kept resident between instances.
const KEEP_RESIDENT_TABLE: usize = 64 << 10;

/// Builds the engine: pooling allocator sized from `limits`, epoch interruption, async host
/// calls, and no component-model concurrency (which slows every host call of a WASI 0.2 guest).
pub fn build_engine(limits: &Limits) -> Result<Engine, SetupError> {
    let mut pool = PoolingAllocationConfig::default();
    let instances = limits.max_instances.max(1);
    let memory = usize::try_from(limits.memory_bytes)
        .map_err(|_| SetupError("memory limit does not fit this machine's address space".into()))?;
    // Every pool follows `max_instances`, each sized for the most one component may use, so
    // that no component can exhaust a pool while instance slots (which the runtime hands out
    // fairly) remain; and every running instance can have its async stack.
    pool.total_component_instances(instances)
        .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
        .total_core_instances(instances.saturating_mul(CORE_INSTANCES_PER_COMPONENT))
        .max_memories_per_component(MEMORIES_PER_COMPONENT)
        .total_memories(instances.saturating_mul(MEMORIES_PER_COMPONENT))
        .max_tables_per_component(TABLES_PER_COMPONENT)
        .total_tables(instances.saturating_mul(TABLES_PER_COMPONENT))
        .total_stacks(instances)
        .max_memory_size(memory)
        // A slot's first pages stay resident between instances and are zeroed in place
        // instead of being returned to the kernel and faulted back in: a fifth of a small
        // invocation's CPU, and a TLB shootdown per instance on a multi-thread executor. The
        // cost is bounded: at most this much per pool slot ever used.
        .linear_memory_keep_resident(KEEP_RESIDENT_MEMORY)
        .table_keep_resident(KEEP_RESIDENT_TABLE)
        .pagemap_scan(wasmtime::Enabled::Auto);

    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .concurrency_support(false)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    let engine = Engine::new(&config).map_err(|e| SetupError(format!("{e:#}")))?;
    start_epoch_ticker(&engine)?;
    Ok(engine)
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until the engine is dropped.
fn start_epoch_ticker(engine: &Engine) -> Result<(), SetupError> {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("dify-wasm-epoch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(EPOCH_TICK);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        })
        .map(|_| ())
        .map_err(|e| SetupError(format!("cannot start the epoch thread: {e}")))
}
