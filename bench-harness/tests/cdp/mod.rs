//! A small Chrome DevTools Protocol client for the browser tests: headless Chromium is
//! started with `--remote-debugging-pipe`, which speaks NUL-terminated JSON messages on its
//! file descriptors 3 (in) and 4 (out). Two named pipes and `bash`'s redirections hand it
//! those descriptors, so no `unsafe` `pre_exec` is needed. Every wait is bounded; the browser's
//! process group is killed on drop, also when a test panics.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

/// Why a step failed.
#[derive(Debug)]
pub enum Failure {
    /// Chromium did not answer: worth another browser on a loaded machine.
    Browser(String),
    /// The page did not do what was asked (or the protocol refused a call): a bug.
    Page(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Browser(why) => write!(f, "the browser failed: {why}"),
            Failure::Page(why) => f.write_str(why),
        }
    }
}

pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Kills a child's whole process group and reaps it, also when the test panics.
pub struct GroupGuard {
    pub child: Child,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        // `kill` from procps: no `unsafe` needed to signal a group. A group already gone is fine.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path =
            std::env::temp_dir().join(format!("xray-local-{tag}-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&path).expect("creating a temp dir for Chromium's profile");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// One headless Chromium with one page attached.
pub struct Browser {
    commands: File,
    answers: Receiver<Value>,
    next_id: u64,
    session: String,
    timeout: Duration,
    // Dropped after the pipes: the guard kills the browser, then the directory goes.
    _guard: GroupGuard,
    dir: TempDir,
}

impl Browser {
    /// Starts Chromium (window `width`×`height`) and opens one page on `url`.
    pub fn open(url: &str, width: u32, height: u32, timeout: Duration) -> Result<Browser, String> {
        let dir = TempDir::new("chromium");
        let (input, output) = (dir.0.join("cdp-in"), dir.0.join("cdp-out"));
        for fifo in [&input, &output] {
            let made = Command::new("mkfifo")
                .arg(fifo)
                .status()
                .map_err(|e| format!("mkfifo: {e}"))?;
            if !made.success() {
                return Err(format!("mkfifo {} failed", fifo.display()));
            }
        }
        let stderr = File::create(dir.0.join("stderr")).map_err(|e| e.to_string())?;
        let child = Command::new("bash")
            .arg("-c")
            .arg(r#"exec "$@" 3<"$CDP_IN" 4>"$CDP_OUT""#)
            .arg("bash")
            .arg(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--remote-debugging-pipe",
            ])
            .arg(format!("--window-size={width},{height}"))
            .arg(format!(
                "--user-data-dir={}",
                dir.0.join("profile").display()
            ))
            .arg("about:blank")
            .env("CDP_IN", &input)
            .env("CDP_OUT", &output)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start {CHROMIUM} (install Debian's `chromium`): {e}"))?;
        let guard = GroupGuard { child };
        // Opening a named pipe blocks until the other end opens it: done on a thread so a
        // browser that never starts costs a timeout, not a hang. The order matches bash's.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let opened = OpenOptions::new()
                .write(true)
                .open(&input)
                .and_then(|w| Ok((w, File::open(&output)?)));
            let _ = tx.send(opened);
        });
        let (commands, from) = rx
            .recv_timeout(timeout)
            .map_err(|_| "Chromium did not open its DevTools pipes in time".to_owned())?
            .map_err(|e| format!("opening the DevTools pipes: {e}"))?;
        let (tx, answers) = mpsc::channel();
        std::thread::spawn(move || {
            for message in BufReader::new(from).split(0).map_while(Result::ok) {
                let Ok(value) = serde_json::from_slice::<Value>(&message) else {
                    continue;
                };
                if tx.send(value).is_err() {
                    return;
                }
            }
        });
        let mut browser = Browser {
            commands,
            answers,
            next_id: 0,
            session: String::new(),
            timeout,
            _guard: guard,
            dir,
        };
        let target = browser
            .call("Target.createTarget", json!({"url": "about:blank"}))
            .map_err(|e| e.to_string())?;
        let attached = browser
            .call(
                "Target.attachToTarget",
                json!({"targetId": target["targetId"], "flatten": true}),
            )
            .map_err(|e| e.to_string())?;
        attached["sessionId"]
            .as_str()
            .ok_or("no session id")?
            .clone_into(&mut browser.session);
        browser
            .page_call(
                "Emulation.setDeviceMetricsOverride",
                json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}),
            )
            .map_err(|e| e.to_string())?;
        browser
            .page_call("Page.navigate", json!({"url": url}))
            .map_err(|e| e.to_string())?;
        Ok(browser)
    }

    /// The end of Chromium's stderr, for failure messages.
    pub fn stderr_tail(&self) -> String {
        let text = fs::read_to_string(self.dir.0.join("stderr")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().rev().take(10).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    fn send(&mut self, method: &str, params: Value, session: bool) -> Result<Value, Failure> {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method});
        message["params"] = params;
        if session {
            message["sessionId"] = json!(self.session);
        }
        let mut bytes = serde_json::to_vec(&message).map_err(|e| Failure::Page(e.to_string()))?;
        bytes.push(0);
        self.commands
            .write_all(&bytes)
            .map_err(|e| Failure::Browser(format!("{method}: writing to Chromium: {e}")))?;
        let deadline = Instant::now() + self.timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let answer = self.answers.recv_timeout(left).map_err(|_| {
                Failure::Browser(format!("{method}: no answer from Chromium in time"))
            })?;
            // Events and answers to other calls are not waited for here.
            if answer["id"] != json!(id) {
                continue;
            }
            if let Some(error) = answer.get("error") {
                return Err(Failure::Page(format!("{method}: {error}")));
            }
            return Ok(answer["result"].clone());
        }
    }

    fn call(&mut self, method: &str, params: Value) -> Result<Value, Failure> {
        self.send(method, params, false)
    }

    /// A command to the page's session.
    pub fn page_call(&mut self, method: &str, params: Value) -> Result<Value, Failure> {
        self.send(method, params, true)
    }

    /// Evaluates `expression` in the page and returns its value (promises awaited).
    pub fn eval(&mut self, expression: &str) -> Result<Value, Failure> {
        let result = self.page_call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        )?;
        if let Some(exception) = result.get("exceptionDetails") {
            return Err(Failure::Page(format!("{expression}: {exception}")));
        }
        Ok(result["result"]["value"].clone())
    }

    /// Waits until `expression` is true in the page; `what` names it in the error.
    pub fn wait_for(&mut self, expression: &str, what: &str) -> Result<(), Failure> {
        self.wait_within(expression, what, self.timeout)
    }

    fn wait_within(
        &mut self,
        expression: &str,
        what: &str,
        within: Duration,
    ) -> Result<(), Failure> {
        let deadline = Instant::now() + within;
        loop {
            // A navigation in flight answers with an error: retried like a false. A browser
            // that stopped answering is not waited for.
            match self.eval(expression) {
                Ok(Value::Bool(true)) => return Ok(()),
                Err(e @ Failure::Browser(_)) => return Err(e),
                _ => {}
            }
            if Instant::now() >= deadline {
                return Err(Failure::Page(format!("timed out waiting for {what}")));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Clicks the middle of the first element matching `selector`, as a mouse would: it is
    /// scrolled into view, then pressed and released there.
    pub fn click(&mut self, selector: &str) -> Result<(), Failure> {
        let quoted = serde_json::to_string(selector).map_err(|e| Failure::Page(e.to_string()))?;
        let center = self.eval(&format!(
            "(() => {{ const e = document.querySelector({quoted}); if (!e) return null; \
             e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect(); \
             return [r.left + r.width / 2, r.top + r.height / 2]; }})()"
        ))?;
        let (Some(x), Some(y)) = (center[0].as_f64(), center[1].as_f64()) else {
            return Err(Failure::Page(format!("no element {selector} to click")));
        };
        for kind in ["mousePressed", "mouseReleased"] {
            self.page_call(
                "Input.dispatchMouseEvent",
                json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}),
            )?;
        }
        Ok(())
    }

    /// Clicks `selector` until `expression` holds: the page redraws its list on every poll,
    /// and a click that lands as its row is replaced is lost, as it would be for a person.
    pub fn click_until(
        &mut self,
        selector: &str,
        expression: &str,
        what: &str,
    ) -> Result<(), Failure> {
        let deadline = Instant::now() + self.timeout;
        loop {
            self.click(selector)?;
            let left = deadline.saturating_duration_since(Instant::now());
            match self.wait_within(expression, what, left.min(Duration::from_secs(5))) {
                Ok(()) => return Ok(()),
                Err(e @ Failure::Browser(_)) => return Err(e),
                Err(e) if Instant::now() >= deadline => return Err(e),
                Err(Failure::Page(_)) => {}
            }
        }
    }

    /// Types `text` into the focused element, then presses Enter.
    pub fn type_and_enter(&mut self, text: &str) -> Result<(), Failure> {
        self.page_call("Input.insertText", json!({"text": text}))?;
        // `text: "\r"` makes the key press that submits a form, as a keyboard's Enter does.
        self.page_call(
            "Input.dispatchKeyEvent",
            json!({"type": "keyDown", "key": "Enter", "code": "Enter",
                   "windowsVirtualKeyCode": 13, "text": "\r"}),
        )?;
        self.page_call(
            "Input.dispatchKeyEvent",
            json!({"type": "keyUp", "key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13}),
        )?;
        Ok(())
    }

    /// The page as PNG bytes.
    pub fn screenshot(&mut self) -> Result<Vec<u8>, Failure> {
        use base64::Engine as _;
        let shot = self.page_call(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true}),
        )?;
        base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap_or_default())
            .map_err(|e| Failure::Browser(format!("screenshot: {e}")))
    }

    /// Asks the browser to close (the guard kills what remains).
    pub fn close(mut self) {
        let _ = self.call("Browser.close", json!({}));
    }
}
