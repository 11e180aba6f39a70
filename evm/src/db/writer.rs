//! One write transaction at a time within the process, handed over without polling.
//!
//! MDBX allows one write transaction per environment. signet-libmdbx begins write
//! transactions in "try" mode and, when the lock is taken, sleeps 250 ms before trying again
//! (and logs "Process stalled, awaiting read-write transaction lock"). A replica writes from
//! several threads (its consensus log, blocks, finality certificates), so without this queue
//! every overlap cost a quarter of a second of finality latency. Here the next writer waits
//! on a condition variable and starts the moment the previous transaction ends.

use std::sync::{Arc, Condvar, Mutex, PoisonError};

/// The process-wide right to open the environment's write transaction.
#[derive(Debug, Default)]
pub(crate) struct WriterSlot {
    taken: Mutex<bool>,
    freed: Condvar,
}

impl WriterSlot {
    /// Waits until no other write transaction of this process is open, then holds the slot
    /// until the returned turn is dropped.
    pub(crate) fn acquire(self: &Arc<Self>) -> WriterTurn {
        // A writer that panicked released its turn in Drop; the flag is still right.
        let mut taken = self.taken.lock().unwrap_or_else(PoisonError::into_inner);
        while *taken {
            taken = self.freed.wait(taken).unwrap_or_else(PoisonError::into_inner);
        }
        *taken = true;
        WriterTurn { slot: self.clone() }
    }
}

/// Held for the life of one write transaction; dropping it lets the next writer in.
#[derive(Debug)]
pub(crate) struct WriterTurn {
    slot: Arc<WriterSlot>,
}

impl Drop for WriterTurn {
    fn drop(&mut self) {
        *self.slot.taken.lock().unwrap_or_else(PoisonError::into_inner) = false;
        self.slot.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::{sync::atomic::{AtomicUsize, Ordering}, thread, time::Duration};

    #[test]
    fn writers_take_turns_and_the_next_starts_when_the_previous_ends() {
        let slot = Arc::new(WriterSlot::default());
        let inside = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let (slot, inside) = (slot.clone(), inside.clone());
                thread::spawn(move || {
                    for _ in 0..50 {
                        let _turn = slot.acquire();
                        assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two writers at once");
                        thread::sleep(Duration::from_micros(50));
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("writer thread");
        }
    }
}
