//! The memory limiter of one instance, which remembers why it refused.

use wasmtime::ResourceLimiter;

/// Caps linear memory and table growth, and records a refusal so that the resulting trap can
/// be reported as the limit it is.
#[derive(Debug)]
pub struct MemoryLimiter {
    /// Bytes one linear memory may reach.
    pub memory_bytes: u64,
    /// Set when a growth was refused.
    pub memory_refused: bool,
}

/// Elements one table may reach; generous for any real guest, small enough to stop a runaway.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = u64::try_from(desired).is_ok_and(|d| d <= self.memory_bytes);
        if !allowed {
            self.memory_refused = true;
        }
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}
