//! An SMTP server for the tests: it speaks SMTP (RFC 5321) over TCP on loopback, so authql's
//! real sender (lettre) delivers to it exactly as to any mail server, and it can be told
//! to refuse or to hold messages, to exercise retries and back-pressure.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
    sync::{Notify, Semaphore},
};

/// One mail as the server accepted it.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent (headers and body), dot-unstuffed.
    pub data: String,
}

impl Mail {
    pub fn subject(&self) -> String {
        self.data
            .lines()
            .find_map(|l| l.strip_prefix("Subject: "))
            .unwrap_or_default()
            .to_owned()
    }

    /// The body with quoted-printable soft breaks and `=3D` undone.
    pub fn body(&self) -> String {
        self.data.replace("=\r\n", "").replace("=3D", "=")
    }

    /// The first `{APP_URL}/{path}?token=…` link in the mail, whole.
    pub fn link(&self, path: &str) -> Option<String> {
        let body = self.body();
        let at = body.find(&format!("/{path}?token="))?;
        let start = body[..at].rfind("http")?;
        let token = self.token(path)?;
        let end = at + path.len() + 8 + token.len();
        Some(body[start..end].to_owned())
    }

    /// The token of the first `{APP_URL}/{path}?token=…` link in the mail.
    pub fn token(&self, path: &str) -> Option<String> {
        let body = self.body();
        let start = body.find(&format!("/{path}?token="))? + path.len() + 8;
        Some(
            body[start..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect(),
        )
    }
}

#[derive(Default)]
struct Behaviour {
    /// Refuse this many more messages (451, try again later).
    refuse_next: u32,
    refuse_all: bool,
    /// Refuse every message for good (550, mailbox unavailable).
    reject_all: bool,
    /// When set, each message waits for a permit before it is accepted.
    gate: Option<Arc<Semaphore>>,
}

#[derive(Default)]
struct Shared {
    behaviour: Mutex<Behaviour>,
    mails: Mutex<Vec<Mail>>,
    /// Messages offered (DATA completed), accepted or not.
    offered: Mutex<u32>,
    changed: Notify,
}

/// A running SMTP server; it stops when dropped.
pub struct SmtpServer {
    pub port: u16,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpServer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared::default());
        let for_task = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let shared = for_task.clone();
                tokio::spawn(async move {
                    let _ = session(stream, shared).await;
                });
            }
        });
        Self { port, shared, task }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Refuses the next `n` messages with a temporary failure.
    pub fn refuse_next(&self, n: u32) {
        self.shared.behaviour.lock().unwrap().refuse_next = n;
    }

    /// Refuses every message with a temporary failure.
    pub fn refuse_all(&self) {
        self.shared.behaviour.lock().unwrap().refuse_all = true;
    }

    /// Refuses every message with a permanent failure.
    pub fn reject_all(&self) {
        self.shared.behaviour.lock().unwrap().reject_all = true;
    }

    /// Holds every message until [`Gate::release`] lets it through.
    pub fn hold(&self) -> Gate {
        let sem = Arc::new(Semaphore::new(0));
        self.shared.behaviour.lock().unwrap().gate = Some(sem.clone());
        Gate(sem)
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.shared.mails.lock().unwrap().clone()
    }

    /// Messages offered to the server so far, refused ones included.
    pub fn offered(&self) -> u32 {
        *self.shared.offered.lock().unwrap()
    }

    /// Waits until a mail to `to` whose subject contains `subject` has been accepted.
    pub async fn wait_for(&self, to: &str, subject: &str) -> Mail {
        self.wait_until(Duration::from_secs(30), |mails| {
            mails
                .iter()
                .find(|m| m.to.iter().any(|t| t == to) && m.subject().contains(subject))
                .cloned()
        })
        .await
        .unwrap_or_else(|| panic!("no mail to {to} about {subject:?}: {:#?}", self.mails()))
    }

    /// Waits until `check` finds something in the accepted mails, or `timeout` passes.
    pub async fn wait_until<T>(
        &self,
        timeout: Duration,
        check: impl Fn(&[Mail]) -> Option<T>,
    ) -> Option<T> {
        self.wait_on(timeout, || check(&self.mails())).await
    }

    /// Waits until `n` messages have been offered.
    pub async fn wait_offered(&self, n: u32, timeout: Duration) -> bool {
        self.wait_on(timeout, || (self.offered() >= n).then_some(()))
            .await
            .is_some()
    }

    /// Runs `check` now and after each change to what the server has seen, until it finds
    /// something or `timeout` passes (no polling: every message wakes the waiters).
    async fn wait_on<T>(&self, timeout: Duration, check: impl Fn() -> Option<T>) -> Option<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.changed.notified();
            if let Some(found) = check() {
                return Some(found);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return check();
            }
        }
    }
}

/// Lets held messages through.
pub struct Gate(Arc<Semaphore>);

impl Gate {
    pub fn release(&self, n: usize) {
        self.0.add_permits(n);
    }
}

fn address(arg: &str) -> String {
    arg.split_once(':')
        .map(|(_, a)| a)
        .unwrap_or_default()
        .trim()
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap_or_default()
        .to_owned()
}

async fn session(stream: tokio::net::TcpStream, shared: Arc<Shared>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 authql-test ESMTP ready\r\n").await?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_owned();
        let verb = command
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-authql-test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
            "HELO" => b"250 authql-test\r\n",
            "MAIL" => {
                from = address(&command);
                to.clear();
                b"250 2.1.0 OK\r\n"
            }
            "RCPT" => {
                to.push(address(&command));
                b"250 2.1.5 OK\r\n"
            }
            "DATA" => {
                write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                }
                *shared.offered.lock().unwrap() += 1;
                shared.changed.notify_waiters();
                let (refuse, reject, gate) = {
                    let mut b = shared.behaviour.lock().unwrap();
                    let refuse = b.refuse_all || b.refuse_next > 0;
                    b.refuse_next = b.refuse_next.saturating_sub(1);
                    (refuse, b.reject_all, b.gate.clone())
                };
                if reject {
                    write.write_all(b"550 5.1.1 No such mailbox\r\n").await?;
                    continue;
                }
                if refuse {
                    write.write_all(b"451 4.3.0 Try again later\r\n").await?;
                    continue;
                }
                if let Some(gate) = gate {
                    gate.acquire()
                        .await
                        .map_err(std::io::Error::other)?
                        .forget();
                }
                // This server accepts a message only when it can tell the client so: one
                // that went away while its message was held has not delivered it.
                if let Ok(Ok(buf)) =
                    tokio::time::timeout(Duration::from_millis(20), lines.fill_buf()).await
                    && buf.is_empty()
                {
                    return Ok(());
                }
                write.write_all(b"250 2.0.0 Queued\r\n").await?;
                // Accepted only once the client could read the acceptance.
                write.flush().await?;
                shared.mails.lock().unwrap().push(Mail {
                    from: from.clone(),
                    to: to.clone(),
                    data,
                });
                shared.changed.notify_waiters();
                continue;
            }
            "RSET" => {
                from.clear();
                to.clear();
                b"250 2.0.0 OK\r\n"
            }
            "NOOP" => b"250 2.0.0 OK\r\n",
            "QUIT" => {
                write.write_all(b"221 2.0.0 Bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 5.5.2 Command not recognised\r\n",
        };
        write.write_all(reply).await?;
    }
}
