//! `ports`: each declared port is told to the process as `PORT_<NAME>`, and
//! as `PORT` when the service declares exactly one (this overrides the `PORT`
//! that honcho and foreman assign on their own).

use nix2dream_plugin_kit::diagnostics::error;
use nix2dream_plugin_kit::{Diagnostic, Port};

/// `PORT_` and the port name upper-cased, every character other than an ASCII
/// letter or digit becoming `_` (`http-alt` → `PORT_HTTP_ALT`).
pub fn env_name(port: &str) -> String {
    let tail: String =
        port.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
    format!("PORT_{tail}")
}

/// The `(name, value)` variables exported for `ports`, in declaration order.
pub fn env_vars(service: &str, ports: &[Port]) -> Result<Vec<(String, String)>, Vec<Diagnostic>> {
    let mut vars: Vec<(String, String)> = Vec::new();
    let mut errors = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let name = env_name(&port.name);
        if port.name.is_empty() {
            errors.push(error(service, "ports", "a port has an empty name"));
        } else if let Some(other) = ports[..i].iter().find(|p| env_name(&p.name) == name) {
            errors.push(error(
                service,
                "ports",
                format!("ports {:?} and {:?} would both be exported as {name}: rename one", other.name, port.name),
            ));
        } else {
            vars.push((name, port.port.to_string()));
        }
    }
    if let [only] = ports {
        vars.push(("PORT".to_owned(), only.port.to_string()));
    }
    if errors.is_empty() {
        Ok(vars)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix2dream_plugin_kit::Protocol;

    fn port(name: &str, port: u16) -> Port {
        Port { name: name.into(), port, protocol: Protocol::Tcp, internal: false, host_port: None }
    }

    #[test]
    fn names() {
        assert_eq!(env_name("http"), "PORT_HTTP");
        assert_eq!(env_name("http-alt.2"), "PORT_HTTP_ALT_2");
        assert_eq!(env_name("é"), "PORT__");
    }

    #[test]
    fn single_port_also_sets_port() {
        let vars = env_vars("web", &[port("http", 8080)]).unwrap();
        assert_eq!(vars, [("PORT_HTTP".into(), "8080".into()), ("PORT".into(), "8080".into())]);
        let vars = env_vars("web", &[port("http", 80), port("admin", 81)]).unwrap();
        assert_eq!(vars.len(), 2);
    }

    #[test]
    fn clashing_names_are_errors() {
        assert!(env_vars("web", &[port("a-b", 1), port("a_b", 2)]).is_err());
        assert!(env_vars("web", &[port("", 1)]).is_err());
    }
}
