//! Child-process guard shared by the server launchers.
//!
//! Every server runs in its own process group (so Drop can kill it and any children with one
//! `kill(-pgid, SIGKILL)`), with `PR_SET_PDEATHSIG = SIGKILL` so it also dies when the test
//! process dies without unwinding (SIGKILL, abort, CI timeout). PDEATHSIG fires when the
//! *thread* that forked the child exits, and libtest runs each test in its own short-lived
//! thread, so all servers are forked from one process-lifetime "spawner" thread.

use std::ffi::c_int;
use std::fs::File;
use std::io;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tempfile::TempDir;

extern "C" {
    fn kill(pid: c_int, sig: c_int) -> c_int;
    fn prctl(option: c_int, ...) -> c_int;
}

const SIGKILL: c_int = 9;
const PR_SET_PDEATHSIG: c_int = 1;

/// How long launchers wait for a server's port to accept TCP.
pub const READY_LIMIT: Duration = Duration::from_secs(10);

type SpawnJob = (Command, mpsc::Sender<io::Result<Child>>);

fn spawner() -> &'static Mutex<mpsc::Sender<SpawnJob>> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnJob>>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnJob>();
        std::thread::Builder::new()
            .name("harness-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("harness: spawn the spawner thread");
        Mutex::new(tx)
    })
}

/// Spawns `cmd` from the process-lifetime spawner thread, in a new process group, with
/// PDEATHSIG=SIGKILL.
pub fn spawn_guarded(mut cmd: Command) -> io::Result<Child> {
    cmd.process_group(0);
    // SAFETY: prctl is async-signal-safe; the closure allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            if prctl(PR_SET_PDEATHSIG, SIGKILL as std::ffi::c_ulong) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let (tx, rx) = mpsc::channel();
    spawner().lock().unwrap_or_else(|e| e.into_inner()).send((cmd, tx)).expect("harness: spawner thread gone");
    rx.recv().expect("harness: spawner thread gone")
}

/// A running server process. Drop kills its process group (SIGKILL), reaps it and removes its
/// temporary directory (configs, logs).
pub struct ServerProcess {
    name: String,
    child: Child,
    reaped: bool,
    /// Held open so servers that read stdin (openssl s_server) never see EOF.
    _stdin: Option<ChildStdin>,
    stdout_path: PathBuf,
    stderr_path: PathBuf,
    extra_logs: Vec<PathBuf>,
    dir: TempDir,
}

impl ServerProcess {
    /// Spawns `cmd` with stdin = an open pipe, stdout/stderr = files in `dir`.
    pub fn spawn(name: &str, mut cmd: Command, dir: TempDir) -> ServerProcess {
        let stdout_path = dir.path().join("stdout.log");
        let stderr_path = dir.path().join("stderr.log");
        let out = File::create(&stdout_path).expect("harness: create stdout.log");
        let err = File::create(&stderr_path).expect("harness: create stderr.log");
        cmd.stdin(Stdio::piped()).stdout(out).stderr(err);
        let mut child = match spawn_guarded(cmd) {
            Ok(c) => c,
            Err(e) => panic!("harness: cannot start {name}: {e} (is it installed? run scripts/install-test-deps)"),
        };
        let stdin = child.stdin.take();
        ServerProcess {
            name: name.to_string(),
            child,
            reaped: false,
            _stdin: stdin,
            stdout_path,
            stderr_path,
            extra_logs: Vec::new(),
            dir,
        }
    }

    /// Adds a log file whose content is shown in failure messages (e.g. nginx's error.log).
    pub fn add_log(&mut self, path: PathBuf) {
        self.extra_logs.push(path);
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout_path).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// `Some(status)` once the process has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        if self.reaped {
            return None;
        }
        match self.child.try_wait() {
            Ok(Some(st)) => {
                self.reaped = true;
                Some(st)
            }
            _ => None,
        }
    }

    /// Everything the server wrote (stderr, stdout tail, extra logs) for a failure message.
    pub fn diagnostics(&self) -> String {
        let mut s = format!("--- {} stderr ---\n{}", self.name, self.stderr());
        let out = self.stdout();
        let tail: String = out.chars().rev().take(4000).collect::<Vec<_>>().into_iter().rev().collect();
        s.push_str(&format!("\n--- {} stdout (tail) ---\n{tail}", self.name));
        for p in &self.extra_logs {
            let t = std::fs::read_to_string(p).unwrap_or_default();
            s.push_str(&format!("\n--- {} ---\n{t}", p.display()));
        }
        s
    }

    /// Waits until `addr` accepts TCP (10 s limit); panics with the server's output otherwise.
    pub fn wait_ready(&mut self, addr: SocketAddr) -> Duration {
        let mut exit = None;
        let res = super::net::wait_for_tcp(addr, READY_LIMIT, || {
            if let Some(st) = self.exited() {
                exit = Some(st);
                return Err(format!("exited with {st} before listening"));
            }
            Ok(())
        });
        match res {
            Ok(d) => d,
            Err(why) => panic!("harness: {} on {addr} not ready: {why}\n{}", self.name, self.diagnostics()),
        }
    }

    /// Kills the process group and reaps the child (idempotent). Once the child has been
    /// reaped its pgid may be reused, so a server that already exited is not signalled again
    /// (none of the servers here fork).
    pub fn stop(&mut self) {
        if !self.reaped {
            // The (possibly zombie) child still holds its pid, so the pgid cannot be reused yet.
            unsafe {
                kill(-(self.child.id() as c_int), SIGKILL);
            }
            let _ = self.child.wait();
            self.reaped = true;
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Finds a program in PATH or in the sbin directories (nginx lives in /usr/sbin, which is not
/// in a non-root PATH).
pub fn find_program(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from));
    for d in dirs {
        let p = d.join(name);
        if p.is_file() {
            return p;
        }
    }
    PathBuf::from(name)
}

/// Runs a short command with a hard timeout (coreutils `timeout`, SIGKILL 2 s after SIGTERM),
/// stdin from /dev/null.
pub fn run_with_timeout(program: &str, args: &[&str], limit: Duration) -> io::Result<std::process::Output> {
    let secs = format!("{:.3}", limit.as_secs_f64());
    Command::new("timeout").arg("-k").arg("2").arg(&secs).arg(program).args(args).stdin(Stdio::null()).output()
}
