//! A training step allocates nothing once its buffers exist: on one
//! thread (each Web Worker's case), the trainer's steps, evaluation passes
//! and SGD updates reuse what the first steps sized.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use lenet::train::{Event, Protocol, Threads, Trainer};

/// The system allocator, counting the allocations of threads that ask.
struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call goes straight to the system allocator; the counters
// are const-initialised thread-locals without destructors, so reading
// them here never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        // SAFETY: the caller's layout goes to the system allocator unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with this layout (every alloc goes there).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        // SAFETY: as for dealloc; the caller upholds realloc's contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocations `f` makes on this thread.
fn allocations(f: impl FnOnce()) -> usize {
    COUNT.with(|c| c.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    COUNT.with(Cell::get)
}

#[test]
fn training_steps_allocate_nothing_after_the_first() {
    // Batches of 120 (steps of 50, 50, 20) with momentum, and validation
    // and test passes of 70 (50 + 20) every epoch.
    let data = common::noise_mnist(11, 240, 70, 70);
    let protocol = Protocol { batch_size: 120, epochs: 4, momentum: 0.5, ..Protocol::tutorial() };
    let mut trainer = Trainer::new(protocol, data).unwrap();
    let mut events = Vec::with_capacity(64);
    let mut threads = Threads::new(1);
    // The first epoch sizes every buffer (a whole batch, a short chunk, both passes).
    while !matches!(threads.step(&mut trainer), Event::Tested { .. }) {}
    let n = allocations(|| {
        while events.len() < 30 {
            events.push(threads.step(&mut trainer));
        }
    });
    assert!(events.iter().any(|e| matches!(e, Event::Trained { .. })), "it trained");
    assert!(events.iter().any(|e| matches!(e, Event::Validated { .. })), "it validated");
    assert!(events.iter().any(|e| matches!(e, Event::Accumulated { .. })), "it took partial steps");
    assert_eq!(n, 0, "allocations during 30 steps");
}

#[test]
fn the_counter_counts() {
    // So that the test above cannot pass by counting nothing.
    assert!(allocations(|| drop(std::hint::black_box(vec![1u8; 100]))) >= 1);
}
