//! Thread pools made once and kept for the process.
//!
//! Building a rayon pool starts its threads (and maps their stacks) on every call; for the
//! small inputs a service answers (one template of 25 values) that was a large part of a
//! request. A pool is kept per (threads asked for, stack size): `threads` 0 means one per core,
//! as rayon counts them.
//!
//! A forked child has the parent's pools but none of their threads: work handed to one would
//! wait forever. A pool is therefore kept with the process that made it, and a child makes its
//! own (the parent's copy is left alone: its state is whatever its threads had at the fork).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use crate::error::{Error, Location, Result};

type Pools = Mutex<HashMap<(usize, usize), (u32, Arc<rayon::ThreadPool>)>>;

/// The pool of `threads` threads (0: one per core), each with a stack of `stack_bytes` (0:
/// rayon's default), made on first use. `what` names the threads in the error when the system
/// cannot start them ("reading", "evaluation").
pub fn pool(threads: usize, stack_bytes: usize, what: &str) -> Result<Arc<rayon::ThreadPool>> {
    static POOLS: OnceLock<Pools> = OnceLock::new();
    let pools = POOLS.get_or_init(Pools::default);
    // the map is whole after a panic while it was held: an insert or a remove is one step
    let mut held = pools.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let key = (threads, stack_bytes);
    let here = std::process::id();
    if let Some((made_by, found)) = held.get(&key) {
        if *made_by == here {
            return Ok(Arc::clone(found));
        }
    }
    if let Some((_, inherited)) = held.remove(&key) {
        // made before a fork: its threads are not in this process; dropping it would signal them
        std::mem::forget(inherited);
    }
    let mut builder = rayon::ThreadPoolBuilder::new().num_threads(threads);
    if stack_bytes > 0 {
        builder = builder.stack_size(stack_bytes);
    }
    let made = Arc::new(builder.build().map_err(|e| Error::Value {
        loc: Location::default(),
        message: format!("cannot start the {what} threads: {e}"),
    })?);
    held.insert(key, (here, Arc::clone(&made)));
    Ok(made)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_is_made_once_per_threads_and_stack() {
        let a = pool(2, 0, "test").unwrap();
        let b = pool(2, 0, "test").unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.current_num_threads(), 2);
        let c = pool(2, 4 << 20, "test").unwrap();
        assert!(!Arc::ptr_eq(&a, &c));
        let d = pool(1, 0, "test").unwrap();
        assert_eq!(d.current_num_threads(), 1);
        assert_eq!(a.install(|| 40 + 2), 42);
    }
}
