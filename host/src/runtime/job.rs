//! One invocation's run as a future that needs no task of its own: whoever reads the
//! invocation's messages polls it inline, and the reader of the whole invocation tree polls the
//! nested ones that were woken while nobody read them. A message therefore goes from a
//! plugin's `emit` to its reader on the same thread, on any executor, and nested calls still
//! run while their caller does something else.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, TryLockError, Weak};
use std::task::{Context, Poll, Wake, Waker};

use futures::task::AtomicWaker;

/// The future of one invocation: runs the plugin and ends its queue.
pub(crate) type RunFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The jobs of one invocation tree that run nested in it, and the task reading the tree's
/// top-level stream, which drives them.
#[derive(Default)]
pub(crate) struct TreeJobs {
    nested: Mutex<Vec<Weak<Job>>>,
    reader: AtomicWaker,
}

/// How far polling a job got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Polled {
    /// The run ended (or was never there): its queue holds its last event.
    Done,
    /// The run waits for something; its waker will say when.
    Waiting,
    /// The run is being polled further up this very stack: it goes on when that poll returns.
    Busy,
}

/// One invocation's run.
pub(crate) struct Job {
    future: Mutex<Option<RunFuture>>,
    woken: AtomicBool,
    tree: Arc<TreeJobs>,
}

impl TreeJobs {
    /// Adds a nested job, which the tree's reader polls whenever it is woken.
    pub(crate) fn add(&self, job: &Arc<Job>) {
        let mut nested = self.nested.lock().unwrap_or_else(PoisonError::into_inner);
        nested.retain(|j| j.strong_count() > 0);
        nested.push(Arc::downgrade(job));
    }

    /// Makes `waker` the one woken when any job of the tree can go on.
    pub(crate) fn register_reader(&self, waker: &Waker) {
        self.reader.register(waker);
    }

    /// Polls every nested job woken since it was last polled, oldest first; `true` when one
    /// was. Jobs being polled further up this stack are left to go on when that poll returns.
    pub(crate) fn drive_woken(&self) -> bool {
        let mut polled = false;
        let mut i = 0;
        loop {
            // The list may grow while a job runs (it starts calls of its own): take one at a
            // time, never holding the lock across a poll.
            let job = {
                let nested = self.nested.lock().unwrap_or_else(PoisonError::into_inner);
                match nested.get(i) {
                    Some(job) => job.upgrade(),
                    None => break,
                }
            };
            i += 1;
            if let Some(job) = job
                && job.woken.load(Ordering::Acquire)
                && job.poll() != Polled::Busy
            {
                polled = true;
            }
        }
        polled
    }
}

impl Job {
    /// A job that runs `future` in `tree`, woken at first.
    pub(crate) fn new(future: RunFuture, tree: Arc<TreeJobs>) -> Arc<Job> {
        Arc::new(Job {
            future: Mutex::new(Some(future)),
            woken: AtomicBool::new(true),
            tree,
        })
    }

    /// Whether something the run waited for happened since it was last polled (or it was
    /// never polled).
    pub(crate) fn is_woken(&self) -> bool {
        self.woken.load(Ordering::Acquire)
    }

    /// Whether the run has ended (its queue then holds its last event).
    pub(crate) fn is_done(&self) -> bool {
        match self.future.try_lock() {
            Ok(slot) => slot.is_none(),
            Err(TryLockError::Poisoned(_)) => true,
            Err(TryLockError::WouldBlock) => false,
        }
    }

    /// Polls the run once, with a waker of its own: a wake-up reaches the tree's reader, who
    /// polls the job again if its own reader does not first.
    pub(crate) fn poll(self: &Arc<Self>) -> Polled {
        let mut slot = match self.future.try_lock() {
            Ok(slot) => slot,
            Err(TryLockError::WouldBlock) => return Polled::Busy,
            // The run panicked in an earlier poll; it cannot go on.
            Err(TryLockError::Poisoned(poisoned)) => {
                poisoned.into_inner().take();
                return Polled::Done;
            }
        };
        let Some(future) = slot.as_mut() else {
            return Polled::Done;
        };
        self.woken.store(false, Ordering::Release);
        let waker = Waker::from(self.clone());
        // A bug in the host (or in wasmtime) that panics while the plugin runs ends this run
        // only, as it would end a task of its own: its reader is told the run ended
        // abnormally, and whoever polls goes on.
        let polled = std::panic::catch_unwind(AssertUnwindSafe(|| {
            future.as_mut().poll(&mut Context::from_waker(&waker))
        }));
        match polled {
            Ok(Poll::Pending) => Polled::Waiting,
            Ok(Poll::Ready(())) | Err(_) => {
                *slot = None;
                Polled::Done
            }
        }
    }

    /// Drops the run (its store, its instance slot, everything it called) unless it is being
    /// polled further up this stack, where it is dropped with the last reference instead.
    pub(crate) fn cancel(&self) {
        let future = match self.future.try_lock() {
            Ok(mut slot) => slot.take(),
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner().take(),
            Err(TryLockError::WouldBlock) => None,
        };
        // Dropped outside the lock: the run's drop may cancel nested jobs of its own.
        drop(future);
    }
}

impl Wake for Job {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.tree.reader.wake();
    }
}
