//! A minimal headless-Chromium driver over the DevTools protocol, for the GraphiQL test.
//!
//! Chromium is started with `--remote-debugging-pipe`: it reads protocol messages from file
//! descriptor 3 and writes to 4, each a JSON object ended by a NUL byte. A tiny `sh`
//! wrapper maps the child's stdin and stdout onto those descriptors, so no WebSocket client
//! (and no unsafe file-descriptor juggling) is needed.

use std::{
    io::{BufRead, BufReader, Write},
    path::PathBuf,
    process::{Child, ChildStdin, Command, Stdio},
    sync::mpsc::{Receiver, RecvTimeoutError, channel},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use super::eventually::eventually_blocking;

/// Where Chromium is: `$CHROMIUM`, or the first of the usual names on `PATH`.
pub fn find_chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ]
    .iter()
    .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
    .find(|candidate| candidate.is_file())
}

/// A running headless Chromium and the protocol messages it sent that were not answers.
pub struct Browser {
    child: Child,
    input: ChildStdin,
    output: Receiver<Value>,
    next_id: u64,
    pub events: Vec<Value>,
    profile_dir: PathBuf,
}

impl Browser {
    pub fn launch(chromium: &std::path::Path) -> Self {
        let profile_dir =
            std::env::temp_dir().join(format!("authql-chromium-{}", uuid::Uuid::new_v4().simple()));
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"exec "$0" "$@" 3<&0 4>&1 0</dev/null 1>/dev/null"#)
            .arg(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--remote-debugging-pipe",
            ])
            .arg(format!("--user-data-dir={}", profile_dir.display()))
            .arg("about:blank")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromium");
        let input = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut buf = Vec::new();
            while let Ok(n) = reader.read_until(0, &mut buf) {
                if n == 0 {
                    break;
                }
                if buf.last() == Some(&0) {
                    buf.pop();
                }
                if let Ok(v) = serde_json::from_slice::<Value>(&buf)
                    && tx.send(v).is_err()
                {
                    break;
                }
                buf.clear();
            }
        });
        Self {
            child,
            input,
            output: rx,
            next_id: 0,
            events: Vec::new(),
            profile_dir,
        }
    }

    /// Sends a command (to a page when `session` is given) and waits for its result.
    pub fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.try_call(session, method, params)
            .unwrap_or_else(|err| panic!("{method} failed: {err}"))
    }

    /// As [`Browser::call`], with the protocol's error (such as "Execution context was
    /// destroyed" while the page navigates) as `Err`.
    pub fn try_call(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        self.input.write_all(&bytes).expect("write to chromium");
        self.input.flush().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(v) if v["id"] == json!(id) => {
                    return match v.get("error") {
                        Some(err) => Err(err.clone()),
                        None => Ok(v["result"].clone()),
                    };
                }
                Ok(event) => self.events.push(event),
                Err(RecvTimeoutError::Timeout) => panic!("{method}: no answer from chromium"),
                Err(RecvTimeoutError::Disconnected) => panic!("{method}: chromium exited"),
            }
        }
    }

    /// Evaluates a JavaScript expression in the page and returns its value.
    pub fn eval(&mut self, session: &str, expression: &str) -> Value {
        self.try_eval(session, expression)
            .unwrap_or_else(|err| panic!("{expression}: {err}"))
    }

    /// As [`Browser::eval`], with what went wrong as `Err`: the expression threw, or the
    /// page was between two documents (a navigation destroys the context it ran in).
    pub fn try_eval(&mut self, session: &str, expression: &str) -> Result<Value, Value> {
        let result = self
            .try_call(
                Some(session),
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            )
            .map_err(|err| json!({ "protocol error": err }))?;
        match result.get("exceptionDetails") {
            Some(ex) => Err(json!({ "threw": ex })),
            None => Ok(result["result"]["value"].clone()),
        }
    }

    /// Evaluates `expression` until it returns something truthy, or panics after `timeout`.
    pub fn wait_for(&mut self, session: &str, expression: &str, timeout: Duration) -> Value {
        // A page that is navigating has no document to ask for a moment: not ready yet.
        eventually_blocking(expression, timeout, Duration::from_millis(100), || {
            let v = self.try_eval(session, expression)?;
            let truthy = !(v.is_null() || v == json!(false) || v == json!(""));
            if truthy { Ok(v) } else { Err(v) }
        })
    }

    /// Collects the events that arrived since the last command was answered.
    pub fn drain_events(&mut self) {
        std::thread::sleep(Duration::from_millis(200));
        while let Ok(event) = self.output.try_recv() {
            self.events.push(event);
        }
    }

    /// Protocol events with this method name, in the order they came.
    pub fn events_named(&self, method: &str) -> Vec<&Value> {
        self.events
            .iter()
            .filter(|e| e["method"] == json!(method))
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile_dir);
    }
}
