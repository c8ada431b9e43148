//! Strategic-merge-style patches of generated objects (`managers.k8s.patch`),
//! the way `kubectl patch --type strategic` treats the fields nix2dream
//! generates: mappings merge key by key, `null` removes a key, lists of named
//! things merge element by element on their merge key (containers, volumes,
//! env… by `name`; volumeMounts by `mountPath`; ports by `containerPort` or
//! `port`), every other list is replaced. Directives: an element
//! `{"name": "x", "$patch": "delete"}` removes element `x`; a mapping with
//! `"$patch": "replace"` replaces instead of merging.

use serde_json::{Map, Value};

const DIRECTIVE: &str = "$patch";

/// The key list elements of `field` are matched on, as in Kubernetes' API
/// (`patchMergeKey`). `ports` depends on the list: a container's ports merge
/// on `containerPort`, a Service's on `port`.
fn merge_key(field: &str, target: &[Value]) -> Option<&'static str> {
    match field {
        "containers" | "initContainers" | "ephemeralContainers" | "volumes" | "env" | "imagePullSecrets" => Some("name"),
        "volumeMounts" => Some("mountPath"),
        "volumeDevices" => Some("devicePath"),
        "ports" if target.iter().any(|p| p.get("containerPort").is_some()) => Some("containerPort"),
        "ports" => Some("port"),
        _ => None,
    }
}

/// Applies `patch` to `target`; `at` is the field's path, for errors.
pub fn apply(target: &mut Value, patch: &Value, at: &str) -> Result<(), String> {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => merge_objects(target, patch, at),
        (Value::Array(target), Value::Array(patch)) => {
            let field = at.rsplit('.').next().unwrap_or(at);
            match merge_key(field, target) {
                Some(key) => merge_lists(target, patch, key, at),
                None => {
                    *target = patch.iter().map(|v| without_directives(v, at)).collect::<Result<_, _>>()?;
                    Ok(())
                }
            }
        }
        (target, patch) => {
            *target = without_directives(patch, at)?;
            Ok(())
        }
    }
}

fn merge_objects(target: &mut Map<String, Value>, patch: &Map<String, Value>, at: &str) -> Result<(), String> {
    match patch.get(DIRECTIVE) {
        None => {}
        Some(Value::String(d)) if d == "replace" => {
            *target = match without_directives(&Value::Object(patch.clone()), at)? {
                Value::Object(m) => m,
                _ => unreachable!("an object stays an object"),
            };
            return Ok(());
        }
        Some(other) => return Err(format!("{at}: `$patch: {other}` is not a directive for a mapping (use \"replace\")")),
    }
    for (key, value) in patch {
        let here = format!("{at}.{key}");
        match (target.get_mut(key), value) {
            (_, Value::Null) => {
                target.remove(key);
            }
            (Some(existing), value) => apply(existing, value, &here)?,
            (None, value) => {
                target.insert(key.clone(), without_directives(value, &here)?);
            }
        }
    }
    Ok(())
}

fn merge_lists(target: &mut Vec<Value>, patch: &[Value], key: &str, at: &str) -> Result<(), String> {
    for element in patch {
        let Some(id) = element.get(key) else {
            return Err(format!("{at}: each element must name its `{key}` (elements are matched on it)"));
        };
        let delete = match element.get(DIRECTIVE) {
            None => false,
            Some(Value::String(d)) if d == "delete" => true,
            Some(other) => return Err(format!("{at}[{key}={id}]: `$patch: {other}` is not a directive for a list element (use \"delete\")")),
        };
        let position = target.iter().position(|t| t.get(key) == Some(id));
        match (position, delete) {
            (Some(i), true) => {
                target.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => apply(&mut target[i], element, &format!("{at}[{key}={id}]"))?,
            (None, false) => target.push(without_directives(element, at)?),
        }
    }
    Ok(())
}

/// A value to insert as is: its `null`s dropped (as Kubernetes does), and a
/// directive where there is nothing to patch is a mistake worth naming.
fn without_directives(value: &Value, at: &str) -> Result<Value, String> {
    Ok(match value {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                match (k.as_str(), v) {
                    (DIRECTIVE, Value::String(d)) if d == "replace" => {}
                    (DIRECTIVE, other) => return Err(format!("{at}: `$patch: {other}` has nothing to apply to here")),
                    (_, Value::Null) => {}
                    _ => {
                        out.insert(k.clone(), without_directives(v, &format!("{at}.{k}"))?);
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| without_directives(v, at)).collect::<Result<_, _>>()?),
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::apply;
    use serde_json::{json, Value};

    fn patched(mut target: Value, patch: Value) -> Value {
        apply(&mut target, &patch, "patch").unwrap();
        target
    }

    #[test]
    fn mappings_merge_and_null_removes() {
        let t = json!({"spec": {"replicas": 1, "strategy": {"type": "Recreate"}}, "metadata": {"name": "web"}});
        let p = json!({"spec": {"replicas": 3, "strategy": null, "minReadySeconds": 5}});
        assert_eq!(patched(t, p), json!({"spec": {"replicas": 3, "minReadySeconds": 5}, "metadata": {"name": "web"}}));
    }

    #[test]
    fn named_lists_merge_by_their_key_and_other_lists_are_replaced() {
        let t = json!({"containers": [{"name": "web", "image": "a", "ports": [{"containerPort": 80, "name": "http"}], "args": ["x"]}]});
        let p = json!({"containers": [
            {"name": "web", "ports": [{"containerPort": 80, "hostPort": 8080}], "args": ["y"]},
            {"name": "sidecar", "image": "b"},
        ]});
        assert_eq!(
            patched(t, p),
            json!({"containers": [
                {"name": "web", "image": "a", "ports": [{"containerPort": 80, "name": "http", "hostPort": 8080}], "args": ["y"]},
                {"name": "sidecar", "image": "b"},
            ]})
        );
        let service = json!({"ports": [{"port": 80, "name": "http"}, {"port": 81, "name": "b"}]});
        assert_eq!(patched(service, json!({"ports": [{"port": 81, "$patch": "delete"}]})), json!({"ports": [{"port": 80, "name": "http"}]}));
    }

    #[test]
    fn replace_directive_and_mistakes_are_named() {
        let t = json!({"securityContext": {"fsGroup": 1000, "runAsUser": 1}});
        let p = json!({"securityContext": {"$patch": "replace", "runAsNonRoot": true}});
        assert_eq!(patched(t, p), json!({"securityContext": {"runAsNonRoot": true}}));
        let mut t = json!({"volumes": [{"name": "a"}]});
        let e = apply(&mut t, &json!({"volumes": [{"emptyDir": {}}]}), "patch").unwrap_err();
        assert!(e.contains("patch.volumes: each element must name its `name`"), "{e}");
        let e = apply(&mut t, &json!({"volumes": [{"name": "a", "$patch": "remove"}]}), "patch").unwrap_err();
        assert!(e.contains("is not a directive"), "{e}");
    }
}
