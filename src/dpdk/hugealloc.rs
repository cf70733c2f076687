//! A global allocator that puts large allocations on transparent huge
//! pages, without EAL.
//!
//! What it promises: every allocation of at least [`HUGE_PAGE`] bytes (the
//! per-worker NAT64 tables, sized once at start) is aligned to 2 MiB,
//! rounded up to whole 2 MiB pages and marked `madvise(MADV_HUGEPAGE)`
//! before its first byte is written, so with THP in `madvise` mode the
//! kernel backs it with 2 MiB pages: a million-session table then needs a
//! few dozen TLB entries instead of tens of thousands, and a lookup's cache
//! miss is no longer also a page walk. Zeroed allocations are advised
//! first and zeroed after (glibc would otherwise touch every 4 KiB page
//! before the advice). Smaller allocations go to [`System`] unchanged.
//! Where the kernel grants no huge page the advice is a no-op and memory
//! is ordinary.
//!
//! Declare it in a binary or bench:
//! `#[global_allocator] static A: nat64_dpdk::dpdk::HugeAlloc = nat64_dpdk::dpdk::HugeAlloc;`

use std::alloc::{GlobalAlloc, Layout, System};

/// Size (and alignment) of a transparent huge page on x86-64.
pub const HUGE_PAGE: usize = 2 << 20;

/// [`System`], with allocations of [`HUGE_PAGE`] bytes or more on huge
/// pages (see the module docs).
#[derive(Debug, Clone, Copy, Default)]
pub struct HugeAlloc;

/// The layout actually asked of [`System`] for a large `layout`: whole huge
/// pages, huge-page aligned. `None` if the rounded size overflows.
#[inline]
fn huge_layout(layout: Layout) -> Option<Layout> {
    let size = layout.size().checked_next_multiple_of(HUGE_PAGE)?;
    Layout::from_size_align(size, layout.align().max(HUGE_PAGE)).ok()
}

/// Asks the kernel for huge pages under `[ptr, ptr + len)`. Best effort: a
/// refusal leaves ordinary pages.
fn advise(ptr: *mut u8, len: usize) {
    if ptr.is_null() {
        return;
    }
    // SAFETY: `ptr` starts a live allocation of `len` bytes that we own
    // (2 MiB aligned, so page aligned as madvise requires); MADV_HUGEPAGE
    // changes only how the kernel backs the range, never its contents or
    // validity, and its result is deliberately ignored.
    unsafe {
        libc::madvise(ptr.cast(), len, libc::MADV_HUGEPAGE);
    }
}

// SAFETY: every method forwards to `System` with a layout that is a pure
// function of the caller's (`huge_layout` for sizes >= HUGE_PAGE, else the
// layout itself), so `dealloc` and `realloc` always hand `System` back the
// layout it allocated with; the returned blocks are at least as large and
// as aligned as asked.
unsafe impl GlobalAlloc for HugeAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() < HUGE_PAGE {
            // SAFETY: the caller's contract (non-zero size) is passed on.
            return unsafe { System.alloc(layout) };
        }
        let Some(l) = huge_layout(layout) else {
            return std::ptr::null_mut();
        };
        // SAFETY: `l` has a non-zero size.
        let p = unsafe { System.alloc(l) };
        advise(p, l.size());
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() < HUGE_PAGE {
            // SAFETY: the caller's contract (non-zero size) is passed on.
            return unsafe { System.alloc_zeroed(layout) };
        }
        // SAFETY: as `alloc`; the caller's contract is the same.
        let p = unsafe { self.alloc(layout) };
        if !p.is_null() {
            // SAFETY: `p` points to at least `layout.size()` writable bytes
            // just allocated; zeroing them after the advice lets the first
            // touch of each 2 MiB page fault in a huge page.
            unsafe { std::ptr::write_bytes(p, 0, layout.size()) };
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let l = if layout.size() < HUGE_PAGE {
            layout
        } else {
            match huge_layout(layout) {
                Some(l) => l,
                // Never allocated (alloc returned null for it).
                None => return,
            }
        };
        // SAFETY: `ptr` came from `System` with exactly `l` (see `alloc`).
        unsafe { System.dealloc(ptr, l) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.size() < HUGE_PAGE && new_size < HUGE_PAGE {
            // SAFETY: small to small: `System` owns `ptr` with `layout`.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return std::ptr::null_mut();
        };
        // SAFETY: `new_size` is non-zero (the caller's contract).
        let q = unsafe { self.alloc(new_layout) };
        if !q.is_null() {
            // SAFETY: both blocks are live, distinct, and at least
            // `min(old, new)` bytes long; the old one is ours to free.
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, q, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        q
    }
}

#[cfg(test)]
mod tests;
