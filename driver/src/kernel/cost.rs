//! Cycle costs of software actions *(model)*. Kept in one place so a latency figure can be
//! traced back to the numbers that produced it.

/// Taking a lock that is free (the atomic read-modify-write).
pub const LOCK: u64 = 5;
/// One iteration of a spinlock's busy-wait loop.
pub const SPIN_STEP: u64 = 4;
/// A context switch onto a CPU.
pub const CONTEXT_SWITCH: u64 = 20;
/// Interrupt entry (vector, save registers) before the handler's first instruction.
pub const IRQ_ENTRY: u64 = 10;
/// A memory barrier (`smp_mb`); `smp_rmb`/`smp_wmb` cost half.
pub const BARRIER: u64 = 4;
/// A CPU load or store that hits in the TLB.
pub const MEM_ACCESS: u64 = 1;
/// Page-fault entry and exit.
pub const FAULT: u64 = 50;
/// Writing one page-table entry.
pub const PTE_UPDATE: u64 = 2;
/// A CPU TLB shootdown (IPIs to the other CPUs).
pub const TLB_FLUSH: u64 = 40;
/// Zeroing a 4K page.
pub const PAGE_ZERO: u64 = 100;
/// Copying a 4K page.
pub const PAGE_COPY: u64 = 200;
/// A swap device read or write of one page (the thread sleeps meanwhile).
pub const SWAP_IO: u64 = 1000;
/// Bookkeeping of a system call or daemon step (VMA lookups and the like).
pub const SYSCALL: u64 = 30;
