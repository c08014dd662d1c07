//! The finisher: a thread of its own that, for each group a writer committed, tells the
//! `CommitListener` (progress state and hub) and only then answers the group's senders, in
//! commit order, while the writer goes on to the next group's transaction.
//!
//! A sender is still answered only after its group is durable *and* on the wall: the finisher
//! gets a group only once its commit returned, and answers only after the listener ran. What
//! moves off the writer's thread is the listener's roll-up and delta, which held every next
//! transaction back by about a third of the writer's time under single-row posts (README
//! "Performance"). Commands from other processes (`CommitListener::external`) are read on the
//! writer's thread, after everything handed to the finisher before them is finished, so that
//! no committed group is applied over what another process committed after it.

use super::CommitListener;
use super::writer::{GroupResults, WriteRequest, WriterMetrics, finish_group};
use crate::domain::Millis;
use std::sync::{Arc, Mutex, MutexGuard, mpsc};

/// Groups committed and not yet finished that a writer may get ahead by: beyond them it waits
/// (so memory stays bounded when the listener is the slower of the two).
const AHEAD: usize = 4;

enum Job {
    Group {
        group: Vec<WriteRequest>,
        results: GroupResults,
        received: Millis,
    },
    /// Answered once every group before it is finished.
    Barrier(mpsc::SyncSender<()>),
}

/// A writer's finishing thread (or, when it cannot be started, the writer itself).
pub(crate) struct Finisher {
    tx: Option<mpsc::SyncSender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
    listener: Arc<Mutex<Box<dyn CommitListener>>>,
    metrics: Arc<WriterMetrics>,
}

fn lock(listener: &Mutex<Box<dyn CommitListener>>) -> MutexGuard<'_, Box<dyn CommitListener>> {
    listener
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Finisher {
    pub(crate) fn start(listener: Box<dyn CommitListener>, metrics: Arc<WriterMetrics>) -> Self {
        let listener = Arc::new(Mutex::new(listener));
        let (tx, rx) = mpsc::sync_channel::<Job>(AHEAD);
        let (l, m) = (listener.clone(), metrics.clone());
        let thread = std::thread::Builder::new()
            .name("pantau-finisher".into())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    match job {
                        Job::Group {
                            group,
                            results,
                            received,
                        } => finish_group(group, results, lock(&l).as_mut(), &m, received),
                        Job::Barrier(done) => {
                            let _ = done.send(());
                        }
                    }
                }
            });
        match thread {
            Ok(thread) => Finisher {
                tx: Some(tx),
                thread: Some(thread),
                listener,
                metrics,
            },
            Err(e) => {
                tracing::warn!(error = %e, "cannot start the finishing thread; the writer finishes its groups itself");
                Finisher {
                    tx: None,
                    thread: None,
                    listener,
                    metrics,
                }
            }
        }
    }

    /// Hands a committed group over: the listener is told and the senders answered, in the
    /// order groups were handed over.
    pub(crate) fn finish(&self, group: Vec<WriteRequest>, results: GroupResults, received: Millis) {
        let job = Job::Group {
            group,
            results,
            received,
        };
        let job = match &self.tx {
            Some(tx) => match tx.send(job) {
                Ok(()) => return,
                Err(mpsc::SendError(job)) => job,
            },
            None => job,
        };
        // The thread is gone (it never started, or a listener panicked in it): finish here.
        if let Job::Group {
            group,
            results,
            received,
        } = job
        {
            finish_group(
                group,
                results,
                lock(&self.listener).as_mut(),
                &self.metrics,
                received,
            );
        }
    }

    /// Runs `f` with the listener once every group handed over before is finished.
    pub(crate) fn with_listener<R>(&self, f: impl FnOnce(&mut dyn CommitListener) -> R) -> R {
        if let Some(tx) = &self.tx {
            let (done, wait) = mpsc::sync_channel(1);
            if tx.send(Job::Barrier(done)).is_ok() {
                let _ = wait.recv();
            }
        }
        f(lock(&self.listener).as_mut())
    }
}

impl Drop for Finisher {
    /// Finishes every group handed over, then ends the thread.
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::writer::{Committed, ReminderRecord, WriteCommand, WriteOutcome};

    /// Writes down what it is told, each time only once the test lets it (`gate`), so that
    /// what is answered before the listener ran, and a look that did not wait, are seen
    /// whatever the scheduler does.
    struct Gated {
        log: Arc<Mutex<Vec<String>>>,
        gate: mpsc::Receiver<()>,
    }

    impl CommitListener for Gated {
        fn committed(&mut self, commits: &[Committed<'_>], _at: Millis) {
            let _ = self.gate.recv();
            self.log
                .lock()
                .unwrap()
                .push(format!("committed {}", commits.len()));
        }
    }

    type Answer = tokio::sync::oneshot::Receiver<Result<WriteOutcome, crate::store::StoreError>>;

    fn group(n: usize) -> (Vec<WriteRequest>, GroupResults, Vec<Answer>) {
        let mut requests = Vec::new();
        let mut answers = Vec::new();
        for _ in 0..n {
            let (reply, answer) = tokio::sync::oneshot::channel();
            requests.push(WriteRequest {
                command: WriteCommand::Reminders(vec![ReminderRecord {
                    subject: "a".into(),
                    period_start: 0,
                    channel: "email".into(),
                }]),
                reply,
            });
            answers.push(answer);
        }
        let results = (0..n)
            .map(|_| Ok((WriteOutcome::Recorded, Vec::new())))
            .collect();
        (requests, results, answers)
    }

    #[test]
    fn groups_are_answered_in_order_after_the_listener_and_before_a_look_at_others() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let (open, gate) = mpsc::channel();
        let listener = Gated {
            log: log.clone(),
            gate,
        };
        let finisher = Finisher::start(Box::new(listener), Arc::default());
        let (g1, r1, mut a1) = group(2);
        let (g2, r2, mut a2) = group(1);
        finisher.finish(g1, r1, 0);
        finisher.finish(g2, r2, 0);
        std::thread::scope(|scope| {
            let look = scope
                .spawn(|| finisher.with_listener(|_| log.lock().unwrap().push("others".into())));
            std::thread::sleep(std::time::Duration::from_millis(50));
            // Handed over, not finished: nobody is answered before the listener was told, and
            // the look waits.
            assert!(
                a1[0].try_recv().is_err(),
                "answered before the listener ran"
            );
            assert!(log.lock().unwrap().is_empty(), "{:?}", log.lock().unwrap());
            open.send(()).unwrap();
            open.send(()).unwrap();
            look.join().unwrap();
        });
        assert_eq!(
            *log.lock().unwrap(),
            ["committed 2", "committed 1", "others"],
            "a look at other processes' commits must wait for every group handed over before it"
        );
        for a in a1.iter_mut().chain(a2.iter_mut()) {
            assert_eq!(a.try_recv().unwrap().unwrap(), WriteOutcome::Recorded);
        }
        let (g3, r3, mut a3) = group(1);
        finisher.finish(g3, r3, 0);
        open.send(()).unwrap();
        drop(finisher);
        assert_eq!(
            a3[0].try_recv().unwrap().unwrap(),
            WriteOutcome::Recorded,
            "a finisher that is dropped finishes what it was handed first"
        );
    }
}
