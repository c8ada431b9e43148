//! Building diagnostics that name the service and option concerned.

use crate::{Diagnostic, Severity};

fn diagnostic(severity: Severity, service: Option<&str>, option: Option<&str>, message: String) -> Diagnostic {
    Diagnostic {
        severity,
        service: service.map(str::to_owned),
        option_name: option.map(str::to_owned),
        message,
    }
}

/// An error about one option of one service: the render fails.
pub fn error(service: &str, option: &str, message: impl Into<String>) -> Diagnostic {
    diagnostic(Severity::Error, Some(service), Some(option), message.into())
}

/// A warning about one option of one service: the render goes on.
pub fn warning(service: &str, option: &str, message: impl Into<String>) -> Diagnostic {
    diagnostic(Severity::Warning, Some(service), Some(option), message.into())
}

/// An error about the deployment as a whole.
pub fn deployment_error(message: impl Into<String>) -> Diagnostic {
    diagnostic(Severity::Error, None, None, message.into())
}

/// Parses a `settings-json` string; an empty string means no settings (`{}`).
pub fn parse_settings(json: &str, service: Option<&str>) -> Result<serde_json::Value, Diagnostic> {
    if json.trim().is_empty() {
        return Ok(serde_json::Value::Object(Default::default()));
    }
    serde_json::from_str(json).map_err(|e| {
        diagnostic(Severity::Error, service, Some("managers"), format!("settings are not valid JSON: {e}"))
    })
}
