//! The deployment package (`dist/app.zip`, written by `scripts/package.sh`) holds exactly what the Functions host
//! needs and nothing else, and the app runs from it.
//!
//! These tests read the archive the script wrote, so they are ignored by a plain `cargo test`; `scripts/test.sh`
//! runs the script and then `cargo test --test package -- --ignored`. `PACKAGE_ZIP` names another archive.

mod e2e_support;

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use durabletask_sdk::functions::read_function_folders;
use e2e_support::{deliver, published_to, repo_root, sample, start_host_with, wait_for_published};
use local_host::{EngineChoice, EngineLauncher, HandlerOutput, HostOptions};
use object::elf;
use object::read::elf::{Dyn, ElfFile64, FileHeader, ProgramHeader};
use object::{Endianness, Object};
use returns_aggregator::function_app::definitions;
use returns_aggregator::host_checks::check_host_json;
use serde_json::Value;

const NEEDS_PACKAGE: &str = "reads dist/app.zip: run `bash scripts/package.sh` first (scripts/test.sh does)";

fn package_path() -> PathBuf {
    std::env::var_os("PACKAGE_ZIP").map_or_else(|| repo_root().join("dist/app.zip"), PathBuf::from)
}

/// An unpacked copy of the package: each entry's name and unix mode, and the folder it was written to.
struct Unpacked {
    dir: tempfile::TempDir,
    entries: Vec<(String, u32)>,
}

fn unpack() -> Unpacked {
    let path = package_path();
    let file = fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e} ({NEEDS_PACKAGE})", path.display()));
    let mut archive =
        zip::ZipArchive::new(file).unwrap_or_else(|e| panic!("{}: not a zip archive: {e}", path.display()));
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut entries = Vec::new();
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).expect("a readable entry");
        let name = entry.name().to_owned();
        let relative = entry
            .enclosed_name()
            .unwrap_or_else(|| panic!("entry {name:?} points outside the app root"));
        let mode = entry
            .unix_mode()
            .unwrap_or_else(|| panic!("entry {name:?} has no unix mode"));
        entries.push((name.clone(), mode & 0o777));
        if entry.is_dir() {
            continue;
        }
        let target = dir.path().join(relative);
        fs::create_dir_all(target.parent().expect("a parent")).expect("folder created");
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).expect("entry readable");
        fs::write(&target, bytes).expect("file written");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&target, fs::Permissions::from_mode(mode & 0o777)).expect("mode set");
        }
    }
    Unpacked { dir, entries }
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The handler's path inside the app, from host.json.
fn executable_of(app_root: &Path) -> String {
    read_json(&app_root.join("host.json"))["customHandler"]["description"]["defaultExecutablePath"]
        .as_str()
        .expect("host.json names the handler")
        .to_owned()
}

/// The function folders of the repository (folders holding a function.json).
fn repository_functions() -> BTreeSet<String> {
    read_function_folders(&repo_root())
        .expect("the repository's function folders are readable")
        .into_keys()
        .collect()
}

/// The app settings the host would give the handler: the `Values` of the committed local settings template (the
/// deploy steps set the same names as app settings).
fn app_settings() -> Vec<(String, String)> {
    let settings = read_json(&repo_root().join("local.settings.example.json"));
    settings["Values"]
        .as_object()
        .expect("Values")
        .iter()
        .filter_map(|(name, value)| value.as_str().map(|value| (name.clone(), value.to_owned())))
        .collect()
}

#[test]
#[ignore = "reads dist/app.zip: run `bash scripts/package.sh` first (scripts/test.sh does)"]
fn the_package_holds_host_json_the_function_folders_and_the_handler_and_nothing_else() {
    let unpacked = unpack();
    let root = unpacked.dir.path();
    let executable = executable_of(root);
    let mut expected: BTreeSet<String> = repository_functions()
        .into_iter()
        .map(|name| format!("{name}/function.json"))
        .collect();
    expected.insert("host.json".into());
    expected.insert(executable.clone());
    let names: BTreeSet<String> = unpacked.entries.iter().map(|(name, _)| name.clone()).collect();
    assert_eq!(names, expected, "the package's files");
    for (name, mode) in &unpacked.entries {
        let wanted = if *name == executable { 0o755 } else { 0o644 };
        assert_eq!(*mode, wanted, "{name}: mode {mode:o}");
    }
    assert_eq!(
        fs::read(root.join("host.json")).unwrap(),
        fs::read(repo_root().join("host.json")).unwrap(),
        "host.json is the repository's"
    );
    for name in repository_functions() {
        let file = format!("{name}/function.json");
        assert_eq!(
            fs::read(root.join(&file)).unwrap(),
            fs::read(repo_root().join(&file)).unwrap(),
            "{file} is the repository's"
        );
    }
}

#[test]
#[ignore = "reads dist/app.zip: run `bash scripts/package.sh` first (scripts/test.sh does)"]
fn every_function_json_is_valid_for_its_trigger_and_host_json_passes_the_start_up_checks() {
    let unpacked = unpack();
    let root = unpacked.dir.path();
    let folders = read_function_folders(root).expect("the packaged function folders are readable");
    let problems = returns_aggregator::function_folders::differences(root).expect("the packaged folders are readable");
    assert!(
        problems.is_empty(),
        "the packaged folders match the handler's functions:\n{}",
        problems.join("\n")
    );
    assert_eq!(folders.len(), definitions().len());
    // The bindings as the host reads them, `%SETTING%` references resolved from the app settings.
    let app = local_host::app_model::FunctionApp::load(root, &app_settings()).expect("every function.json is valid");
    assert_eq!(app.functions.len(), definitions().len());
    let host_json = fs::read_to_string(root.join("host.json")).unwrap();
    assert_eq!(check_host_json(&host_json, None), vec![]);
}

#[test]
#[ignore = "reads dist/app.zip: run `bash scripts/package.sh` first (scripts/test.sh does)"]
fn the_handler_is_a_statically_linked_x86_64_linux_executable() {
    let unpacked = unpack();
    let path = unpacked.dir.path().join(executable_of(unpacked.dir.path()));
    let bytes = fs::read(&path).expect("the handler is in the package");
    let file = ElfFile64::<Endianness>::parse(&*bytes).expect("the handler is a 64-bit ELF file");
    let header = file.elf_header();
    let endian = file.endian();
    assert_eq!(header.e_machine(endian), elf::EM_X86_64, "built for x86-64");
    assert_eq!(
        header.e_ident().os_abi,
        elf::ELFOSABI_SYSV,
        "a Linux (System V ABI) executable"
    );
    let kind = header.e_type(endian);
    assert!(
        kind == elf::ET_EXEC || kind == elf::ET_DYN,
        "an executable (static or static-PIE), got e_type {kind}"
    );
    assert!(file.entry() != 0, "it has an entry point");
    let segments = header.program_headers(endian, &*bytes).expect("program headers");
    assert!(
        segments.iter().all(|segment| segment.p_type(endian) != elf::PT_INTERP),
        "no PT_INTERP: the kernel starts it without a dynamic loader"
    );
    // A static PIE keeps a dynamic section for its own relocations, but must not need any shared library.
    for segment in segments
        .iter()
        .filter(|segment| segment.p_type(endian) == elf::PT_DYNAMIC)
    {
        let entries = segment
            .dynamic(endian, &*bytes)
            .expect("a readable dynamic segment")
            .expect("dynamic entries");
        let needed = entries
            .iter()
            .filter(|entry| entry.d_tag(endian) == elf::DT_NEEDED)
            .count();
        assert_eq!(needed, 0, "the handler needs no shared library (DT_NEEDED entries)");
    }
}

#[test]
#[ignore = "reads dist/app.zip: run `bash scripts/package.sh` first (scripts/test.sh does)"]
fn funcignore_keeps_func_publish_to_the_same_files_as_the_package() {
    // `func azure functionapp publish` uploads the app root minus what .funcignore excludes (gitignore syntax).
    let repo = repo_root();
    let mut builder = ignore::gitignore::GitignoreBuilder::new(&repo);
    if let Some(error) = builder.add(repo.join(".funcignore")) {
        panic!(".funcignore: {error}");
    }
    let funcignore = builder.build().expect(".funcignore parses");
    let excluded = |relative: &str, is_dir: bool| {
        funcignore
            .matched_path_or_any_parents(repo.join(relative), is_dir)
            .is_ignore()
    };

    let tracked = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(&repo)
        .output()
        .expect("git runs");
    assert!(
        tracked.status.success(),
        "git ls-files: {}",
        String::from_utf8_lossy(&tracked.stderr)
    );
    let uploaded: BTreeSet<String> = String::from_utf8(tracked.stdout)
        .expect("utf-8 paths")
        .split('\0')
        .filter(|path| !path.is_empty() && !excluded(path, false))
        .map(str::to_owned)
        .collect();
    let unpacked = unpack();
    let executable = executable_of(unpacked.dir.path());
    let packaged: BTreeSet<String> = unpacked
        .entries
        .iter()
        .map(|(name, _)| name.clone())
        .filter(|name| *name != executable)
        .collect();
    assert_eq!(
        uploaded, packaged,
        "the repository files .funcignore lets through are the package's files (the handler is built, not tracked)"
    );
    assert!(
        !excluded(&executable, false),
        ".funcignore must not exclude the handler"
    );
    for generated in [".venv", "target", "out", "dist", ".azurite", "fuzz", ".cargo"] {
        assert!(excluded(generated, true), ".funcignore must exclude {generated}/");
    }
    for local in [
        "local.settings.json",
        "local.settings.example.json",
        ".git",
        ".gitignore",
        ".funcignore",
    ] {
        assert!(excluded(local, false), ".funcignore must exclude {local}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "reads dist/app.zip: run `bash scripts/package.sh` first (scripts/test.sh does)"]
async fn the_unpacked_app_starts_under_local_host_and_answers_a_smoke_event() {
    let unpacked = unpack();
    let root = repo_root();
    let out = root.join("target/e2e/package");
    fs::create_dir_all(&out).unwrap();
    // The handler is the packaged one, found through host.json as the host finds it; the settings are what the
    // deploy steps set as app settings; the engine is the local one from this repository.
    let mut options = HostOptions::new(
        unpacked.dir.path(),
        EngineChoice::Launch(EngineLauncher::for_project(&root)),
    );
    options.settings = app_settings();
    options.published_path = Some(out.join("published.jsonl"));
    options.dead_letter_path = Some(out.join("dead-letter.jsonl"));
    options.handler_output = HandlerOutput::File(out.join("handler.log"));
    let host = start_host_with(options).await;
    deliver(&host, &sample("scenarios/single_return.jsonl"), None, 0.0).await;
    wait_for_published(&host, Some(1)).await;
    let notifications = published_to(&host, "return-notifications");
    assert_eq!(notifications.len(), 1, "one notification: {notifications:?}");
    assert_eq!(notifications[0]["returnId"], "RET-2025-900001");
    assert!(host.dead_lettered().is_empty(), "nothing dead-lettered");
    host.shutdown().await;
}
