//! Log lines handed to a thread of their own, which writes them to stderr: a request never
//! waits on its log line's `write` (nor on a reader that fell behind, such as a full pipe
//! to a log collector), and under load the lines of a few milliseconds go out in one
//! system call instead of one each, without a wake-up of the writer per line.
//!
//! The queue is bounded ([`QUEUE_LINES`]): when the reader has stalled for that long, new
//! lines are dropped and counted (`authql_log_lines_dropped_total`), rather than stalling
//! every request behind them. [`LogGuard`] writes out what is queued when the process ends.

use std::{
    io::{self, BufWriter, Write as _},
    sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError},
    thread::JoinHandle,
    time::Duration,
};

use tracing_subscriber::fmt::MakeWriter;

/// Lines the queue holds at most (a few MiB of JSON lines).
pub const QUEUE_LINES: usize = 16_384;

/// How long the writer sleeps between batches while lines keep coming: the most a line
/// waits to be written under load.
const BATCH_EVERY: Duration = Duration::from_millis(5);

/// How long the end of the process waits for queued lines to be written.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

enum Message {
    Line(Vec<u8>),
    /// Write out everything before this, then stop and say so.
    Stop(SyncSender<()>),
}

/// Where log lines go: the writer thread's queue. Cheap to clone.
#[derive(Clone)]
pub struct Background {
    queue: SyncSender<Message>,
}

/// Writes out the queued lines when dropped (at the end of `main`).
pub struct LogGuard {
    queue: SyncSender<Message>,
    thread: Option<JoinHandle<()>>,
}

/// Starts the writer thread over `out` (stderr in the service; a buffer in tests).
///
/// # Errors
/// When the thread cannot be started.
pub fn spawn<W: io::Write + Send + 'static>(out: W) -> io::Result<(Background, LogGuard)> {
    let (queue, lines) = mpsc::sync_channel(QUEUE_LINES);
    let thread = std::thread::Builder::new()
        .name("authql-log".into())
        .spawn(move || write_lines(&lines, out))?;
    Ok((
        Background {
            queue: queue.clone(),
        },
        LogGuard {
            queue,
            thread: Some(thread),
        },
    ))
}

/// The thread. Idle, it waits for a line (the first line after a quiet spell wakes it);
/// busy, it writes out what has queued and then sleeps [`BATCH_EVERY`] rather than waiting,
/// so that the request threads queue their lines without waking it once per line.
fn write_lines<W: io::Write>(lines: &Receiver<Message>, out: W) {
    let mut out = BufWriter::with_capacity(64 * 1024, out);
    while let Ok(first) = lines.recv() {
        let mut next = Some(first);
        loop {
            let mut wrote = false;
            while let Some(message) = next.take().or_else(|| lines.try_recv().ok()) {
                match message {
                    Message::Line(line) => {
                        let _ = out.write_all(&line);
                        wrote = true;
                    }
                    Message::Stop(done) => {
                        let _ = out.flush();
                        let _ = done.send(());
                        return;
                    }
                }
            }
            let _ = out.flush();
            if !wrote {
                break;
            }
            std::thread::sleep(BATCH_EVERY);
        }
    }
    let _ = out.flush();
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        let (done, stopped) = mpsc::sync_channel(1);
        // Behind every queued line; if the queue is full, the thread is stuck on its reader
        // and waiting for it would only delay the exit.
        if self.queue.try_send(Message::Stop(done)).is_ok()
            && !matches!(
                stopped.recv_timeout(FLUSH_TIMEOUT),
                Err(RecvTimeoutError::Timeout)
            )
            && let Some(thread) = self.thread.take()
        {
            let _ = thread.join();
        }
    }
}

/// One log line on its way to the queue.
pub struct LineWriter<'a>(&'a Background);

impl io::Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.0.queue.try_send(Message::Line(buf.to_vec())) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => crate::metrics::log_line_dropped(),
            // The writer has stopped (the process is ending): write it directly.
            Err(TrySendError::Disconnected(_)) => {
                io::stderr().write_all(buf)?;
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Background {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter(self)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A writer into shared memory that counts its `write` calls.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<(Vec<u8>, usize)>>);

    impl io::Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut s = self.0.lock().unwrap();
            s.0.extend_from_slice(buf);
            s.1 += 1;
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_is_written_in_order_by_the_time_the_guard_is_dropped() {
        let out = Shared::default();
        let (background, guard) = spawn(out.clone()).unwrap();
        for i in 0..10_000 {
            background
                .make_writer()
                .write_all(format!("line {i}\n").as_bytes())
                .unwrap();
        }
        drop(guard);
        let (bytes, writes) = out.0.lock().unwrap().clone();
        let text = String::from_utf8(bytes).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 10_000);
        assert!(
            lines
                .iter()
                .enumerate()
                .all(|(i, l)| *l == format!("line {i}"))
        );
        // Lines that queued up together went out together.
        assert!(writes < 10_000, "{writes} writes");
    }

    /// A reader that never reads: the writer thread blocks on it for ever.
    struct Stalled(mpsc::Receiver<()>);

    impl io::Write for Stalled {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            let _ = self.0.recv();
            Ok(0)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stalled_reader_costs_dropped_lines_never_a_blocked_caller() {
        let (_hold, never) = mpsc::channel();
        let (background, guard) = spawn(Stalled(never)).unwrap();
        let started = std::time::Instant::now();
        // Far more lines than the queue and the thread's buffer hold: none of them waits.
        for _ in 0..(QUEUE_LINES * 3) {
            background.make_writer().write_all(&[b'x'; 100]).unwrap();
        }
        assert!(started.elapsed() < Duration::from_secs(20));
        // The guard does not wait on a reader that is stuck.
        let dropping = std::time::Instant::now();
        drop(guard);
        assert!(dropping.elapsed() < FLUSH_TIMEOUT + Duration::from_secs(1));
    }
}
