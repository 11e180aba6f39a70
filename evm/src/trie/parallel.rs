//! A small work-sharing map over scoped threads, for the state root's independent subtries.
//!
//! A block's state root is CPU work over a few dozen independent jobs (the sixteen subtries
//! under a root branch, or many small storage tries). Each worker takes the next unclaimed job
//! until none is left, so uneven jobs still keep every worker busy. The calling thread is one
//! of the workers, and a panic in any job is resumed in the caller. (rayon's pool was tried
//! instead and was slower here: its caller waits rather than works, so on two cores one of
//! the three threads is always idle.)

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Mutex, PoisonError,
};

/// How many threads the state root may use: the machine's cores.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// `items.map(f)` on up to `workers` threads; results keep the order of `items`.
pub fn map<T, R, F>(items: Vec<T>, workers: usize, f: F) -> Vec<R>
where
    T: Send,
    R: Send,
    F: Fn(T) -> R + Sync,
{
    let workers = workers.min(items.len());
    if workers < 2 {
        return items.into_iter().map(f).collect();
    }
    let jobs: Vec<Mutex<Option<T>>> = items.into_iter().map(|item| Mutex::new(Some(item))).collect();
    let results: Vec<Mutex<Option<R>>> = jobs.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let work = || loop {
        let index = next.fetch_add(1, Ordering::Relaxed);
        let Some(job) = jobs.get(index) else { break };
        // Each index is claimed once, so neither lock is ever contended.
        let Some(item) = job.lock().unwrap_or_else(PoisonError::into_inner).take() else { continue };
        let result = f(item);
        *results[index].lock().unwrap_or_else(PoisonError::into_inner) = Some(result);
    };
    std::thread::scope(|scope| {
        for _ in 1..workers {
            scope.spawn(work);
        }
        work();
    });
    results
        .into_iter()
        .map(|slot| slot.into_inner().unwrap_or_else(PoisonError::into_inner).expect("every job ran: a panic would have been resumed"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_input_order_whatever_the_workers() {
        for workers in [0, 1, 2, 3, 8, 100] {
            let items: Vec<u64> = (0..50).collect();
            let squares = map(items, workers, |i| {
                // Uneven jobs, so that workers finish out of order.
                std::thread::sleep(std::time::Duration::from_micros((i % 7) * 50));
                i * i
            });
            assert_eq!(squares, (0..50).map(|i| i * i).collect::<Vec<_>>(), "{workers} workers");
        }
    }

    #[test]
    fn a_panicking_job_panics_the_caller() {
        let outcome = std::panic::catch_unwind(|| map(vec![1, 2, 3, 4], 2, |i| assert_ne!(i, 3, "job 3 fails")));
        assert!(outcome.is_err());
    }
}
