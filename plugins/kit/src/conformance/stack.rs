//! The multi-service probe: what one deployment of several services needs
//! from every manager, checked in the manager's real consumer.
//!
//! - `seed`, a one-shot service (`oneShot`), prints a line and exits 0: the
//!   stack must go on (honcho would stop everything when a process exits);
//! - `backend`, busybox httpd on an **internal** port, serves a page from a
//!   config file, with a healthcheck, a stop signal and a stop timeout;
//! - `client` depends on `backend` being healthy and on `seed` having
//!   completed, reaches the backend through its **service address** (a
//!   reference each manager resolves: 127.0.0.1 or the service name), and
//!   prints the page and two variables: one from the deployment-wide `env`
//!   and one the service overrides.
//!
//! A test renders [`Stack::deployment_json`], runs it, collects the logs of
//! all services and calls [`Stack::check`].

use serde_json::{json, Value};

/// The page the backend serves.
pub const PAGE: &str = "N2D-BACKEND-PAGE";
const GREETING: &str = "hello from the deployment";

/// The stack, for a busybox package and a base directory under which each
/// service gets its working directory (`<base>/<service>`).
pub struct Stack {
    pub busybox: String,
    pub base: String,
    /// The backend's (internal) port.
    pub port: u16,
}

impl Stack {
    pub fn new(busybox: &str, base: &str, port: u16) -> Stack {
        Stack { busybox: busybox.to_owned(), base: base.trim_end_matches('/').to_owned(), port }
    }

    /// The stack as a `nix2dream/v1` deployment named `name`. The client's
    /// address of the backend is written as the reference the Nix modules'
    /// `ports.http.address` gives.
    pub fn deployment_json(&self, name: &str) -> Value {
        let port = self.port;
        let url = format!("http://@@nix2dream:host:backend@@:{port}/");
        json!({
            "schema": "nix2dream/v1",
            "name": name,
            "env": {"STACK_GREETING": GREETING, "STACK_SHARED": "from the deployment"},
            "services": {
                "seed": {
                    "package": self.busybox,
                    "process": {"argv": ["sh", "-c", "echo 'N2D-STACK seed ran'"]},
                    "oneShot": true,
                    "restart": "no",
                },
                "backend": {
                    "package": self.busybox,
                    "process": {"argv": ["httpd", "-f", "-v", "-p", port.to_string(), "-h", "www"]},
                    "workingDirectory": format!("{}/backend", self.base),
                    "configData": {"page": {"path": "www/index.html", "text": PAGE}},
                    "ports": {"http": {"port": port, "internal": true}},
                    "healthcheck": {
                        "command": ["wget", "-q", "-O", "/dev/null", format!("http://127.0.0.1:{port}/")],
                        "interval": 1, "timeout": 2, "retries": 30,
                    },
                    "stopSignal": "SIGINT",
                    "stopTimeout": 5,
                },
                "client": {
                    "package": self.busybox,
                    "process": {"argv": ["sh", "-c", CLIENT]},
                    "workingDirectory": format!("{}/client", self.base),
                    "env": {"BACKEND": url, "STACK_SHARED": "from the service"},
                    "dependsOn": {"backend": {"condition": "healthy"}, "seed": {"condition": "completed"}},
                },
            }
        })
    }

    /// Checks the logs of the stack's services (concatenated, any prefixes).
    pub fn check(&self, output: &str) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        let said = |line: &str| output.lines().any(|l| l.trim_end().ends_with(line));
        if !said("N2D-STACK seed ran") {
            problems.push("oneShot: the seed service's line is missing (did it run?)".to_owned());
        }
        if !said(&format!("N2D-STACK page {PAGE}")) {
            problems.push(format!(
                "service address: the client did not get the backend's page {PAGE:?} from http://<backend>:{}/",
                self.port
            ));
        }
        if !said(&format!("N2D-STACK greeting {GREETING}")) {
            problems.push("env (deployment-wide): STACK_GREETING did not reach the client".to_owned());
        }
        if !said("N2D-STACK shared from the service") {
            problems.push("env: the service's own STACK_SHARED must win over the deployment's".to_owned());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            problems.push(format!("--- output ---\n{output}"));
            Err(problems)
        }
    }
}

/// The client: fetch the page until the backend answers (a manager without
/// start-up ordering starts it at once), print what it got, then stay.
const CLIENT: &str = r#"until page=$(wget -q -O - "$BACKEND"); do sleep 0.5; done
echo "N2D-STACK page $page"
echo "N2D-STACK greeting $STACK_GREETING"
echo "N2D-STACK shared $STACK_SHARED"
echo "N2D-STACK end"
exec sleep 100000
"#;
