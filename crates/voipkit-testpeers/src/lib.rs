//! Starting real third-party SIP peers on loopback for voipkit's interop
//! tests: finding their binaries, picking free UDP ports on 127.0.0.1,
//! writing their temporary configuration, starting them, reading their
//! logs, and stopping them (also when a test fails: every launcher stops
//! its process on `Drop`).
//!
//! It owns the process plumbing only: [`find_binary`], [`free_udp_port`],
//! [`free_udp_port_pair`], [`Baresip`] (built with [`BaresipBuilder`]),
//! [`Sipp`] and [`Kamailio`]. It owns no protocol logic: no SIP, SDP or
//! RTP is built or parsed here; the SIPp scenarios, kamailio routing
//! scripts and what to assert about a peer stay in the tests that use
//! them. It is a dev-only crate (`publish = false`) used from
//! `[dev-dependencies]`.
//!
//! Every address is 127.0.0.1. Being test support, failures to set up a
//! peer (no free port, a temporary directory that cannot be written, a
//! binary that cannot be spawned) panic with a message, which fails the
//! calling test; absent binaries are for the caller to detect with
//! [`find_binary`] and skip on.

#![warn(missing_docs)]

use std::ffi::OsStr;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The first file named `name` in a directory of `$PATH`, if any.
pub fn find_binary(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// A UDP port on 127.0.0.1 that was free a moment ago (bound to port 0,
/// then released).
///
/// # Panics
/// If 127.0.0.1 cannot be bound.
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("bind a UDP socket on 127.0.0.1")
}

/// A free UDP port `p` on 127.0.0.1, below 65 000, whose neighbour `p + 1`
/// is free too (baresip binds TCP/TLS on its SIP port + 1).
pub fn free_udp_port_pair() -> u16 {
    loop {
        let p = free_udp_port();
        if p < 65_000 && UdpSocket::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
}

/// Sends SIGTERM to `child` (by its PID, with `kill -TERM`), waits up to
/// `deadline` for it to exit, then kills it. Does nothing if it has exited.
pub fn terminate(child: &mut Child, deadline: Duration) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let until = Instant::now() + deadline;
    while Instant::now() < until {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A fresh (emptied) directory `{prefix}-{pid}-{tag}` under the system's
/// temporary directory.
fn fresh_dir(prefix: &str, tag: impl std::fmt::Display) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("{prefix}-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// What to start baresip with: made by [`Baresip::builder`], started by
/// [`BaresipBuilder::start`].
///
/// The `config` file always has `poll_method epoll`,
/// `sip_listen 127.0.0.1:PORT`, `net_interface 127.0.0.1` and
/// `module_path /usr/lib/baresip/modules`; then the lines added with
/// [`config_line`](Self::config_line), then `module X` for each
/// [`modules`](Self::modules) and `module_app X` for each
/// [`app_modules`](Self::app_modules), in the order added (baresip's codec
/// preference follows the module order).
#[derive(Debug, Clone)]
pub struct BaresipBuilder {
    bin: PathBuf,
    dir_prefix: String,
    sip_port: Option<u16>,
    config: Vec<String>,
    modules: Vec<String>,
    app_modules: Vec<String>,
    accounts: Vec<String>,
    args: Vec<String>,
    timeout_secs: u64,
    verbose: bool,
}

impl BaresipBuilder {
    /// Names its temporary directory `{prefix}-{pid}-{sip port}`
    /// (default `voipkit-baresip`).
    pub fn dir_prefix(mut self, prefix: &str) -> Self {
        self.dir_prefix = prefix.to_string();
        self
    }

    /// Listens for SIP on 127.0.0.1:`port` (default: a
    /// [`free_udp_port_pair`]).
    pub fn sip_port(mut self, port: u16) -> Self {
        self.sip_port = Some(port);
        self
    }

    /// Adds one line to its `config` file (such as `rtcp_mux yes`); `{dir}`
    /// in it stands for its config directory (`snd_path {dir}`).
    pub fn config_line(mut self, line: impl Into<String>) -> Self {
        self.config.push(line.into());
        self
    }

    /// Adds the config lines of an `ausine` microphone at `hz` (48 kHz
    /// stereo, the only format it does); the module `ausine.so` is added
    /// separately with [`modules`](Self::modules).
    pub fn ausine(self, hz: impl std::fmt::Display) -> Self {
        self.config_line(format!("audio_source ausine,{hz}"))
            .config_line("ausrc_srate 48000")
            .config_line("ausrc_channels 2")
    }

    /// Loads `modules` (`opus.so`), in this order, with `module` lines.
    pub fn modules<'a>(mut self, modules: impl IntoIterator<Item = &'a str>) -> Self {
        self.modules.extend(modules.into_iter().map(str::to_owned));
        self
    }

    /// Loads `modules` (`account.so`), in this order, with `module_app`
    /// lines.
    pub fn app_modules<'a>(mut self, modules: impl IntoIterator<Item = &'a str>) -> Self {
        self.app_modules
            .extend(modules.into_iter().map(str::to_owned));
        self
    }

    /// Adds one line to its `accounts` file
    /// (`<sip:bob@127.0.0.1>;regint=0;answermode=auto`).
    pub fn account(mut self, line: impl Into<String>) -> Self {
        self.accounts.push(line.into());
        self
    }

    /// Adds command-line arguments after the common ones (`-e`, `/dial ...`).
    pub fn args<S: Into<String>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Makes baresip quit by itself after `secs` seconds (`-t`, default 10),
    /// so that it never outlives a test by much.
    pub fn timeout_secs(mut self, secs: u64) -> Self {
        self.timeout_secs = secs;
        self
    }

    /// Runs it with `-v` (verbose log).
    pub fn verbose(mut self) -> Self {
        self.verbose = true;
        self
    }

    /// Writes its config directory and starts it, with stdout and stderr
    /// going to the file `log` in that directory. Does not wait for it to
    /// be ready (see [`Baresip::wait_ready`]).
    ///
    /// # Panics
    /// If the directory cannot be written or the binary not spawned.
    pub fn start(self) -> Baresip {
        let port = self.sip_port.unwrap_or_else(free_udp_port_pair);
        let dir = fresh_dir(&self.dir_prefix, port);
        let mut config = format!(
            "poll_method epoll\nsip_listen 127.0.0.1:{port}\nnet_interface 127.0.0.1\n\
             module_path /usr/lib/baresip/modules\n"
        );
        let dir_text = dir.display().to_string();
        for line in &self.config {
            config.push_str(&line.replace("{dir}", &dir_text));
            config.push('\n');
        }
        for m in &self.modules {
            config.push_str(&format!("module {m}\n"));
        }
        for m in &self.app_modules {
            config.push_str(&format!("module_app {m}\n"));
        }
        write(&dir.join("config"), &config);
        let mut accounts = String::new();
        for a in &self.accounts {
            accounts.push_str(a);
            accounts.push('\n');
        }
        write(&dir.join("accounts"), &accounts);
        let log_path = dir.join("log");
        let log = std::fs::File::create(&log_path)
            .unwrap_or_else(|e| panic!("create {}: {e}", log_path.display()));
        let log_err = log.try_clone().expect("clone the log file handle");
        let mut cmd = Command::new(&self.bin);
        cmd.arg("-f").arg(&dir);
        if self.verbose {
            cmd.arg("-v");
        }
        let child = cmd
            .arg("-t")
            .arg(self.timeout_secs.to_string())
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", self.bin.display()));
        Baresip {
            child,
            dir,
            sip: SocketAddr::from(([127, 0, 0, 1], port)),
            log_from: 0,
        }
    }
}

/// A running baresip from a temporary config directory. Stopped by its PID
/// (SIGTERM, then SIGKILL after 3 s) and its directory removed on `Drop`,
/// also when the test fails.
#[derive(Debug)]
pub struct Baresip {
    child: Child,
    dir: PathBuf,
    sip: SocketAddr,
    /// Where in the log [`Baresip::wait_for`] starts looking.
    log_from: usize,
}

impl Baresip {
    /// A builder for baresip from the binary `bin` (see [`find_binary`]),
    /// with nothing but the common config lines.
    pub fn builder(bin: impl Into<PathBuf>) -> BaresipBuilder {
        BaresipBuilder {
            bin: bin.into(),
            dir_prefix: "voipkit-baresip".to_string(),
            sip_port: None,
            config: Vec::new(),
            modules: Vec::new(),
            app_modules: Vec::new(),
            accounts: Vec::new(),
            args: Vec::new(),
            timeout_secs: 10,
            verbose: false,
        }
    }

    /// Its SIP address (UDP on 127.0.0.1).
    pub fn sip_addr(&self) -> SocketAddr {
        self.sip
    }

    /// Its temporary config directory (where `sndfile` dumps land when
    /// `snd_path` points there).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Everything it logged so far (stdout and stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    /// Waits up to `within` until its log, from the last
    /// [`skip_log`](Self::skip_log) on, contains `needle`.
    pub fn wait_for(&self, needle: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            let log = self.log();
            if log.get(self.log_from..).is_some_and(|l| l.contains(needle)) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Makes [`wait_for`](Self::wait_for) look only at what is logged from
    /// now on.
    pub fn skip_log(&mut self) {
        self.log_from = self.log().len();
    }

    /// Waits up to `within` for "baresip is ready" in its log.
    ///
    /// # Panics
    /// If it does not come, with the log in the message.
    pub fn wait_ready(&self, within: Duration) {
        assert!(
            self.wait_for("baresip is ready", within),
            "baresip did not start:\n{}",
            self.log()
        );
    }

    /// Stops it: SIGTERM by its PID, SIGKILL after 3 s (it can take over a
    /// second to exit). Its directory stays until `Drop`.
    pub fn stop(&mut self) {
        terminate(&mut self.child, Duration::from_secs(3));
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A running SIPp (stdin, stdout and stderr null); killed on `Drop`.
#[derive(Debug)]
pub struct Sipp {
    child: Child,
}

impl Sipp {
    /// Starts `sipp` with `args` as they are.
    ///
    /// # Panics
    /// If `sipp` cannot be spawned.
    pub fn start<S: AsRef<OsStr>>(args: impl IntoIterator<Item = S>) -> Self {
        Self::spawn(Command::new("sipp").args(args))
    }

    /// The arguments every one-call run shares: local address
    /// 127.0.0.1:`port`, one call (`-m 1`), no keyboard (`-nostdin`).
    pub fn one_call_args(port: u16) -> Vec<String> {
        [
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-m",
            "1",
            "-nostdin",
        ]
        .map(str::to_owned)
        .to_vec()
    }

    /// Starts SIPp's built-in `scenario` (`uas`, `uac`) for one call on
    /// 127.0.0.1:`port` ([`one_call_args`](Self::one_call_args)), killed
    /// after 20 s at the latest (under `timeout 20`), with `extra`
    /// arguments after the common ones.
    pub fn builtin(scenario: &str, port: u16, extra: &[&str]) -> Self {
        Self::spawn(
            Command::new("timeout")
                .args(["20", "sipp", "-sn", scenario])
                .args(Self::one_call_args(port))
                .args(extra),
        )
    }

    fn spawn(cmd: &mut Command) -> Self {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn sipp: {e}"));
        Self { child }
    }

    /// Waits for it to exit, calling `meanwhile` between checks.
    ///
    /// # Panics
    /// If its status cannot be read.
    pub fn wait_exit(&mut self, mut meanwhile: impl FnMut()) -> ExitStatus {
        loop {
            if let Some(s) = self.child.try_wait().expect("sipp status") {
                return s;
            }
            meanwhile();
        }
    }

    /// Waits up to `within` for it to exit; `None` (and killed) if it did
    /// not.
    pub fn wait_within(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(s) = self.child.try_wait().expect("sipp status") {
                return Some(s);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running kamailio in the foreground (`-DD -E`) with a generated
/// configuration; killed and its directory removed on `Drop`.
#[derive(Debug)]
pub struct Kamailio {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
}

impl Kamailio {
    /// Where the installed kamailio keeps its modules (for the config's
    /// `mpath`): Debian's multiarch `/usr/lib/<triplet>/kamailio/modules/`
    /// on any architecture, else `/usr/lib/kamailio/modules/` or
    /// `/usr/local/lib/kamailio/modules/`.
    pub fn module_dir() -> Option<PathBuf> {
        let multiarch = std::fs::read_dir("/usr/lib")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join("kamailio/modules"));
        let plain = [
            "/usr/lib/kamailio/modules",
            "/usr/local/lib/kamailio/modules",
        ]
        .into_iter()
        .map(PathBuf::from);
        multiarch.chain(plain).find(|d| d.join("tm.so").is_file())
    }

    /// Starts kamailio on a free UDP port of 127.0.0.1 with the
    /// configuration `cfg(port)`, written to `kamailio.cfg` in a fresh
    /// directory named after `prefix` (also its run directory, `-Y`).
    ///
    /// # Panics
    /// If the directory cannot be written or `kamailio` not spawned.
    pub fn start(prefix: &str, cfg: impl FnOnce(u16) -> String) -> Self {
        let port = free_udp_port();
        let dir = fresh_dir(prefix, port);
        let path = dir.join("kamailio.cfg");
        write(&path, &cfg(port));
        let child = Command::new("kamailio")
            .arg("-f")
            .arg(&path)
            .arg("-DD")
            .arg("-E")
            .arg("-Y")
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn kamailio: {e}"));
        Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            dir,
        }
    }

    /// Its SIP address (UDP on 127.0.0.1).
    pub fn sip_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
