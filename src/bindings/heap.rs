// The wasm heap: Rust's own allocator for wasm32 (dlmalloc), fed memory in steps that grow
// with the heap. std's feeds it exactly what one allocation needs, so a log filling memory
// grows the wasm memory 64 KiB at a time, and each grow costs V8 far more than the copy it
// makes room for (it re-creates the memory's ArrayBuffer and counts it as external memory,
// which triggers garbage collections): 200,000 sends of 1 KiB into a fresh process ran ten
// times slower than into one whose memory had grown before. A grow of a sixteenth of the
// heap (at most 16 MiB) makes grows rare; the pages it adds and nothing uses yet are not
// touched, so the OS does not back them.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::UnsafeCell;
use std::ptr;

use dlmalloc::{Allocator, Dlmalloc};

const PAGE_BYTES: usize = 64 * 1024;
/// A grow adds at least this share of the memory there is (as a divisor)…
const GROWTH_DIVISOR: usize = 16;
/// …and at most this much beyond what the allocation needs.
const GROWTH_STEP_MAX_PAGES: usize = 16 * 1024 * 1024 / PAGE_BYTES;

/// The pages a grow asks for: what `needed` takes, or a share of the `current` memory when
/// that is more (capped). Both in pages.
fn grow_pages(current: usize, needed: usize) -> usize {
    needed.max((current / GROWTH_DIVISOR).min(GROWTH_STEP_MAX_PAGES))
}

/// The system side of dlmalloc: new pages at the end of wasm memory (which never shrinks).
struct GrowingMemory;

// SAFETY: `alloc` hands out pages that memory.grow just added: nothing else owns them. The
// other methods refuse (wasm memory cannot be given back or moved), as std's does.
unsafe impl Allocator for GrowingMemory {
    fn alloc(&self, size: usize) -> (*mut u8, usize, u32) {
        let needed = size.div_ceil(PAGE_BYTES);
        let current = core::arch::wasm32::memory_size(0);
        // Near the 4 GiB limit the larger grow may fail where the exact one would not.
        for pages in [grow_pages(current, needed), needed] {
            let previous = core::arch::wasm32::memory_grow(0, pages);
            if previous != usize::MAX {
                return ((previous * PAGE_BYTES) as *mut u8, pages * PAGE_BYTES, 0);
            }
        }
        (ptr::null_mut(), 0, 0)
    }

    fn remap(&self, _ptr: *mut u8, _old: usize, _new: usize, _can_move: bool) -> *mut u8 {
        ptr::null_mut()
    }

    fn free_part(&self, _ptr: *mut u8, _old: usize, _new: usize) -> bool {
        false
    }

    fn free(&self, _ptr: *mut u8, _size: usize) -> bool {
        false
    }

    fn can_release_part(&self, _flags: u32) -> bool {
        false
    }

    fn allocates_zeros(&self) -> bool {
        true // fresh wasm pages are zeroed
    }

    fn page_size(&self) -> usize {
        PAGE_BYTES
    }
}

struct Heap(UnsafeCell<Dlmalloc<GrowingMemory>>);

// The package's wasm is built without the atomics feature: one thread per instance, so no
// two calls into the heap can overlap. A threaded build would need a lock here.
#[cfg(target_feature = "atomics")]
compile_error!("the wasm heap has no lock: build without the atomics target feature");

// SAFETY: single-threaded (see above).
unsafe impl Sync for Heap {}

// SAFETY: each method forwards to dlmalloc, which upholds GlobalAlloc's contract; calls never
// overlap (single-threaded, and dlmalloc does not allocate from inside itself).
unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        (*self.0.get()).malloc(layout.size(), layout.align())
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        (*self.0.get()).calloc(layout.size(), layout.align())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        (*self.0.get()).free(ptr, layout.size(), layout.align())
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        (*self.0.get()).realloc(ptr, layout.size(), layout.align(), new_size)
    }
}

#[global_allocator]
static HEAP: Heap = Heap(UnsafeCell::new(Dlmalloc::new_with_allocator(GrowingMemory)));
