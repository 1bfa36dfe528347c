//! The function folders of an app root (`<Name>/function.json`): reading them, comparing them with the model,
//! writing them from it.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::{Binding, FunctionAppError, FunctionDefinition};

/// Reads every `<folder>/function.json` under `app_root`, by function (folder) name. Folders without a
/// function.json are not functions and are skipped.
pub fn read_function_folders(app_root: &Path) -> Result<BTreeMap<String, FunctionDefinition>, FunctionAppError> {
    let entries = fs::read_dir(app_root).map_err(|source| FunctionAppError::ListFolders {
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
        let invalid = |reason: String| FunctionAppError::InvalidFunctionJson {
            path: path.clone(),
            reason,
        };
        let text = fs::read_to_string(&path).map_err(|error| invalid(error.to_string()))?;
        let json: Value = serde_json::from_str(&text).map_err(|error| invalid(error.to_string()))?;
        let definition = FunctionDefinition::from_json(name.clone(), &json).map_err(invalid)?;
        folders.insert(name, definition);
    }
    Ok(folders)
}

/// Every way the folders differ from the model's definitions, one line each; empty when they agree.
pub(super) fn folder_problems<'a>(
    model: impl IntoIterator<Item = &'a FunctionDefinition>,
    folders: &BTreeMap<String, FunctionDefinition>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut modelled = Vec::new();
    for definition in model {
        modelled.push(definition.name.as_str());
        match folders.get(&definition.name) {
            None => problems.push(format!(
                "the app has {} ({}) but there is no {}/function.json",
                definition.name,
                definition
                    .trigger()
                    .map_or("no trigger", |trigger| trigger.binding_type.as_str()),
                definition.name
            )),
            Some(folder) => problems.extend(
                differences(definition, folder)
                    .into_iter()
                    .map(|difference| format!("{}/function.json: {difference}", definition.name)),
            ),
        }
    }
    for name in folders.keys().filter(|name| !modelled.contains(&name.as_str())) {
        problems.push(format!(
            "{name}/function.json exists but the app has no function named {name}"
        ));
    }
    problems
}

/// How the folder's definition differs from the model's.
fn differences(model: &FunctionDefinition, folder: &FunctionDefinition) -> Vec<String> {
    let mut found = property_differences("", &model.properties, &folder.properties);
    for expected in &model.bindings {
        let Some(actual) = folder.binding(&expected.name) else {
            found.push(format!(
                "binding '{}' ({} {}) is missing",
                expected.name,
                expected.binding_type,
                expected.direction.as_str()
            ));
            continue;
        };
        found.extend(binding_differences(expected, actual));
    }
    for actual in &folder.bindings {
        if model.binding(&actual.name).is_none() {
            found.push(format!(
                "binding '{}' ({} {}) is not in the app",
                actual.name,
                actual.binding_type,
                actual.direction.as_str()
            ));
        }
    }
    found
}

fn binding_differences(expected: &Binding, actual: &Binding) -> Vec<String> {
    let mut found = Vec::new();
    if !expected.binding_type.eq_ignore_ascii_case(&actual.binding_type) {
        found.push(format!(
            "binding '{}' has type {} in the folder, {} in the app",
            expected.name, actual.binding_type, expected.binding_type
        ));
    }
    if expected.direction != actual.direction {
        found.push(format!(
            "binding '{}' has direction {} in the folder, {} in the app",
            expected.name,
            actual.direction.as_str(),
            expected.direction.as_str()
        ));
    }
    let prefix = format!("binding '{}': ", expected.name);
    found.extend(property_differences(&prefix, &expected.properties, &actual.properties));
    found
}

fn property_differences(prefix: &str, expected: &Map<String, Value>, actual: &Map<String, Value>) -> Vec<String> {
    let mut found = Vec::new();
    for (key, value) in expected {
        match actual.get(key) {
            None => found.push(format!("{prefix}property '{key}' is missing (the app has {value})")),
            Some(other) if other != value => found.push(format!(
                "{prefix}property '{key}' is {other} in the folder, {value} in the app"
            )),
            Some(_) => {}
        }
    }
    for (key, value) in actual {
        if !expected.contains_key(key) {
            found.push(format!("{prefix}property '{key}' ({value}) is not in the app"));
        }
    }
    found
}

/// Writes `<app_root>/<name>/function.json` for each definition, as
/// [`FunctionDefinition::to_function_json_text`] gives it; returns the files written. For a tool that generates
/// the folders of an app whose model it can describe without serving it (no registry at hand).
pub fn write_function_folders<'a>(
    app_root: &Path,
    model: impl IntoIterator<Item = &'a FunctionDefinition>,
) -> Result<Vec<PathBuf>, FunctionAppError> {
    let mut written = Vec::new();
    for definition in model {
        let folder = app_root.join(&definition.name);
        let path = folder.join("function.json");
        let write_error = |source| FunctionAppError::WriteFolder {
            path: path.clone(),
            source,
        };
        fs::create_dir_all(&folder).map_err(write_error)?;
        fs::write(&path, definition.to_function_json_text()).map_err(write_error)?;
        written.push(path);
    }
    Ok(written)
}

/// Every way the function folders under `app_root` differ from what [`write_function_folders`] would write for
/// `model`, byte for byte, one line each; empty when they are exactly the generated ones. A folder of a function
/// the model does not have is named too (delete it). Stricter than
/// [`FunctionApp::check_function_folders`](super::FunctionApp::check_function_folders), which ignores formatting:
/// this is the check for a repository whose folders are generated.
pub fn generated_folder_differences<'a>(
    app_root: &Path,
    model: impl IntoIterator<Item = &'a FunctionDefinition>,
) -> Result<Vec<String>, FunctionAppError> {
    let folders = read_function_folders(app_root)?;
    let model: Vec<&FunctionDefinition> = model.into_iter().collect();
    let mut problems = folder_problems(model.iter().copied(), &folders);
    for definition in &model {
        let path = app_root.join(&definition.name).join("function.json");
        let Ok(text) = fs::read_to_string(&path) else {
            continue; // missing: named by folder_problems
        };
        let same_content = !problems
            .iter()
            .any(|problem| problem.starts_with(&format!("{}/function.json: ", definition.name)));
        if same_content && text != definition.to_function_json_text() {
            problems.push(format!(
                "{}/function.json has the right content but not the generated layout",
                definition.name
            ));
        }
    }
    Ok(problems)
}
