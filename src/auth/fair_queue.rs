//! Turns at the password hashers, handed to client addresses in rotation: a client with a
//! hundred hashes waiting cannot make another client wait behind all of them, only behind
//! one of them per hasher. The queue is bounded in all and per client, and so is the time
//! one waits; past any bound the caller is refused at once instead of waiting without end.
//! When the queue is full, a newcomer takes the place of the last waiter of the client with
//! the most waiting (as long as that client has more than one): a few clients filling the
//! queue do not shut everyone else out.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use tokio::sync::oneshot;

use crate::domain::ClientKey;

/// How many may wait, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimits {
    /// Turns handed out at once (the hashers).
    pub permits: usize,
    /// Waiting in all.
    pub queue: usize,
    /// Waiting from one client.
    pub per_client: usize,
    /// Longest wait.
    pub wait: Duration,
}

/// Why no turn was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The queue is full.
    QueueFull,
    /// This client has as many waiting as it may.
    ClientFull,
    /// No turn came within the wait.
    TimedOut,
}

struct Waiter {
    id: u64,
    /// A turn is handed over by sending on it (under the lock).
    wake: oneshot::Sender<()>,
}

#[derive(Default)]
struct Inner {
    free: usize,
    waiting: usize,
    next_id: u64,
    /// Clients with someone waiting, in the order their next turn comes.
    rotation: VecDeque<ClientKey>,
    queues: HashMap<ClientKey, VecDeque<Waiter>>,
}

impl Inner {
    /// Gives a released turn to the next client in rotation, or frees it.
    fn hand_on(&mut self) {
        while let Some(client) = self.rotation.pop_front() {
            let Some(queue) = self.queues.get_mut(&client) else {
                continue;
            };
            let waiter = queue.pop_front();
            if queue.is_empty() {
                self.queues.remove(&client);
            } else {
                self.rotation.push_back(client);
            }
            if let Some(waiter) = waiter {
                self.waiting -= 1;
                if waiter.wake.send(()).is_ok() {
                    return;
                }
            }
        }
        self.free += 1;
    }

    /// Frees a place for a client that has `queued` waiting: the last waiter of the client
    /// with the most waiting gives its place up (and is refused), if it has more than the
    /// newcomer would. `false` when no client has more.
    fn shed_for(&mut self, queued: usize) -> bool {
        let Some((heaviest, _)) = self
            .queues
            .iter()
            .filter(|(_, q)| q.len() > queued + 1)
            .max_by_key(|(_, q)| q.len())
        else {
            return false;
        };
        let heaviest = heaviest.clone();
        let Some(queue) = self.queues.get_mut(&heaviest) else {
            return false;
        };
        // Dropping its sender tells the waiter it was shed.
        drop(queue.pop_back());
        self.waiting -= 1;
        true
    }

    /// Takes a waiter out of its queue; `false` when it is no longer there (it was given
    /// its turn).
    fn forget(&mut self, client: &ClientKey, id: u64) -> bool {
        let Some(queue) = self.queues.get_mut(client) else {
            return false;
        };
        let Some(at) = queue.iter().position(|w| w.id == id) else {
            return false;
        };
        queue.remove(at);
        self.waiting -= 1;
        if queue.is_empty() {
            self.queues.remove(client);
            self.rotation.retain(|c| c != client);
        }
        true
    }
}

/// The turns, shared by every request.
#[derive(Clone)]
pub struct FairQueue {
    inner: Arc<Mutex<Inner>>,
    limits: QueueLimits,
}

/// One turn; the next waiter gets it when this is dropped.
pub struct Turn {
    inner: Arc<Mutex<Inner>>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        lock(&self.inner).hand_on();
    }
}

/// The lock is never held across a panic that matters: the state stays usable.
fn lock(inner: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    inner
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A place in a queue; leaving it early (a timeout, or the request gone) gives it up, and
/// gives on a turn that arrived meanwhile.
struct Place {
    inner: Arc<Mutex<Inner>>,
    client: ClientKey,
    id: u64,
    answer: oneshot::Receiver<()>,
    served: bool,
}

impl Drop for Place {
    fn drop(&mut self) {
        if self.served {
            return;
        }
        let mut inner = lock(&self.inner);
        if !inner.forget(&self.client, self.id) && self.answer.try_recv().is_ok() {
            inner.hand_on();
        }
    }
}

impl FairQueue {
    pub fn new(limits: QueueLimits) -> Self {
        let inner = Inner {
            free: limits.permits.max(1),
            ..Inner::default()
        };
        Self {
            inner: Arc::new(Mutex::new(inner)),
            limits,
        }
    }

    /// Waits for a turn for `client`.
    ///
    /// # Errors
    /// A [`Refusal`] when the queue or the client's share of it is full, or no turn came
    /// within the wait.
    pub async fn turn(&self, client: &ClientKey) -> Result<Turn, Refusal> {
        let mut place = {
            let mut inner = lock(&self.inner);
            if inner.free > 0 && inner.waiting == 0 {
                inner.free -= 1;
                return Ok(Turn {
                    inner: self.inner.clone(),
                });
            }
            let queued = inner.queues.get(client).map_or(0, VecDeque::len);
            if queued >= self.limits.per_client {
                return Err(Refusal::ClientFull);
            }
            if inner.waiting >= self.limits.queue && !inner.shed_for(queued) {
                return Err(Refusal::QueueFull);
            }
            let id = inner.next_id;
            inner.next_id += 1;
            let (wake, answer) = oneshot::channel();
            if queued == 0 {
                inner.rotation.push_back(client.clone());
            }
            inner
                .queues
                .entry(client.clone())
                .or_default()
                .push_back(Waiter { id, wake });
            inner.waiting += 1;
            Place {
                inner: self.inner.clone(),
                client: client.clone(),
                id,
                answer,
                served: false,
            }
        };
        match tokio::time::timeout(self.limits.wait, &mut place.answer).await {
            Ok(Ok(())) => {
                place.served = true;
                Ok(Turn {
                    inner: self.inner.clone(),
                })
            }
            // Shed for a client with fewer waiting: the place is gone already.
            Ok(Err(_)) => {
                place.served = true;
                Err(Refusal::QueueFull)
            }
            // Dropping the place gives up the wait (or a turn that came just now).
            Err(_) => Err(Refusal::TimedOut),
        }
    }

    /// How many turns there are in all.
    pub fn permits(&self) -> usize {
        self.limits.permits.max(1)
    }

    /// Turns free right now and places taken in the queue (for tests and metrics).
    pub fn snapshot(&self) -> (usize, usize) {
        let inner = lock(&self.inner);
        (inner.free, inner.waiting)
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;

    fn client(n: u8) -> ClientKey {
        ClientKey::of(Some(IpAddr::from([10, 0, 0, n])))
    }

    fn queue(permits: usize, queue: usize, per_client: usize, wait_ms: u64) -> FairQueue {
        FairQueue::new(QueueLimits {
            permits,
            queue,
            per_client,
            wait: Duration::from_millis(wait_ms),
        })
    }

    #[tokio::test]
    async fn clients_take_turns_whatever_their_queue() {
        let q = queue(1, 100, 100, 5_000);
        let held = q.turn(&client(1)).await.unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        // Client 1 queues five, then client 2 queues one.
        for (n, c) in [1, 1, 1, 1, 1, 2].into_iter().enumerate() {
            let (queue, order) = (q.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let turn = queue.turn(&client(c)).await.unwrap();
                order.lock().unwrap().push((n, c));
                tokio::task::yield_now().await;
                drop(turn);
            }));
            // Queue in this order.
            while q.snapshot().1 < n + 1 {
                tokio::task::yield_now().await;
            }
        }
        drop(held);
        for t in tasks {
            t.await.unwrap();
        }
        let order = order.lock().unwrap().clone();
        // Client 2 is served second, not sixth.
        assert_eq!(order[1], (5, 2), "{order:?}");
        assert_eq!(q.snapshot(), (1, 0));
    }

    fn waiter(q: &FairQueue, c: u8) -> tokio::task::JoinHandle<Result<(), Refusal>> {
        let q = q.clone();
        tokio::spawn(async move { q.turn(&client(c)).await.map(drop) })
    }

    async fn until_waiting(q: &FairQueue, n: usize) {
        while q.snapshot().1 < n {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn the_queue_is_bounded_in_all_and_per_client() {
        let q = queue(1, 10, 2, 5_000);
        let held = q.turn(&client(9)).await.unwrap();
        let mine = [waiter(&q, 1), waiter(&q, 1)];
        until_waiting(&q, 2).await;
        assert_eq!(q.turn(&client(1)).await.err(), Some(Refusal::ClientFull));
        drop(held);
        for w in mine {
            assert!(w.await.unwrap().is_ok());
        }
        // Full of clients with one waiter each: a newcomer is refused.
        let q = queue(1, 2, 4, 5_000);
        let held = q.turn(&client(9)).await.unwrap();
        let others = [waiter(&q, 1), waiter(&q, 2)];
        until_waiting(&q, 2).await;
        assert_eq!(q.turn(&client(3)).await.err(), Some(Refusal::QueueFull));
        drop(held);
        for w in others {
            assert!(w.await.unwrap().is_ok());
        }
    }

    #[tokio::test]
    async fn a_full_queue_sheds_the_busiest_client_for_a_newcomer() {
        let q = queue(1, 4, 4, 5_000);
        let held = q.turn(&client(9)).await.unwrap();
        let flood: Vec<_> = (0..4).map(|_| waiter(&q, 1)).collect();
        until_waiting(&q, 4).await;
        // The queue is full of client 1: client 2 still gets a place, and client 1's last
        // waiter is refused at once.
        let newcomer = waiter(&q, 2);
        while !flood.iter().any(|f| f.is_finished()) {
            tokio::task::yield_now().await;
        }
        drop(held);
        let mut outcomes = Vec::new();
        for f in flood {
            outcomes.push(f.await.unwrap());
        }
        assert!(newcomer.await.unwrap().is_ok());
        let shed = outcomes.iter().filter(|o| **o == Err(Refusal::QueueFull));
        assert_eq!(shed.count(), 1, "{outcomes:?}");
        assert_eq!(q.snapshot(), (1, 0));
    }

    #[tokio::test]
    async fn a_wait_is_bounded_and_gives_up_its_place() {
        let q = queue(1, 10, 10, 50);
        let held = q.turn(&client(1)).await.unwrap();
        assert_eq!(q.turn(&client(2)).await.err(), Some(Refusal::TimedOut));
        assert_eq!(q.snapshot(), (0, 0));
        drop(held);
        assert_eq!(q.snapshot(), (1, 0));
        assert!(q.turn(&client(2)).await.is_ok());
    }

    #[tokio::test]
    async fn a_waiter_that_goes_away_passes_its_turn_on() {
        let q = queue(1, 10, 10, 5_000);
        let held = q.turn(&client(1)).await.unwrap();
        let gone = {
            let q = q.clone();
            tokio::spawn(async move { q.turn(&client(2)).await.map(drop) })
        };
        while q.snapshot().1 < 1 {
            tokio::task::yield_now().await;
        }
        gone.abort();
        let _ = gone.await;
        assert_eq!(q.snapshot(), (0, 0));
        drop(held);
        assert_eq!(q.snapshot(), (1, 0));
    }
}
