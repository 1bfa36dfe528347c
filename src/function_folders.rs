//! The function folders of the app (`<Name>/function.json`) and the check, at start-up, that they and the
//! handler's own function table agree: a folder without a handler, a handler without a folder, or a folder whose
//! trigger is of another kind stops the handler with an error naming it, instead of a 404 in production.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The trigger kinds the handler can serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TriggerKind {
    /// `serviceBusTrigger`.
    ServiceBus,
    /// `entityTrigger`.
    Entity,
    /// `orchestrationTrigger`.
    Orchestration,
    /// `activityTrigger`.
    Activity,
    /// `timerTrigger`.
    Timer,
    /// `httpTrigger`.
    Http,
}

impl TriggerKind {
    /// The binding `type` in function.json.
    pub fn binding_type(self) -> &'static str {
        match self {
            TriggerKind::ServiceBus => "serviceBusTrigger",
            TriggerKind::Entity => "entityTrigger",
            TriggerKind::Orchestration => "orchestrationTrigger",
            TriggerKind::Activity => "activityTrigger",
            TriggerKind::Timer => "timerTrigger",
            TriggerKind::Http => "httpTrigger",
        }
    }

    fn from_binding_type(binding_type: &str) -> Option<Self> {
        [
            TriggerKind::ServiceBus,
            TriggerKind::Entity,
            TriggerKind::Orchestration,
            TriggerKind::Activity,
            TriggerKind::Timer,
            TriggerKind::Http,
        ]
        .into_iter()
        .find(|kind| kind.binding_type().eq_ignore_ascii_case(binding_type))
    }
}

/// One binding of a function.json.
#[derive(Debug, Clone, Deserialize)]
pub struct Binding {
    /// The binding name (the key in `Data` or `Outputs`).
    pub name: String,
    /// The binding type, e.g. `serviceBusTrigger`.
    #[serde(rename = "type")]
    pub binding_type: String,
    /// `in` or `out`.
    #[serde(default)]
    pub direction: String,
    /// `binary`, `string` or `stream`, when set.
    #[serde(default, rename = "dataType")]
    pub data_type: Option<String>,
}

/// A function folder, read.
#[derive(Debug, Clone)]
pub struct FunctionFolder {
    /// The function name (the folder name).
    pub name: String,
    /// The trigger's kind, when the handler knows it.
    pub trigger: Option<TriggerKind>,
    /// Every binding, trigger first as written.
    pub bindings: Vec<Binding>,
}

impl FunctionFolder {
    /// The trigger binding.
    pub fn trigger_binding(&self) -> Option<&Binding> {
        self.bindings
            .iter()
            .find(|b| b.binding_type.ends_with("Trigger") || b.binding_type.ends_with("trigger"))
    }

    /// The first binding of `binding_type` (case-insensitive).
    pub fn binding_of_type(&self, binding_type: &str) -> Option<&Binding> {
        self.bindings
            .iter()
            .find(|b| b.binding_type.eq_ignore_ascii_case(binding_type))
    }
}

/// A problem with the function folders.
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    /// The app root could not be listed.
    #[error("cannot list the function folders in {path}: {source}")]
    ListRoot {
        /// The app root.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A function.json could not be read or parsed.
    #[error("{path} is not a valid function.json: {reason}")]
    InvalidFunctionJson {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The handler and the folders disagree.
    #[error("the function folders in {root} and the handler's functions disagree:\n  - {}", problems.join("\n  - "))]
    Mismatch {
        /// The app root.
        root: PathBuf,
        /// One line per disagreement.
        problems: Vec<String>,
    },
}

#[derive(Deserialize)]
struct FunctionJson {
    bindings: Vec<Binding>,
}

/// Reads every `<folder>/function.json` under `app_root`, by function name.
pub fn read_function_folders(app_root: &Path) -> Result<BTreeMap<String, FunctionFolder>, FolderError> {
    let entries = fs::read_dir(app_root).map_err(|source| FolderError::ListRoot {
        path: app_root.to_path_buf(),
        source,
    })?;
    let mut folders = BTreeMap::new();
    for entry in entries.flatten() {
        let path = entry.path().join("function.json");
        if !path.is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let text = fs::read_to_string(&path).map_err(|e| FolderError::InvalidFunctionJson {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let parsed: FunctionJson = serde_json::from_str(&text).map_err(|e| FolderError::InvalidFunctionJson {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let mut folder = FunctionFolder {
            name: name.clone(),
            trigger: None,
            bindings: parsed.bindings,
        };
        folder.trigger = folder
            .trigger_binding()
            .and_then(|binding| TriggerKind::from_binding_type(&binding.binding_type));
        if folder.bindings.iter().any(|b| b.name == "$return") && folder.trigger.is_some_and(is_durable_trigger) {
            return Err(FolderError::InvalidFunctionJson {
                path,
                reason: "durable triggers must not declare a $return binding (the host would decode the base64 \
                         response into bytes and the extension would fail the instance)"
                    .into(),
            });
        }
        folders.insert(name, folder);
    }
    Ok(folders)
}

fn is_durable_trigger(kind: TriggerKind) -> bool {
    matches!(
        kind,
        TriggerKind::Entity | TriggerKind::Orchestration | TriggerKind::Activity
    )
}

/// Checks that `folders` hold exactly the `expected` functions, each with the expected trigger kind.
pub fn check_registrations(
    app_root: &Path,
    folders: &BTreeMap<String, FunctionFolder>,
    expected: &[(&str, TriggerKind)],
) -> Result<(), FolderError> {
    let mut problems = Vec::new();
    for (name, kind) in expected {
        match folders.get(*name) {
            None => problems.push(format!(
                "the handler serves {name} ({}) but there is no {name}/function.json",
                kind.binding_type()
            )),
            Some(folder) if folder.trigger != Some(*kind) => problems.push(format!(
                "{name}/function.json has trigger {} but the handler serves {name} as {}",
                folder.trigger_binding().map_or("<none>", |b| b.binding_type.as_str()),
                kind.binding_type()
            )),
            Some(_) => {}
        }
    }
    for name in folders.keys() {
        if !expected.iter().any(|(expected_name, _)| expected_name == name) {
            problems.push(format!(
                "{name}/function.json exists but the handler has no function named {name}"
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(FolderError::Mismatch {
            root: app_root.to_path_buf(),
            problems,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, name: &str, json: &str) {
        fs::create_dir_all(root.join(name)).unwrap();
        fs::write(root.join(name).join("function.json"), json).unwrap();
    }

    fn temp_root(test: &str) -> PathBuf {
        let root = std::env::temp_dir().join(format!("function-folders-{test}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).unwrap();
        root
    }

    const ORCHESTRATOR: &str = r#"{"bindings":[{"name":"context","type":"orchestrationTrigger","direction":"in"}]}"#;

    #[test]
    fn missing_extra_and_mismatched_folders_are_all_named() {
        let root = temp_root("mismatch");
        write(&root, "Orchestrator", ORCHESTRATOR);
        write(&root, "Extra", ORCHESTRATOR);
        write(
            &root,
            "Timer",
            r#"{"bindings":[{"name":"t","type":"httpTrigger","direction":"in"}]}"#,
        );
        let folders = read_function_folders(&root).unwrap();
        let expected = [
            ("Orchestrator", TriggerKind::Orchestration),
            ("Timer", TriggerKind::Timer),
            ("Missing", TriggerKind::Activity),
        ];
        let message = check_registrations(&root, &folders, &expected).unwrap_err().to_string();
        for needle in [
            "Missing/function.json",
            "Extra/function.json",
            "Timer/function.json has trigger httpTrigger",
        ] {
            assert!(message.contains(needle), "{needle} not in {message}");
        }
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn return_bindings_on_durable_triggers_are_refused() {
        let root = temp_root("return");
        write(
            &root,
            "Orchestrator",
            r#"{"bindings":[{"name":"context","type":"orchestrationTrigger","direction":"in"},{"name":"$return","type":"http","direction":"out"}]}"#,
        );
        let message = read_function_folders(&root).unwrap_err().to_string();
        assert!(message.contains("$return"), "{message}");
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn malformed_function_json_names_the_file() {
        let root = temp_root("malformed");
        write(&root, "Broken", "{");
        let message = read_function_folders(&root).unwrap_err().to_string();
        assert!(
            message.contains("Broken") && message.contains("function.json"),
            "{message}"
        );
        fs::remove_dir_all(root).unwrap();
    }
}
