//! A TCP relay between the service and PostgreSQL or RabbitMQ that a test can cut, pause
//! and restore: an outage the test controls, on loopback, without stopping the real server.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{TcpListener, TcpStream},
    sync::{Notify, watch},
};

/// A relay to `target` on a port of its own.
pub struct Link {
    port: u16,
    accepted: Arc<std::sync::atomic::AtomicUsize>,
    up: Arc<AtomicBool>,
    cut: Arc<Notify>,
    /// While true, bytes stop flowing both ways (connections stay open).
    paused: watch::Sender<bool>,
}

impl Link {
    /// Starts the relay; it lets connections through when `up`.
    pub async fn start(target: std::net::SocketAddr, up: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(up));
        let cut = Arc::new(Notify::new());
        let (paused, _) = watch::channel(false);
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (up2, cut2, paused2) = (up.clone(), cut.clone(), paused.clone());
        let accepted2 = accepted.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                accepted2.fetch_add(1, Ordering::SeqCst);
                if !up2.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let (cut, paused) = (cut2.clone(), paused2.subscribe());
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(target).await else {
                        return;
                    };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    tokio::select! {
                        () = pump(cr, sw, paused.clone()) => {}
                        () = pump(sr, cw, paused) => {}
                        () = cut.notified() => {}
                    }
                });
            }
        });
        Self {
            port,
            accepted,
            up,
            cut,
            paused,
        }
    }

    /// Connections accepted so far (let through or refused).
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `url` with its port replaced by the relay's.
    pub fn url(&self, url: &str) -> String {
        let mut url = url::Url::parse(url).unwrap();
        url.set_port(Some(self.port)).unwrap();
        url.to_string()
    }

    /// Down: every open connection is cut and new ones are refused. Up: let them through.
    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
        if !up {
            self.cut.notify_waiters();
        }
    }

    /// Holds (or lets go) every byte in both directions, on open connections too.
    pub fn pause(&self, paused: bool) {
        self.paused.send_replace(paused);
    }
}

/// Copies `from` to `to`, waiting while paused.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut paused: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let Ok(n) = from.read(&mut buf).await else {
            return;
        };
        if n == 0 || paused.wait_for(|p| !*p).await.is_err() {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Where RabbitMQ listens (`TEST_AMQP_URL`'s host and port).
pub fn broker_addr() -> std::net::SocketAddr {
    addr_of(&super::amqp_url().expect("TEST_AMQP_URL"), 5672)
}

/// Where PostgreSQL listens (`TEST_DATABASE_URL`'s host and port).
pub fn database_addr() -> std::net::SocketAddr {
    addr_of(
        &std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL"),
        5432,
    )
}

fn addr_of(url: &str, default_port: u16) -> std::net::SocketAddr {
    let url = url::Url::parse(url).unwrap();
    let host = url.host_str().unwrap_or("127.0.0.1");
    let port = url.port().unwrap_or(default_port);
    std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
        .unwrap()
        .next()
        .unwrap()
}
