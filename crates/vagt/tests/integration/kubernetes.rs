//! The Kubernetes manifests (`deploy/kubernetes`), offline: every overlay renders with
//! kustomize (`kubectl kustomize`) and validates strictly against the Kubernetes API schemas
//! (`kubernetes-validate`, which carries them), and what an alarm centre depends on is there —
//! probes on `/healthz` and `/readyz`, a journal volume per pod, DC-09 on TCP and UDP, a
//! non-root read-only container, and in the cluster overlay two nodes on two machines, each
//! named after its pod, one kept through a drain. Each overlay's Vagt config passes
//! `vagt check-config`.
//!
//! The tools come from the package registries: `scripts/test` installs them into
//! `target/tools` (a Python virtual environment).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// Kubernetes version the manifests are validated against (the oldest supported release
/// they target).
const KUBERNETES: &str = "1.31.0";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `name` from `target/tools/bin` (scripts/test), else from `PATH`.
fn tool(name: &str) -> PathBuf {
    let local = repo().join("target/tools/bin").join(name);
    if local.exists() {
        return local;
    }
    let found = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .find(|p| p.exists())
        })
        .unwrap_or_default();
    found.unwrap_or_else(|| {
        panic!("{name} not found: run ./scripts/test (it installs kubectl and kubernetes-validate into target/tools)")
    })
}

/// The overlay rendered: its YAML and its objects.
fn render(overlay: &str) -> (String, Vec<Value>) {
    let dir = repo().join("deploy/kubernetes/overlays").join(overlay);
    let yaml = crate::gateway::stdout_of(Command::new(tool("kubectl")).arg("kustomize").arg(&dir));
    // YAML to JSON with the PyYAML kubernetes-validate brings along.
    let python = tool("kubernetes-validate").with_file_name("python3");
    let mut py = Command::new(if python.exists() {
        python
    } else {
        "python3".into()
    })
    .args([
        "-c",
        "import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(sys.stdin))))",
    ])
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    std::io::Write::write_all(py.stdin.as_mut().unwrap(), yaml.as_bytes()).unwrap();
    let out = py.wait_with_output().unwrap();
    assert!(out.status.success());
    (yaml, serde_json::from_slice(&out.stdout).unwrap())
}

fn validate(yaml: &str, objects: &[Value]) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rendered.yaml");
    std::fs::write(&file, yaml).unwrap();
    let out = Command::new(tool("kubernetes-validate"))
        .args(["--strict", "-k", KUBERNETES])
        .arg(&file)
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert_eq!(
        said.matches(" passed for resource ").count(),
        objects.len(),
        "{said}"
    );
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

/// What every overlay's StatefulSet must have; its container.
fn check_statefulset(objects: &[Value]) -> &Value {
    let sts = find(objects, "StatefulSet", "vagt");
    let pod = &sts["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["runAsUser"], 65532,
        "the image's USER"
    );
    let c = &pod["containers"][0];
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    let sc = &c["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["capabilities"]["drop"][0], "ALL");
    for r in ["requests", "limits"] {
        assert!(c["resources"][r]["cpu"].is_string() && c["resources"][r]["memory"].is_string());
    }
    let mounts: Vec<&Value> = c["volumeMounts"].as_array().unwrap().iter().collect();
    assert!(
        mounts
            .iter()
            .any(|m| m["name"] == "data" && m["mountPath"] == "/var/lib/vagt")
    );
    assert_eq!(
        sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"],
        "data"
    );
    let dc09 = find(objects, "Service", "vagt-dc09");
    let protocols: Vec<&Value> = dc09["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["protocol"])
        .collect();
    assert_eq!(protocols, ["TCP", "UDP"]);
    assert_eq!(
        dc09["spec"]["externalTrafficPolicy"], "Local",
        "panels' addresses kept"
    );
    for s in ["vagt-console", "vagt-metrics"] {
        find(objects, "Service", s);
    }
    // `namespace: vagt` needs the namespace on a fresh cluster.
    find(objects, "Namespace", "vagt");
    c
}

/// `vagt check-config` on `config` (with `extra` arguments) succeeds.
fn check_config(config: &Path, extra: &[&str]) {
    crate::gateway::stdout_of(
        Command::new(env!("CARGO_BIN_EXE_vagt"))
            .arg("check-config")
            .arg("--config")
            .arg(config)
            .args(extra),
    );
}

#[test]
fn the_single_node_overlay_renders_validates_and_runs_the_embedded_journal() {
    let (yaml, objects) = render("single");
    validate(&yaml, &objects);
    let c = check_statefulset(&objects);
    let sts = find(&objects, "StatefulSet", "vagt");
    assert_eq!(sts["spec"]["replicas"], 1);
    assert_eq!(
        c["args"],
        serde_json::json!(["serve", "--config", "/etc/vagt/vagt.toml"])
    );
    assert!(objects.iter().any(|o| o["kind"] == "ConfigMap"));
    // One node: panels reach it while its core replays (it ACKs from the journal).
    assert_eq!(
        find(&objects, "Service", "vagt-dc09")["spec"]["publishNotReadyAddresses"],
        true
    );
    check_config(&repo().join("deploy/kubernetes/base/vagt.toml"), &[]);
}

#[test]
fn the_cluster_overlay_runs_two_named_nodes_on_two_machines_and_keeps_one_through_a_drain() {
    let (yaml, objects) = render("cluster");
    validate(&yaml, &objects);
    let c = check_statefulset(&objects);
    let sts = find(&objects, "StatefulSet", "vagt");
    let pod = &sts["spec"]["template"]["spec"];
    assert_eq!(sts["spec"]["replicas"], 2);
    let anti =
        &pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0];
    assert_eq!(anti["topologyKey"], "kubernetes.io/hostname");
    let args: Vec<&str> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(&args[args.len() - 2..], ["--node", "$(POD_NAME)"]);
    assert_eq!(
        c["env"][0]["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.name"
    );
    assert_eq!(
        find(&objects, "Service", "vagt-dc09")["spec"]["publishNotReadyAddresses"],
        false
    );
    let pdb = find(&objects, "PodDisruptionBudget", "vagt");
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    assert!(pdb["spec"]["maxUnavailable"].is_null());
    // The config holds the database's password: a Secret, and no ConfigMap beside it.
    assert!(!objects.iter().any(|o| o["kind"] == "ConfigMap"));
    let secret = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "config")
        .unwrap();
    assert!(secret["secret"]["secretName"].is_string() && secret["configMap"].is_null());
    let config = repo().join("deploy/kubernetes/overlays/cluster/vagt.toml");
    check_config(&config, &["--node", "vagt-0"]);
}
