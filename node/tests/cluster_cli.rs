//! The cluster commands as an operator runs them: `stele init` writes a cluster, four
//! `stele run` processes form it over mutual TLS, `stele status` reports it, and
//! `stele verify-block` proves a block with the cluster's keys — and refuses with another
//! cluster's keys. Bad configs are refused at start with the reason.
#![allow(clippy::unwrap_used)]

use std::{
    net::TcpListener,
    path::Path,
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

fn stele() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stele"))
}

/// A base port with `count` free ports after it (best effort: bound and released).
fn free_ports(count: u16) -> u16 {
    loop {
        let base = 20_000 + (std::process::id() as u16 % 20_000) + rand_offset();
        if (0..count).all(|i| TcpListener::bind(("127.0.0.1", base + i)).is_ok()) {
            return base;
        }
    }
}

fn rand_offset() -> u16 {
    (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() % 5_000) as u16
}

fn init(out: &Path, p2p: u16, rpc: u16) {
    let o = stele()
        .args(["init", "--replicas", "4", "--p2p-port", &p2p.to_string(), "--rpc-port", &rpc.to_string(), "--out"])
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "init: {}", String::from_utf8_lossy(&o.stderr));
}

struct Cluster(Vec<Child>);

impl Drop for Cluster {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn status_json(config: &Path) -> Option<serde_json::Value> {
    let o = stele().args(["status", "--json", "--config"]).arg(config).output().ok()?;
    serde_json::from_slice(&o.stdout).ok()
}

fn verify(block: u64, config: &Path, rpc_config: &Path) -> Output {
    let rpc = std::fs::read_to_string(rpc_config).unwrap();
    let url = rpc.lines().find(|l| l.starts_with("rpc_url")).unwrap().split('"').nth(1).unwrap().to_string();
    let ca = rpc_config.parent().unwrap().join("ca.crt");
    stele()
        .args(["verify-block", "--block", &block.to_string(), "--rpc", &url, "--ca"])
        .arg(ca)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap()
}

#[test]
fn init_run_status_and_verify_block() {
    let dir = tempfile::tempdir().unwrap();
    let base = free_ports(8);
    let out = dir.path().join("cluster");
    init(&out, base, base + 4);
    let cluster = Cluster(
        (0..4)
            .map(|i| {
                stele()
                    .args(["run", "--config"])
                    .arg(out.join(format!("replica-{i}/config.toml")))
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect(),
    );
    let config0 = out.join("replica-0/config.toml");
    let started = Instant::now();
    let heads = loop {
        if let Some(v) = status_json(&config0) {
            let heads: Vec<u64> = v.as_array().unwrap().iter().filter_map(|r| r["status"]["head"].as_u64()).collect();
            if heads.len() == 4 && heads.iter().all(|h| *h >= 3) {
                break heads;
            }
        }
        assert!(started.elapsed() < Duration::from_secs(90), "the cluster did not reach block 3 on every replica");
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(heads.iter().all(|h| *h >= 3));

    // Block 2 has a finality certificate by now (or soon): it verifies with this cluster's keys.
    let started = Instant::now();
    let ok = loop {
        let o = verify(2, &config0, &config0);
        if o.status.success() {
            break o;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "verify-block never succeeded: {}", String::from_utf8_lossy(&o.stderr));
        std::thread::sleep(Duration::from_millis(300));
    };
    let said = String::from_utf8_lossy(&ok.stdout);
    assert!(said.contains("finality certificate valid"), "{said}");

    // Another cluster's keys must not accept this cluster's certificate.
    let other = dir.path().join("other");
    init(&other, base + 100, base + 104);
    let o = verify(2, &other.join("replica-0/config.toml"), &config0);
    assert!(!o.status.success(), "a foreign key set accepted the certificate");
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not verify"), "{}", String::from_utf8_lossy(&o.stderr));
    drop(cluster);
}

#[test]
fn bad_configs_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let base = free_ports(8);
    let out = dir.path().join("cluster");
    init(&out, base, base + 4);
    let config = out.join("replica-1/config.toml");
    let good = std::fs::read_to_string(&config).unwrap();
    let cases = [
        (good.replace("f = 1", "f = 2"), "[[peers]]"),
        (good.replace("[consensus]", "[consensus]\nsurprise = 1"), "surprise"),
        (good.replacen("cert_sha256 = \"", "cert_sha256 = \"zz", 1), "cert_sha256"),
        (good.replace("id = 1\ndata_dir", "id = 2\ndata_dir"), "BLS key"),
    ];
    for (text, expected) in cases {
        std::fs::write(&config, &text).unwrap();
        let o = stele().args(["run", "--config"]).arg(&config).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "accepted a bad config ({expected})");
        assert!(err.contains(expected), "error for {expected:?} does not say so: {err}");
    }
    let o = stele().args(["init", "--replicas", "4", "--out"]).arg(&out).output().unwrap();
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("not empty"), "init must not overwrite keys");
}

/// The appliance's node contract without a VM: `stele init --appliance` writes a bundle per
/// replica; its files, laid out as the first-boot configurator lays them out, with the
/// `STELE_*` environment the appliance's unit sets, make a replica that serves RPC over TLS.
#[test]
fn an_appliance_bundle_runs_under_the_node_contract() {
    use base64::Engine;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cluster");
    let o = stele()
        .args(["init", "--replicas", "4", "--appliance", "--hosts", "10.20.0.11,10.20.0.12,10.20.0.13,10.20.0.14", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bundle_path = out.join("replica-0/stele.bundle");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&bundle_path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the bundle holds private keys");
    }
    let raw = base64::engine::general_purpose::STANDARD.decode(std::fs::read_to_string(&bundle_path).unwrap().trim()).unwrap();
    let bundle: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(bundle["format"], "stele-appliance-bundle/1");
    let config_dir = dir.path().join("var-lib-stele-config");
    std::fs::create_dir_all(&config_dir).unwrap();
    for (name, content) in bundle["files"].as_object().unwrap() {
        std::fs::write(config_dir.join(name), content.as_str().unwrap()).unwrap();
    }
    let base = free_ports(2);
    let mut child = stele()
        .arg("run")
        .env("STELE_CONFIG", config_dir.join("config.toml"))
        .env("STELE_DATA_DIR", dir.path().join("data"))
        .env("STELE_REPLICA_ID", "0")
        .env("STELE_RPC_LISTEN", format!("127.0.0.1:{base}"))
        .env("STELE_REPLICA_LISTEN", format!("127.0.0.1:{}", base + 1))
        .env("STELE_RPC_TLS_CERT", config_dir.join("rpc.crt"))
        .env("STELE_RPC_TLS_KEY", config_dir.join("rpc.key"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let answered = loop {
        let o = stele()
            .args(["status", "--json", "--rpc", &format!("https://localhost:{base}"), "--ca"])
            .arg(config_dir.join("ca.crt"))
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
        if v[0]["status"]["replicaId"] == 0 {
            break v;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no answer over TLS: {}", String::from_utf8_lossy(&o.stdout));
        std::thread::sleep(Duration::from_millis(300));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(answered[0]["status"]["peers"].as_array().unwrap().len(), 3, "its three peers are configured");
}
