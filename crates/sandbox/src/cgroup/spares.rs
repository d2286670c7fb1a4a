//! Cgroups made ahead of time. Creating a cgroup costs ~0.1 ms (three directories on
//! cgroup v1), which every run would otherwise wait for; a background thread keeps a
//! few fresh, never-used ones ready instead. Used cgroups are not recycled: a fresh
//! cgroup per run keeps its memory and CPU accounting exact.

use std::fs;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

#[derive(Default)]
struct State {
    ready: Vec<String>,
    stopping: bool,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    parents: Vec<PathBuf>,
    prefix: String,
    next: AtomicU64,
    target: usize,
}

pub(super) struct Spares {
    shared: Arc<Shared>,
    maker: Option<JoinHandle<()>>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes a new cgroup (one directory per parent) and returns its name.
    fn make(&self) -> io::Result<String> {
        let name = format!(
            "{}-c{}",
            self.prefix,
            self.next.fetch_add(1, Ordering::Relaxed)
        );
        for parent in &self.parents {
            fs::create_dir(parent.join(&name))?;
        }
        Ok(name)
    }

    fn remove(&self, name: &str) {
        for parent in &self.parents {
            let _ = fs::remove_dir(parent.join(name));
        }
    }
}

impl Spares {
    /// Starts the maker thread; `target` cgroups are kept ready (0: none, every run
    /// makes its own).
    pub(super) fn start(parents: Vec<PathBuf>, prefix: String, target: usize) -> Spares {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            parents,
            prefix,
            next: AtomicU64::new(0),
            target,
        });
        let maker = (target > 0).then(|| {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("codeexec-cgroups".into())
                .spawn(move || make_spares(&shared))
                .expect("spawn the cgroup maker thread")
        });
        Spares { shared, maker }
    }

    /// A fresh cgroup: a ready one if there is one, else made now.
    pub(super) fn take(&self) -> io::Result<String> {
        let ready = {
            let mut state = self.shared.lock();
            let name = state.ready.pop();
            self.shared.wake.notify_one();
            name
        };
        match ready {
            Some(name) => Ok(name),
            None => self.shared.make(),
        }
    }
}

fn make_spares(shared: &Shared) {
    loop {
        {
            let mut state = shared.lock();
            while !state.stopping && state.ready.len() >= shared.target {
                state = shared.wake.wait(state).unwrap_or_else(|e| e.into_inner());
            }
            if state.stopping {
                return;
            }
        }
        match shared.make() {
            Ok(name) => shared.lock().ready.push(name),
            // Runs fall back to making their own; try again when one is taken.
            Err(_) => {
                let state = shared.lock();
                drop(shared.wake.wait(state));
            }
        }
    }
}

impl Drop for Spares {
    fn drop(&mut self) {
        self.shared.lock().stopping = true;
        self.shared.wake.notify_all();
        if let Some(maker) = self.maker.take() {
            let _ = maker.join();
        }
        for name in std::mem::take(&mut self.shared.lock().ready) {
            self.shared.remove(&name);
        }
    }
}
