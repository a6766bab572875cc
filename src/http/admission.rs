//! How many operations one client address may have running at once
//! (`GRAPHQL_MAX_RUNNING_PER_CLIENT`). A client with many connections, or batches of many
//! operations, then takes no bigger a share of the runtime and the database pool than a
//! client with a few: its other operations wait their turn (at most `GRAPHQL_CLIENT_WAIT`,
//! then `RATE_LIMITED`) while everyone else's run.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::domain::ClientKey;

/// The running operations of every client with any.
#[derive(Clone)]
pub struct Admission {
    max_running: usize,
    wait: Duration,
    clients: Arc<Mutex<HashMap<ClientKey, Arc<Semaphore>>>>,
}

/// One running operation of a client; the next waits for it to end.
pub struct Running {
    admission: Admission,
    client: ClientKey,
    permit: Option<OwnedSemaphorePermit>,
}

impl Drop for Running {
    fn drop(&mut self) {
        drop(self.permit.take());
        // Forget a client with nothing running and no one waiting (checked under the lock
        // under which others take its semaphore).
        let mut clients = self.admission.lock();
        if let Some(running) = clients.get(&self.client)
            && Arc::strong_count(running) == 1
            && running.available_permits() == self.admission.max_running
        {
            clients.remove(&self.client);
        }
    }
}

impl Admission {
    pub fn new(max_running: usize, wait: Duration) -> Self {
        Self {
            max_running: max_running.max(1),
            wait,
            clients: Arc::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<ClientKey, Arc<Semaphore>>> {
        self.clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits until `client` may run one more operation.
    ///
    /// # Errors
    /// When its turn did not come within the wait.
    pub async fn enter(&self, client: &ClientKey) -> Result<Running, TimedOut> {
        let running = self
            .lock()
            .entry(client.clone())
            .or_insert_with(|| Arc::new(Semaphore::new(self.max_running)))
            .clone();
        let turn = tokio::time::timeout(self.wait, running.acquire_owned()).await;
        match turn {
            Ok(Ok(permit)) => Ok(Running {
                admission: self.clone(),
                client: client.clone(),
                permit: Some(permit),
            }),
            _ => {
                // Let the drop of an empty `Running` tidy the map.
                drop(Running {
                    admission: self.clone(),
                    client: client.clone(),
                    permit: None,
                });
                Err(TimedOut)
            }
        }
    }

    /// Clients with operations running or waiting (for tests and metrics).
    pub fn clients(&self) -> usize {
        self.lock().len()
    }
}

/// A client's turn did not come in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedOut;

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;

    fn client(n: u8) -> ClientKey {
        ClientKey::of(Some(IpAddr::from([10, 0, 0, n])))
    }

    #[tokio::test]
    async fn a_client_runs_at_most_its_share_and_others_are_not_held_back() {
        let admission = Admission::new(2, Duration::from_millis(100));
        let a = admission.enter(&client(1)).await.unwrap();
        let b = admission.enter(&client(1)).await.unwrap();
        assert_eq!(admission.enter(&client(1)).await.err(), Some(TimedOut));
        let other = admission.enter(&client(2)).await;
        assert!(other.is_ok());
        drop(a);
        assert!(admission.enter(&client(1)).await.is_ok());
        drop((b, other));
        assert_eq!(admission.clients(), 0, "idle clients are forgotten");
    }
}
