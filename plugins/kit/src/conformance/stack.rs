//! The multi-service probe: what one deployment of several services needs
//! from every manager, checked in the manager's real consumer.
//!
//! - `seed`, a one-shot service (`oneShot`), prints a line, writes a file
//!   into the deployment's shared volume `data`, and exits 0: the stack must
//!   go on (honcho would stop everything when a process exits);
//! - `backend`, busybox httpd on an **internal** port, serves a page from a
//!   config file, with a healthcheck, a stop signal and a stop timeout;
//! - `client` depends on `backend` being healthy and on `seed` having
//!   completed, reaches the backend through its **service address** (a
//!   reference each manager resolves: 127.0.0.1 or the service name), and
//!   prints the page, the seed's file from the shared volume (mounted
//!   read-only), a file from a host directory bound in (`hostPath`, when the
//!   test gives one), and two variables: one from the deployment-wide `env`
//!   and one the service overrides.
//!
//! A test renders [`Stack::deployment_json`], runs it, collects the logs of
//! all services and calls [`Stack::check`].

use serde_json::{json, Value};

/// The page the backend serves.
pub const PAGE: &str = "N2D-BACKEND-PAGE";
/// What the seed writes into the shared volume.
pub const SEEDED: &str = "seeded-by-the-one-shot";
/// The file the client reads from the bound host directory.
pub const HOST_FILE: &str = "host.txt";
/// The secrets' values: what must arrive, and appear in no rendered file
/// and no image layer.
pub const TOKEN: &str = "tok3n $HOME 'q' \"dq\" %n";
pub const KEY: &str = "k3y-in-a-file $PATH";
/// The variable docker-compose (or honcho) takes the token from.
pub const TOKEN_VARIABLE: &str = "N2D_STACK_TOKEN";

/// Where the stack's secrets come from on the machine that runs it.
#[derive(Clone)]
pub struct Secrets {
    /// Holds [`TOKEN`].
    pub token_file: String,
    /// Holds [`KEY`].
    pub key_file: String,
}
impl Secrets {
    /// Writes [`TOKEN`] and [`KEY`] into files in `dir` (created), as a
    /// deployer keeps them on the machine that runs the services.
    pub fn written_in(dir: &std::path::Path) -> std::io::Result<Secrets> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("token"), TOKEN)?;
        std::fs::write(dir.join("key"), KEY)?;
        let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
        Ok(Secrets { token_file: path("token"), key_file: path("key") })
    }
}

const GREETING: &str = "hello from the deployment";

/// The stack, for a busybox package and a base directory under which each
/// service gets its working directory (`<base>/<service>`).
pub struct Stack {
    pub busybox: String,
    pub base: String,
    /// The backend's (internal) port.
    pub port: u16,
    /// A host directory bound into the client, (host path, path inside),
    /// and the text of its `host.txt`.
    pub host_dir: Option<(String, String, String)>,
    /// Secrets: the client gets [`TOKEN`] as `STACK_TOKEN`, the backend
    /// [`KEY`] as a file it serves (`/key.txt`, read by the client).
    pub secrets: Option<Secrets>,
}

impl Stack {
    pub fn new(busybox: &str, base: &str, port: u16) -> Stack {
        Stack { busybox: busybox.to_owned(), base: base.trim_end_matches('/').to_owned(), port, host_dir: None, secrets: None }
    }

    /// Gives the stack its two secrets, from these files (or, for the
    /// token, the variable [`TOKEN_VARIABLE`], or the Kubernetes Secret
    /// `stack`'s keys `token` and `key`: each manager takes what it reads).
    pub fn with_secrets(self, secrets: Secrets) -> Stack {
        Stack { secrets: Some(secrets), ..self }
    }

    /// Binds `host` (holding `host.txt` with `text`) into the client at
    /// `inside`, read-only.
    pub fn with_host_dir(self, host: &str, inside: &str, text: &str) -> Stack {
        Stack { host_dir: Some((host.to_owned(), inside.to_owned(), text.to_owned())), ..self }
    }

    /// The stack as a `nix2dream/v1` deployment named `name`. The client's
    /// address of the backend is written as the reference the Nix modules'
    /// `ports.http.address` gives.
    pub fn deployment_json(&self, name: &str) -> Value {
        let port = self.port;
        let url = format!("http://@@nix2dream:host:backend@@:{port}/");
        let shared_dir = format!("{}/shared", self.base);
        let shared = |read_only: bool| json!({"data": {"path": shared_dir, "shared": "data", "readOnly": read_only}});
        let mut client_volumes = shared(true);
        let mut client_env = json!({"BACKEND": url, "STACK_SHARED": "from the service", "SHARED_DIR": shared_dir});
        if let Some((host, inside, _)) = &self.host_dir {
            client_volumes["host"] = json!({"path": inside, "hostPath": host, "readOnly": true});
            client_env["HOST_DIR"] = json!(inside);
        }
        let mut deployment_secrets = json!({});
        let mut backend_secrets = json!({});
        let mut client_secrets = json!({});
        if let Some(s) = &self.secrets {
            deployment_secrets = json!({
                "token": {"file": s.token_file, "environment": TOKEN_VARIABLE, "kubernetes": {"name": "stack", "key": "token"}},
                "key": {"file": s.key_file, "kubernetes": {"name": "stack", "key": "key"}},
            });
            backend_secrets = json!({"key": {"path": format!("{}/backend/www/key.txt", self.base)}});
            client_secrets = json!({"token": {"env": "STACK_TOKEN"}});
        }
        json!({
            "schema": "nix2dream/v1",
            "name": name,
            "env": {"STACK_GREETING": GREETING, "STACK_SHARED": "from the deployment"},
            "volumes": {"data": {"description": "what the seed prepared"}},
            "secrets": deployment_secrets,
            "services": {
                "seed": {
                    "package": self.busybox,
                    "process": {"argv": ["sh", "-c", format!("echo 'N2D-STACK seed ran'; echo {SEEDED} > \"$SHARED_DIR/seed.txt\"")]},
                    "env": {"SHARED_DIR": shared_dir},
                    "volumes": shared(false),
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
                    "secrets": backend_secrets,
                },
                "client": {
                    "package": self.busybox,
                    "process": {"argv": ["sh", "-c", CLIENT]},
                    "workingDirectory": format!("{}/client", self.base),
                    "env": client_env,
                    "volumes": client_volumes,
                    "secrets": client_secrets,
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
        if !said(&format!("N2D-STACK data {SEEDED}")) {
            problems.push("volumes.shared: the seed's file did not reach the client through the shared volume `data`".to_owned());
        }
        if self.secrets.is_some() {
            if !said(&format!("N2D-STACK token x{}", hex(TOKEN))) {
                problems.push(format!("secrets: the token {TOKEN:?} did not reach the client as STACK_TOKEN"));
            }
            if !said(&format!("N2D-STACK key x{}", hex(KEY))) {
                problems.push(format!("secrets: the key {KEY:?} did not reach the backend as a file"));
            }
        }
        if let Some((host, inside, text)) = &self.host_dir {
            if !said(&format!("N2D-STACK host {text}")) {
                problems.push(format!("volumes.hostPath: {host}/{HOST_FILE} did not reach the client at {inside}"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            problems.push(format!("--- output ---\n{output}"));
            Err(problems)
        }
    }
}

/// The client: fetch the page until the backend answers and wait for the
/// seed's file (a manager without start-up ordering starts it at once),
/// print what it got, then stay.
/// `s` hex-encoded, as the client prints secrets (a log may blur quotes).
fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

const CLIENT: &str = r#"until page=$(wget -q -O - "$BACKEND"); do sleep 0.5; done
until [ -e "$SHARED_DIR/seed.txt" ]; do sleep 0.5; done
echo "N2D-STACK page $page"
echo "N2D-STACK greeting $STACK_GREETING"
echo "N2D-STACK shared $STACK_SHARED"
echo "N2D-STACK data $(cat "$SHARED_DIR/seed.txt")"
if [ -n "${HOST_DIR:-}" ]; then echo "N2D-STACK host $(cat "$HOST_DIR/host.txt")"; fi
hex() { printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n'; }
if [ -n "${STACK_TOKEN+set}" ]; then
  echo "N2D-STACK token x$(hex "$STACK_TOKEN")"
  echo "N2D-STACK key x$(hex "$(wget -q -O - "${BACKEND}key.txt")")"
fi
echo "N2D-STACK end"
exec sleep 100000
"#;
