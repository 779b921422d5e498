//! Timed-out invocations: shortly before an invocation's deadline, if its handler has not
//! returned, what is open is sent as `in_progress`, so X-Ray shows where the time went. When
//! the handler does return, its final document (same ids) replaces it.
//!
//! One watcher thread serves the process, started by the first invocation with a deadline;
//! registering an invocation is a push under a lock (no thread, no allocation once the list
//! has grown).

use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::model::EntityIndex;

use super::recording::Shared;

/// How long before the deadline the open documents are sent.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(100);

#[derive(Debug)]
struct Watch {
    rec: Weak<Shared>,
    generation: u64,
    node: EntityIndex,
    due: Instant,
}

#[derive(Debug, Default)]
struct Watcher {
    watches: Mutex<Vec<Watch>>,
    changed: Condvar,
}

fn watcher() -> &'static Watcher {
    static WATCHER: OnceLock<&'static Watcher> = OnceLock::new();
    WATCHER.get_or_init(|| {
        let w: &'static Watcher = Box::leak(Box::default());
        let spawned = std::thread::Builder::new()
            .name("xray-deadline".into())
            .spawn(move || run(w));
        if let Err(e) = spawned {
            eprintln!("[xray] cannot start the deadline watcher ({e}); timed-out invocations will not be sent early");
        }
        w
    })
}

/// Watches the invocation rooted at `node` of `rec` (now at `generation`): if its root is
/// still open [`DEADLINE_MARGIN`] before `deadline_ms` (milliseconds since the Unix epoch,
/// as Lambda gives it), its open documents are sent as `in_progress`.
pub(crate) fn watch(rec: &Arc<Shared>, generation: u64, node: EntityIndex, deadline_ms: u64) {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
    let due = Instant::now() + left.saturating_sub(DEADLINE_MARGIN);
    let w = watcher();
    let mut watches = w.watches.lock().unwrap_or_else(PoisonError::into_inner);
    watches.push(Watch {
        rec: Arc::downgrade(rec),
        generation,
        node,
        due,
    });
    drop(watches);
    w.changed.notify_one();
}

fn run(w: &'static Watcher) {
    let mut watches = w.watches.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        let now = Instant::now();
        // Forget invocations already finished (their recording is gone or reused).
        watches.retain(|x| {
            x.rec
                .upgrade()
                .is_some_and(|r| r.generation() == x.generation && !r.root_sent())
        });
        let mut i = 0;
        while i < watches.len() {
            if watches[i].due <= now {
                let x = watches.swap_remove(i);
                if let Some(rec) = x.rec.upgrade() {
                    rec.send_in_progress(x.generation, x.node);
                }
            } else {
                i += 1;
            }
        }
        let next = watches.iter().map(|x| x.due).min();
        watches = match next {
            Some(due) => {
                let wait = due.saturating_duration_since(Instant::now());
                w.changed
                    .wait_timeout(watches, wait)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
            None => w
                .changed
                .wait(watches)
                .unwrap_or_else(PoisonError::into_inner),
        };
    }
}
