//! `plugins list` and `plugins inspect`, as text or JSON.

use super::args::LoadArgs;
use super::json;
use anyhow::Result;
use nix2dream::exit::{self, Failure, OrFail};
use nix2dream::plugin::registry;
use nix2dream::deployment;
use std::process::ExitCode;

pub fn list(limits: &LoadArgs, as_json: bool) -> Result<ExitCode> {
    let found = registry::list();
    let cache = limits.cache();
    let mut seen = std::collections::BTreeSet::new();
    let mut listed = Vec::new();
    for f in found {
        let shadowed = !seen.insert(f.name.clone());
        let loaded = limits.load(&f.file.display().to_string(), cache.as_ref());
        listed.push(json::ListedPlugin {
            name: f.name,
            origin: f.origin.to_string(),
            file: f.file.display().to_string(),
            shadowed,
            version: loaded.as_ref().ok().map(|p| p.info.version.clone()),
            description: loaded.as_ref().ok().map(|p| p.info.description.clone()),
            error: loaded.as_ref().err().map(|e| format!("{e:#}")),
        });
    }
    if as_json {
        json::print(&json::PluginList { schema: json::PluginList::SCHEMA, plugins: listed });
        return Ok(ExitCode::SUCCESS);
    }
    if listed.is_empty() {
        println!(
            "no plugins found (bundled dir: {}; NIX2DREAM_PLUGIN_PATH: {})",
            registry::bundled_dir().map(|d| d.display().to_string()).unwrap_or_default(),
            std::env::var("NIX2DREAM_PLUGIN_PATH").unwrap_or_default()
        );
    }
    for p in listed {
        let shadowed = if p.shadowed { " (shadowed)" } else { "" };
        let version = p.version.as_deref().unwrap_or("?");
        let about = match (&p.description, &p.error) {
            (Some(description), _) => description.clone(),
            (None, error) => format!("unusable: {}", error.as_deref().unwrap_or_default()),
        };
        println!("{:<12} {:<8} {:<22} {}{shadowed}\n{:<12} {about}", p.name, version, p.origin, p.file, "");
    }
    Ok(ExitCode::SUCCESS)
}

fn details(spec: &str, limits: &LoadArgs) -> Result<json::PluginDetails> {
    let p = limits.load(spec, limits.cache().as_ref())?;
    let ignores = deployment::options::CORE_OPTIONS
        .iter()
        .filter(|o| !p.info.supported_options.iter().any(|s| s == *o))
        .map(|o| o.to_string())
        .collect();
    Ok(json::PluginDetails {
        schema: json::PluginDetails::SCHEMA,
        name: p.info.name.clone(),
        version: p.info.version.clone(),
        file: p.file.display().to_string(),
        contract: p.wit_version.clone(),
        loaded_from: json::origin_name(p.origin),
        description: p.info.description.clone(),
        supports: p.info.supported_options.clone(),
        ignores,
        addressing: json::addressing_name(p.info.addressing),
        usage: p.info.usage.clone(),
        // The host checked at load that a declared schema is JSON.
        settings_schema: serde_json::from_str(&p.info.settings_schema).ok(),
    })
}

pub fn inspect(spec: &str, limits: &LoadArgs, as_json: bool) -> Result<ExitCode> {
    let d = match details(spec, limits).or_fail(Failure::Plugin) {
        Ok(d) => d,
        Err(e) if as_json => {
            let exit_code = exit::number_of(&e);
            json::print(&json::Failed { schema: json::PluginDetails::SCHEMA, ok: false, exit_code, error: format!("{e:#}") });
            return Ok(ExitCode::from(exit_code));
        }
        Err(e) => return Err(e),
    };
    if as_json {
        json::print(&d);
        return Ok(ExitCode::SUCCESS);
    }
    println!("name:        {}", d.name);
    println!("version:     {}", d.version);
    println!("file:        {}", d.file);
    println!("contract:    nix2dream:manager@{}", d.contract);
    println!("loaded:      {}", if d.loaded_from == "cache" { "from the compiled-plugin cache" } else { "compiled now" });
    println!("description: {}", d.description);
    println!("supports:    {}", d.supports.join(" "));
    println!("ignores:     {}", d.ignores.join(" "));
    println!(
        "addresses:   {}",
        match d.addressing {
            "loopback" => "127.0.0.1 (the services share one machine's network)",
            _ => "by service name (the manager's DNS)",
        }
    );
    println!("usage:       {}", d.usage.trim_end().replace('\n', "\n             "));
    if let Some(schema) = &d.settings_schema {
        println!("settings schema:\n{}", serde_json::to_string_pretty(schema)?);
    }
    Ok(ExitCode::SUCCESS)
}
