//! The services' life: started once their dependencies are started (or
//! healthy, or completed, when asked), probed, restarted by policy (a
//! one-shot service not after a success), stopped dependents first, each
//! with its own stop signal and timeout. One loop polls every 50 ms: PID 1 reaps every child anyway, so it
//! owns all `waitpid` calls, and polling keeps the states in one place.

use crate::{health, log, spawn, sys};
use nix2dream_vm_init::{stop_signal_number, Condition, Config, Probe, Service};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const TICK: Duration = Duration::from_millis(50);
/// A process that ran this long before exiting restarts at once (after
/// [`RESTART_DELAY`]); quicker exits back off, doubling up to [`MAX_BACKOFF`].
const STABLE_RUN: Duration = Duration::from_secs(10);
const RESTART_DELAY: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// No healthcheck, or not passed yet.
    Unknown,
    Healthy,
    Unhealthy,
}

struct Instance {
    pid: Option<i32>,
    /// When to (re)start it, while not running.
    start_at: Option<Instant>,
    started: Instant,
    quick_exits: u32,
    /// A one-shot instance that exited 0: it does not run again.
    done: bool,
}

enum ProbeRun {
    Idle,
    Command { pid: i32, deadline: Instant },
    Http,
}

struct Unit {
    spec: Service,
    started: bool,
    /// A one-shot service whose every instance exited 0.
    completed: bool,
    instances: Vec<Instance>,
    health: Health,
    probe: ProbeRun,
    next_probe: Instant,
    failures: u32,
    started_at: Instant,
}

enum Owner {
    Instance(usize, usize),
    Probe(usize),
}

/// An http probe's outcome: the unit's index, and whether it answered.
type ProbeResult = (usize, bool);

pub struct Supervisor {
    units: Vec<Unit>,
    pids: HashMap<i32, Owner>,
    stop_timeout: Duration,
    http_results: (mpsc::Sender<ProbeResult>, mpsc::Receiver<ProbeResult>),
    all_up_reported: bool,
}

impl Supervisor {
    pub fn new(config: &Config) -> Supervisor {
        let now = Instant::now();
        let units = config
            .services
            .iter()
            .map(|spec| Unit {
                spec: spec.clone(),
                started: false,
                completed: false,
                instances: (0..spec.replicas.max(1)).map(|_| Instance { pid: None, start_at: None, started: now, quick_exits: 0, done: false }).collect(),
                health: Health::Unknown,
                probe: ProbeRun::Idle,
                next_probe: now,
                failures: 0,
                started_at: now,
            })
            .collect();
        Supervisor {
            units,
            pids: HashMap::new(),
            stop_timeout: Duration::from_secs(config.stop_timeout_seconds.into()),
            http_results: mpsc::channel(),
            all_up_reported: false,
        }
    }

    /// Supervises until `stop` is set, then stops every service.
    pub fn run(&mut self, stop: &AtomicBool) {
        while !stop.load(Ordering::SeqCst) {
            self.tick(Instant::now());
            std::thread::sleep(TICK);
        }
        self.stop_all();
    }

    fn label(unit: &Unit, instance: usize) -> String {
        if unit.instances.len() > 1 {
            format!("{}[{}]", unit.spec.name, instance + 1)
        } else {
            unit.spec.name.clone()
        }
    }

    pub fn tick(&mut self, now: Instant) {
        self.reap(now);
        while let Ok((u, ok)) = self.http_results.1.try_recv() {
            self.probe_result(u, ok, now);
        }
        for u in 0..self.units.len() {
            if !self.units[u].started && self.dependencies_met(u) {
                self.start_unit(u, now);
            }
            for i in 0..self.units[u].instances.len() {
                if self.units[u].instances[i].start_at.is_some_and(|at| at <= now) {
                    self.spawn_instance(u, i, now);
                }
            }
            self.probe(u, now);
        }
        let up = |u: &Unit| {
            u.started && if u.spec.one_shot { u.completed } else { u.spec.healthcheck.is_none() || u.health == Health::Healthy }
        };
        if !self.all_up_reported && self.units.iter().all(up) {
            self.all_up_reported = true;
            log::info(format!("all {} services are up", self.units.len()));
        }
    }

    fn dependencies_met(&self, u: usize) -> bool {
        self.units[u].spec.depends_on.iter().all(|dep| match self.units.iter().find(|d| d.spec.name == dep.service) {
            Some(d) => match dep.condition {
                Condition::Started => d.started,
                // A dependency without a healthcheck cannot become healthy: started is all it can be.
                Condition::Healthy => d.started && (d.spec.healthcheck.is_none() || d.health == Health::Healthy),
                Condition::Completed => d.completed,
            },
            None => true,
        })
    }

    fn start_unit(&mut self, u: usize, now: Instant) {
        let unit = &mut self.units[u];
        match &unit.spec.description {
            Some(description) => log::info(format!("starting {} ({description})", unit.spec.name)),
            None => log::info(format!("starting {}", unit.spec.name)),
        }
        unit.started = true;
        unit.started_at = now;
        if let Some(hc) = &unit.spec.healthcheck {
            unit.next_probe = now + Duration::from_secs(hc.interval_seconds.max(1).into()).min(Duration::from_secs(1));
        }
        if let Err(e) = crate::prepare::prepare(&unit.spec) {
            log::info(format!("{}: {e}; not starting it", unit.spec.name));
            return;
        }
        for instance in &mut unit.instances {
            instance.start_at = Some(now);
        }
    }

    fn spawn_instance(&mut self, u: usize, i: usize, now: Instant) {
        let label = Self::label(&self.units[u], i);
        let unit = &mut self.units[u];
        let instance = &mut unit.instances[i];
        instance.start_at = None;
        instance.started = now;
        match spawn::spawn(&unit.spec, &unit.spec.argv, &label) {
            Ok(pid) => {
                instance.pid = Some(pid);
                self.pids.insert(pid, Owner::Instance(u, i));
            }
            Err(e) => {
                log::info(format!("{label}: cannot start {:?}: {e}", unit.spec.argv[0]));
                self.after_exit(u, i, false, now);
            }
        }
    }

    /// What happens to a process that ended: restart (by policy, with back-off) or not.
    fn after_exit(&mut self, u: usize, i: usize, success: bool, now: Instant) {
        let label = Self::label(&self.units[u], i);
        let unit = &mut self.units[u];
        let instance = &mut unit.instances[i];
        instance.pid = None;
        if unit.spec.one_shot && success {
            instance.start_at = None;
            instance.done = true;
            if unit.instances.iter().all(|i| i.done) {
                unit.completed = true;
                log::info(format!("{} completed", unit.spec.name));
            }
            return;
        }
        if !unit.spec.restart.restarts(success) {
            log::info(format!("{label}: not restarted (restart policy {:?})", unit.spec.restart));
            return;
        }
        if now.duration_since(instance.started) >= STABLE_RUN {
            instance.quick_exits = 0;
        }
        let delay = RESTART_DELAY.saturating_mul(1 << instance.quick_exits.min(6)).min(MAX_BACKOFF);
        instance.quick_exits += 1;
        log::info(format!("{label}: restarting in {:.1} s", delay.as_secs_f32()));
        instance.start_at = Some(now + delay);
        unit.health = Health::Unknown;
        unit.failures = 0;
        unit.started_at = now + delay;
    }

    fn reap(&mut self, now: Instant) {
        while let Some((pid, status)) = sys::reap() {
            match self.pids.remove(&pid) {
                Some(Owner::Instance(u, i)) => {
                    log::info(format!("{} exited ({})", Self::label(&self.units[u], i), sys::describe_status(status)));
                    self.after_exit(u, i, sys::exited_ok(status), now);
                }
                Some(Owner::Probe(u)) => {
                    self.units[u].probe = ProbeRun::Idle;
                    self.probe_result(u, sys::exited_ok(status), now);
                }
                // An orphan some service left behind: reaped, nothing more.
                None => {}
            }
        }
    }

    fn probe(&mut self, u: usize, now: Instant) {
        let unit = &mut self.units[u];
        let Some(hc) = &unit.spec.healthcheck else { return };
        let timeout = Duration::from_secs(hc.timeout_seconds.max(1).into());
        match unit.probe {
            ProbeRun::Command { pid, deadline } if now >= deadline => {
                // Counted as a failure when reaped.
                sys::kill_group(pid, libc::SIGKILL);
            }
            ProbeRun::Idle if unit.started && now >= unit.next_probe && unit.instances.iter().any(|i| i.pid.is_some()) => {
                unit.next_probe = now + Duration::from_secs(hc.interval_seconds.max(1).into());
                match &hc.probe {
                    Probe::Command(argv) => match spawn::spawn(&unit.spec, argv, &format!("{} (healthcheck)", unit.spec.name)) {
                        Ok(pid) => {
                            unit.probe = ProbeRun::Command { pid, deadline: now + timeout };
                            self.pids.insert(pid, Owner::Probe(u));
                        }
                        Err(e) => {
                            log::info(format!("{}: cannot run the healthcheck {:?}: {e}", unit.spec.name, argv[0]));
                            self.probe_result(u, false, now);
                        }
                    },
                    Probe::Http { port, path } => {
                        unit.probe = ProbeRun::Http;
                        let (port, path, results) = (*port, path.clone(), self.http_results.0.clone());
                        std::thread::spawn(move || {
                            let _ = results.send((u, health::http_ok(port, &path, timeout)));
                        });
                    }
                }
            }
            _ => {}
        }
    }

    fn probe_result(&mut self, u: usize, ok: bool, now: Instant) {
        let unit = &mut self.units[u];
        if matches!(unit.probe, ProbeRun::Http) {
            unit.probe = ProbeRun::Idle;
        }
        let Some(hc) = &unit.spec.healthcheck else { return };
        if ok {
            unit.failures = 0;
            if unit.health != Health::Healthy {
                log::info(format!("{} is healthy", unit.spec.name));
            }
            unit.health = Health::Healthy;
            return;
        }
        // Failures in the start period do not count.
        if now < unit.started_at + Duration::from_secs(hc.start_period_seconds.into()) {
            return;
        }
        unit.failures += 1;
        if unit.failures >= hc.retries.max(1) && unit.health != Health::Unhealthy {
            log::info(format!("{} is unhealthy ({} failed checks in a row)", unit.spec.name, unit.failures));
            unit.health = Health::Unhealthy;
        }
    }

    /// Dependents first (the reverse of the start order): SIGTERM to each
    /// process group, SIGKILL after the stop timeout.
    pub fn stop_all(&mut self) {
        log::info("stopping the services");
        for u in (0..self.units.len()).rev() {
            let pids: Vec<i32> = self.units[u].instances.iter().filter_map(|i| i.pid).collect();
            for instance in &mut self.units[u].instances {
                instance.start_at = None;
            }
            if pids.is_empty() {
                continue;
            }
            let spec = &self.units[u].spec;
            let signal = spec.stop_signal.as_deref().and_then(stop_signal_number).unwrap_or(libc::SIGTERM);
            let timeout = spec.stop_timeout_seconds.map_or(self.stop_timeout, |s| Duration::from_secs(s.into()));
            log::info(format!("stopping {}", spec.name));
            for &pid in &pids {
                sys::kill_group(pid, signal);
            }
            let deadline = Instant::now() + timeout;
            let mut killed = false;
            while self.units[u].instances.iter().any(|i| i.pid.is_some()) {
                if !killed && Instant::now() >= deadline {
                    killed = true;
                    log::info(format!("{} did not stop within {} s: killed", self.units[u].spec.name, timeout.as_secs()));
                    for &pid in &pids {
                        sys::kill_group(pid, libc::SIGKILL);
                    }
                }
                std::thread::sleep(TICK);
                self.reap_stopping();
            }
        }
    }

    fn reap_stopping(&mut self) {
        while let Some((pid, status)) = sys::reap() {
            if let Some(Owner::Instance(u, i)) = self.pids.remove(&pid) {
                log::info(format!("{} stopped ({})", Self::label(&self.units[u], i), sys::describe_status(status)));
                self.units[u].instances[i].pid = None;
            }
        }
    }
}

