//! Maintained clients of Wandbox and Piston, unchanged, pointed at codeexec: the
//! `wandbox-api` and `ultra-piston` packages from PyPI and `piston-client` from npm.
//! Each is installed once into the target directory; a test whose client cannot be
//! installed (no registry, no python3 or npm) is skipped with the reason printed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::{config, default_compiler, TestServer};
use serde_json::Value;

const PYTHON: &str = "/usr/bin/python3";
const PYPI_CLIENTS: [&str; 2] = ["wandbox-api==0.10.0", "ultra-piston==1.0.1"];
const NPM_CLIENT: &str = "piston-client@1.0.2";

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("compat-clients")
}

/// Runs an install command once (its directory is kept between runs).
fn install(dir: &Path, what: &str, command: &mut Command) -> Result<PathBuf, String> {
    let marker = dir.join(".installed");
    if marker.exists() {
        return Ok(dir.to_owned());
    }
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let out = command
        .output()
        .map_err(|e| format!("cannot run the installer of {what}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "installing {what} failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ));
    }
    std::fs::write(&marker, what).map_err(|e| e.to_string())?;
    Ok(dir.to_owned())
}

fn python_clients() -> Result<PathBuf, String> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = clients_dir().join("python");
        install(
            &dir,
            &PYPI_CLIENTS.join(" "),
            Command::new(PYTHON)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--no-input",
                    "--root-user-action=ignore",
                    "--timeout",
                    "30",
                    "--target",
                ])
                .arg(&dir)
                .args(PYPI_CLIENTS),
        )
    })
    .clone()
}

fn npm_client() -> Result<PathBuf, String> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = clients_dir().join("npm");
        install(
            &dir,
            NPM_CLIENT,
            Command::new("npm")
                .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
                .arg(&dir)
                .arg(NPM_CLIENT),
        )
    })
    .clone()
}

/// Runs a client script (off the runtime, which serves the server) and parses the one
/// JSON line it prints.
async fn run_script(mut command: Command) -> Value {
    let out = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("the client ran");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn python(dir: &Path, script: &str, args: &[&str]) -> Command {
    let mut c = Command::new(PYTHON);
    c.env("PYTHONPATH", dir)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .arg("-c")
        .arg(script)
        .args(args);
    c
}

const WANDBOX_SCRIPT: &str = r#"
import json, sys
from wandbox.wandbox import Wandbox
from wandbox.wandbox_compile_response import WandboxCompileResponse

base, compiler = sys.argv[1], sys.argv[2]
Wandbox.api_url = base + '/api'
out = {}
out['listed'] = any(c['name'] == compiler for c in Wandbox.GetCompilerList())
out['template'] = Wandbox.GetTemplate(compiler)['code']
with Wandbox() as w:
    w.compiler(compiler)
    w.code('import sys, helper\nprint(input()[::-1], helper.X, sys.argv[1:])')
    w.add_file('helper.py', 'X = 7\n')
    w.stdin('olleh')
    w.runtime_options('a\nb c')
    w.permanent_link(True)
    out['run'] = w.run()
out['permlink'] = Wandbox.GetPermlink(out['run']['permlink'])
with Wandbox() as w:
    w.compiler(compiler)
    w.code('print(6 * 7)')
    w.permanent_link(True)
    events = w.run_ndjson()
out['ndjson'] = events
r = WandboxCompileResponse(events)
out['ndjson_output'] = r.program_output()
out['ndjson_status'] = r.status()
print(json.dumps(out))
"#;

#[tokio::test]
async fn the_wandbox_api_client_from_pypi() {
    let dir = match python_clients() {
        Ok(dir) => dir,
        Err(reason) => return eprintln!("SKIPPED: {reason}"),
    };
    let mut cfg = config();
    // The client sends no key: a server without keys, as a Wandbox user's would be.
    cfg.auth = false;
    let s = TestServer::start(cfg).await;
    let py = default_compiler("python");
    let out = run_script(python(&dir, WANDBOX_SCRIPT, &[&s.base, &py])).await;
    assert_eq!(out["listed"], true, "{out}");
    assert!(out["template"].as_str().unwrap().contains("print"), "{out}");
    let run = &out["run"];
    assert_eq!(run["program_output"], "hello 7 ['a', 'b c']\n", "{out}");
    assert_eq!(run["status"], "0");
    assert_eq!(
        run["url"],
        format!(
            "{}/api/permlink/{}",
            s.base,
            run["permlink"].as_str().unwrap()
        )
    );
    assert_eq!(out["permlink"]["result"], *run);
    assert_eq!(
        out["permlink"]["parameter"]["codes"][0]["file"],
        "helper.py"
    );
    // run_ndjson with save posts the events to /api/permlink and appends Url/Permlink.
    assert_eq!(out["ndjson_output"], "42\n", "{out}");
    assert_eq!(out["ndjson_status"], "0");
    let events = out["ndjson"].as_array().unwrap();
    assert_eq!(events[0]["data"], "Start");
    let url = events
        .iter()
        .find(|e| e["type"] == "Url")
        .expect("a Url event");
    assert!(url["data"].as_str().unwrap().starts_with(&s.base), "{url}");
}

const ULTRA_PISTON_SCRIPT: &str = r#"
import json, sys
from ultra_piston import PistonClient, File

client = PistonClient(base_url=sys.argv[1] + '/api/v2/', api_key=sys.argv[2], rate_limit=0)
runtimes = client.get_runtimes()
r = client.post_execute(language='python', version='*', file=File(content='import sys\nprint(input() * 2, sys.argv[1:])'), stdin='ab', args=['x'])
c = client.post_execute(language='c', version='*', file=File(content='#include <stdio.h>\nint main(void){puts("from c"); return 3;}'))
print(json.dumps({
    'runtimes': [rt.model_dump() for rt in runtimes],
    'python': r.model_dump(),
    'c': c.model_dump(),
}))
"#;

#[tokio::test]
async fn the_ultra_piston_client_from_pypi() {
    let dir = match python_clients() {
        Ok(dir) => dir,
        Err(reason) => return eprintln!("SKIPPED: {reason}"),
    };
    // With keys: the client sends its api_key bare in Authorization.
    let s = TestServer::start(config()).await;
    let out = run_script(python(&dir, ULTRA_PISTON_SCRIPT, &[&s.base, &s.key])).await;
    let runtimes = out["runtimes"].as_array().unwrap();
    assert!(runtimes.iter().any(|r| r["language"] == "python"), "{out}");
    let py = &out["python"];
    assert_eq!(py["language"], "python");
    assert_eq!(py["run"]["stdout"], "abab ['x']\n", "{out}");
    assert_eq!(py["run"]["code"], 0);
    let c = &out["c"];
    assert_eq!(c["run"]["stdout"], "from c\n", "{out}");
    assert_eq!(c["run"]["code"], 3);
    assert_eq!(c["compile"]["code"], 0);
}

const NPM_SCRIPT: &str = r#"
import piston from 'piston-client';
const client = piston({ server: process.argv[2] });
const runtimes = await client.runtimes();
const result = await client.execute('python', 'import sys\nprint("node says", sys.argv[1:])');
const c = await client.execute({ language: 'c', files: [{ content: '#include <stdio.h>\nint main(void){puts("c via node");}' }], args: [] });
console.log(JSON.stringify({ runtimes: runtimes.length, result, c }));
"#;

#[tokio::test]
async fn the_piston_client_from_npm() {
    let dir = match npm_client() {
        Ok(dir) => dir,
        Err(reason) => return eprintln!("SKIPPED: {reason}"),
    };
    let mut cfg = config();
    cfg.auth = false;
    let s = TestServer::start(cfg).await;
    let script = dir.join("check.mjs");
    std::fs::write(&script, NPM_SCRIPT).unwrap();
    let mut command = Command::new("node");
    command.current_dir(&dir).arg(&script).arg(&s.base);
    let out = run_script(command).await;
    assert!(out["runtimes"].as_u64().unwrap() > 2, "{out}");
    let run = &out["result"]["run"];
    // The client's default arguments are 1, 2, 3.
    assert_eq!(run["stdout"], "node says ['1', '2', '3']\n", "{out}");
    assert_eq!(out["result"]["language"], "python");
    assert_eq!(out["c"]["run"]["stdout"], "c via node\n", "{out}");
}
