//! The memory limiter of one instance, which charges all of its memories and tables to one
//! budget and remembers why it refused.
//!
//! A component may hold several core modules, each with its own linear memory and tables. A
//! limit checked per memory would let a component with two memories use twice its limit, so
//! every growth is charged to one running total for the whole store (one store holds exactly
//! one plugin instance, with every core instance inside it).
//!
//! How wasmtime 48 drives a `ResourceLimiter` (`crates/wasmtime/src/runtime/vm/memory.rs` and
//! `table.rs`), and why the total is right:
//! - Creating a memory or table asks `memory_growing(0, minimum, ..)` / `table_growing(0,
//!   minimum, ..)` first, so the initial allocation is charged like any growth.
//! - A growth the limiter approves can still fail afterwards only when it goes past the
//!   memory's or table's own maximum (refused here before charging, see below) or when the
//!   operating system cannot provide the pages. For the latter wasmtime calls
//!   `memory_grow_failed`, which does not say which memory or how much; it is also called for
//!   a growth the limiter never saw (`memory.grow` past the index type's range). Un-charging
//!   there could only be a guess, and a wrong guess would let a guest shrink its own total,
//!   so nothing is un-charged: the total may exceed what is mapped after an operating-system
//!   failure, never fall short of it.
//! - Memories and tables are freed only when the store is dropped, with the limiter, so
//!   nothing is ever released while the total is in use.

use wasmtime::ResourceLimiter;

/// Caps the sum of an instance's linear memories and tables, and records a refusal so that the
/// resulting trap can be reported as the limit it is.
#[derive(Debug)]
pub struct MemoryLimiter {
    /// Bytes all of the instance's linear memories and tables may reach together.
    pub memory_bytes: u64,
    /// Set when a growth was refused because of `memory_bytes`.
    pub memory_refused: bool,
    /// Bytes charged so far: every memory's and table's size, summed.
    charged: u64,
}

/// Elements one table may reach; generous for any real guest, small enough to stop a runaway.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

/// Bytes the host holds per table element. In wasmtime 48 a funcref element is a pointer
/// (`Option<SendSyncPtr<VMFuncRef>>`) and an externref element a 32-bit `Option<VMGcRef>`;
/// continuation tables (16 bytes) need stack switching, which the engine does not enable. The
/// limiter is not told a table's element type, so every element is charged as the larger.
const TABLE_ELEMENT_BYTES: u64 = std::mem::size_of::<usize>() as u64;

impl MemoryLimiter {
    /// A limiter with nothing charged yet, for a fresh store; `memory_bytes` is the instance's
    /// whole budget.
    pub fn new(memory_bytes: u64) -> Self {
        MemoryLimiter {
            memory_bytes,
            memory_refused: false,
            charged: 0,
        }
    }

    /// Bytes of linear memory and tables the instance holds, as charged against the limit.
    pub fn charged_bytes(&self) -> u64 {
        self.charged
    }

    /// Charges growing something from `current` to `desired` units of `unit_bytes` each, or
    /// refuses (remembering why) when the total would pass the limit. Growth past the
    /// memory's or table's own `maximum` is refused without charge or blame: wasmtime would
    /// fail it anyway, and it is the guest's own bound, not the host's.
    fn charge(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
        unit_bytes: u64,
    ) -> bool {
        if maximum.is_some_and(|max| desired > max) {
            return false;
        }
        let added = u64::try_from(desired.saturating_sub(current))
            .unwrap_or(u64::MAX)
            .saturating_mul(unit_bytes);
        let total = self.charged.saturating_add(added);
        if total > self.memory_bytes {
            self.memory_refused = true;
            return false;
        }
        self.charged = total;
        true
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(self.charge(current, desired, maximum, 1))
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            return Ok(false);
        }
        Ok(self.charge(current, desired, maximum, TABLE_ELEMENT_BYTES))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: usize = 1 << 20;

    fn limiter(mib: u64) -> MemoryLimiter {
        MemoryLimiter::new(mib << 20)
    }

    #[test]
    fn two_memories_share_one_limit() {
        let mut l = limiter(128);
        // Instantiation: two memories of one page each.
        assert!(l.memory_growing(0, 65536, None).unwrap());
        assert!(l.memory_growing(0, 65536, None).unwrap());
        // The first grows to 100 MiB.
        assert!(l.memory_growing(65536, 100 * MIB, None).unwrap());
        assert!(!l.memory_refused);
        // The second may not: each alone would fit, together they do not.
        assert!(!l.memory_growing(65536, 100 * MIB, None).unwrap());
        assert!(l.memory_refused);
        // What is left is still available to it.
        let left = 128 * MIB - 100 * MIB - 65536;
        assert!(l.memory_growing(65536, 65536 + left, None).unwrap());
        assert_eq!(l.charged_bytes(), 128 << 20);
        assert!(
            !l.memory_growing(65536 + left, 65536 + left + 65536, None)
                .unwrap()
        );
    }

    #[test]
    fn a_refused_growth_charges_nothing() {
        let mut l = limiter(1);
        assert!(l.memory_growing(0, MIB / 2, None).unwrap());
        assert!(!l.memory_growing(MIB / 2, 2 * MIB, None).unwrap());
        assert_eq!(l.charged_bytes(), (MIB / 2) as u64);
        assert!(l.memory_growing(MIB / 2, MIB, None).unwrap());
    }

    #[test]
    fn the_initial_size_is_charged() {
        let mut l = limiter(1);
        assert!(!l.memory_growing(0, 2 * MIB, None).unwrap());
        assert!(
            l.memory_refused,
            "a memory declared larger than the limit is the limit's doing"
        );
        assert_eq!(l.charged_bytes(), 0);
    }

    #[test]
    fn tables_count_against_the_same_limit() {
        let mut l = limiter(1);
        assert!(l.memory_growing(0, MIB - 1024, None).unwrap());
        // 128 elements of 8 bytes fill the last KiB exactly...
        assert!(l.table_growing(0, 128, None).unwrap());
        assert_eq!(l.charged_bytes(), (MIB as u64));
        // ...and one more element does not fit.
        assert!(!l.table_growing(128, 129, None).unwrap());
        assert!(l.memory_refused);
    }

    #[test]
    fn a_table_stays_under_its_element_cap_whatever_the_budget() {
        let mut l = limiter(1 << 20);
        assert!(l.table_growing(0, MAX_TABLE_ELEMENTS, None).unwrap());
        assert!(
            !l.table_growing(MAX_TABLE_ELEMENTS, MAX_TABLE_ELEMENTS + 1, None)
                .unwrap()
        );
        assert!(!l.memory_refused, "the element cap is not the memory limit");
    }

    #[test]
    fn growth_past_the_guests_own_maximum_is_not_charged_or_blamed() {
        let mut l = limiter(128);
        assert!(l.memory_growing(0, MIB, Some(2 * MIB)).unwrap());
        assert!(!l.memory_growing(MIB, 3 * MIB, Some(2 * MIB)).unwrap());
        assert!(!l.memory_refused);
        assert_eq!(l.charged_bytes(), MIB as u64);
        assert!(!l.table_growing(10, 20, Some(15)).unwrap());
        assert_eq!(l.charged_bytes(), MIB as u64);
    }

    #[test]
    fn absurd_requests_are_refused_without_overflow() {
        let mut l = limiter(128);
        assert!(l.memory_growing(0, MIB, None).unwrap());
        assert!(!l.memory_growing(MIB, usize::MAX, None).unwrap());
        assert!(l.memory_refused);
        assert!(!l.table_growing(0, usize::MAX, None).unwrap());
        assert_eq!(l.charged_bytes(), MIB as u64);
    }
}
