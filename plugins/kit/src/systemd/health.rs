//! The health gate: systemd has no healthchecks, so a unit runs the probe
//! after start (`ExecStartPost=`) until it passes; the unit turns active, and
//! `After=` dependents start, only then.
//!
//! `startPeriod` is a grace window, as in Docker: probing starts at once,
//! failures inside the window do not count, and after it `retries`
//! consecutive failures fail the start. The clock is /proc/uptime, read with
//! the shell's own `read`, so the gate needs no program beyond `sh`.

use crate::programs::{lookup, Lookup};
use crate::{diagnostics, shell, Deployment, Diagnostic, Probe, Service};

/// The gate's POSIX `sh` script and the start timeout it needs (seconds).
pub struct HealthGate {
    pub script: String,
    pub timeout_seconds: u64,
}

/// The probe as one shell command.
fn probe_command(d: &Deployment, svc: &Service, probe: &Probe, warnings: &mut Vec<Diagnostic>) -> String {
    match probe {
        Probe::Command(argv) => shell::quote_words(argv),
        Probe::Http(http) => {
            // Check, then warn: only when wget is known to be in none of its packages.
            if lookup(d, svc, "wget") == Lookup::Missing {
                warnings.push(diagnostics::warning(
                    &svc.name,
                    "healthcheck",
                    "the http healthcheck runs `wget`, which none of the service's packages holds: it must be on the \
                     machine's PATH, or put busybox or wget in `package` or `path`",
                ));
            }
            let path = if http.path.starts_with('/') { http.path.clone() } else { format!("/{}", http.path) };
            format!("wget -q -O /dev/null {}", shell::quote(&format!("http://127.0.0.1:{}{path}", http.port)))
        }
    }
}

/// The gate for `svc`, if it has a healthcheck.
pub fn health_gate(d: &Deployment, svc: &Service, warnings: &mut Vec<Diagnostic>) -> Option<HealthGate> {
    let h = svc.healthcheck.as_ref()?;
    let probe = probe_command(d, svc, &h.probe, warnings);
    let retries = h.retries.max(1);
    let script = format!(
        "uptime() {{ read -r up _ < /proc/uptime; echo \"${{up%.*}}\"; }}\n\
         grace_ends=$(( $(uptime) + {start} ))\n\
         failures=0\n\
         until {probe}; do\n\
         \x20 if [ \"$(uptime)\" -ge \"$grace_ends\" ]; then\n\
         \x20   failures=$((failures + 1))\n\
         \x20   if [ \"$failures\" -ge {retries} ]; then echo \"unhealthy: $failures probes failed after the start period\" >&2; exit 1; fi\n\
         \x20 fi\n\
         \x20 sleep {interval}\n\
         done\n",
        start = h.start_period_seconds,
        interval = h.interval_seconds,
    );
    let timeout_seconds = u64::from(h.start_period_seconds)
        + u64::from(retries) * (u64::from(h.interval_seconds) + u64::from(h.timeout_seconds))
        + 30;
    Some(HealthGate { script, timeout_seconds })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::service;
    use crate::Healthcheck;
    use std::process::Command;

    /// Runs the gate of a probe that fails `fail_first` times, then passes;
    /// returns (exit success, probes run).
    fn run_gate(fail_first: u32, retries: u32, start_period_seconds: u32) -> (bool, u32) {
        let dir = std::env::temp_dir().join(format!("n2d-gate-{}-{fail_first}-{retries}-{start_period_seconds}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let count = dir.join("count");
        std::fs::write(&count, "").unwrap();
        // Each probe appends a line; it passes once more than fail_first lines exist.
        let probe = format!("echo x >> '{0}'; [ \"$(wc -l < '{0}')\" -gt {fail_first} ]", count.display());
        let mut svc = service("db", &["db"]);
        svc.healthcheck = Some(Healthcheck {
            probe: Probe::Command(vec!["sh".into(), "-c".into(), probe]),
            interval_seconds: 0,
            timeout_seconds: 1,
            retries,
            start_period_seconds,
        });
        let gate = health_gate(&crate::testing::deployment(vec![svc.clone()]), &svc, &mut Vec::new()).unwrap();
        let status = Command::new("sh").arg("-c").arg(&gate.script).status().unwrap();
        let probes = std::fs::read_to_string(&count).unwrap().lines().count() as u32;
        std::fs::remove_dir_all(&dir).unwrap();
        (status.success(), probes)
    }

    #[test]
    fn without_a_start_period_retries_consecutive_failures_fail_the_start() {
        assert_eq!(run_gate(10, 3, 0), (false, 3));
        assert_eq!(run_gate(2, 3, 0), (true, 3));
    }

    #[test]
    fn failures_inside_the_start_period_do_not_count_and_a_pass_ends_it_at_once() {
        // One retry, but 50 failures fit in the grace window: healthy on the 51st probe.
        assert_eq!(run_gate(50, 1, 30), (true, 51));
    }

    /// The wget warning appears only when wget is known to be absent.
    #[test]
    fn the_http_probe_warns_about_wget_only_when_no_package_holds_it() {
        use crate::testing::ServiceExt;
        let mut svc = service("web", &["httpd"]).path_entry("/nix/store/a-busybox");
        svc.healthcheck = Some(Healthcheck {
            probe: Probe::Http(crate::HttpProbe { port: 80, path: "/".into() }),
            interval_seconds: 1,
            timeout_seconds: 1,
            retries: 1,
            start_period_seconds: 0,
        });
        let warnings_with = |programs: Option<&[&str]>| {
            let mut d = crate::testing::deployment(vec![svc.clone()]);
            if let Some(programs) = programs {
                d.bin_directories = vec![crate::BinDirectory {
                    package: "/nix/store/a-busybox".into(),
                    programs: programs.iter().map(|p| (*p).to_owned()).collect(),
                }];
            }
            let mut warnings = Vec::new();
            health_gate(&d, &svc, &mut warnings).unwrap();
            warnings
        };
        assert!(warnings_with(Some(&["sh", "wget"])).is_empty(), "busybox holds wget: nothing to say");
        assert!(warnings_with(None).is_empty(), "not built on this machine: unknown, not missing");
        let missing = warnings_with(Some(&["sh"]));
        assert_eq!(missing.len(), 1);
        assert!(missing[0].message.contains("none of the service's packages holds"), "{missing:?}");
    }

    #[test]
    fn the_start_period_is_not_a_delay() {
        let mut svc = service("db", &["db"]);
        svc.healthcheck = Some(Healthcheck { probe: Probe::Command(vec!["true".into()]), interval_seconds: 1, timeout_seconds: 1, retries: 1, start_period_seconds: 30 });
        let gate = health_gate(&crate::testing::deployment(vec![svc.clone()]), &svc, &mut Vec::new()).unwrap();
        assert!(!gate.script.contains("sleep 30"), "{}", gate.script);
        assert_eq!(gate.timeout_seconds, 30 + 2 + 30);
    }
}
